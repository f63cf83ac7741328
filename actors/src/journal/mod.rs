//! The journal: group commit of held transfers to PostgreSQL.
//!
//! A batch is written in ONE transaction: the pending transfers it posts or releases are claimed
//! (locked in id order, then changed only if still pending), the touched accounts are locked in
//! ascending id order and get one net update each (balance and held), and the rows are inserted:
//! one row per transfer, carrying both legs and the balances after them (`entries` is a view over
//! them). Transfer ids are drawn only once the account rows are locked, so on every account ids
//! follow commit order and a statement's running balance reads in id order. A lone transfer is
//! written at once; under load the queue fills while a batch commits, so batches grow by
//! themselves.
//!
//! Only after the commit does it settle the account actors (once per account per batch) and then
//! answer the callers, so a caller that got its answer and sends again finds the actor already
//! settled (mailboxes are FIFO).
//!
//! Several writers (`journal_writers`), each on its own connection, write batches side by side.
//! A dispatcher hands each idle writer a batch of waiting items whose accounts (and pending
//! transfers) no batch in flight touches, so writers never wait on each other's row locks; items
//! that touch a busy account wait for the next batch. On hot accounts this degrades to one batch
//! in flight at a time, growing large, which is what a single writer would do. Batches are
//! numbered once they hold their locks (a batch of one round trip just before its exchange: no
//! batch sharing an account is in flight meanwhile), so of two batches sharing an account, the
//! higher number always committed later (actors adopt the newest batch's balance).
//!
//! One job per file: `plan` decides (pure data in, data out: the batch chosen, net deltas, row
//! ids, legs, answers, stored outcomes, refusals and what to retry), `numbering` numbers batches
//! and keeps the watermark, `writer` runs the round trips, `settle` carries out the settlements
//! the plan returned, `stored` is the versioned form of idempotent outcomes, and `dispatcher`
//! hands batches to writers.

mod answers;
mod dispatcher;
mod in_doubt;
mod numbering;
mod one_trip;
mod plan;
mod round_trips;
mod settle;
pub(crate) mod stored;
#[cfg(test)]
mod test_items;
mod writer;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::account::Side;
use crate::config::EngineConfig;
use crate::config::BATCH_ITEMS_MAX;
use crate::metrics::EngineMetrics;
use crate::model::{
    AccountInfo, Amount, BatchItemOutcome, Currency, IdempotencyKey, TransferDetails, TransferId,
    TransferStatus, Transferred,
};
use crate::registry::AccountHandle;

pub(crate) use settle::{release, release_item};

/// What an item does in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Moves `amount` at once: one row with both legs.
    Transfer,
    /// Holds `amount` on the payer until posted, released or expired: one row, no legs.
    CreatePending { expires_at: OffsetDateTime },
    /// Moves `amount` of a pending transfer that holds `held` (≥ amount) and releases the rest.
    Post { pending_id: TransferId, held: i64 },
    /// Releases a pending transfer's hold: voided by a person, or expired by the sweeper.
    Release {
        pending_id: TransferId,
        held: i64,
        expired: bool,
    },
}

impl Operation {
    pub(crate) fn pending_id(self) -> Option<TransferId> {
        match self {
            Operation::Post { pending_id, .. } | Operation::Release { pending_id, .. } => {
                Some(pending_id)
            }
            Operation::Transfer | Operation::CreatePending { .. } => None,
        }
    }

    /// The status a claimed pending transfer ends in.
    pub(crate) fn claim_status(self) -> Option<TransferStatus> {
        match self {
            Operation::Post { .. } => Some(TransferStatus::Posted),
            Operation::Release { expired: true, .. } => Some(TransferStatus::Expired),
            Operation::Release { expired: false, .. } => Some(TransferStatus::Voided),
            Operation::Transfer | Operation::CreatePending { .. } => None,
        }
    }

    /// Whether the item inserts a row: every operation but a release.
    pub(crate) fn writes_row(self) -> bool {
        !matches!(self, Operation::Release { .. })
    }

    /// Whether the row carries legs (money moved).
    pub(crate) fn moves_money(self) -> bool {
        matches!(self, Operation::Transfer | Operation::Post { .. })
    }

    /// The holds the coordinator put on each actor for such an item: the payer's, and the
    /// payee's when it has one (a payee whose balance does not change needs none).
    pub(crate) fn holds(self) -> (Side, Option<Side>) {
        match self {
            Operation::Transfer => (Side::Debit, Some(Side::Credit)),
            Operation::CreatePending { .. } => (Side::Debit, None),
            Operation::Post { .. } => (Side::Touch, Some(Side::Credit)),
            Operation::Release { .. } => (Side::Touch, None),
        }
    }
}

/// An item whose holds are in place on its accounts' actors, waiting to be written.
pub(crate) struct JournalItem {
    pub operation: Operation,
    pub from: AccountHandle,
    pub to: AccountHandle,
    /// Moved (a transfer, a post), held (a new pending transfer) or released (a release).
    pub amount: Amount,
    pub currency: Currency,
    /// What a new row says (a transfer, a pending transfer); empty for a post or a release.
    pub details: TransferDetails,
    pub idempotency: Option<IdempotencyKey>,
    /// Items of one group (a batch request) commit in one transaction or not at all.
    pub group: Option<u64>,
    /// A group's idempotency key, on its first item: stored with the group's outcome.
    pub group_key: Option<Box<GroupKey>>,
    pub reply: oneshot::Sender<JournalOutcome>,
    /// The submitter's span (the request's, through the engine's task): the parent of the
    /// batch's span, so a trace runs from the request to its commit across the journal's tasks.
    pub span: tracing::Span,
}

/// The idempotency key of a batch request and its answer, of which the journal fills in the
/// committed items (the `None`s, in order) before storing it in the batch's own transaction.
#[derive(Debug, Clone)]
pub(crate) struct GroupKey {
    pub key: IdempotencyKey,
    pub outcome: Vec<Option<BatchItemOutcome>>,
}

impl JournalItem {
    /// The holds the coordinator put on each actor for this item.
    pub(crate) fn holds(&self) -> (Side, Option<Side>) {
        self.operation.holds()
    }
}

impl plan::Planned for JournalItem {
    fn operation(&self) -> Operation {
        self.operation
    }
    fn payer(&self) -> &AccountInfo {
        &self.from.info
    }
    fn payee(&self) -> &AccountInfo {
        &self.to.info
    }
    fn amount(&self) -> Amount {
        self.amount
    }
    fn currency(&self) -> Currency {
        self.currency
    }
    fn details(&self) -> &TransferDetails {
        &self.details
    }
    fn idempotency(&self) -> Option<&IdempotencyKey> {
        self.idempotency.as_ref()
    }
    fn group(&self) -> Option<u64> {
        self.group
    }
    fn group_key(&self) -> Option<&GroupKey> {
        self.group_key.as_deref()
    }
}

#[derive(Debug)]
pub(crate) enum JournalOutcome {
    Committed(Box<Transferred>),
    /// PostgreSQL refused the debit: the debited account's cached state was stale (another
    /// replica spent from it). The holds are released and the account reloads.
    Stale,
    /// Another request (on this or another replica) committed this idempotency key first.
    DuplicateKey,
    /// The payer's account already has a transfer with this item's reference (committed
    /// before, or earlier in the same batch).
    DuplicateReference,
    /// A reversal would take what was reversed of its original past the original's amount
    /// (another reversal, on any replica, committed first).
    ReversalExceeded,
    /// The pending transfer was no longer pending (ended by another request, or expired).
    NotPending,
    /// Another item of this item's group was refused, so none of the group was written.
    GroupAborted,
    /// The batch could not be written (database down, unexpected error). The holds are
    /// released and both accounts reload, since a failed commit's outcome is unknown.
    Failed(String),
}

#[derive(Clone)]
pub(crate) struct Journal {
    /// Submissions: one item, or a group written together.
    queue: mpsc::Sender<Vec<JournalItem>>,
}

impl Journal {
    /// Starts the dispatcher and the writers on `arbiter` (a thread of their own).
    pub(crate) fn start(
        pool: Pool,
        config: &EngineConfig,
        metrics: EngineMetrics,
        arbiter: &actix::ArbiterHandle,
        committed_batches: Arc<AtomicU64>,
    ) -> Journal {
        // A submission is one item or a group of at most BATCH_ITEMS_MAX; a group counts as
        // one place here, and is bounded by the engine's in-flight limit besides.
        let (queue, receiver) = mpsc::channel(config.journal_queue_max);
        let numbering = Arc::new(numbering::Numbering::new(committed_batches));
        let writers = config.journal_writers.max(1);
        // Each writer reports one finished batch per batch it was given, and is given one at a
        // time: neither channel can hold more than `writers` messages.
        let (finished, finished_receiver) = mpsc::channel(writers);
        let mut batch_senders = Vec::with_capacity(writers);
        for index in 0..writers {
            let (batches, batches_receiver) = mpsc::channel(1);
            batch_senders.push(batches);
            let writer = writer::Writer::new(
                pool.clone(),
                metrics.clone(),
                config.batch_size_max.max(BATCH_ITEMS_MAX),
                numbering.clone(),
            );
            arbiter.spawn(writer.run(index, batches_receiver, finished.clone()));
        }
        let backlog_max = config
            .journal_queue_max
            .min(config.batch_size_max * (writers + 1));
        let dispatcher = dispatcher::Dispatcher::new(
            receiver,
            backlog_max,
            config.batch_size_max,
            batch_senders,
        );
        arbiter.spawn(dispatcher.run(finished_receiver));
        Journal { queue }
    }

    /// Queues an item; gives it back when the queue is full or the journal is gone.
    pub(crate) fn submit(&self, item: JournalItem) -> Result<(), Box<JournalItem>> {
        self.submit_group(vec![item])
            .map_err(|mut items| Box::new(items.pop().expect("the item given back")))
    }

    /// Queues items to be written in one transaction; gives them back when the queue is full.
    pub(crate) fn submit_group(&self, items: Vec<JournalItem>) -> Result<(), Vec<JournalItem>> {
        assert!(
            !items.is_empty() && items.len() <= BATCH_ITEMS_MAX,
            "a group within its bound"
        );
        self.queue.try_send(items).map_err(|error| match error {
            mpsc::error::TrySendError::Full(items) => items,
            mpsc::error::TrySendError::Closed(items) => items,
        })
    }
}
