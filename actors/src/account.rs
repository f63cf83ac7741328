//! One actor per account: it owns the account's balance state and serialises every change to it.
//!
//! State follows the pending/posted model of DESIGN.md: a debit reservation raises
//! `pending_debits` (available = posted − pending_debits), and the journal's commit moves it to
//! `posted`; credits count only once committed. Every handler is synchronous (no await inside),
//! so two changes can never interleave on a stale balance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, Supervised,
    WrapFuture,
};
use tokio::sync::oneshot;

use crate::model::{AccountInfo, AccountKind, AccountSnapshot, Amount, Refusal};
use crate::registry::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Debit,
    Credit,
}

/// An account's balance state: plain data, unit-tested without actors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    kind: AccountKind,
    /// Committed money, as PostgreSQL last reported it.
    posted: i64,
    /// Reserved debits not yet committed or released.
    pending_debits: i64,
    /// Reserved credits not yet committed or released (they do not count as available).
    pending_credits: i64,
    /// Reservations in flight; an account with any is never passivated.
    reservations: u32,
    /// The journal batch whose committed balance `posted` holds.
    synced_batch: u64,
}

/// What the journal (or the coordinator, for a refusal) reports back for reservations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub debits: i64,
    pub credits: i64,
    pub reservations: u32,
    pub outcome: SettlementOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementOutcome {
    /// Committed in `batch`; the account's balance in PostgreSQL right after it.
    Posted { batch: u64, balance: i64 },
    /// Not written; nothing changed in PostgreSQL.
    Released,
    /// Not written, and the cached state is suspect (another replica moved money, or the commit's
    /// outcome is unknown): reload from PostgreSQL.
    ReleasedAndReload,
}

impl AccountState {
    pub fn new(kind: AccountKind, posted: i64) -> AccountState {
        debug_assert!(kind == AccountKind::Reserve || posted >= 0);
        AccountState {
            kind,
            posted,
            pending_debits: 0,
            pending_credits: 0,
            reservations: 0,
            synced_batch: 0,
        }
    }

    pub fn posted(&self) -> i64 {
        self.posted
    }

    /// What a new debit may spend: committed money minus reserved debits.
    pub fn available(&self) -> i64 {
        self.posted.saturating_sub(self.pending_debits)
    }

    pub fn is_idle(&self) -> bool {
        self.reservations == 0
    }

    pub fn reserve(&mut self, side: Side, amount: Amount) -> Result<(), Refusal> {
        let amount = amount.get();
        match side {
            Side::Debit => {
                let pending_debits = self
                    .pending_debits
                    .checked_add(amount)
                    .ok_or(Refusal::InsufficientFunds)?;
                let remaining = self.posted.checked_sub(pending_debits);
                match (self.kind, remaining) {
                    (_, None) => return Err(Refusal::InsufficientFunds),
                    (AccountKind::Customer, Some(remaining)) if remaining < 0 => {
                        return Err(Refusal::InsufficientFunds)
                    }
                    _ => {}
                }
                self.pending_debits = pending_debits;
            }
            Side::Credit => {
                let pending_credits = self
                    .pending_credits
                    .checked_add(amount)
                    .ok_or(Refusal::BalanceOverflow)?;
                self.posted
                    .checked_add(pending_credits)
                    .ok_or(Refusal::BalanceOverflow)?;
                self.pending_credits = pending_credits;
            }
        }
        self.reservations += 1;
        self.check();
        Ok(())
    }

    /// Applies a settlement; returns whether the state must be reloaded from PostgreSQL.
    pub fn settle(&mut self, settlement: &Settlement) -> bool {
        debug_assert!(
            settlement.debits <= self.pending_debits,
            "{self:?} {settlement:?}"
        );
        debug_assert!(
            settlement.credits <= self.pending_credits,
            "{self:?} {settlement:?}"
        );
        debug_assert!(
            settlement.reservations <= self.reservations,
            "{self:?} {settlement:?}"
        );
        // Saturating: after a reload the reservations made before it are no longer counted.
        self.pending_debits = (self.pending_debits - settlement.debits).max(0);
        self.pending_credits = (self.pending_credits - settlement.credits).max(0);
        self.reservations = self.reservations.saturating_sub(settlement.reservations);
        let reload = match settlement.outcome {
            SettlementOutcome::Posted { batch, balance } => {
                // Batches may be settled out of order; the newest committed balance wins, and it
                // includes whatever other replicas committed, so drift heals itself.
                if batch > self.synced_batch {
                    self.synced_batch = batch;
                    self.posted = balance;
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
    /// committed (so settlements of that batch or older must not overwrite it). Reservations in
    /// flight stay counted, since their settlements are still to come.
    pub fn reload(&mut self, posted: i64, committed_batch: u64) {
        self.posted = posted;
        self.synced_batch = self.synced_batch.max(committed_batch);
        self.check();
    }

    fn check(&self) {
        debug_assert!(self.pending_debits >= 0, "{self:?}");
        debug_assert!(self.pending_credits >= 0, "{self:?}");
        debug_assert!(
            self.reservations > 0 || (self.pending_debits == 0 && self.pending_credits == 0),
            "{self:?}"
        );
    }
}

/// Reserve `amount` on one side. Answered through `reply` so the sender can use `try_send` and
/// turn a full mailbox into `Unavailable` instead of waiting.
pub struct Reserve {
    pub side: Side,
    pub amount: Amount,
    pub reply: oneshot::Sender<ReserveReply>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveReply {
    Reserved,
    Refused(Refusal),
    /// This actor was passivated: look the account up again.
    Retired,
    /// The state could not be loaded from PostgreSQL.
    Unavailable,
}

impl Message for Reserve {
    type Result = ();
}

pub struct Settle(pub Settlement);

impl Message for Settle {
    type Result = ();
}

/// The account with its committed balance.
pub struct Snapshot {
    pub reply: oneshot::Sender<SnapshotReply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotReply {
    Account(AccountSnapshot),
    /// This actor was passivated: look the account up again.
    Retired,
    /// The state could not be loaded from PostgreSQL.
    Unavailable,
}

impl Message for Snapshot {
    type Result = ();
}

/// Stops the actor as a failure would; its supervisor restarts it with state reloaded from
/// PostgreSQL. Used when the cached state is suspect, and by tests of supervision.
pub struct Restart;

impl Message for Restart {
    type Result = ();
}

pub struct AccountActor {
    info: Arc<AccountInfo>,
    state: AccountState,
    /// False while the state could not be (re)loaded from PostgreSQL.
    loaded: bool,
    /// Passivated: removed from the registry, answering `Retired` until its last address drops.
    retired: bool,
    generation: u64,
    last_active: Instant,
    shared: Arc<Shared>,
}

impl AccountActor {
    pub(crate) fn new(
        info: Arc<AccountInfo>,
        balance: i64,
        generation: u64,
        shared: Arc<Shared>,
    ) -> AccountActor {
        AccountActor {
            state: AccountState::new(info.kind, balance),
            info,
            loaded: true,
            retired: false,
            generation,
            last_active: Instant::now(),
            shared,
        }
    }

    fn arm_passivation(&self, ctx: &mut Context<Self>) {
        let idle = self.shared.config.idle_passivation;
        let period = (idle / 2).clamp(Duration::from_millis(50), Duration::from_secs(30));
        ctx.run_interval(period, |actor, ctx| actor.passivate_if_idle(ctx));
    }

    fn passivate_if_idle(&mut self, ctx: &mut Context<Self>) {
        let idle = self.shared.config.idle_passivation;
        if self.retired || !self.state.is_idle() || self.last_active.elapsed() < idle {
            return;
        }
        self.retired = true;
        self.shared.forget(self.info.id, self.generation);
        // With no address left the supervisor lets it end; callers still holding one get
        // `Retired` and look the account up again.
        ctx.stop();
    }

    /// Reloads the committed balance before handling anything else.
    fn reload(&mut self, ctx: &mut Context<Self>) {
        let pool = self.shared.pool.clone();
        let id = self.info.id;
        // Read before the SELECT: every batch up to it is visible to the SELECT.
        let committed_batch = self.shared.committed_batch();
        let load = async move { crate::registry::load_balance(&pool, id).await };
        ctx.wait(
            load.into_actor(self)
                .map(move |loaded, actor, _| match loaded {
                    Ok(Some(balance)) => {
                        actor.state.reload(balance, committed_batch);
                        actor.loaded = true;
                    }
                    Ok(None) | Err(_) => {
                        tracing::warn!(
                            account = actor.info.id,
                            "account state could not be reloaded"
                        );
                        actor.loaded = false;
                    }
                }),
        );
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.shared.config.mailbox_capacity);
        self.arm_passivation(ctx);
    }
}

impl Supervised for AccountActor {
    /// actix restarts the same value: the state is reloaded here explicitly, never guessed.
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        if self.retired {
            return;
        }
        self.shared.metrics.account_restarts.inc();
        self.arm_passivation(ctx);
        self.reload(ctx);
    }
}

impl Handler<Reserve> for AccountActor {
    type Result = ();

    fn handle(&mut self, message: Reserve, ctx: &mut Context<Self>) {
        self.last_active = Instant::now();
        let reply = match (self.retired, self.loaded) {
            (true, _) => ReserveReply::Retired,
            (false, false) => {
                ctx.stop();
                ReserveReply::Unavailable
            }
            (false, true) => match self.state.reserve(message.side, message.amount) {
                Ok(()) => ReserveReply::Reserved,
                Err(refusal) => ReserveReply::Refused(refusal),
            },
        };
        let _ = message.reply.send(reply);
    }
}

impl Handler<Settle> for AccountActor {
    type Result = ();

    fn handle(&mut self, Settle(settlement): Settle, ctx: &mut Context<Self>) {
        self.last_active = Instant::now();
        if self.state.settle(&settlement) && !self.retired {
            ctx.stop();
        }
    }
}

impl Handler<Snapshot> for AccountActor {
    type Result = ();

    fn handle(&mut self, message: Snapshot, _: &mut Context<Self>) {
        self.last_active = Instant::now();
        let reply = match (self.retired, self.loaded) {
            (true, _) => SnapshotReply::Retired,
            (false, false) => SnapshotReply::Unavailable,
            (false, true) => SnapshotReply::Account(AccountSnapshot {
                id: self.info.id,
                owner: self.info.owner.clone(),
                balance: self.state.posted(),
                currency: self.info.currency,
                kind: self.info.kind,
                created_at: self.info.created_at,
            }),
        };
        let _ = message.reply.send(reply);
    }
}

impl Handler<Restart> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: Restart, ctx: &mut Context<Self>) {
        if !self.retired {
            ctx.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(minor_units: i64) -> Amount {
        Amount::new(minor_units).expect("a positive amount")
    }

    fn posted(
        batch: u64,
        balance: i64,
        debits: i64,
        credits: i64,
        reservations: u32,
    ) -> Settlement {
        Settlement {
            debits,
            credits,
            reservations,
            outcome: SettlementOutcome::Posted { batch, balance },
        }
    }

    #[test]
    fn a_debit_reservation_lowers_available_but_not_posted() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(30)).expect("reserved");
        assert_eq!(state.available(), 70);
        assert_eq!(state.posted(), 100);
        assert!(!state.is_idle());
    }

    #[test]
    fn a_customer_cannot_reserve_more_than_available() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(60)).expect("reserved");
        assert_eq!(
            state.reserve(Side::Debit, amount(41)),
            Err(Refusal::InsufficientFunds)
        );
        state
            .reserve(Side::Debit, amount(40))
            .expect("exactly the rest");
        assert_eq!(state.available(), 0);
    }

    #[test]
    fn a_refused_reservation_changes_nothing() {
        let mut state = AccountState::new(AccountKind::Customer, 10);
        let before = state.clone();
        assert_eq!(
            state.reserve(Side::Debit, amount(11)),
            Err(Refusal::InsufficientFunds)
        );
        assert_eq!(state, before);
    }

    #[test]
    fn the_reserve_may_go_negative() {
        let mut state = AccountState::new(AccountKind::Reserve, 0);
        state
            .reserve(Side::Debit, amount(1_000))
            .expect("the reserve funds deposits");
        assert_eq!(state.available(), -1_000);
    }

    #[test]
    fn credits_count_only_once_posted() {
        let mut state = AccountState::new(AccountKind::Customer, 0);
        state.reserve(Side::Credit, amount(50)).expect("reserved");
        assert_eq!(state.available(), 0);
        assert_eq!(
            state.reserve(Side::Debit, amount(1)),
            Err(Refusal::InsufficientFunds)
        );
        state.settle(&posted(1, 50, 0, 50, 1));
        assert_eq!(state.available(), 50);
        assert!(state.is_idle());
    }

    #[test]
    fn posting_moves_a_reservation_to_posted() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(30)).expect("reserved");
        state.reserve(Side::Debit, amount(20)).expect("reserved");
        assert!(!state.settle(&posted(1, 50, 50, 0, 2)));
        assert_eq!((state.posted(), state.available()), (50, 50));
        assert!(state.is_idle());
    }

    #[test]
    fn releasing_restores_available() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(30)).expect("reserved");
        let released = Settlement {
            debits: 30,
            credits: 0,
            reservations: 1,
            outcome: SettlementOutcome::Released,
        };
        assert!(!state.settle(&released));
        assert_eq!((state.posted(), state.available()), (100, 100));
        assert!(state.is_idle());
    }

    #[test]
    fn a_suspect_release_asks_for_a_reload() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(30)).expect("reserved");
        let suspect = Settlement {
            debits: 30,
            credits: 0,
            reservations: 1,
            outcome: SettlementOutcome::ReleasedAndReload,
        };
        assert!(state.settle(&suspect));
        state.reload(40, 0);
        assert_eq!(state.available(), 40);
    }

    #[test]
    fn a_settlement_older_than_a_reload_is_not_adopted() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(10)).expect("reserved");
        // Reloaded after batch 3 committed: the balance already includes batch 2.
        state.reload(60, 3);
        state.settle(&posted(2, 90, 10, 0, 1));
        assert_eq!((state.posted(), state.available()), (60, 60));
    }

    #[test]
    fn an_older_batch_never_overwrites_a_newer_balance() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(10)).expect("reserved");
        state.reserve(Side::Debit, amount(20)).expect("reserved");
        // Batch 2 (the 20) is settled before batch 1 (the 10).
        state.settle(&posted(2, 70, 20, 0, 1));
        state.settle(&posted(1, 90, 10, 0, 1));
        assert_eq!((state.posted(), state.available()), (70, 70));
    }

    #[test]
    fn a_committed_balance_from_another_replica_is_adopted() {
        let mut state = AccountState::new(AccountKind::Customer, 100);
        state.reserve(Side::Debit, amount(10)).expect("reserved");
        // Another replica spent 50 meanwhile: the database says 40 after our debit.
        state.settle(&posted(1, 40, 10, 0, 1));
        assert_eq!(state.available(), 40);
    }

    #[test]
    fn overflowing_sums_are_refused() {
        let mut state = AccountState::new(AccountKind::Customer, i64::MAX - 5);
        assert_eq!(
            state.reserve(Side::Credit, amount(6)),
            Err(Refusal::BalanceOverflow)
        );
        state
            .reserve(Side::Credit, amount(5))
            .expect("up to the limit");
        assert_eq!(
            state.reserve(Side::Credit, amount(1)),
            Err(Refusal::BalanceOverflow)
        );

        let mut reserve = AccountState::new(AccountKind::Reserve, i64::MIN + 5);
        assert_eq!(
            reserve.reserve(Side::Debit, amount(6)),
            Err(Refusal::InsufficientFunds)
        );
        let mut customer = AccountState::new(AccountKind::Customer, 10);
        customer.reserve(Side::Debit, amount(10)).expect("reserved");
        assert_eq!(
            customer.reserve(Side::Debit, amount(i64::MAX)),
            Err(Refusal::InsufficientFunds)
        );
    }
}
