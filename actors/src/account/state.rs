//! An account's balance state: plain data, checked in release builds, unit-tested without
//! actors or PostgreSQL. The actor in `account` owns one and serialises every change to it.

use super::Apportion;
use crate::model::{AccountKind, AccountStatus, Amount, Limit, Refusal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Debit,
    Credit,
    /// No money on hold: the account only waits for its batch's settlement (the payer of a
    /// pending transfer being posted or released, whose money is already held).
    Touch,
}

/// An account's balance state: plain data, unit-tested without actors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    kind: AccountKind,
    /// As PostgreSQL last reported it: a debit of a frozen or closed account and a credit to a
    /// closed one are refused here; the journal's update refuses them too, on any replica.
    status: AccountStatus,
    /// As PostgreSQL last reported it: a debit may take `posted − held − pending_debits` down to
    /// `limit.floor`. The journal's update checks the committed floor again, on any replica.
    limit: Limit,
    /// Committed money, as PostgreSQL last reported it.
    posted: i64,
    /// Committed holds of pending transfers, as PostgreSQL last reported them.
    held: i64,
    /// Debits on hold in flight: not yet committed or released.
    pending_debits: i64,
    /// Credits on hold in flight (they do not count as available until committed). Wider than a
    /// balance: a credit is held before the payer's debit may refuse it, so unbacked amounts can
    /// sum past i64 here for a moment; only committed credits reach `posted`.
    pending_credits: i128,
    /// Holds in flight; an account with any is never passivated.
    holds_in_flight: u32,
    /// The journal batch whose committed balance `posted` holds.
    synced_batch: u64,
}

/// The currency's total supply may not pass this: so no customer balance (at most the supply,
/// by conservation) and no credit to one can overflow.
pub const SUPPLY_MAX: i64 = i64::MAX;

/// An account's row as PostgreSQL reported it (after a batch, a reload or a change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub balance: i64,
    pub held: i64,
    pub status: AccountStatus,
    pub limit: Limit,
}

/// What the journal (or the coordinator, for a refusal) reports back for holds in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub debits: i64,
    pub credits: i64,
    pub holds: u32,
    pub outcome: SettlementOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementOutcome {
    /// Committed in `batch`; the account's row in PostgreSQL right after it.
    Posted { batch: u64, committed: Committed },
    /// Not written; nothing changed in PostgreSQL.
    Released,
    /// Not written, and the cached state is suspect (another replica moved money, or the commit's
    /// outcome is unknown): reload from PostgreSQL.
    ReleasedAndReload,
}

impl AccountState {
    pub fn new(kind: AccountKind, posted: i64, held: i64) -> AccountState {
        let state = AccountState {
            kind,
            status: AccountStatus::Active,
            limit: Limit::default(),
            posted,
            held,
            pending_debits: 0,
            pending_credits: 0,
            holds_in_flight: 0,
            synced_batch: 0,
        };
        state.check();
        state
    }

    pub fn posted(&self) -> i64 {
        self.posted
    }

    pub fn held(&self) -> i64 {
        self.held
    }

    pub fn status(&self) -> AccountStatus {
        self.status
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Adopts a limit PostgreSQL committed (or reported).
    pub fn set_limit(&mut self, limit: Limit) {
        self.limit = limit;
        self.check();
    }

    /// Adopts a status PostgreSQL committed (or reported).
    pub fn set_status(&mut self, status: AccountStatus) {
        assert!(
            self.status != AccountStatus::Closed || status == AccountStatus::Closed,
            "status: a closed account is never reopened {self:?}"
        );
        self.status = status;
        self.check();
    }

    /// Whether nothing is committed, held or in flight on the account (the unit tests' check).
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.posted == 0 && self.held == 0 && self.is_idle()
    }

    /// Committed money minus committed holds and debits in flight (below 0 in an overdraft).
    pub fn available(&self) -> i64 {
        self.posted - self.held - self.pending_debits
    }

    /// What a new debit may spend: `available` down to the floor (never below 0 itself). A
    /// reserve's floor is the supply bound, checked in `hold`.
    pub fn spendable(&self) -> i64 {
        (i128::from(self.available()) - i128::from(self.limit.floor)).clamp(0, i128::from(i64::MAX))
            as i64
    }

    pub fn is_idle(&self) -> bool {
        self.holds_in_flight == 0
    }

    /// Puts a hold on one side. A credit is never refused (see `SUPPLY_MAX`), so a refusal only
    /// ever depends on the debited account.
    pub fn hold(&mut self, side: Side, amount: Amount) -> Result<(), Refusal> {
        let amount = amount.get();
        let status_refusal = match side {
            Side::Debit => self.status.debit_refusal(),
            Side::Credit => self.status.credit_refusal(),
            Side::Touch => None,
        };
        if let Some(refusal) = status_refusal {
            return Err(refusal);
        }
        match side {
            Side::Debit => {
                // Past i64 only the reserve can go (a customer's available is never below its
                // floor, at least −OVERDRAFT_MAX).
                let remaining = self
                    .available()
                    .checked_sub(amount)
                    .ok_or(match self.kind {
                        AccountKind::Customer => Refusal::InsufficientFunds,
                        AccountKind::Reserve => Refusal::BalanceOverflow,
                    })?;
                match self.kind {
                    AccountKind::Customer if remaining < self.limit.floor => {
                        return Err(Refusal::InsufficientFunds)
                    }
                    // The reserve may go negative down to minus the supply bound.
                    AccountKind::Reserve if remaining < -SUPPLY_MAX => {
                        return Err(Refusal::BalanceOverflow)
                    }
                    _ => {}
                }
                self.pending_debits += amount;
            }
            Side::Credit => self.pending_credits += i128::from(amount),
            Side::Touch => {}
        }
        self.holds_in_flight += 1;
        self.check();
        Ok(())
    }

    /// Holds up to `debit_max` for a batch request, as one hold: what the account can spend of
    /// it now. Returns what was granted.
    pub fn lease(&mut self, debit_max: i64) -> i64 {
        assert!(
            self.kind == AccountKind::Customer && debit_max >= 0,
            "only customers' money is leased to batches"
        );
        let granted = self.spendable().min(debit_max);
        self.pending_debits += granted;
        self.holds_in_flight += 1;
        self.check();
        granted
    }

    /// Turns a batch's lease into the holds of the items that use it: `debits` of the lease stay
    /// held (the rest is released) as `debit_holds` holds, and `credits` are held as
    /// `credit_holds` holds, exactly as if each item had put its own.
    pub fn apportion(&mut self, apportion: &Apportion) {
        // A batch may spend beyond its lease what it pays into the same account first: both
        // commit in one transaction.
        assert!(
            apportion.debits <= apportion.leased + apportion.credits
                && apportion.leased <= self.pending_debits
                && apportion.lease_holds <= self.holds_in_flight,
            "holds: apportioning more than was leased {self:?} {apportion:?}"
        );
        self.pending_debits += apportion.debits - apportion.leased;
        self.pending_credits += i128::from(apportion.credits);
        self.holds_in_flight = self.holds_in_flight - apportion.lease_holds
            + apportion.debit_holds
            + apportion.credit_holds;
        self.check();
    }

    /// Applies a settlement; returns whether the state must be reloaded from PostgreSQL.
    pub fn settle(&mut self, settlement: &Settlement) -> bool {
        assert!(
            settlement.debits <= self.pending_debits
                && i128::from(settlement.credits) <= self.pending_credits
                && settlement.holds <= self.holds_in_flight,
            "a settlement of more than is held in flight: {self:?} {settlement:?}"
        );
        self.pending_debits -= settlement.debits;
        self.pending_credits -= i128::from(settlement.credits);
        self.holds_in_flight -= settlement.holds;
        let reload = match settlement.outcome {
            SettlementOutcome::Posted { batch, committed } => {
                // Batches may be settled out of order; the newest committed balance wins, and it
                // includes whatever other replicas committed, so drift heals itself.
                if batch > self.synced_batch {
                    self.synced_batch = batch;
                    self.posted = committed.balance;
                    self.held = committed.held;
                    // A limit from a batch that committed just before a limit change is stale
                    // either way, and harmless: too high, the journal's update refuses the debit
                    // and the account reloads; too low, a refusal reloads before it is answered.
                    self.limit = committed.limit;
                    // Never relaxed here: a batch that committed just before a freeze reports
                    // the account active. An unfreeze elsewhere is learned by the reload a
                    // frozen refusal makes first.
                    if committed.status.rank() > self.status.rank() {
                        self.status = committed.status;
                    }
                }
                false
            }
            SettlementOutcome::Released => false,
            SettlementOutcome::ReleasedAndReload => true,
        };
        self.check();
        reload
    }

    /// Replaces the committed state with PostgreSQL's, read after batch `committed_batch` had
    /// committed (so settlements of that batch or older must not overwrite it). Holds in flight
    /// stay counted, since their settlements are still to come.
    pub fn reload(&mut self, committed: Committed, committed_batch: u64) {
        self.posted = committed.balance;
        self.held = committed.held;
        self.status = committed.status;
        self.limit = committed.limit;
        self.synced_batch = self.synced_batch.max(committed_batch);
        self.check();
    }

    /// The money rules on the cached state: asserted in release builds too, since a broken one
    /// means money is wrong.
    fn check(&self) {
        assert!(
            self.pending_debits >= 0 && self.pending_credits >= 0 && self.held >= 0,
            "holds: negative amounts in flight {self:?}"
        );
        assert!(
            self.holds_in_flight > 0 || (self.pending_debits == 0 && self.pending_credits == 0),
            "holds: money in flight without a hold {self:?}"
        );
        // Checked in i128: a committed balance minus its holds may not fit in i64.
        assert!(
            self.kind == AccountKind::Reserve
                || i128::from(self.posted) - i128::from(self.held) >= i128::from(self.limit.floor),
            "floor: a customer's posted balance minus its holds below its floor {self:?}"
        );
        assert!(
            self.limit.overdraft >= 0
                && self.limit.floor <= -self.limit.overdraft
                && (self.kind == AccountKind::Customer || self.limit == Limit::default()),
            "floor: a limit out of its bounds {self:?}"
        );
        assert!(
            self.status != AccountStatus::Closed || (self.posted == 0 && self.held == 0),
            "status: a closed account holds money {self:?}"
        );
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
