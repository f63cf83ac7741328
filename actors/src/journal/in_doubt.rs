//! A batch whose COMMIT was sent but not answered (the leader cut its session, the connection
//! broke) may have committed, or not. Rather than answer its callers 503 with an outcome they
//! cannot know, the writer asks PostgreSQL, on a fresh connection:
//! - first the batch's account locks, which wait for the cut transaction to end should its
//!   server still be finishing it (a backend cut while waiting for its synchronous replica has
//!   committed locally, and its rows become visible only as it ends);
//! - then whether one row the batch inserted is there, with the batch's own `created_at` (a
//!   sequence value the old leader handed out but never replicated may be handed out again by
//!   the new one, to another row);
//! - recording the answer in `journal_in_doubt`, whose commit waits for the synchronous replica
//!   like every commit: a batch found committed is acknowledged only once it is as replicated as
//!   any commit Tally acknowledges.

use std::time::Duration;

use time::OffsetDateTime;
use tokio_postgres::Client;

use super::round_trips::Statements;
use super::writer::Committed;
use crate::db::{describe, server_unavailable};
use crate::model::{AccountId, TransferId};

/// Records the resolution and returns whether the batch committed: its row is there, from its
/// own transaction.
const RECORD_IN_DOUBT: &str = "INSERT INTO journal_in_doubt (transfer_id, committed)
    VALUES ($1, EXISTS (SELECT 1 FROM transfers WHERE id = $1 AND created_at = $2))
    ON CONFLICT (transfer_id) DO UPDATE
        SET committed = EXCLUDED.committed, resolved_at = now()
    RETURNING committed";

/// SQLSTATE `lock_not_available`: the cut transaction still held the accounts at `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// A batch whose COMMIT went unanswered, and what is needed to learn whether it committed.
pub(super) struct InDoubt {
    /// Why the COMMIT went unanswered.
    pub(super) reason: String,
    /// What the batch produced, should it have committed.
    pub(super) committed: Committed,
    /// The accounts the batch locked.
    pub(super) accounts: Vec<AccountId>,
    /// One row the batch inserted, and the batch's timestamp that row carries.
    pub(super) row: TransferId,
    pub(super) created_at: OffsetDateTime,
}

/// What PostgreSQL said of a batch in doubt.
pub(super) enum Resolution {
    Committed,
    NotCommitted,
    /// Not learnt: the callers are answered 503, as before any resolution.
    Unknown(String),
}

impl Resolution {
    pub(super) fn label(&self) -> &'static str {
        match self {
            Resolution::Committed => "committed",
            Resolution::NotCommitted => "not_committed",
            Resolution::Unknown(_) => "unknown",
        }
    }
}

/// Why one attempt to ask failed, and whether another may follow.
pub(super) struct AskFailed {
    pub(super) reason: String,
    pub(super) retry: bool,
}

/// One attempt, in a transaction of its own, answered within `wait` or given up.
pub(super) async fn ask(
    client: &Client,
    statements: &Statements,
    doubt: &InDoubt,
    wait: Duration,
) -> Result<bool, AskFailed> {
    let lock_timeout_ms = wait.as_millis().clamp(1, i32::MAX as u128);
    let asked = async {
        client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = {lock_timeout_ms}"
            ))
            .await?;
        client
            .query(&statements.lock_accounts, &[&doubt.accounts])
            .await?;
        let committed: bool = client
            .query_one(RECORD_IN_DOUBT, &[&doubt.row, &doubt.created_at])
            .await?
            .get(0);
        client.batch_execute("COMMIT").await?;
        Ok(committed)
    };
    // Bounded as a whole too: the check's own COMMIT waits for the synchronous replica, and a
    // half-open connection answers nothing.
    let Ok(asked) = tokio::time::timeout(wait, asked).await else {
        return Err(AskFailed {
            reason: format!("no answer within {} ms", wait.as_millis()),
            retry: false,
        });
    };
    asked.map_err(|error: tokio_postgres::Error| {
        let locked = error
            .as_db_error()
            .is_some_and(|db| db.code().code() == LOCK_NOT_AVAILABLE);
        AskFailed {
            reason: describe(&error),
            retry: locked || server_unavailable(&error),
        }
    })
}
