//! Dry runs: what a transfer (or a batch, in `batch/dry_run.rs`) would do, judged by the same
//! checks as the real path on the accounts' current state, through their actors: a probe is a
//! hold (or a batch's lease) asked on a copy of the actor's state, re-checked against PostgreSQL
//! as a real refusal is, that holds nothing. Nothing is held, written or stored, so the answer is
//! advisory: a concurrent transfer may change it.

use crate::account::{Side, Snapshot, SnapshotReply};
use crate::coordinator::{check, HoldFailure};
use crate::engine::Engine;
use crate::metrics::Queue;
use crate::model::{
    AccountSnapshot, Movement, Outage, Refusal, Saturation, TransferError, TransferRequest,
};
use crate::registry::AccountHandle;

/// Lookups repeated because an actor was passivated under our feet (as the real path's).
const RETIRED_RETRIES_MAX: u32 = 3;

/// What a transfer would do: its accounts as they would stand right after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    pub request: TransferRequest,
    /// A pending transfer: the amount would be held on the payer, not moved.
    pub pending: bool,
    pub from_account: AccountSnapshot,
    pub to_account: AccountSnapshot,
}

impl DryRun {
    /// The transfer applied to the accounts as they stand: a hold raises the payer's `held`; a
    /// transfer moves the amount. Within the money rules (the checks passed), so nothing here
    /// can leave i64 but a payee past the supply, which saturates (it is only shown).
    pub(crate) fn applied(
        request: TransferRequest,
        pending: bool,
        mut from_account: AccountSnapshot,
        mut to_account: AccountSnapshot,
    ) -> DryRun {
        let amount = request.amount.get();
        match pending {
            true => from_account.held = from_account.held.saturating_add(amount),
            false => {
                from_account.balance = from_account.balance.saturating_sub(amount);
                to_account.balance = to_account.balance.saturating_add(amount);
            }
        }
        DryRun {
            request,
            pending,
            from_account,
            to_account,
        }
    }
}

/// Why one pass of a dry run did not answer.
pub(crate) enum Probe {
    Retired,
    Failed(TransferError),
}

impl From<TransferError> for Probe {
    fn from(error: TransferError) -> Probe {
        Probe::Failed(error)
    }
}

impl Engine {
    /// What `transfer` (or `transfer_pending`, when `pending`) would answer now, holding and
    /// storing nothing: the same refusals, in the same order, or the accounts after it.
    pub async fn dry_run_transfer(
        &self,
        request: TransferRequest,
        pending: bool,
    ) -> Result<DryRun, TransferError> {
        if request.from == request.to {
            return Err(Refusal::SameAccount.into());
        }
        if pending {
            self.refuse_past_holds_cap(request.from).await?;
        }
        let mut retired = 0;
        loop {
            match self.dry_run_pass(&request, pending).await {
                Ok(dry_run) => return Ok(dry_run),
                Err(Probe::Retired) if retired < RETIRED_RETRIES_MAX => retired += 1,
                Err(Probe::Retired) => return Err(Saturation::Contended.into()),
                Err(Probe::Failed(error)) => return Err(error),
            }
        }
    }

    /// One pass, in the real path's order: look up, the static rules, the payee closed (a
    /// pending transfer) or both holds in ascending id order, then the reference (which the
    /// real path meets at the journal's insert).
    async fn dry_run_pass(
        &self,
        request: &TransferRequest,
        pending: bool,
    ) -> Result<DryRun, Probe> {
        let from = self.lookup(request.from).await?;
        let to = self.lookup(request.to).await?;
        check(request, Movement::Transfer, &from.info, &to.info).map_err(TransferError::from)?;
        let to_account = self.snapshot_of(&to).await?;
        match pending {
            true if to_account.status.credit_refusal().is_some() => {
                return Err(TransferError::from(Refusal::AccountClosed).into());
            }
            true => self.probe(&from, Side::Debit, request).await?,
            false => {
                let (first, second) = match from.info.id < to.info.id {
                    true => ((&from, Side::Debit), (&to, Side::Credit)),
                    false => ((&to, Side::Credit), (&from, Side::Debit)),
                };
                self.probe(first.0, first.1, request).await?;
                self.probe(second.0, second.1, request).await?;
            }
        }
        if let Some(reference) = request.details.reference.as_deref() {
            let taken = self
                .inner
                .reads
                .taken_references(&[(request.from, reference)])
                .await
                .map_err(TransferError::from)?;
            if !taken.is_empty() {
                return Err(TransferError::from(Refusal::DuplicateReference).into());
            }
        }
        let from_account = self.snapshot_of(&from).await?;
        Ok(DryRun::applied(
            request.clone(),
            pending,
            from_account,
            to_account,
        ))
    }

    /// Whether the account's actor would grant the hold (holding nothing).
    async fn probe(
        &self,
        handle: &AccountHandle,
        side: Side,
        request: &TransferRequest,
    ) -> Result<(), Probe> {
        match self.ask_hold(handle, side, request.amount, true).await {
            Ok(()) => Ok(()),
            Err(HoldFailure::Refused(refusal)) => Err(TransferError::from(refusal).into()),
            Err(HoldFailure::Retired) => {
                self.inner.registry.evict(handle);
                Err(Probe::Retired)
            }
            Err(HoldFailure::Failed(error)) => Err(error.into()),
        }
    }

    /// The account as its actor holds it (committed money only).
    pub(crate) async fn snapshot_of(
        &self,
        handle: &AccountHandle,
    ) -> Result<AccountSnapshot, Probe> {
        let Some(answer) = Snapshot::ask(&handle.addr, true) else {
            self.inner.metrics.rejected(Queue::AccountMailbox);
            return Err(TransferError::from(Saturation::AccountMailbox).into());
        };
        match answer.await {
            Ok(SnapshotReply::Account(account)) => Ok(account),
            Ok(SnapshotReply::Retired) | Err(_) => {
                self.inner.registry.evict(handle);
                Err(Probe::Retired)
            }
            Ok(SnapshotReply::Unavailable) => {
                Err(TransferError::from(Outage::AccountNotLoaded).into())
            }
        }
    }
}
