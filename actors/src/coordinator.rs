//! The transfer coordinator: checks a transfer against the money rules, puts holds on the two
//! account actors in ascending account-id order, hands the pair to the journal, and maps the
//! journal's answer. Each transfer runs in a task of its own (see `Engine::execute`), so a caller
//! that goes away cannot cancel it between a hold and its release, and transfers never queue
//! behind one another here.

use actix::dev::SendError;
use tokio::sync::oneshot;

use crate::account::{Hold, HoldReply, SettlementOutcome, Side};
use crate::engine::Engine;
use crate::idempotency::Begin;
use crate::journal::{settle, HeldTransfer, JournalOutcome};
use crate::metrics::Queue;
use crate::model::{
    AccountId, AccountInfo, AccountKind, Amount, Authority, LookupError, Movement, Refusal,
    TransferError, TransferRequest, Transferred,
};
use crate::registry::AccountHandle;

/// Lookups repeated because an actor was passivated under our feet; bounded so a pathological
/// race cannot spin.
const RETIRED_RETRIES_MAX: u32 = 3;

enum HoldFailure {
    Refused(Refusal),
    Retired,
    Unavailable(String),
}

impl Engine {
    pub(crate) async fn lookup(&self, id: AccountId) -> Result<AccountHandle, TransferError> {
        Ok(self.inner.registry.get(id).await?)
    }

    /// Runs one transfer to its end (committed, refused, or unavailable) in a task of its own:
    /// dropping the returned future (a client that disconnected) does not stop it halfway, so a
    /// hold is always settled or released.
    pub(crate) async fn execute(
        &self,
        request: TransferRequest,
        movement: Movement,
    ) -> Result<Transferred, TransferError> {
        let engine = self.clone();
        tokio::spawn(async move { engine.execute_to_end(request, movement).await })
            .await
            .unwrap_or_else(|error| {
                Err(TransferError::Unavailable(format!(
                    "the transfer task ended: {error}"
                )))
            })
    }

    async fn execute_to_end(
        &self,
        request: TransferRequest,
        movement: Movement,
    ) -> Result<Transferred, TransferError> {
        let outcome = self.execute_admitted(&request, movement).await;
        match &outcome {
            Err(TransferError::Refused(refusal)) => self.inner.metrics.refused(*refusal),
            Ok(transferred) if transferred.replayed => self.inner.metrics.idempotent_replays.inc(),
            _ => {}
        }
        outcome
    }

    async fn execute_admitted(
        &self,
        request: &TransferRequest,
        movement: Movement,
    ) -> Result<Transferred, TransferError> {
        if request.from == request.to {
            return Err(Refusal::SameAccount.into());
        }
        let Ok(_permit) = self.inner.in_flight.try_acquire() else {
            self.inner.metrics.rejected(Queue::InFlight);
            return Err(TransferError::Unavailable(
                "too many transfers in flight".to_owned(),
            ));
        };
        let _key = match &request.idempotency {
            None => None,
            Some(key) => match self.inner.idempotency.begin(key).await? {
                Begin::Replay(transferred) => return Ok(*transferred),
                Begin::Fresh(guard) => Some(guard),
            },
        };
        let mut stale_retries = 0;
        let mut retired_retries = 0;
        loop {
            match self.attempt(request, movement).await {
                Err(Attempt::Retired) if retired_retries < RETIRED_RETRIES_MAX => {
                    retired_retries += 1;
                }
                Err(Attempt::Stale) if stale_retries < self.inner.config.stale_retries_max => {
                    // The journal released the holds and the account is reloading; the next
                    // hold is queued behind that reload.
                    stale_retries += 1;
                    self.inner.metrics.stale_retries.inc();
                }
                Err(Attempt::Retired | Attempt::Stale) => {
                    return Err(TransferError::Unavailable(
                        "the accounts are contended; retry".to_owned(),
                    ))
                }
                Err(Attempt::DuplicateKey) => return self.replay_committed(request).await,
                Err(Attempt::Failed(error)) => return Err(error),
                Ok(transferred) => return Ok(transferred),
            }
        }
    }

    /// One pass: look up, check, hold in order, journal.
    async fn attempt(
        &self,
        request: &TransferRequest,
        movement: Movement,
    ) -> Result<Transferred, Attempt> {
        let from = self.lookup(request.from).await.map_err(Attempt::Failed)?;
        let to = self.lookup(request.to).await.map_err(Attempt::Failed)?;
        check(request, movement, &from.info, &to.info)
            .map_err(|refusal| Attempt::Failed(refusal.into()))?;
        self.hold_in_order(&from, &to, request.amount).await?;

        let (reply, answer) = oneshot::channel();
        let held = HeldTransfer {
            from,
            to,
            amount: request.amount,
            currency: request.currency,
            idempotency: request.idempotency.clone(),
            reply,
        };
        if let Err(held) = self.inner.journal.submit(held) {
            self.inner.metrics.rejected(Queue::Journal);
            release(&held.from, Side::Debit, request.amount);
            release(&held.to, Side::Credit, request.amount);
            return Err(Attempt::Failed(TransferError::Unavailable(
                "the journal queue is full".to_owned(),
            )));
        }
        match answer.await {
            Ok(JournalOutcome::Committed(transferred)) => Ok(*transferred),
            Ok(JournalOutcome::Stale) => Err(Attempt::Stale),
            Ok(JournalOutcome::DuplicateKey) => Err(Attempt::DuplicateKey),
            Ok(JournalOutcome::Failed(reason)) => {
                Err(Attempt::Failed(TransferError::Unavailable(reason)))
            }
            Err(_) => Err(Attempt::Failed(TransferError::Unavailable(
                "the journal stopped".to_owned(),
            ))),
        }
    }

    /// Holds on the lower account id first, so two opposite transfers always meet their
    /// accounts in the same order. A refusal on the second releases the first. Only a debit can
    /// be refused, so a refusal never depends on the recipient's state (privacy_of_state).
    async fn hold_in_order(
        &self,
        from: &AccountHandle,
        to: &AccountHandle,
        amount: Amount,
    ) -> Result<(), Attempt> {
        let debit = (from, Side::Debit);
        let credit = (to, Side::Credit);
        let (first, second) = if from.info.id < to.info.id {
            (debit, credit)
        } else {
            (credit, debit)
        };
        self.hold(first.0, first.1, amount).await?;
        if let Err(failure) = self.hold(second.0, second.1, amount).await {
            release(first.0, first.1, amount);
            return Err(failure);
        }
        Ok(())
    }

    async fn hold(
        &self,
        handle: &AccountHandle,
        side: Side,
        amount: Amount,
    ) -> Result<(), Attempt> {
        let failure = match self.ask_hold(handle, side, amount).await {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        Err(match failure {
            HoldFailure::Refused(refusal) => Attempt::Failed(refusal.into()),
            HoldFailure::Retired => {
                self.inner.registry.evict(handle);
                Attempt::Retired
            }
            HoldFailure::Unavailable(reason) => Attempt::Failed(TransferError::Unavailable(reason)),
        })
    }

    async fn ask_hold(
        &self,
        handle: &AccountHandle,
        side: Side,
        amount: Amount,
    ) -> Result<(), HoldFailure> {
        let (reply, answer) = oneshot::channel();
        match handle.addr.try_send(Hold {
            side,
            amount,
            reply,
        }) {
            Ok(()) => {}
            Err(SendError::Full(_)) => {
                self.inner.metrics.rejected(Queue::AccountMailbox);
                return Err(HoldFailure::Unavailable(format!(
                    "account {} is saturated",
                    handle.info.id
                )));
            }
            Err(SendError::Closed(_)) => return Err(HoldFailure::Retired),
        }
        match answer.await {
            Ok(HoldReply::Held) => Ok(()),
            Ok(HoldReply::Refused(refusal)) => Err(HoldFailure::Refused(refusal)),
            Ok(HoldReply::Retired) | Err(_) => Err(HoldFailure::Retired),
            Ok(HoldReply::Unavailable) => Err(HoldFailure::Unavailable(format!(
                "account {} could not be loaded",
                handle.info.id
            ))),
        }
    }

    /// Another request committed this key first (here or on another replica): answer with its
    /// stored result, or a conflict when it was another request.
    async fn replay_committed(
        &self,
        request: &TransferRequest,
    ) -> Result<Transferred, TransferError> {
        let key = request
            .idempotency
            .as_ref()
            .expect("only keyed transfers can collide on a key");
        match self.inner.idempotency.replay(key).await? {
            Some(transferred) => Ok(*transferred),
            None => Err(TransferError::Unavailable(
                "the idempotency key is being used by another request".to_owned(),
            )),
        }
    }
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
fn check(
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

fn release(handle: &AccountHandle, side: Side, amount: Amount) {
    let (debits, credits) = match side {
        Side::Debit => (amount.get(), 0),
        Side::Credit => (0, amount.get()),
    };
    settle(handle, debits, credits, SettlementOutcome::Released);
}
