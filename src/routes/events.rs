//! `GET /events` (long polling) and `GET /events/stream` (Server-Sent Events): the change
//! stream of design.md "Events", with the API's privacy rules: a depositor sees only events
//! touching an account they own, and balances only of their own accounts; bankers see all.

use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_actors::events::{self, Event, EventBody, EventHead, EVENTS_SCAN_MAX};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, SemaphorePermit};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthenticatedUser;
use crate::error::{ApiError, ErrorBody};
use crate::routes::views::{AccountView, TransferView};
use crate::shutdown::Stopping;
use crate::startup::AppState;

/// `limit` of `GET /events`: 1–1000, default 100.
pub const EVENTS_LIMIT_MAX: i64 = 1_000;
const EVENTS_LIMIT_DEFAULT: i64 = 100;
/// `wait` of `GET /events`, in seconds.
pub const EVENTS_WAIT_SECONDS_MAX: u64 = 30;
/// Streams and waiting long polls a process serves at once; beyond it 503.
pub const EVENT_LISTENERS_MAX: usize = 1_024;
/// A comment line on an idle stream, so proxies and clients know it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

static LISTENERS: Semaphore = Semaphore::const_new(EVENT_LISTENERS_MAX);

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// Only events with a larger id (the `last_id` of the previous answer); default 0.
    after: Option<i64>,
    /// Events per answer, 1–1000 (default 100).
    limit: Option<i64>,
    /// Seconds to wait for an event when there is none yet, 0–30 (default 0).
    wait: Option<u64>,
}

/// One change. `data` is the transfer (with the balances right after it on the caller's own
/// accounts) or the account as it stood right after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// Global, gap-free, increasing in commit order.
    pub id: i64,
    /// `transfer.posted`, `transfer.pending`, `transfer.voided`, `transfer.expired`,
    /// `transfer.reversed`, `account.opened`, `account.frozen`, `account.unfrozen`,
    /// `account.closed`.
    #[serde(rename = "type")]
    #[schema(example = "transfer.posted")]
    pub kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    pub data: EventData,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventData {
    Transfer(TransferEventData),
    Account(AccountView),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferEventData {
    #[serde(flatten)]
    pub transfer: TransferView,
    /// The payer's balance right after the transfer: only to its owner or a banker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_balance_after: Option<i64>,
    /// The payee's balance right after the transfer: only to its owner or a banker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_balance_after: Option<i64>,
}

/// The answer to `GET /events`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<EventView>,
    /// Pass as `after` next time: the last event read, visible to the caller or not.
    pub last_id: i64,
}

/// The event as `caller` may see it (None: a banker, who sees all), or None when it touches
/// none of their accounts.
pub fn event_view(event: &Event, caller: Option<&str>) -> Option<EventView> {
    let banker = caller.is_none();
    if let Some(username) = caller {
        if !event.touches_owner(username) {
            return None;
        }
    }
    let data = match &event.body {
        EventBody::Account(account) => EventData::Account(AccountView::from(account)),
        EventBody::Transfer {
            transfer,
            from_owner,
            to_owner,
            from_balance_after,
            to_balance_after,
        } => EventData::Transfer(TransferEventData {
            transfer: TransferView::from(transfer),
            // privacy_of_state: another user's balance is never shown.
            from_balance_after: from_balance_after
                .filter(|_| banker || from_owner.as_deref() == caller),
            to_balance_after: to_balance_after.filter(|_| banker || to_owner.as_deref() == caller),
        }),
    };
    Some(EventView {
        id: event.id,
        kind: event.kind.as_str(),
        created_at: event.created_at,
        data,
    })
}

/// The events after `after` the caller may see, in id order; with `wait`, held until there is
/// one (or `wait` seconds pass).
#[utoipa::path(
    get, path = "/events", tag = "events", security(("bearer" = [])),
    params(EventsParams),
    responses(
        (status = 200, body = EventsPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "Too many listeners, or the database is unreachable", body = ErrorBody),
    )
)]
pub async fn list_events(
    user: AuthenticatedUser,
    query: web::Query<EventsParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let after = parse_after(query.after.unwrap_or(0))?;
    let limit = query.limit.unwrap_or(EVENTS_LIMIT_DEFAULT);
    if !(1..=EVENTS_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::Validation(format!(
            "limit must be 1–{EVENTS_LIMIT_MAX}"
        )));
    }
    let wait_seconds = query.wait.unwrap_or(0);
    if wait_seconds > EVENTS_WAIT_SECONDS_MAX {
        return Err(ApiError::Validation(format!(
            "wait must be 0–{EVENTS_WAIT_SECONDS_MAX} seconds"
        )));
    }
    let _permit = match wait_seconds {
        0 => None,
        _ => Some(listener()?),
    };
    let deadline = Instant::now() + Duration::from_secs(wait_seconds);
    let mut head = state.events.clone();
    let mut stopping = state.stopping.clone();
    let mut page = visible_page(&state, &user, after, limit).await?;
    while page.events.is_empty() && page.last_id >= head.current() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let waited = stopping.unless_stopping(head.wait_beyond(page.last_id, remaining));
        if waited.await != Some(true) {
            break;
        }
        page = visible_page(&state, &user, page.last_id, limit).await?;
    }
    Ok(HttpResponse::Ok().json(page))
}

/// One bounded read: bankers read `limit` events; a depositor scans up to EVENTS_SCAN_MAX and
/// keeps the first `limit` they may see.
async fn visible_page(
    state: &AppState,
    user: &AuthenticatedUser,
    after: i64,
    limit: i64,
) -> Result<EventsPage, ApiError> {
    let scan = if user.is_banker() {
        limit
    } else {
        EVENTS_SCAN_MAX
    };
    let page = events::read(&state.pool, after, scan)
        .await
        .map_err(ApiError::unavailable_database)?;
    let mut views = Vec::new();
    let mut last_id = page.last_id;
    for event in &page.events {
        let caller = (!user.is_banker()).then(|| user.username.as_str());
        if let Some(view) = event_view(event, caller) {
            views.push(view);
            if views.len() as i64 == limit {
                last_id = event.id;
                break;
            }
        }
    }
    Ok(EventsPage {
        events: views,
        last_id,
    })
}

fn parse_after(after: i64) -> Result<i64, ApiError> {
    if after < 0 {
        return Err(ApiError::Validation("after must be ≥ 0".to_owned()));
    }
    Ok(after)
}

fn listener() -> Result<SemaphorePermit<'static>, ApiError> {
    LISTENERS
        .try_acquire()
        .map_err(|_| ApiError::Unavailable("too many event listeners".to_owned()))
}

/// The same events, pushed as Server-Sent Events (`id:`, `event:` the type, `data:` the JSON of
/// an event), from `Last-Event-ID` (or `after`); a comment every 15 s when idle. The stream ends
/// after the access token's lifetime: reconnect with a fresh token and `Last-Event-ID`.
#[utoipa::path(
    get, path = "/events/stream", tag = "events", security(("bearer" = [])),
    params(
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id"),
        ("after" = Option<i64>, Query, description = "Resume after this event id, when there is no Last-Event-ID"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`", content_type = "text/event-stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "Too many listeners", body = ErrorBody),
    )
)]
pub async fn stream_events(
    user: AuthenticatedUser,
    request: HttpRequest,
    query: web::Query<StreamParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // `after` is checked even when the header wins over it: a request the document calls
    // invalid is refused whatever else it carries.
    let after_query = query.after.map(parse_after).transpose()?;
    let after = match request.headers().get("Last-Event-ID") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .ok_or_else(|| ApiError::Validation("Last-Event-ID must be an event id".to_owned()))?,
        None => after_query.unwrap_or(0),
    };
    let stream = Stream {
        permit: listener()?,
        user,
        after: parse_after(after)?,
        head: state.events.clone(),
        stopping: state.stopping.clone(),
        ends_at: Instant::now() + state.settings.token.access_ttl,
        state: state.clone(),
        started: false,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // nginx: pass each event on at once.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(stream, Stream::next)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    after: Option<i64>,
}

struct Stream {
    #[allow(dead_code)] // held for the stream's life: it counts against EVENT_LISTENERS_MAX
    permit: SemaphorePermit<'static>,
    user: AuthenticatedUser,
    after: i64,
    head: EventHead,
    stopping: Stopping,
    ends_at: Instant,
    state: web::Data<AppState>,
    started: bool,
}

impl Stream {
    /// The next chunk: the caller's next events, a heartbeat, or the end (token lifetime over,
    /// the server stopping, or the database unreachable: the client reconnects).
    async fn next(mut self) -> Option<(Result<Bytes, ApiError>, Stream)> {
        if !self.started {
            self.started = true;
            return Some((
                Ok(Bytes::from_static(b"retry: 1000\n: connected\n\n")),
                self,
            ));
        }
        loop {
            let remaining = self.ends_at.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return None;
            }
            let page =
                match visible_page(&self.state, &self.user, self.after, EVENTS_SCAN_MAX).await {
                    Ok(page) => page,
                    Err(error) => {
                        tracing::warn!(%error, "event stream ended");
                        return None;
                    }
                };
            self.after = page.last_id;
            if !page.events.is_empty() {
                return Some((Ok(Bytes::from(frames(&page.events))), self));
            }
            if self.after < self.head.current() {
                continue;
            }
            let idle = HEARTBEAT_INTERVAL.min(remaining);
            let waited = self
                .stopping
                .unless_stopping(self.head.wait_beyond(self.after, idle));
            match waited.await {
                // The server is stopping: end the stream, so the graceful stop need not wait.
                None => return None,
                Some(false) => return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), self)),
                Some(true) => {}
            }
        }
    }
}

/// Server-Sent Events frames: the JSON has no newline, so one `data:` line each.
fn frames(events: &[EventView]) -> String {
    let mut text = String::new();
    for event in events {
        let json = serde_json::to_string(event).expect("an event serialises");
        text.push_str(&format!(
            "id: {}\nevent: {}\ndata: {json}\n\n",
            event.id, event.kind
        ));
    }
    text
}
