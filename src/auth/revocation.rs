//! Logged-out sessions, remembered per process, so every replica refuses their access tokens
//! without a database query per request.
//!
//! A logout blocks its session row and sends `NOTIFY tally_session_blocked` with the session
//! id; every replica keeps a dedicated connection listening, reconnecting with backoff. A NOTIFY
//! sent while a replica's listener was down is lost, so each replica also asks PostgreSQL every
//! [`CATCH_UP_INTERVAL`] for sessions blocked since its last look. Either way a logout reaches
//! every replica within a second.
//!
//! An entry is kept while an access token issued for its session could still be alive:
//! `access_ttl` (at most an hour) plus the clock skew tokens tolerate. The set is bounded by
//! [`REVOKED_SESSIONS_MAX`]; should it ever fill with live entries, it fails closed: every access
//! token issued until then is refused (clients renew with their refresh tokens, which are
//! checked against the database) and the set starts empty.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use time::OffsetDateTime;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use super::token::CLOCK_SKEW;
use crate::configuration::DatabaseSettings;
use crate::store::sessions::{self, BLOCKED_CHANNEL};

/// Revoked sessions remembered at most (about 80 bytes each). Each one needs a login, which
/// costs a bcrypt check, so within an access TTL a process sees far fewer.
pub const REVOKED_SESSIONS_MAX: usize = 1 << 20;
/// How often each replica asks PostgreSQL for sessions blocked since it last looked.
pub const CATCH_UP_INTERVAL: Duration = Duration::from_millis(500);
/// Blocked sessions read by one catch-up query at most; more are read in further queries.
const CATCH_UP_ROWS_MAX: i64 = 10_000;
/// Each catch-up looks this far behind its last look: a logout's `blocked_at` is its
/// transaction's start, and the transaction may commit (become visible) a little later.
const CATCH_UP_OVERLAP: Duration = Duration::from_secs(5);
/// The listener's reconnection delay doubles from the first to the last.
const RECONNECT_DELAY_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_DELAY_MAX: Duration = Duration::from_secs(5);

pub struct RevokedSessions {
    state: RwLock<State>,
    /// How long an entry may matter: the access TTL plus the tolerated clock skew.
    remember_for: Duration,
    sessions_max: usize,
}

#[derive(Default)]
struct State {
    /// Session id → when it can be forgotten.
    sessions: HashMap<Uuid, Instant>,
    /// After an overflow: access tokens issued before this are refused, until the instant.
    issued_before: Option<(OffsetDateTime, Instant)>,
}

impl RevokedSessions {
    pub fn new(access_ttl: Duration) -> RevokedSessions {
        RevokedSessions::with_bound(access_ttl, REVOKED_SESSIONS_MAX)
    }

    pub fn with_bound(access_ttl: Duration, sessions_max: usize) -> RevokedSessions {
        RevokedSessions {
            state: RwLock::new(State::default()),
            remember_for: access_ttl + CLOCK_SKEW,
            sessions_max,
        }
    }

    /// How long an entry may matter.
    pub fn remember_for(&self) -> Duration {
        self.remember_for
    }

    /// Refuses, from now on, every access token of `session`.
    pub fn revoke(&self, session: Uuid) {
        let now = Instant::now();
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if state.sessions.contains_key(&session) {
            return;
        }
        if state.sessions.len() >= self.sessions_max {
            state.sessions.retain(|_, forget_at| *forget_at > now);
        }
        if state.sessions.len() >= self.sessions_max {
            self.overflow(&mut state, now);
            return;
        }
        state.sessions.insert(session, now + self.remember_for);
    }

    /// Full of live entries: refuse every token issued so far (the revoked ones among them)
    /// rather than forget a revocation.
    fn overflow(&self, state: &mut State, now: Instant) {
        tracing::error!(
            bound = self.sessions_max,
            "revoked sessions full; refusing every access token issued until now"
        );
        let cutoff = OffsetDateTime::now_utc() + CLOCK_SKEW;
        state.issued_before = Some((cutoff, now + self.remember_for));
        state.sessions.clear();
    }

    /// Whether an access token of `session` issued at `issued_at` must be refused.
    pub fn is_revoked(&self, session: Uuid, issued_at: OffsetDateTime) -> bool {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let cut_off = state
            .issued_before
            .is_some_and(|(cutoff, until)| issued_at < cutoff && Instant::now() < until);
        cut_off || state.sessions.contains_key(&session)
    }

    /// Drops entries whose tokens have all expired.
    pub fn forget_expired(&self) {
        let now = Instant::now();
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        state.sessions.retain(|_, forget_at| *forget_at > now);
        if state.issued_before.is_some_and(|(_, until)| until <= now) {
            state.issued_before = None;
        }
    }

    /// Sessions remembered now.
    pub fn len(&self) -> usize {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        state.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Starts the listener and the catch-up for `revoked`; both end when it is dropped.
pub fn follow(revoked: &Arc<RevokedSessions>, pool: Pool, settings: &DatabaseSettings) {
    let mut database = settings.url.config().clone();
    database
        .connect_timeout(settings.connect_timeout)
        .application_name("tally-logouts");
    tokio::spawn(listen(Arc::downgrade(revoked), database));
    tokio::spawn(catch_up(Arc::downgrade(revoked), pool));
}

/// LISTENs on a dedicated connection, reconnecting with backoff, for as long as `revoked` lives.
async fn listen(revoked: Weak<RevokedSessions>, database: tokio_postgres::Config) {
    let mut delay = RECONNECT_DELAY_FIRST;
    while revoked.strong_count() > 0 {
        match listen_once(&revoked, &database, &mut delay).await {
            Ok(()) => tracing::warn!("logout listener: connection closed; reconnecting"),
            Err(error) => tracing::warn!(%error, "logout listener: reconnecting"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RECONNECT_DELAY_MAX);
    }
}

/// One connection's life: LISTEN, then revoke each notified session until it fails.
async fn listen_once(
    revoked: &Weak<RevokedSessions>,
    database: &tokio_postgres::Config,
    delay: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = database.connect(NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {BLOCKED_CHANNEL}");
    let listening = client.batch_execute(&statement);
    tokio::pin!(listening);
    // The connection must be polled for the LISTEN to complete.
    loop {
        tokio::select! {
            done = &mut listening => { done?; break; }
            message = messages.next() => match message {
                Some(Ok(message)) => handle(revoked, message),
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            },
        }
    }
    *delay = RECONNECT_DELAY_FIRST;
    while let Some(message) = messages.next().await {
        handle(revoked, message?);
        if revoked.strong_count() == 0 {
            break;
        }
    }
    // `client` (borrowed by `listening`) lives until here: dropping it closes the connection.
    Ok(())
}

fn handle(revoked: &Weak<RevokedSessions>, message: AsyncMessage) {
    let AsyncMessage::Notification(notification) = message else {
        return;
    };
    let (Some(revoked), Ok(session)) = (revoked.upgrade(), notification.payload().parse()) else {
        return;
    };
    revoked.revoke(session);
}

/// Every [`CATCH_UP_INTERVAL`], revokes the sessions blocked since the last look (with some
/// overlap), for as long as `revoked` lives. The first look reaches back as far as an access
/// token can live, so a replica that starts after a logout refuses its tokens too.
async fn catch_up(revoked: Weak<RevokedSessions>, pool: Pool) {
    let Some(remember_for) = revoked.upgrade().map(|revoked| revoked.remember_for()) else {
        return;
    };
    let mut since = OffsetDateTime::now_utc() - remember_for - CATCH_UP_OVERLAP;
    let mut ticks = tokio::time::interval(CATCH_UP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(revoked) = revoked.upgrade() else {
            return;
        };
        revoked.forget_expired();
        match catch_up_once(&revoked, &pool, since).await {
            Ok(next) => since = next,
            Err(error) => tracing::warn!(%error, "logout catch-up failed; retrying"),
        }
    }
}

/// Reads every session blocked at or after `since`, in bounded chunks; returns where the next
/// look starts.
async fn catch_up_once(
    revoked: &RevokedSessions,
    pool: &Pool,
    mut since: OffsetDateTime,
) -> Result<OffsetDateTime, sessions::SessionStoreError> {
    loop {
        let blocked = sessions::blocked_since(pool, since, CATCH_UP_ROWS_MAX).await?;
        for (session, _) in &blocked.sessions {
            revoked.revoke(*session);
        }
        let full = blocked.sessions.len() as i64 >= CATCH_UP_ROWS_MAX;
        match blocked.sessions.last() {
            Some((_, last)) if full && *last > since => since = *last,
            _ => return Ok(blocked.database_now - CATCH_UP_OVERLAP),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::RevokedSessions;

    #[test]
    fn a_revoked_session_is_refused_and_others_are_not() {
        let revoked = RevokedSessions::new(Duration::from_secs(60));
        let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
        revoked.revoke(mine);
        revoked.revoke(mine);
        let now = OffsetDateTime::now_utc();
        assert!(revoked.is_revoked(mine, now));
        assert!(!revoked.is_revoked(theirs, now));
        assert_eq!(revoked.len(), 1);
    }

    #[test]
    fn entries_are_forgotten_once_their_tokens_have_expired() {
        let revoked = RevokedSessions::with_bound(Duration::ZERO, 8);
        let session = Uuid::new_v4();
        revoked.revoke(session);
        revoked.forget_expired();
        assert_eq!(revoked.len(), 1, "kept for the clock skew");
        std::thread::sleep(super::CLOCK_SKEW + Duration::from_millis(10));
        revoked.forget_expired();
        assert!(revoked.is_empty());
    }

    #[test]
    fn a_full_set_fails_closed() {
        let revoked = RevokedSessions::with_bound(Duration::from_secs(60), 2);
        let sessions: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let issued_earlier = OffsetDateTime::now_utc();
        for session in &sessions {
            revoked.revoke(*session);
        }
        for session in &sessions {
            assert!(
                revoked.is_revoked(*session, issued_earlier),
                "never forgotten"
            );
        }
        let unrelated = Uuid::new_v4();
        assert!(
            revoked.is_revoked(unrelated, issued_earlier),
            "every earlier token is refused"
        );
        let later = OffsetDateTime::now_utc() + super::CLOCK_SKEW + time::Duration::seconds(1);
        assert!(!revoked.is_revoked(unrelated, later), "new tokens work");
    }
}
