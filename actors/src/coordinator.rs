//! The transfer coordinator: checks a request against the money rules, puts holds on the two
//! account actors in ascending account-id order, hands the item to the journal, and maps the
//! journal's answer. Each request runs in a task of its own (see `Engine::execute`), so a caller
//! that goes away cannot cancel it between a hold and its release, and requests never queue
//! behind one another here.
//!
//! The same path serves plain transfers (deposits and withdrawals are transfers from and to the
//! reserve), new pending transfers, and the post, void or expiry of a pending one.

use time::OffsetDateTime;
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::account::{SettlementOutcome, Snapshot, SnapshotReply};
use crate::engine::Engine;
use crate::idempotency::Begin;
use crate::journal::{JournalItem, JournalOutcome, Operation};
use crate::metrics::Queue;
use crate::model::{
    AccountId, AccountInfo, AccountKind, AccountStatus, Amount, Authority, IdempotencyKey,
    LookupError, Movement, Refusal, TransferDetails, TransferError, TransferId, TransferRequest,
    TransferStatus, Transferred,
};
use crate::model::{Outage, Saturation};
use crate::registry::AccountHandle;

mod holds;
pub(crate) use holds::HoldFailure;

/// Lookups repeated because an actor was passivated under our feet; bounded so a pathological
/// race cannot spin.
const RETIRED_RETRIES_MAX: u32 = 3;

/// How a request asks to end a pending transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Move this much (at most the pending amount; all of it when `None`), release the rest.
    Post(Option<Amount>),
    Void,
    /// The sweeper's release of a hold past its `expires_at`.
    Expire,
}

/// One request, ready for the journal once its accounts are looked up and held.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub request: TransferRequest,
    /// What the static money rules check; `None` for endings of pending transfers, whose rules
    /// were checked when they were created.
    pub movement: Option<Movement>,
    pub operation: Operation,
}

impl Engine {
    pub(crate) async fn lookup(&self, id: AccountId) -> Result<AccountHandle, TransferError> {
        Ok(self.inner.registry.get(id).await?)
    }

    /// Runs one job to its end (committed, refused, or unavailable) in a task of its own:
    /// dropping the returned future (a client that disconnected) does not stop it halfway, so a
    /// hold is always settled or released.
    pub(crate) async fn execute(&self, job: Job) -> Result<Transferred, TransferError> {
        let engine = self.clone();
        run_detached(async move { engine.execute_to_end(job).await }).await
    }

    /// Runs a request to end a pending transfer, in a task of its own like `execute`.
    pub(crate) async fn end_pending(
        &self,
        id: TransferId,
        ending: Ending,
        authority: Authority,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Transferred, TransferError> {
        let engine = self.clone();
        let run = async move {
            // Admission first: a flood of one key waits on nothing and reads nothing.
            let _permit = engine.admit()?;
            let _key = match engine.begin_key(idempotency.as_ref()).await? {
                KeyStart::Replay(transferred) => return Ok(*transferred),
                KeyStart::Fresh(guard) => guard,
            };
            let job = engine.ending_job(id, ending, &authority).await?;
            let job = Job {
                request: TransferRequest {
                    idempotency,
                    ..job.request
                },
                ..job
            };
            engine.execute_admitted(&job).await
        };
        let outcome = run_detached(run).await;
        self.count_outcome(&outcome);
        outcome
    }

    /// Refunds `amount` of posted transfer `id` (all that is left of it when `None`): a new
    /// posted transfer from its payee back to its payer, naming it (`reversal_of`), through the
    /// ordinary path, in a task of its own. Only the payee or a banker may; the payer is refused
    /// (`Forbidden`), anyone else does not find it. The database keeps the sum of reversals
    /// within the original's amount whatever races it.
    pub(crate) async fn reverse_transfer(
        &self,
        id: TransferId,
        amount: Option<Amount>,
        description: Option<String>,
        authority: Authority,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Transferred, TransferError> {
        let engine = self.clone();
        let run = async move {
            let _permit = engine.admit()?;
            // The key first: a replay answers what it answered, whatever is left to refund now.
            let _key = match engine.begin_key(idempotency.as_ref()).await? {
                KeyStart::Replay(transferred) => return Ok(*transferred),
                KeyStart::Fresh(guard) => guard,
            };
            let mut job = engine.reversal_job(id, amount, &authority).await?;
            job.request.idempotency = idempotency;
            job.request.details.description = description;
            engine.execute_admitted(&job).await
        };
        let outcome = run_detached(run).await;
        self.count_outcome(&outcome);
        outcome
    }

    /// The transfer that reverses `amount` of transfer `id`, after the rules its row tells.
    async fn reversal_job(
        &self,
        id: TransferId,
        amount: Option<Amount>,
        authority: &Authority,
    ) -> Result<Job, TransferError> {
        let original = self.payee_s_transfer(id, authority).await?;
        if original.status != TransferStatus::Posted {
            return Err(TransferError::NotPosted);
        }
        let left = original.amount.get() - original.reversed_amount;
        assert!(left >= 0, "reversals within the original's amount");
        let amount = match amount {
            Some(amount) => amount,
            None => Amount::new(left).map_err(|_| Refusal::ReversalExceedsOriginal)?,
        };
        if amount.get() > left {
            return Err(Refusal::ReversalExceedsOriginal.into());
        }
        Ok(Job {
            request: TransferRequest {
                from: original.to_account_id,
                to: original.from_account_id,
                amount,
                currency: original.currency,
                authority: Authority::Privileged,
                idempotency: None,
                details: TransferDetails {
                    reversal_of: Some(id),
                    ..TransferDetails::default()
                },
            },
            movement: Some(Movement::Transfer),
            operation: Operation::Transfer,
        })
    }

    async fn execute_to_end(&self, job: Job) -> Result<Transferred, TransferError> {
        let outcome = async {
            if job.request.from == job.request.to {
                return Err(Refusal::SameAccount.into());
            }
            // Admission first, as for batches: a permit before the key's lock and its SELECT,
            // so the waiters on one key are bounded by the permits.
            let _permit = self.admit()?;
            let _key = match self.begin_key(job.request.idempotency.as_ref()).await? {
                KeyStart::Replay(transferred) => return Ok(*transferred),
                KeyStart::Fresh(guard) => guard,
            };
            self.execute_admitted(&job).await
        }
        .await;
        self.count_outcome(&outcome);
        outcome
    }

    fn count_outcome(&self, outcome: &Result<Transferred, TransferError>) {
        match outcome {
            Err(TransferError::Refused(refusal)) => self.inner.metrics.refused(*refusal),
            Ok(transferred) if transferred.replayed => self.inner.metrics.idempotent_replays.inc(),
            _ => {}
        }
    }

    /// Waits for any request in flight with the same key, then answers a committed one's
    /// replay or lets this one proceed holding the key.
    async fn begin_key(&self, key: Option<&IdempotencyKey>) -> Result<KeyStart<'_>, TransferError> {
        let Some(key) = key else {
            return Ok(KeyStart::Fresh(None));
        };
        match self.inner.idempotency.begin(key).await? {
            Begin::Replay(transferred) => Ok(KeyStart::Replay(transferred)),
            Begin::Fresh(guard) => Ok(KeyStart::Fresh(Some(guard))),
        }
    }

    /// Transfer `id`, for an act only its payee's owner (or a banker) may take: ending a hold
    /// or refunding a payment. The payer is refused (403: a hold it could end would be no
    /// guarantee, a refund it could take no payment); anyone else learns nothing (404).
    async fn payee_s_transfer(
        &self,
        id: TransferId,
        authority: &Authority,
    ) -> Result<crate::model::Transfer, TransferError> {
        let found = self
            .inner
            .reads
            .find_transfer(id)
            .await?
            .ok_or(Refusal::NotFound)?;
        if let Authority::Owner(username) = authority {
            let caller = Some(username.as_str());
            if found.from_owner.as_deref() == caller && found.to_owner.as_deref() != caller {
                return Err(Refusal::Forbidden.into());
            }
            if found.to_owner.as_deref() != caller {
                return Err(Refusal::NotFound.into());
            }
        }
        Ok(found.transfer)
    }

    /// The job that ends pending transfer `id`, after the rules only the pending transfer's
    /// row can tell: who may end it, whether it is still pending, and how much may move.
    async fn ending_job(
        &self,
        id: TransferId,
        ending: Ending,
        authority: &Authority,
    ) -> Result<Job, TransferError> {
        let pending = self.payee_s_transfer(id, authority).await?;
        let expires_at = pending.expires_at.ok_or(TransferError::NotPending)?;
        let due = expires_at <= OffsetDateTime::now_utc();
        if pending.status != TransferStatus::Pending || due != (ending == Ending::Expire) {
            return Err(TransferError::NotPending);
        }
        let held = pending.amount;
        let (operation, amount) = match ending {
            Ending::Post(amount) => {
                let amount = amount.unwrap_or(held);
                if amount > held {
                    return Err(Refusal::AmountAbovePending.into());
                }
                let operation = Operation::Post {
                    pending_id: id,
                    held: held.get(),
                };
                (operation, amount)
            }
            Ending::Void | Ending::Expire => {
                let operation = Operation::Release {
                    pending_id: id,
                    held: held.get(),
                    expired: ending == Ending::Expire,
                };
                (operation, held)
            }
        };
        Ok(Job {
            request: TransferRequest {
                from: pending.from_account_id,
                to: pending.to_account_id,
                amount,
                currency: pending.currency,
                authority: Authority::Privileged,
                idempotency: None,
                // What the transfer says is on its pending row; the posting says nothing.
                details: TransferDetails::default(),
            },
            movement: None,
            operation,
        })
    }

    /// An in-flight permit, or `Unavailable` at once when all are taken.
    pub(crate) fn admit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, TransferError> {
        self.inner.in_flight.try_acquire().map_err(|_| {
            self.inner.metrics.rejected(Queue::InFlight);
            TransferError::Saturated(Saturation::InFlight)
        })
    }

    /// Runs an admitted job (its caller holds an in-flight permit) through its retries.
    async fn execute_admitted(&self, job: &Job) -> Result<Transferred, TransferError> {
        let mut stale_retries = 0;
        let mut retired_retries = 0;
        loop {
            match self.attempt(job).await {
                Err(Attempt::Retired) if retired_retries < RETIRED_RETRIES_MAX => {
                    retired_retries += 1;
                }
                Err(Attempt::Stale) if stale_retries < self.inner.config.stale_retries_max => {
                    // The journal released the holds and the account is reloading; the next
                    // hold is queued behind that reload.
                    stale_retries += 1;
                    self.inner.metrics.stale_retries.inc();
                }
                Err(Attempt::Retired | Attempt::Stale) => return Err(Saturation::Contended.into()),
                Err(Attempt::DuplicateKey) => return self.replay_committed(&job.request).await,
                Err(Attempt::Failed(error)) => return Err(error),
                Ok(transferred) => return Ok(transferred),
            }
        }
    }

    /// One pass: look up, check, hold in order, journal.
    async fn attempt(&self, job: &Job) -> Result<Transferred, Attempt> {
        let request = &job.request;
        let from = self.lookup(request.from).await.map_err(Attempt::Failed)?;
        let to = self.lookup(request.to).await.map_err(Attempt::Failed)?;
        if let Some(movement) = job.movement {
            check(request, movement, &from.info, &to.info)
                .map_err(|refusal| Attempt::Failed(refusal.into()))?;
        }
        if let Operation::CreatePending { .. } = job.operation {
            // A hold puts nothing on its payee's actor: ask it whether it is closed.
            self.refuse_closed(&to).await?;
        }
        let (reply, answer) = oneshot::channel();
        let item = JournalItem {
            operation: job.operation,
            from,
            to,
            amount: request.amount,
            currency: request.currency,
            details: request.details.clone(),
            idempotency: request.idempotency.clone(),
            group: None,
            group_key: None,
            reply,
            span: tracing::Span::current(),
        };
        let hold = tracing::debug_span!(
            "engine hold",
            account.from = %request.from,
            account.to = %request.to,
        );
        self.hold_in_order(&item).instrument(hold).await?;
        if let Err(item) = self.inner.journal.submit(item) {
            self.inner.metrics.rejected(Queue::Journal);
            crate::journal::release_item(&item, SettlementOutcome::Released);
            return Err(Attempt::Failed(Saturation::JournalQueue.into()));
        }
        match answer.await {
            Ok(JournalOutcome::Committed(transferred)) => Ok(*transferred),
            Ok(JournalOutcome::Stale) => Err(Attempt::Stale),
            Ok(JournalOutcome::DuplicateKey) => Err(Attempt::DuplicateKey),
            Ok(JournalOutcome::DuplicateReference) => Err(Attempt::Failed(TransferError::Refused(
                Refusal::DuplicateReference,
            ))),
            Ok(JournalOutcome::ReversalExceeded) => Err(Attempt::Failed(TransferError::Refused(
                Refusal::ReversalExceedsOriginal,
            ))),
            Ok(JournalOutcome::NotPending) => Err(Attempt::Failed(TransferError::NotPending)),
            Ok(JournalOutcome::GroupAborted) => Err(Attempt::Stale),
            Ok(JournalOutcome::Failed(reason)) => {
                Err(Attempt::Failed(Outage::Database(reason).into()))
            }
            Err(_) => Err(Attempt::Failed(Outage::Stopped.into())),
        }
    }

    /// `AccountClosed` when the account is closed (final: its actor's word is enough).
    async fn refuse_closed(&self, handle: &AccountHandle) -> Result<(), Attempt> {
        let Some(answer) = Snapshot::ask(&handle.addr, true) else {
            self.inner.metrics.rejected(Queue::AccountMailbox);
            return Err(Attempt::Failed(Saturation::AccountMailbox.into()));
        };
        match answer.await {
            Ok(SnapshotReply::Account(account)) if account.status == AccountStatus::Closed => {
                Err(Attempt::Failed(Refusal::AccountClosed.into()))
            }
            Ok(SnapshotReply::Account(_)) => Ok(()),
            Ok(SnapshotReply::Retired) | Err(_) => {
                self.inner.registry.evict(handle);
                Err(Attempt::Retired)
            }
            Ok(SnapshotReply::Unavailable) => Err(Attempt::Failed(Outage::AccountNotLoaded.into())),
        }
    }

    /// Another request committed this key first (here or on another replica): answer with its
    /// stored result, or a conflict when it was another request.
    pub(crate) async fn replay_committed(
        &self,
        request: &TransferRequest,
    ) -> Result<Transferred, TransferError> {
        let key = request
            .idempotency
            .as_ref()
            .expect("only keyed transfers can collide on a key");
        match self.inner.idempotency.replay(key).await? {
            Some(transferred) => Ok(*transferred),
            None => Err(Saturation::KeyInUse.into()),
        }
    }
}

/// Runs `work` in a task of its own, so that dropping the caller's future (a client that went
/// away) cannot stop it between a hold and its release. The task stays in the caller's span:
/// the engine's spans are children of the request's.
pub(crate) async fn run_detached<T, E>(
    work: impl std::future::Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<TransferError> + Send + 'static,
{
    tokio::spawn(work.in_current_span())
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "an engine task ended early");
            Err(TransferError::from(Outage::Stopped).into())
        })
}

/// How an idempotency key lets a request start.
enum KeyStart<'a> {
    /// No key, or its first use: proceed, holding the key (if any) until answered.
    Fresh(Option<crate::idempotency::KeyGuard<'a>>),
    /// The key already committed with this request: its stored answer.
    Replay(Box<Transferred>),
}

/// How one attempt ended when it did not commit.
enum Attempt {
    Retired,
    Stale,
    DuplicateKey,
    Failed(TransferError),
}

impl From<LookupError> for Attempt {
    fn from(error: LookupError) -> Self {
        Attempt::Failed(error.into())
    }
}

/// The money rules that need no balance: kinds, ownership, currency. Checked on the accounts'
/// static facts, before any hold.
pub(crate) fn check(
    request: &TransferRequest,
    movement: Movement,
    from: &AccountInfo,
    to: &AccountInfo,
) -> Result<(), Refusal> {
    let kinds_fit = match movement {
        Movement::Transfer => {
            from.kind == AccountKind::Customer && to.kind == AccountKind::Customer
        }
        Movement::Deposit => from.kind == AccountKind::Reserve && to.kind == AccountKind::Customer,
        Movement::Withdrawal => {
            from.kind == AccountKind::Customer && to.kind == AccountKind::Reserve
        }
    };
    if !kinds_fit {
        // A reserve account is not a customer's to name.
        return Err(Refusal::NotFound);
    }
    if let Authority::Owner(username) = &request.authority {
        if from.owner.as_deref() != Some(username.as_str()) {
            return Err(Refusal::Forbidden);
        }
    }
    if from.currency != request.currency || to.currency != request.currency {
        return Err(Refusal::CurrencyMismatch);
    }
    Ok(())
}
