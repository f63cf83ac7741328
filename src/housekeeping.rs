//! Periodic purges that keep the tables the HTTP side writes bounded: expired sessions (and,
//! with them, logouts nobody needs to remember) and ended login-failure windows. Each purge
//! deletes in bounded chunks, so it never holds locks on a large part of a table.

use std::time::Duration;

use deadpool_postgres::Pool;

use crate::auth::token::CLOCK_SKEW;
use crate::configuration::Settings;
use crate::store::{login_failures, sessions};

/// How often the purges run.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// Rows one purge statement deletes at most.
pub const PURGE_CHUNK_ROWS: i64 = 1_000;
/// Statements one round of a purge runs at most; the rest waits for the next round.
const PURGE_CHUNKS_PER_ROUND_MAX: usize = 100;

/// Starts the purges on the current runtime; they run until it stops.
pub fn start(pool: Pool, settings: &Settings) {
    // A session row is needed until every access token issued for it has expired (a logout
    // may still block it), and the catch-up of logouts may read it a little later.
    let session_grace = settings.token.access_ttl + CLOCK_SKEW + Duration::from_secs(60);
    let login_window = settings.auth.login_failure_window;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PURGE_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            purge_sessions(&pool, session_grace).await;
            purge_login_failures(&pool, login_window).await;
        }
    });
}

async fn purge_sessions(pool: &Pool, grace: Duration) {
    let mut purged = 0;
    for _ in 0..PURGE_CHUNKS_PER_ROUND_MAX {
        match sessions::purge_expired(pool, grace, PURGE_CHUNK_ROWS).await {
            Ok(rows) => {
                purged += rows;
                if rows < PURGE_CHUNK_ROWS as u64 {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "session purge failed; retrying next round");
                break;
            }
        }
    }
    if purged > 0 {
        tracing::info!(purged, "purged expired sessions");
    }
}

async fn purge_login_failures(pool: &Pool, window: Duration) {
    let mut purged = 0;
    for _ in 0..PURGE_CHUNKS_PER_ROUND_MAX {
        match login_failures::purge_ended(pool, window, PURGE_CHUNK_ROWS).await {
            Ok(rows) => {
                purged += rows;
                if rows < PURGE_CHUNK_ROWS as u64 {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "login failure purge failed; retrying next round");
                break;
            }
        }
    }
    if purged > 0 {
        tracing::info!(purged, "purged ended login failure windows");
    }
}
