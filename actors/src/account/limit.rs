//! Changing an account's overdraft limit: through its actor (which caches it with the balance)
//! and one UPDATE, so the change and the journal's debits meet on the account's row lock, as a
//! status change does (`status.rs`). The UPDATE sets the floor to the new limit, or to the
//! account's debt when that is deeper (the debt stays allowed, no new debit is); the journal's
//! update raises it back towards the limit as the debt is paid (V12, docs/design.md).

use actix::{ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture};
use deadpool_postgres::Pool;
use tokio::sync::oneshot;

use super::{AccountActor, Committed};
use crate::engine::Engine;
use crate::model::{
    AccountId, AccountInfo, AccountKind, AccountSnapshot, AccountStatus, IdempotencyKey, Outage,
    Refusal, Saturation, TransferError,
};

/// Sets the account's overdraft limit to `overdraft` (0 to `OVERDRAFT_MAX`, checked by the
/// caller). With a key, the key and the account after the change commit in one transaction.
pub struct ChangeLimit {
    pub overdraft: i64,
    pub key: Option<IdempotencyKey>,
    pub reply: oneshot::Sender<LimitReply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitReply {
    /// The limit is set; the account right after the change.
    Changed(Box<AccountSnapshot>),
    Refused(Refusal),
    /// Another request committed the key first: its stored answer is the answer.
    KeyTaken,
    Retired,
    Unavailable,
}

impl Message for ChangeLimit {
    type Result = ();
}

/// The floor goes to the new limit, or stays at the debt when that is deeper: lowering a limit
/// below the debt is allowed, and blocks new debits until the debt is back within it. A closed
/// account has no limit to change; a reserve has none.
const CHANGE_LIMIT: &str = "UPDATE accounts
    SET overdraft = $2, floor = LEAST(-$2::bigint, balance - held)
    WHERE id = $1 AND kind = 'customer' AND status <> 'closed'
    RETURNING balance, held, status, overdraft, floor";

const INSERT_KEY: &str = "INSERT INTO idempotency_keys
        (username, key, request_hash, operation, outcome)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT DO NOTHING
    RETURNING key";

/// What one attempt did.
enum Outcome {
    Changed(Committed),
    /// No row changed: the account's state as it stands (closed, or gone).
    Unchanged(Option<Committed>),
    KeyTaken,
}

/// The stored answer to a keyed limit change: the account after it.
pub(crate) fn stored_outcome(account: &AccountSnapshot) -> serde_json::Value {
    serde_json::json!({"version": 1, "account": account})
}

fn snapshot(info: &AccountInfo, committed: &Committed) -> AccountSnapshot {
    AccountSnapshot {
        id: info.id,
        owner: info.owner.clone(),
        balance: committed.balance,
        held: committed.held,
        currency: info.currency,
        kind: info.kind,
        created_at: info.created_at,
        status: committed.status,
        overdraft: committed.limit.overdraft,
    }
}

/// Runs the change, with the key (when given) in the same transaction.
async fn change(
    pool: &Pool,
    info: &AccountInfo,
    overdraft: i64,
    key: Option<&IdempotencyKey>,
) -> Result<Outcome, String> {
    let describe = |error: tokio_postgres::Error| crate::db::describe(&error);
    let mut client = pool.get().await.map_err(|error| error.to_string())?;
    let transaction = client.transaction().await.map_err(describe)?;
    let changed = transaction
        .query_opt(CHANGE_LIMIT, &[&info.id, &overdraft])
        .await
        .map_err(describe)?;
    let Some(row) = changed else {
        drop(transaction);
        return Ok(Outcome::Unchanged(
            crate::registry::load_balance(pool, info.id).await?,
        ));
    };
    let committed = crate::registry::committed(&row)?;
    if let Some(key) = key {
        let outcome = stored_outcome(&snapshot(info, &committed));
        let inserted = transaction
            .query_opt(
                INSERT_KEY,
                &[
                    &key.username,
                    &key.key,
                    &key.request_hash,
                    &key.operation,
                    &outcome,
                ],
            )
            .await
            .map_err(describe)?;
        if inserted.is_none() {
            return Ok(Outcome::KeyTaken);
        }
    }
    transaction.commit().await.map_err(describe)?;
    Ok(Outcome::Changed(committed))
}

impl Handler<ChangeLimit> for AccountActor {
    type Result = ();

    fn handle(&mut self, message: ChangeLimit, ctx: &mut Context<Self>) {
        self.last_active = std::time::Instant::now();
        let ChangeLimit {
            overdraft,
            key,
            reply,
        } = message;
        match (self.retired, self.loaded) {
            (true, _) => {
                let _ = reply.send(LimitReply::Retired);
                return;
            }
            (false, false) => {
                let _ = reply.send(LimitReply::Unavailable);
                return;
            }
            (false, true) => {}
        }
        let pool = self.shared.pool.clone();
        let info = self.info.clone();
        // Read before the UPDATE: every batch up to it is in what the UPDATE returns.
        let committed_batch = self.shared.committed_batch();
        // The mailbox waits meanwhile: no hold is granted on a limit about to change.
        let run = async move {
            let outcome = change(&pool, &info, overdraft, key.as_ref()).await;
            (info, outcome)
        };
        ctx.wait(run.into_actor(self).map(move |(info, outcome), actor, _| {
            let answer = match outcome {
                Ok(Outcome::Changed(committed)) => {
                    actor.state.reload(committed, committed_batch);
                    LimitReply::Changed(Box::new(snapshot(&info, &committed)))
                }
                Ok(Outcome::Unchanged(Some(committed))) => {
                    actor.state.reload(committed, committed_batch);
                    match committed.status {
                        AccountStatus::Closed => LimitReply::Refused(Refusal::AccountClosed),
                        _ => LimitReply::Unavailable,
                    }
                }
                Ok(Outcome::KeyTaken) => LimitReply::KeyTaken,
                Ok(Outcome::Unchanged(None)) | Err(_) => {
                    tracing::warn!(account = info.id.get(), "overdraft limit not changed");
                    LimitReply::Unavailable
                }
            };
            let _ = reply.send(answer);
        }));
    }
}

/// A limit change's answer: the account after it, and whether it is a key's stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitChanged {
    pub account: AccountSnapshot,
    pub replayed: bool,
}

impl Engine {
    /// Sets a customer account's overdraft limit (the caller checked who may, and the bounds);
    /// answers the account as it stands after. Its actor makes the change, so its cache and
    /// PostgreSQL agree; other replicas learn it when PostgreSQL refuses a debit they allowed
    /// (then they reload) or a refusal of theirs is re-checked.
    pub async fn set_overdraft(
        &self,
        id: AccountId,
        overdraft: i64,
        key: Option<IdempotencyKey>,
    ) -> Result<LimitChanged, TransferError> {
        assert!(
            (0..=crate::config::OVERDRAFT_MAX).contains(&overdraft),
            "callers bound the overdraft"
        );
        // Bounds the keys held below, as a transfer's permit does.
        let _permit = self.admit()?;
        let idempotency = &self.inner.idempotency;
        let _guard = match &key {
            Some(key) => Some(idempotency.lock(key).await),
            None => None,
        };
        if let Some(key) = &key {
            if let Some(account) = idempotency.replay_account(key).await? {
                return Ok(LimitChanged {
                    account,
                    replayed: true,
                });
            }
        }
        match self.change_limit(id, overdraft, key.clone()).await? {
            Some(account) => Ok(LimitChanged {
                account,
                replayed: false,
            }),
            None => {
                let key = key.expect("only a keyed change finds its key taken");
                let account = idempotency
                    .replay_account(&key)
                    .await?
                    .ok_or(TransferError::Saturated(Saturation::KeyInUse))?;
                Ok(LimitChanged {
                    account,
                    replayed: true,
                })
            }
        }
    }

    /// The change through the account's actor; `None` when another request took the key.
    async fn change_limit(
        &self,
        id: AccountId,
        overdraft: i64,
        key: Option<IdempotencyKey>,
    ) -> Result<Option<AccountSnapshot>, TransferError> {
        for _ in 0..2 {
            let handle = self.inner.registry.get(id).await?;
            if handle.info.kind == AccountKind::Reserve {
                return Err(Refusal::NotFound.into());
            }
            let (reply, answer) = oneshot::channel();
            let message = ChangeLimit {
                overdraft,
                key: key.clone(),
                reply,
            };
            if handle.addr.try_send(message).is_err() {
                self.inner
                    .metrics
                    .rejected(crate::metrics::Queue::AccountMailbox);
                return Err(Saturation::AccountMailbox.into());
            }
            match answer.await {
                Ok(LimitReply::Changed(account)) => return Ok(Some(*account)),
                Ok(LimitReply::KeyTaken) => return Ok(None),
                Ok(LimitReply::Refused(refusal)) => return Err(refusal.into()),
                Ok(LimitReply::Retired) | Err(_) => self.inner.registry.evict(&handle),
                Ok(LimitReply::Unavailable) => break,
            }
        }
        Err(Outage::AccountNotLoaded.into())
    }
}
