//! An account's balance state: plain data, checked in release builds, unit-tested without
//! actors or PostgreSQL. The actor in `account` owns one and serialises every change to it.

use super::Apportion;
use crate::model::{AccountKind, AccountStatus, Amount, Refusal};

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
    /// Committed in `batch`; the account's balance and held amount in PostgreSQL right after it.
    Posted {
        batch: u64,
        balance: i64,
        held: i64,
        status: AccountStatus,
    },
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

    /// What a new debit may spend: committed money minus committed holds and debits in flight.
    pub fn available(&self) -> i64 {
        self.posted - self.held - self.pending_debits
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
                // Past i64 only the reserve can go (a customer's available is never below 0).
                let remaining = self
                    .available()
                    .checked_sub(amount)
                    .ok_or(match self.kind {
                        AccountKind::Customer => Refusal::InsufficientFunds,
                        AccountKind::Reserve => Refusal::BalanceOverflow,
                    })?;
                match self.kind {
                    AccountKind::Customer if remaining < 0 => {
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
        let granted = self.available().clamp(0, debit_max);
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
            SettlementOutcome::Posted {
                batch,
                balance,
                held,
                status,
            } => {
                // Batches may be settled out of order; the newest committed balance wins, and it
                // includes whatever other replicas committed, so drift heals itself.
                if batch > self.synced_batch {
                    self.synced_batch = batch;
                    self.posted = balance;
                    self.held = held;
                    // Never relaxed here: a batch that committed just before a freeze reports
                    // the account active. An unfreeze elsewhere is learned by the reload a
                    // frozen refusal makes first.
                    if status.rank() > self.status.rank() {
                        self.status = status;
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

    /// Replaces the committed balance with PostgreSQL's, read after batch `committed_batch` had
    /// committed (so settlements of that batch or older must not overwrite it). Holds in flight
    /// stay counted, since their settlements are still to come.
    pub fn reload(&mut self, posted: i64, held: i64, status: AccountStatus, committed_batch: u64) {
        self.posted = posted;
        self.held = held;
        self.status = status;
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
        assert!(
            self.kind == AccountKind::Reserve || self.posted >= 0,
            "no_overdraft: a customer's posted balance below 0 {self:?}"
        );
        assert!(
            self.status != AccountStatus::Closed || (self.posted == 0 && self.held == 0),
            "status: a closed account holds money {self:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(minor_units: i64) -> Amount {
        Amount::new(minor_units).expect("a positive amount")
    }

    fn posted(batch: u64, balance: i64, debits: i64, credits: i64, holds: u32) -> Settlement {
        Settlement {
            debits,
            credits,
            holds,
            outcome: SettlementOutcome::Posted {
                batch,
                balance,
                held: 0,
                status: AccountStatus::Active,
            },
        }
    }

    #[test]
    fn a_debit_hold_lowers_available_but_not_posted() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(30)).expect("held");
        assert_eq!(state.available(), 70);
        assert_eq!(state.posted(), 100);
        assert!(!state.is_idle());
    }

    #[test]
    fn a_customer_cannot_reserve_more_than_available() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(60)).expect("held");
        assert_eq!(
            state.hold(Side::Debit, amount(41)),
            Err(Refusal::InsufficientFunds)
        );
        state
            .hold(Side::Debit, amount(40))
            .expect("exactly the rest");
        assert_eq!(state.available(), 0);
    }

    #[test]
    fn a_refused_hold_changes_nothing() {
        let mut state = AccountState::new(AccountKind::Customer, 10, 0);
        let before = state.clone();
        assert_eq!(
            state.hold(Side::Debit, amount(11)),
            Err(Refusal::InsufficientFunds)
        );
        assert_eq!(state, before);
    }

    #[test]
    fn the_reserve_may_go_negative() {
        let mut state = AccountState::new(AccountKind::Reserve, 0, 0);
        state
            .hold(Side::Debit, amount(1_000))
            .expect("the reserve funds deposits");
        assert_eq!(state.available(), -1_000);
    }

    #[test]
    fn credits_count_only_once_posted() {
        let mut state = AccountState::new(AccountKind::Customer, 0, 0);
        state.hold(Side::Credit, amount(50)).expect("held");
        assert_eq!(state.available(), 0);
        assert_eq!(
            state.hold(Side::Debit, amount(1)),
            Err(Refusal::InsufficientFunds)
        );
        state.settle(&posted(1, 50, 0, 50, 1));
        assert_eq!(state.available(), 50);
        assert!(state.is_idle());
    }

    #[test]
    fn posting_moves_a_hold_to_posted() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(30)).expect("held");
        state.hold(Side::Debit, amount(20)).expect("held");
        assert!(!state.settle(&posted(1, 50, 50, 0, 2)));
        assert_eq!((state.posted(), state.available()), (50, 50));
        assert!(state.is_idle());
    }

    #[test]
    fn releasing_restores_available() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(30)).expect("held");
        let released = Settlement {
            debits: 30,
            credits: 0,
            holds: 1,
            outcome: SettlementOutcome::Released,
        };
        assert!(!state.settle(&released));
        assert_eq!((state.posted(), state.available()), (100, 100));
        assert!(state.is_idle());
    }

    #[test]
    fn a_suspect_release_asks_for_a_reload() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(30)).expect("held");
        let suspect = Settlement {
            debits: 30,
            credits: 0,
            holds: 1,
            outcome: SettlementOutcome::ReleasedAndReload,
        };
        assert!(state.settle(&suspect));
        state.reload(40, 0, AccountStatus::Active, 0);
        assert_eq!(state.available(), 40);
    }

    #[test]
    fn a_settlement_older_than_a_reload_is_not_adopted() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(10)).expect("held");
        // Reloaded after batch 3 committed: the balance already includes batch 2.
        state.reload(60, 0, AccountStatus::Active, 3);
        state.settle(&posted(2, 90, 10, 0, 1));
        assert_eq!((state.posted(), state.available()), (60, 60));
    }

    #[test]
    fn an_older_batch_never_overwrites_a_newer_balance() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(10)).expect("held");
        state.hold(Side::Debit, amount(20)).expect("held");
        // Batch 2 (the 20) is settled before batch 1 (the 10).
        state.settle(&posted(2, 70, 20, 0, 1));
        state.settle(&posted(1, 90, 10, 0, 1));
        assert_eq!((state.posted(), state.available()), (70, 70));
    }

    #[test]
    fn a_committed_balance_from_another_replica_is_adopted() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(10)).expect("held");
        // Another replica spent 50 meanwhile: the database says 40 after our debit.
        state.settle(&posted(1, 40, 10, 0, 1));
        assert_eq!(state.available(), 40);
    }

    #[test]
    fn only_the_reserve_is_bounded_by_the_supply() {
        // Deposits debit the reserve: the supply may not pass i64::MAX.
        let mut reserve = AccountState::new(AccountKind::Reserve, -(SUPPLY_MAX - 5), 0);
        assert_eq!(
            reserve.hold(Side::Debit, amount(6)),
            Err(Refusal::BalanceOverflow)
        );
        reserve
            .hold(Side::Debit, amount(5))
            .expect("up to the supply bound");
        let mut customer = AccountState::new(AccountKind::Customer, 10, 0);
        customer.hold(Side::Debit, amount(10)).expect("held");
        assert_eq!(
            customer.hold(Side::Debit, amount(i64::MAX)),
            Err(Refusal::InsufficientFunds)
        );
    }

    #[test]
    fn a_deposit_past_i64_on_the_reserve_is_an_overflow_not_a_shortage() {
        // The debit's own subtraction leaves i64: still the supply bound that refuses it.
        let mut reserve = AccountState::new(AccountKind::Reserve, -(SUPPLY_MAX - 10), 0);
        assert_eq!(
            reserve.hold(Side::Debit, amount(100)),
            Err(Refusal::BalanceOverflow)
        );
    }

    #[test]
    fn a_credit_is_never_refused_whatever_the_balance() {
        let mut state = AccountState::new(AccountKind::Customer, SUPPLY_MAX - 5, 0);
        state
            .hold(Side::Credit, amount(5))
            .expect("a credit within the supply");
    }

    #[test]
    fn committed_holds_are_not_available() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 60);
        assert_eq!(state.available(), 40);
        assert_eq!(
            state.hold(Side::Debit, amount(41)),
            Err(Refusal::InsufficientFunds)
        );
        state.hold(Side::Debit, amount(40)).expect("the rest");
    }

    #[test]
    fn a_frozen_account_refuses_debits_but_takes_credits_and_finishes_its_holds() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 40);
        state.set_status(AccountStatus::Frozen);
        let before = state.clone();
        assert_eq!(
            state.hold(Side::Debit, amount(1)),
            Err(Refusal::AccountFrozen)
        );
        assert_eq!(state, before);
        state.hold(Side::Credit, amount(5)).expect("a credit");
        state
            .hold(Side::Touch, amount(40))
            .expect("posting its own hold");
        assert_eq!(state.available(), 60);
    }

    #[test]
    fn a_closed_account_refuses_debits_and_credits() {
        let mut state = AccountState::new(AccountKind::Customer, 0, 0);
        assert!(state.is_empty());
        state.set_status(AccountStatus::Closed);
        assert_eq!(
            state.hold(Side::Debit, amount(1)),
            Err(Refusal::AccountClosed)
        );
        assert_eq!(
            state.hold(Side::Credit, amount(1)),
            Err(Refusal::AccountClosed)
        );
        assert!(state.is_idle());
    }

    #[test]
    fn a_settlement_tightens_the_status_but_never_relaxes_it() {
        let settled = |status| Settlement {
            debits: 0,
            credits: 0,
            holds: 0,
            outcome: SettlementOutcome::Posted {
                batch: 9,
                balance: 10,
                held: 0,
                status,
            },
        };
        let mut state = AccountState::new(AccountKind::Customer, 10, 0);
        state.set_status(AccountStatus::Frozen);
        state.settle(&settled(AccountStatus::Active));
        assert_eq!(state.status(), AccountStatus::Frozen);
        let mut state = AccountState::new(AccountKind::Customer, 10, 0);
        state.settle(&settled(AccountStatus::Frozen));
        assert_eq!(state.status(), AccountStatus::Frozen);
    }

    #[test]
    fn an_unfrozen_account_pays_again() {
        let mut state = AccountState::new(AccountKind::Customer, 10, 0);
        state.set_status(AccountStatus::Frozen);
        state.reload(10, 0, AccountStatus::Active, 1);
        state.hold(Side::Debit, amount(10)).expect("active again");
    }

    #[test]
    #[should_panic(expected = "a closed account is never reopened")]
    fn reopening_a_closed_account_is_a_broken_invariant() {
        let mut state = AccountState::new(AccountKind::Customer, 0, 0);
        state.set_status(AccountStatus::Closed);
        state.set_status(AccountStatus::Active);
    }

    #[test]
    #[should_panic(expected = "a settlement of more than is held in flight")]
    fn settling_more_than_is_held_is_a_broken_invariant() {
        let mut state = AccountState::new(AccountKind::Customer, 100, 0);
        state.hold(Side::Debit, amount(10)).expect("held");
        state.settle(&Settlement {
            debits: 20,
            credits: 0,
            holds: 1,
            outcome: SettlementOutcome::Released,
        });
    }
}
