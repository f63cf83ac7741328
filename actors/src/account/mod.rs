//! One actor per account: it owns the account's balance state and serialises every change to it.
//!
//! State follows the pending/posted model of docs/design.md: a debit hold raises
//! `pending_debits` (available = posted − held − pending_debits), and the journal's commit moves
//! it to `posted` (or, for a pending transfer, to `held`); credits count only once committed. Every handler is synchronous (no await inside),
//! so two changes can never interleave on a stale balance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, Supervised,
    WrapFuture,
};
use tokio::sync::oneshot;

use crate::model::{AccountInfo, AccountSnapshot, AccountStatus, Amount, Refusal};

mod hold;
mod limit;
mod state;
mod status;

use crate::registry::Shared;
pub use hold::{Hold, HoldAnswer, HoldReply, HoldReplyTo, Then};
pub use limit::LimitChanged;
pub use state::{AccountState, Committed, Settlement, SettlementOutcome, Side};
pub use status::{ChangeStatus, StatusReply};

/// Lease up to `debit_max` for a batch request (see `AccountState::lease`). A lease short of
/// `debit_max` is granted only after checking PostgreSQL, as a refused hold is.
pub struct Lease {
    pub debit_max: i64,
    /// A dry run: answer what would be granted, on a copy of the state, and lease nothing.
    pub probe: bool,
    pub reply: oneshot::Sender<LeaseReply>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseReply {
    Granted(i64),
    /// The account may not pay (frozen or closed), checked against PostgreSQL.
    Refused(Refusal),
    Retired,
    Unavailable,
}

impl Message for Lease {
    type Result = ();
}

/// A batch's holds on one account, replacing its lease (if any): see `AccountState::apportion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apportion {
    pub leased: i64,
    /// 1 when the account has a lease, else 0.
    pub lease_holds: u32,
    pub debits: i64,
    pub debit_holds: u32,
    pub credits: i64,
    pub credit_holds: u32,
}

impl Apportion {
    /// A lease of `leased` (possibly 0) given back whole, to which a batch's holds may be
    /// added.
    pub fn lease_only(leased: i64) -> Apportion {
        Apportion {
            leased,
            lease_holds: 1,
            debits: 0,
            debit_holds: 0,
            credits: 0,
            credit_holds: 0,
        }
    }
}

/// Answers whether the apportion was applied (`false`: the actor was passivated).
pub struct Apportioned(pub Apportion, pub oneshot::Sender<bool>);

impl Message for Apportioned {
    type Result = ();
}

pub struct Settle(pub Settlement);

impl Message for Settle {
    type Result = ();
}

/// The account with its committed balance.
pub struct Snapshot {
    pub reply: oneshot::Sender<SnapshotReply>,
    /// Whether the read counts as use of the account, restarting its idle clock: a caller's
    /// does; the auditor's does not, or its reads every `audit_interval` would keep every idle
    /// actor in memory for ever.
    pub counts_as_use: bool,
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

impl Snapshot {
    /// Asks `actor` for its snapshot; `None` when its mailbox is full.
    pub(crate) fn ask(
        actor: &actix::Addr<AccountActor>,
        counts_as_use: bool,
    ) -> Option<oneshot::Receiver<SnapshotReply>> {
        let (reply, answer) = oneshot::channel();
        let asked = actor.try_send(Snapshot {
            reply,
            counts_as_use,
        });
        asked.is_ok().then_some(answer)
    }
}

/// Passivates the actor now if nothing is in flight on it (the registry's eviction at its
/// bound); answers whether it is passivated.
pub struct Passivate {
    pub reply: oneshot::Sender<bool>,
}

impl Message for Passivate {
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

impl Drop for AccountActor {
    fn drop(&mut self) {
        self.shared
            .actors_alive
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl AccountActor {
    pub(crate) fn new(
        info: Arc<AccountInfo>,
        committed: Committed,
        generation: u64,
        shared: Arc<Shared>,
    ) -> AccountActor {
        shared
            .actors_alive
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let mut state = AccountState::new(info.kind, committed.balance, committed.held);
        state.set_status(committed.status);
        state.set_limit(committed.limit);
        AccountActor {
            state,
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
        if self.last_active.elapsed() >= self.shared.config.idle_passivation {
            self.passivate(ctx);
        }
    }

    /// Retires the actor unless something is in flight on it; returns whether it is retired.
    fn passivate(&mut self, ctx: &mut Context<Self>) -> bool {
        if self.retired {
            return true;
        }
        if !self.state.is_idle() {
            return false;
        }
        self.retired = true;
        self.shared.forget(self.info.id, self.generation);
        // With no address left the supervisor lets it end; callers still holding one get
        // `Retired` and look the account up again.
        ctx.stop();
        true
    }

    /// Reloads the committed state before handling anything else, then runs `then`.
    fn reload_then(
        &mut self,
        ctx: &mut Context<Self>,
        then: impl FnOnce(&mut AccountActor) + 'static,
    ) {
        let pool = self.shared.pool.clone();
        let id = self.info.id;
        // Read before the SELECT: every batch up to it is visible to the SELECT.
        let committed_batch = self.shared.committed_batch();
        let load = async move { crate::registry::load_balance(&pool, id).await };
        ctx.wait(load.into_actor(self).map(move |loaded, actor, _| {
            match loaded {
                Ok(Some(committed)) => {
                    actor.state.reload(committed, committed_batch);
                    actor.loaded = true;
                }
                Ok(None) | Err(_) => {
                    tracing::warn!(
                        account = actor.info.id.get(),
                        "account state could not be reloaded"
                    );
                    actor.loaded = false;
                }
            }
            then(actor);
        }));
    }

    /// A batch's lease (on a copy of the state for a dry run).
    fn lease(&mut self, debit_max: i64, probe: bool) -> i64 {
        match probe {
            true => self.state.clone().lease(debit_max),
            false => self.state.lease(debit_max),
        }
    }

    fn hold_reply(&mut self, side: Side, amount: Amount, probe: bool) -> HoldReply {
        let held = match probe {
            true => self.state.clone().hold(side, amount),
            false => self.state.hold(side, amount),
        };
        match held {
            Ok(()) => HoldReply::Held,
            Err(refusal) => HoldReply::Refused(refusal),
        }
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.shared.config.mailbox_capacity);
        // The supervisor restarts a stopped actor while someone still holds its address (the
        // sender of the message that passivated it, say), and a restart starts it again. A
        // retired actor must arm nothing: with no timer it ends once the last address drops.
        if !self.retired {
            self.arm_passivation(ctx);
        }
    }
}

impl Supervised for AccountActor {
    /// actix restarts the same value: the state is reloaded here explicitly, never guessed.
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        if self.retired {
            return;
        }
        // `started` runs again after this and arms the passivation timer.
        self.shared.metrics.account_restarts.inc();
        self.reload_then(ctx, |_| {});
    }
}

impl Handler<Lease> for AccountActor {
    type Result = ();

    fn handle(&mut self, message: Lease, ctx: &mut Context<Self>) {
        self.last_active = Instant::now();
        let reply = match (self.retired, self.loaded) {
            (true, _) => LeaseReply::Retired,
            (false, false) => {
                ctx.stop();
                LeaseReply::Unavailable
            }
            (false, true) if self.state.status() == AccountStatus::Closed => {
                LeaseReply::Refused(Refusal::AccountClosed)
            }
            (false, true)
                if self.state.status() == AccountStatus::Active
                    && self.state.spendable() >= message.debit_max =>
            {
                LeaseReply::Granted(self.lease(message.debit_max, message.probe))
            }
            (false, true) => {
                // Short or frozen: another replica may have credited or unfrozen the account;
                // check PostgreSQL first.
                self.shared.metrics.funds_rechecks.inc();
                let Lease {
                    debit_max,
                    probe,
                    reply,
                } = message;
                self.reload_then(ctx, move |actor| {
                    let refusal = actor.state.status().debit_refusal();
                    let answer = match (actor.loaded, refusal) {
                        (false, _) => LeaseReply::Unavailable,
                        (true, Some(refusal)) => LeaseReply::Refused(refusal),
                        (true, None) => LeaseReply::Granted(actor.lease(debit_max, probe)),
                    };
                    let _ = reply.send(answer);
                });
                return;
            }
        };
        let _ = message.reply.send(reply);
    }
}

impl Handler<Apportioned> for AccountActor {
    type Result = ();

    fn handle(&mut self, Apportioned(apportion, reply): Apportioned, _: &mut Context<Self>) {
        self.last_active = Instant::now();
        // A lease keeps the actor from passivating; an account with credits only may have
        // retired meanwhile, and the batch then looks it up again.
        let applied = !self.retired || apportion.lease_holds > 0;
        if applied {
            self.state.apportion(&apportion);
        }
        let _ = reply.send(applied);
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
        if message.counts_as_use {
            self.last_active = Instant::now();
        }
        let reply = match (self.retired, self.loaded) {
            (true, _) => SnapshotReply::Retired,
            (false, false) => SnapshotReply::Unavailable,
            (false, true) => SnapshotReply::Account(AccountSnapshot {
                id: self.info.id,
                owner: self.info.owner.clone(),
                balance: self.state.posted(),
                held: self.state.held(),
                currency: self.info.currency,
                kind: self.info.kind,
                created_at: self.info.created_at,
                status: self.state.status(),
                overdraft: self.state.limit().overdraft,
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

impl Handler<Passivate> for AccountActor {
    type Result = ();

    fn handle(&mut self, message: Passivate, ctx: &mut Context<Self>) {
        let _ = message.reply.send(self.passivate(ctx));
    }
}
