//! Changing an account's status: through its actor (which caches it with the balance) and one
//! UPDATE, so the change and the journal's debits meet on the account's row lock. A batch that
//! locked the row first commits first; every batch after the change sees it (APPLY_DELTAS).

use actix::{ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture};
use deadpool_postgres::Pool;
use tokio::sync::oneshot;

use super::{AccountActor, Committed};
use crate::model::{AccountId, AccountStatus, Refusal};

/// Sets the account's status to `to` (freeze, unfreeze or close). Already in `to` is a success.
pub struct ChangeStatus {
    pub to: AccountStatus,
    pub reply: oneshot::Sender<StatusReply>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReply {
    /// The account is in the status asked for now.
    Changed,
    Refused(Refusal),
    Retired,
    Unavailable,
}

impl Message for ChangeStatus {
    type Result = ();
}

/// Changes the status only from a status it may leave for `to`; a close only of an empty account.
/// `clock_timestamp()`: the instant of the change itself, after any row lock it waited for.
const CHANGE_STATUS: &str = "UPDATE accounts SET status = $2, status_changed_at = clock_timestamp()
    WHERE id = $1 AND status = ANY($3) AND ($2 <> 'closed' OR (balance = 0 AND held = 0))
    RETURNING balance, held, status, overdraft, floor";

/// The statuses an account may change to `to` from.
fn changes_from(to: AccountStatus) -> &'static [&'static str] {
    match to {
        AccountStatus::Active => &["frozen"],
        AccountStatus::Frozen => &["active"],
        AccountStatus::Closed => &["active", "frozen"],
    }
}

/// The answer once PostgreSQL reported the account's status after the attempt.
pub(crate) fn answer(to: AccountStatus, now: AccountStatus) -> StatusReply {
    match (to, now) {
        (to, now) if to == now => StatusReply::Changed,
        (_, AccountStatus::Closed) => StatusReply::Refused(Refusal::AccountClosed),
        (AccountStatus::Closed, _) => StatusReply::Refused(Refusal::AccountNotEmpty),
        // Another change came between the UPDATE and the read: the caller may retry.
        _ => StatusReply::Unavailable,
    }
}

/// Runs the change; answers the account's committed state after it.
async fn change(
    pool: &Pool,
    id: AccountId,
    to: AccountStatus,
) -> Result<Option<Committed>, String> {
    let from: Vec<&str> = changes_from(to).to_vec();
    let changed = crate::db::query_opt(pool, CHANGE_STATUS, &[&id, &to.as_str(), &from]).await?;
    match changed {
        Some(row) => crate::registry::committed(&row).map(Some),
        None => crate::registry::load_balance(pool, id).await,
    }
}

impl Handler<ChangeStatus> for AccountActor {
    type Result = ();

    fn handle(&mut self, message: ChangeStatus, ctx: &mut Context<Self>) {
        self.last_active = std::time::Instant::now();
        let ChangeStatus { to, reply } = message;
        let refused = match (self.retired, self.loaded) {
            (true, _) => Some(StatusReply::Retired),
            (false, false) => Some(StatusReply::Unavailable),
            // Money in flight: it may land, so the account is not empty yet.
            (false, true) if to == AccountStatus::Closed && !self.state.is_idle() => {
                Some(StatusReply::Refused(Refusal::AccountNotEmpty))
            }
            (false, true) => None,
        };
        if let Some(refused) = refused {
            let _ = reply.send(refused);
            return;
        }
        let pool = self.shared.pool.clone();
        let id = self.info.id;
        // Read before the UPDATE: every batch up to it is in what the UPDATE returns.
        let committed_batch = self.shared.committed_batch();
        // The mailbox waits meanwhile: no hold is granted on a status about to change.
        let run = async move { change(&pool, id, to).await };
        ctx.wait(run.into_actor(self).map(move |changed, actor, _| {
            let answer = match changed {
                Ok(Some(committed)) => {
                    actor.state.reload(committed, committed_batch);
                    answer(to, committed.status)
                }
                Ok(None) | Err(_) => {
                    tracing::warn!(account = id.get(), "account status could not be changed");
                    StatusReply::Unavailable
                }
            };
            let _ = reply.send(answer);
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_asked_for_is_a_success_whatever_it_was() {
        for status in [
            AccountStatus::Active,
            AccountStatus::Frozen,
            AccountStatus::Closed,
        ] {
            assert_eq!(answer(status, status), StatusReply::Changed);
        }
    }

    #[test]
    fn a_closed_account_changes_no_more() {
        assert_eq!(
            answer(AccountStatus::Frozen, AccountStatus::Closed),
            StatusReply::Refused(Refusal::AccountClosed)
        );
        assert_eq!(
            answer(AccountStatus::Active, AccountStatus::Closed),
            StatusReply::Refused(Refusal::AccountClosed)
        );
    }

    #[test]
    fn a_close_left_open_is_a_non_empty_account() {
        assert_eq!(
            answer(AccountStatus::Closed, AccountStatus::Active),
            StatusReply::Refused(Refusal::AccountNotEmpty)
        );
        assert_eq!(
            answer(AccountStatus::Closed, AccountStatus::Frozen),
            StatusReply::Refused(Refusal::AccountNotEmpty)
        );
    }

    #[test]
    fn a_concurrent_change_is_retried_not_misreported() {
        assert_eq!(
            answer(AccountStatus::Frozen, AccountStatus::Active),
            StatusReply::Unavailable
        );
    }

    #[test]
    fn every_status_can_be_reached_from_another_but_closed_is_final() {
        assert!(changes_from(AccountStatus::Active)
            .iter()
            .all(|s| *s != "closed"));
        assert!(changes_from(AccountStatus::Frozen)
            .iter()
            .all(|s| *s != "closed"));
        assert!(changes_from(AccountStatus::Closed)
            .iter()
            .all(|s| *s != "closed"));
    }
}
