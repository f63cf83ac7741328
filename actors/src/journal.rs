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
//! numbered once they hold their locks, so of two batches sharing an account, the higher number
//! always committed later (actors adopt the newest batch's balance), across replicas too.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::dev::SendError;
use deadpool_postgres::{Client, GenericClient, Pool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use crate::account::{Settle, Settlement, SettlementOutcome, Side};
use crate::config::EngineConfig;
use crate::config::BATCH_ITEMS_MAX;
use crate::db::describe;
use crate::journal_sql::{
    ALLOCATE_IDS, APPLY_DELTAS, APPLY_HELD_DELTAS, CLAIM_PENDING, INSERT_HOLD_ROWS,
    INSERT_IDEMPOTENCY_KEYS, INSERT_TRANSFERS, LOCK_ACCOUNTS, LOCK_PENDING,
};
use crate::metrics::EngineMetrics;
use crate::model::{
    AccountId, AccountSnapshot, Amount, BatchItemOutcome, BatchOutcome, Currency, Entry,
    IdempotencyKey, Transfer, TransferId, TransferStatus, Transferred,
};
use crate::registry::AccountHandle;

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
    fn pending_id(self) -> Option<TransferId> {
        match self {
            Operation::Post { pending_id, .. } | Operation::Release { pending_id, .. } => {
                Some(pending_id)
            }
            Operation::Transfer | Operation::CreatePending { .. } => None,
        }
    }

    /// The status a claimed pending transfer ends in.
    fn claim_status(self) -> Option<TransferStatus> {
        match self {
            Operation::Post { .. } => Some(TransferStatus::Posted),
            Operation::Release { expired: true, .. } => Some(TransferStatus::Expired),
            Operation::Release { expired: false, .. } => Some(TransferStatus::Voided),
            Operation::Transfer | Operation::CreatePending { .. } => None,
        }
    }

    /// Whether the item inserts a row: every operation but a release.
    fn writes_row(self) -> bool {
        !matches!(self, Operation::Release { .. })
    }

    /// Whether the row carries legs (money moved).
    fn moves_money(self) -> bool {
        matches!(self, Operation::Transfer | Operation::Post { .. })
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
    pub idempotency: Option<IdempotencyKey>,
    /// Items of one group (a batch request) commit in one transaction or not at all.
    pub group: Option<u64>,
    /// A group's idempotency key, on its first item: stored with the group's outcome.
    pub group_key: Option<Box<GroupKey>>,
    pub reply: oneshot::Sender<JournalOutcome>,
}

/// The idempotency key of a batch request and its answer, of which the journal fills in the
/// committed items (the `None`s, in order) before storing it in the batch's own transaction.
pub(crate) struct GroupKey {
    pub key: IdempotencyKey,
    pub outcome: Vec<Option<BatchItemOutcome>>,
}

impl JournalItem {
    /// What the item does to balances: (payer's balance, payer's held, payee's balance).
    fn effect(&self) -> (i64, i64, i64) {
        let amount = self.amount.get();
        match self.operation {
            Operation::Transfer => (-amount, 0, amount),
            Operation::CreatePending { .. } => (0, amount, 0),
            Operation::Post { held, .. } => (-amount, -held, amount),
            Operation::Release { held, .. } => (0, -held, 0),
        }
    }

    /// The holds the coordinator put on each actor for this item: the payer's, and the payee's
    /// when it has one (a payee whose balance does not change needs none).
    pub(crate) fn holds(&self) -> (Side, Option<Side>) {
        match self.operation {
            Operation::Transfer => (Side::Debit, Some(Side::Credit)),
            Operation::CreatePending { .. } => (Side::Debit, None),
            Operation::Post { .. } => (Side::Touch, Some(Side::Credit)),
            Operation::Release { .. } => (Side::Touch, None),
        }
    }

    fn accounts(&self) -> [AccountId; 2] {
        [self.from.info.id, self.to.info.id]
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

/// Batch numbering shared by the writers.
struct Numbering {
    state: std::sync::Mutex<NumberingState>,
    /// Every batch numbered up to this one has committed or failed: an actor that reads it and
    /// then its row from PostgreSQL has every such batch in what it read, and ignores their
    /// settlements. (With several writers, batches end out of order: the highest committed
    /// number says nothing about the lower ones.)
    watermark: Arc<AtomicU64>,
}

struct NumberingState {
    /// The last number handed out (in row-lock order).
    issued: u64,
    /// Numbers handed out whose batch has not ended yet.
    in_flight: std::collections::BTreeSet<u64>,
}

impl Numbering {
    /// A number for a batch that holds its row locks now; the batch ends when it drops.
    fn issue(self: &Arc<Numbering>) -> BatchNumber {
        let mut state = self.state.lock().expect("the numbering lock");
        state.issued += 1;
        let number = state.issued;
        state.in_flight.insert(number);
        BatchNumber {
            number,
            numbering: self.clone(),
        }
    }

    fn end(&self, number: u64) {
        let mut state = self.state.lock().expect("the numbering lock");
        assert!(state.in_flight.remove(&number), "a batch ends once");
        let watermark = match state.in_flight.first() {
            Some(first) => first - 1,
            None => state.issued,
        };
        self.watermark.store(watermark, Ordering::Release);
    }
}

/// A batch's number while it is being written; dropping it ends the batch for the watermark.
struct BatchNumber {
    number: u64,
    numbering: Arc<Numbering>,
}

impl Drop for BatchNumber {
    fn drop(&mut self) {
        self.numbering.end(self.number);
    }
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
        let numbering = Arc::new(Numbering {
            state: std::sync::Mutex::new(NumberingState {
                issued: 0,
                in_flight: std::collections::BTreeSet::new(),
            }),
            watermark: committed_batches,
        });
        let writers = config.journal_writers.max(1);
        // Each writer reports one finished batch per batch it was given, and is given one at a
        // time: neither channel can hold more than `writers` messages.
        let (finished, finished_receiver) = mpsc::channel(writers);
        let mut batch_senders = Vec::with_capacity(writers);
        for index in 0..writers {
            let (batches, batches_receiver) = mpsc::channel(1);
            batch_senders.push(batches);
            let writer = Writer {
                pool: pool.clone(),
                metrics: metrics.clone(),
                batch_size_max: config.batch_size_max.max(BATCH_ITEMS_MAX),
                numbering: numbering.clone(),
            };
            arbiter.spawn(writer.run(index, batches_receiver, finished.clone()));
        }
        let dispatcher = Dispatcher {
            receiver,
            closed: false,
            backlog: VecDeque::new(),
            backlog_max: config
                .journal_queue_max
                .min(config.batch_size_max * (writers + 1)),
            batch_size_max: config.batch_size_max,
            busy_accounts: HashSet::new(),
            busy_pending: HashSet::new(),
            blocked_prefix: 0,
            in_flight: vec![None; writers],
            idle: (0..writers).rev().collect(),
            batch_senders,
        };
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

/// What one writer's batch in flight holds: its accounts and pending transfers.
#[derive(Clone)]
struct InFlight {
    accounts: Vec<AccountId>,
    pending: Vec<TransferId>,
}

/// Hands waiting items to idle writers in batches that touch nothing a batch in flight touches.
struct Dispatcher {
    receiver: mpsc::Receiver<Vec<JournalItem>>,
    closed: bool,
    /// Submissions taken from the queue and not yet in a batch (bounded by `backlog_max`).
    backlog: VecDeque<Vec<JournalItem>>,
    backlog_max: usize,
    batch_size_max: usize,
    busy_accounts: HashSet<AccountId>,
    busy_pending: HashSet<TransferId>,
    /// The first submissions of the backlog, known to touch a busy account since the last
    /// batch finished: not looked at again until one does (hot accounts would make every
    /// arrival rescan the whole backlog).
    blocked_prefix: usize,
    in_flight: Vec<Option<InFlight>>,
    idle: Vec<usize>,
    batch_senders: Vec<mpsc::Sender<Vec<JournalItem>>>,
}

impl Dispatcher {
    async fn run(mut self, mut finished: mpsc::Receiver<usize>) {
        let mut incoming = Vec::with_capacity(self.batch_size_max);
        loop {
            let room = self.backlog_max.saturating_sub(self.backlog.len());
            tokio::select! {
                biased;
                writer = finished.recv() => match writer {
                    Some(writer) => self.finish(writer),
                    None => return,
                },
                received = self.receiver.recv_many(&mut incoming, room),
                    if room > 0 && !self.closed => {
                    self.closed = received == 0;
                    self.backlog.extend(incoming.drain(..));
                }
            }
            self.dispatch();
            if self.closed && self.backlog.is_empty() && self.idle.len() == self.in_flight.len() {
                return;
            }
        }
    }

    fn finish(&mut self, writer: usize) {
        let done = self.in_flight[writer]
            .take()
            .expect("a writer finishes only a batch it was given");
        for account in done.accounts {
            self.busy_accounts.remove(&account);
        }
        for pending in done.pending {
            self.busy_pending.remove(&pending);
        }
        self.blocked_prefix = 0;
        self.idle.push(writer);
    }

    fn dispatch(&mut self) {
        while self.backlog.len() > self.blocked_prefix {
            let Some(writer) = self.idle.pop() else {
                return;
            };
            let batch = self.take_batch();
            if batch.is_empty() {
                self.blocked_prefix = self.backlog.len();
                self.idle.push(writer);
                return;
            }
            // The batch took items from anywhere in the backlog: look at all of it next time.
            self.blocked_prefix = 0;
            let mut in_flight = InFlight {
                accounts: Vec::new(),
                pending: Vec::new(),
            };
            for item in &batch {
                for account in item.accounts() {
                    if self.busy_accounts.insert(account) {
                        in_flight.accounts.push(account);
                    }
                }
                in_flight.pending.extend(item.operation.pending_id());
            }
            self.in_flight[writer] = Some(in_flight);
            let sent = self.batch_senders[writer].try_send(batch);
            assert!(sent.is_ok(), "an idle writer has room for a batch");
        }
    }

    /// The oldest waiting submissions, up to `batch_size_max` items (a larger group goes
    /// alone), that touch no account or pending transfer of a batch in flight; a pending
    /// transfer appears at most once in a batch.
    fn take_batch(&mut self) -> Vec<JournalItem> {
        let mut batch: Vec<JournalItem> = Vec::new();
        let mut deferred: VecDeque<Vec<JournalItem>> =
            self.backlog.drain(..self.blocked_prefix).collect();
        let mut batch_pending = HashSet::new();
        while let Some(submission) = self.backlog.pop_front() {
            let fits = batch.is_empty() || batch.len() + submission.len() <= self.batch_size_max;
            if !fits {
                self.backlog.push_front(submission);
                break;
            }
            let busy = submission.iter().any(|item| {
                item.accounts()
                    .iter()
                    .any(|account| self.busy_accounts.contains(account))
            });
            let pending: Vec<TransferId> = submission
                .iter()
                .filter_map(|item| item.operation.pending_id())
                .collect();
            let pending_taken = pending
                .iter()
                .any(|id| self.busy_pending.contains(id) || batch_pending.contains(id))
                || (1..pending.len()).any(|i| pending[..i].contains(&pending[i]));
            if busy || pending_taken {
                deferred.push_back(submission);
                continue;
            }
            batch_pending.extend(pending);
            batch.extend(submission);
            if batch.len() >= self.batch_size_max {
                break;
            }
        }
        while let Some(submission) = deferred.pop_back() {
            self.backlog.push_front(submission);
        }
        batch
    }
}

struct Writer {
    pool: Pool,
    metrics: EngineMetrics,
    batch_size_max: usize,
    numbering: Arc<Numbering>,
}

/// Why a batch was not committed.
enum Rejection {
    /// These items must leave the batch; the rest are retried at once.
    Items {
        stale: HashSet<AccountId>,
        duplicate: HashSet<usize>,
        not_pending: HashSet<usize>,
    },
    Failed(String),
}

impl Writer {
    async fn run(
        self,
        index: usize,
        mut batches: mpsc::Receiver<Vec<JournalItem>>,
        finished: mpsc::Sender<usize>,
    ) {
        while let Some(batch) = batches.recv().await {
            self.commit(batch).await;
            if finished.send(index).await.is_err() {
                return;
            }
        }
    }

    /// Writes `items`, retrying without the ones PostgreSQL refused, until all are answered.
    async fn commit(&self, mut items: Vec<JournalItem>) {
        while !items.is_empty() {
            assert!(items.len() <= self.batch_size_max, "a batch over its bound");
            let started = Instant::now();
            match write(&self.pool, &items, &self.numbering).await {
                Ok(committed) => {
                    let batch = committed.batch.number;
                    self.metrics
                        .journal_commit_duration_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.journal_batch_size.observe(items.len() as f64);
                    self.count(&items);
                    settle_posted(&items, &committed, batch);
                    answer_committed(items, committed);
                    return;
                }
                Err(Rejection::Items {
                    stale,
                    duplicate,
                    not_pending,
                }) => {
                    items = reject_items(items, &stale, &duplicate, &not_pending);
                }
                Err(Rejection::Failed(reason)) => {
                    tracing::warn!(%reason, transfers = items.len(), "journal batch failed");
                    settle_failed(&items);
                    for item in items {
                        let _ = item.reply.send(JournalOutcome::Failed(reason.clone()));
                    }
                    return;
                }
            }
        }
    }

    fn count(&self, items: &[JournalItem]) {
        for item in items {
            match item.operation {
                Operation::Transfer => self.metrics.transfers_committed.inc(),
                Operation::CreatePending { .. } => self.metrics.hold_event("created"),
                Operation::Post { .. } => {
                    self.metrics.transfers_committed.inc();
                    self.metrics.hold_event("posted");
                }
                Operation::Release { expired: true, .. } => self.metrics.hold_event("expired"),
                Operation::Release { expired: false, .. } => self.metrics.hold_event("voided"),
            }
        }
    }
}

/// Answers the refused items, releasing their holds, and returns the others.
fn reject_items(
    items: Vec<JournalItem>,
    stale: &HashSet<AccountId>,
    duplicate: &HashSet<usize>,
    not_pending: &HashSet<usize>,
) -> Vec<JournalItem> {
    assert!(
        !stale.is_empty() || !duplicate.is_empty() || !not_pending.is_empty(),
        "a rejection names what it rejects"
    );
    let outcome_of = |index: usize, item: &JournalItem| {
        if duplicate.contains(&index) {
            Some(JournalOutcome::DuplicateKey)
        } else if not_pending.contains(&index) {
            Some(JournalOutcome::NotPending)
        } else if stale.contains(&item.from.info.id) {
            Some(JournalOutcome::Stale)
        } else {
            None
        }
    };
    // A group leaves the batch whole when any of its items must.
    let aborted_groups: HashSet<u64> = items
        .iter()
        .enumerate()
        .filter(|(index, item)| outcome_of(*index, item).is_some())
        .filter_map(|(_, item)| item.group)
        .collect();
    let mut kept = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let outcome = match (outcome_of(index, &item), item.group) {
            (Some(outcome), _) => outcome,
            (None, Some(group)) if aborted_groups.contains(&group) => JournalOutcome::GroupAborted,
            (None, _) => {
                kept.push(item);
                continue;
            }
        };
        let payer_outcome = match outcome {
            JournalOutcome::Stale => SettlementOutcome::ReleasedAndReload,
            _ => SettlementOutcome::Released,
        };
        release_item(&item, payer_outcome);
        let _ = item.reply.send(outcome);
    }
    kept
}

/// What a committed batch produced, item by item.
struct Committed {
    /// Numbered in row-lock order: see the module's comment.
    batch: BatchNumber,
    transfers: Vec<Transferred>,
    balances: HashMap<AccountId, AccountAfter>,
}

async fn write(
    pool: &Pool,
    items: &[JournalItem],
    numbering: &Arc<Numbering>,
) -> Result<Committed, Rejection> {
    let deltas = net_deltas(items)
        .ok_or_else(|| Rejection::Failed("a batch's net balance overflows".to_owned()))?;
    let client = pool
        .get()
        .await
        .map_err(|error| Rejection::Failed(error.to_string()))?;
    let client = &client;
    let statements = Statements::prepare(client)
        .await
        .map_err(|error| Rejection::Failed(describe(&error)))?;
    let outcome = write_in_transaction(client, &statements, items, &deltas, numbering).await;
    if outcome.is_err() {
        // Ends what is left of the transaction before the connection goes back to the pool (a
        // harmless warning when it already ended; a broken connection is dropped on recycle).
        let _ = client.batch_execute("ROLLBACK").await;
    }
    outcome
}

/// Two round trips for a batch: BEGIN, the claims, the row locks, the balance updates and the
/// id allocation travel together; the inserts and the COMMIT in the second. Every statement is
/// prepared, so each future below sends its request on its first poll, and try_join! polls in
/// order, so they reach PostgreSQL in order, pipelined.
async fn write_in_transaction(
    client: &Client,
    statements: &Statements,
    items: &[JournalItem],
    deltas: &Deltas,
    numbering: &Arc<Numbering>,
) -> Result<Committed, Rejection> {
    let database = |error: tokio_postgres::Error| Rejection::Failed(describe(&error));
    let rows = items
        .iter()
        .filter(|item| item.operation.writes_row())
        .count();
    let (_, claimed, balances, ids) = tokio::try_join!(
        client.batch_execute("BEGIN"),
        claim_pending(client, statements, items),
        apply_deltas(client, statements, deltas),
        allocate_ids(client, statements, rows),
    )
    .map_err(database)?;
    // Every touched row is locked now, until the commit.
    let batch = numbering.issue();
    let not_pending: HashSet<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            item.operation
                .pending_id()
                .is_some_and(|id| !claimed.contains_key(&id))
        })
        .map(|(index, _)| index)
        .collect();
    let stale: HashSet<AccountId> = deltas
        .keys()
        .filter(|id| !balances.contains_key(id))
        .copied()
        .collect();
    if !not_pending.is_empty() || !stale.is_empty() {
        return Err(Rejection::Items {
            stale,
            duplicate: HashSet::new(),
            not_pending,
        });
    }

    let row_ids = row_ids(items, &ids);
    let transfers = assemble(items, &row_ids, ids.created_at, &claimed, &balances);
    let keyed = items
        .iter()
        .any(|item| item.idempotency.is_some() || item.group_key.is_some());
    let (_, _, inserted_keys, _) = tokio::try_join!(
        insert_transfers(client, statements, items, &transfers),
        insert_hold_rows(client, statements, items, &row_ids, &transfers),
        insert_idempotency_keys(client, statements, items, &transfers),
        // Nothing but a key can refuse an item past this point, so without keys the commit
        // travels with the inserts; should an insert fail, PostgreSQL turns it into a ROLLBACK.
        commit_unless(client, keyed),
    )
    .map_err(database)?;
    if keyed {
        let duplicate = duplicate_keys(items, &inserted_keys);
        if !duplicate.is_empty() {
            return Err(Rejection::Items {
                stale: HashSet::new(),
                duplicate,
                not_pending: HashSet::new(),
            });
        }
        client.batch_execute("COMMIT").await.map_err(database)?;
    }
    Ok(Committed {
        batch,
        transfers,
        balances,
    })
}

async fn commit_unless(client: &Client, keyed: bool) -> Result<(), tokio_postgres::Error> {
    match keyed {
        true => Ok(()),
        false => client.batch_execute("COMMIT").await,
    }
}

/// The journal's statements, prepared once per connection (deadpool caches them).
struct Statements {
    allocate_ids: Statement,
    lock_accounts: Statement,
    apply_deltas: Statement,
    apply_held_deltas: Statement,
    lock_pending: Statement,
    claim_pending: Statement,
    insert_transfers: Statement,
    insert_hold_rows: Statement,
    insert_idempotency_keys: Statement,
}

impl Statements {
    async fn prepare(client: &impl GenericClient) -> Result<Statements, tokio_postgres::Error> {
        let (allocate_ids, lock_accounts, apply_deltas, apply_held_deltas, lock_pending) = tokio::try_join!(
            client.prepare_cached(ALLOCATE_IDS),
            client.prepare_cached(LOCK_ACCOUNTS),
            client.prepare_cached(APPLY_DELTAS),
            client.prepare_cached(APPLY_HELD_DELTAS),
            client.prepare_cached(LOCK_PENDING),
        )?;
        let (claim_pending, insert_transfers, insert_hold_rows, insert_idempotency_keys) = tokio::try_join!(
            client.prepare_cached(CLAIM_PENDING),
            client.prepare_cached(INSERT_TRANSFERS),
            client.prepare_cached(INSERT_HOLD_ROWS),
            client.prepare_cached(INSERT_IDEMPOTENCY_KEYS),
        )?;
        Ok(Statements {
            allocate_ids,
            lock_accounts,
            apply_deltas,
            apply_held_deltas,
            lock_pending,
            claim_pending,
            insert_transfers,
            insert_hold_rows,
            insert_idempotency_keys,
        })
    }
}

/// An account's net change in a batch: (balance, held).
type Deltas = BTreeMap<AccountId, (i64, i64)>;

/// One net change per account, in ascending id order (the order the rows get locked in). A
/// payee whose balance does not change is still locked and read, for the answer's snapshot.
fn net_deltas(items: &[JournalItem]) -> Option<Deltas> {
    let mut deltas: Deltas = BTreeMap::new();
    for item in items {
        let (from_balance, from_held, to_balance) = item.effect();
        let from = deltas.entry(item.from.info.id).or_insert((0, 0));
        from.0 = from.0.checked_add(from_balance)?;
        from.1 = from.1.checked_add(from_held)?;
        let to = deltas.entry(item.to.info.id).or_insert((0, 0));
        to.0 = to.0.checked_add(to_balance)?;
    }
    Some(deltas)
}

struct Ids {
    transfers: Vec<i64>,
    created_at: OffsetDateTime,
}

async fn allocate_ids(
    client: &impl GenericClient,
    statements: &Statements,
    count: usize,
) -> Result<Ids, tokio_postgres::Error> {
    let rows = client
        .query(&statements.allocate_ids, &[&(count as i64)])
        .await?;
    assert_eq!(rows.len(), count, "one id per row");
    let created_at = rows
        .first()
        .map(|row| row.get(1))
        .unwrap_or_else(OffsetDateTime::now_utc);
    Ok(Ids {
        transfers: rows.iter().map(|row| row.get(0)).collect(),
        created_at,
    })
}

/// A claimed pending transfer, as its row stands after the claim.
#[derive(Debug, Clone, Copy)]
struct Claimed {
    created_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    posted_at: Option<OffsetDateTime>,
}

/// Locks the batch's pending transfers in id order and ends those still pending; returns the
/// ones it ended. Sends nothing when the batch ends none.
async fn claim_pending(
    client: &impl GenericClient,
    statements: &Statements,
    items: &[JournalItem],
) -> Result<HashMap<TransferId, Claimed>, tokio_postgres::Error> {
    let mut claims: Vec<(TransferId, &'static str, i64)> = items
        .iter()
        .filter_map(|item| {
            let id = item.operation.pending_id()?;
            let status = item.operation.claim_status()?.as_str();
            let amount = match item.operation {
                Operation::Release { held, .. } => held,
                _ => item.amount.get(),
            };
            Some((id, status, amount))
        })
        .collect();
    if claims.is_empty() {
        return Ok(HashMap::new());
    }
    claims.sort_unstable_by_key(|claim| claim.0);
    let ids: Vec<i64> = claims.iter().map(|claim| claim.0).collect();
    let statuses: Vec<&str> = claims.iter().map(|claim| claim.1).collect();
    let amounts: Vec<i64> = claims.iter().map(|claim| claim.2).collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let claim_parameters: [&(dyn ToSql + Sync); 3] = [&ids, &statuses, &amounts];
    let (_, rows) = tokio::try_join!(
        client.query(&statements.lock_pending, &lock_parameters),
        client.query(&statements.claim_pending, &claim_parameters),
    )?;
    Ok(rows
        .iter()
        .map(|row| {
            let claimed = Claimed {
                created_at: row.get(1),
                expires_at: row.get(2),
                posted_at: row.get(3),
            };
            (row.get(0), claimed)
        })
        .collect())
}

/// An account's committed state right after a batch.
#[derive(Debug, Clone, Copy)]
struct AccountAfter {
    balance: i64,
    held: i64,
}

/// Applies the net deltas; returns the state after them of every account updated. The lock is
/// pipelined before the update, so it runs first. Batches of plain transfers use the leaner
/// statement that leaves `held` alone.
async fn apply_deltas(
    client: &impl GenericClient,
    statements: &Statements,
    deltas: &Deltas,
) -> Result<HashMap<AccountId, AccountAfter>, tokio_postgres::Error> {
    let ids: Vec<i64> = deltas.keys().copied().collect();
    let changes: Vec<i64> = deltas.values().map(|delta| delta.0).collect();
    let held_changes: Vec<i64> = deltas.values().map(|delta| delta.1).collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let rows = if held_changes.iter().all(|held| *held == 0) {
        let update_parameters: [&(dyn ToSql + Sync); 2] = [&ids, &changes];
        let (_, rows) = tokio::try_join!(
            client.query(&statements.lock_accounts, &lock_parameters),
            client.query(&statements.apply_deltas, &update_parameters),
        )?;
        rows
    } else {
        let update_parameters: [&(dyn ToSql + Sync); 3] = [&ids, &changes, &held_changes];
        let (_, rows) = tokio::try_join!(
            client.query(&statements.lock_accounts, &lock_parameters),
            client.query(&statements.apply_held_deltas, &update_parameters),
        )?;
        rows
    };
    Ok(rows
        .iter()
        .map(|row| {
            let after = AccountAfter {
                balance: row.get(1),
                held: row.get(2),
            };
            (row.get(0), after)
        })
        .collect())
}

/// Each leg's balance right after it: walking the batch backwards from the balances after the
/// whole batch, undoing one movement at a time. Items that move no money have no legs.
fn balances_after_legs(
    items: &[JournalItem],
    balances: &HashMap<AccountId, AccountAfter>,
) -> Vec<Option<(i64, i64)>> {
    let mut running: HashMap<AccountId, i64> = balances
        .iter()
        .map(|(id, after)| (*id, after.balance))
        .collect();
    let mut legs = vec![None; items.len()];
    for (index, item) in items.iter().enumerate().rev() {
        if !item.operation.moves_money() {
            continue;
        }
        let amount = item.amount.get();
        let from = running
            .get_mut(&item.from.info.id)
            .expect("a touched account");
        let from_after = *from;
        *from += amount;
        let to = running
            .get_mut(&item.to.info.id)
            .expect("a touched account");
        let to_after = *to;
        *to -= amount;
        legs[index] = Some((from_after, to_after));
    }
    legs
}

/// Every item's answer. Rows get the allocated ids in item order.
/// Each item's new row id, in item order: every operation but a release writes a row.
fn row_ids(items: &[JournalItem], ids: &Ids) -> Vec<Option<TransferId>> {
    let mut allocated = ids.transfers.iter().copied();
    let row_ids = items
        .iter()
        .map(|item| {
            item.operation
                .writes_row()
                .then(|| allocated.next().expect("an id per row"))
        })
        .collect();
    assert!(allocated.next().is_none(), "every id allocated is used");
    row_ids
}

fn assemble(
    items: &[JournalItem],
    row_ids: &[Option<TransferId>],
    created_at: OffsetDateTime,
    claimed: &HashMap<TransferId, Claimed>,
    balances: &HashMap<AccountId, AccountAfter>,
) -> Vec<Transferred> {
    let snapshot = |handle: &AccountHandle| {
        let after = balances[&handle.info.id];
        AccountSnapshot {
            id: handle.info.id,
            owner: handle.info.owner.clone(),
            balance: after.balance,
            held: after.held,
            currency: handle.info.currency,
            kind: handle.info.kind,
            created_at: handle.info.created_at,
        }
    };
    let legs = balances_after_legs(items, balances);
    items
        .iter()
        .zip(row_ids)
        .zip(legs)
        .map(|((item, row_id), legs)| {
            let transfer = transfer_after(item, *row_id, created_at, claimed);
            let entry = |row_id: i64, side: Side, amount: i64, balance_after: i64| Entry {
                id: match side {
                    Side::Debit => Entry::debit_id(row_id),
                    _ => Entry::credit_id(row_id),
                },
                account_id: match side {
                    Side::Debit => item.from.info.id,
                    _ => item.to.info.id,
                },
                transfer_id: transfer.id,
                amount,
                balance_after,
                created_at: transfer.posted_at.unwrap_or(created_at),
            };
            let moved = item.amount.get();
            let (from_entry, to_entry) = match (*row_id, legs) {
                (Some(row_id), Some((from_after, to_after))) => (
                    Some(entry(row_id, Side::Debit, -moved, from_after)),
                    Some(entry(row_id, Side::Credit, moved, to_after)),
                ),
                _ => (None, None),
            };
            Transferred {
                transfer,
                from_entry,
                to_entry,
                from_account: snapshot(&item.from),
                to_account: snapshot(&item.to),
                replayed: false,
            }
        })
        .collect()
}

/// The transfer as its row stands after the batch: a new row, or the pending one it ended.
fn transfer_after(
    item: &JournalItem,
    row_id: Option<TransferId>,
    now: OffsetDateTime,
    claimed: &HashMap<TransferId, Claimed>,
) -> Transfer {
    let base = |id: TransferId, status: TransferStatus| Transfer {
        id,
        from_account_id: item.from.info.id,
        to_account_id: item.to.info.id,
        amount: item.amount,
        currency: item.currency,
        status,
        created_at: now,
        posted_at: None,
        expires_at: None,
    };
    match item.operation {
        Operation::Transfer => Transfer {
            posted_at: Some(now),
            ..base(row_id.expect("a row"), TransferStatus::Posted)
        },
        Operation::CreatePending { expires_at } => Transfer {
            expires_at: Some(expires_at),
            ..base(row_id.expect("a row"), TransferStatus::Pending)
        },
        Operation::Post { pending_id, .. } | Operation::Release { pending_id, .. } => {
            let row = claimed[&pending_id];
            let status = item.operation.claim_status().expect("an ending");
            Transfer {
                created_at: row.created_at,
                posted_at: row.posted_at,
                expires_at: row.expires_at,
                ..base(pending_id, status)
            }
        }
    }
}

/// Inserts the plain transfers' rows (the fast path: both legs, nothing else).
async fn insert_transfers(
    client: &impl GenericClient,
    statements: &Statements,
    items: &[JournalItem],
    transfers: &[Transferred],
) -> Result<u64, tokio_postgres::Error> {
    let plain: Vec<&Transferred> = items
        .iter()
        .zip(transfers)
        .filter(|(item, _)| item.operation == Operation::Transfer)
        .map(|(_, transferred)| transferred)
        .collect();
    if plain.is_empty() {
        return Ok(0);
    }
    let column =
        |get: fn(&Transferred) -> i64| -> Vec<i64> { plain.iter().map(|t| get(t)).collect() };
    let currencies: Vec<&str> = plain.iter().map(|t| t.transfer.currency.as_str()).collect();
    let balance_after = |entry: &Option<Entry>| entry.as_ref().expect("a posted leg").balance_after;
    client
        .execute(
            &statements.insert_transfers,
            &[
                &column(|t| t.transfer.id),
                &column(|t| t.transfer.from_account_id),
                &column(|t| t.transfer.to_account_id),
                &column(|t| t.transfer.amount.get()),
                &currencies,
                &plain
                    .iter()
                    .map(|t| balance_after(&t.from_entry))
                    .collect::<Vec<i64>>(),
                &plain
                    .iter()
                    .map(|t| balance_after(&t.to_entry))
                    .collect::<Vec<i64>>(),
            ],
        )
        .await
}

/// Inserts new pending transfers and the postings of posted ones.
async fn insert_hold_rows(
    client: &impl GenericClient,
    statements: &Statements,
    items: &[JournalItem],
    row_ids: &[Option<TransferId>],
    transfers: &[Transferred],
) -> Result<u64, tokio_postgres::Error> {
    let mut ids: Vec<i64> = Vec::new();
    let mut rows: Vec<(&JournalItem, &Transferred)> = Vec::new();
    for ((item, row_id), transferred) in items.iter().zip(row_ids).zip(transfers) {
        if let (Operation::CreatePending { .. } | Operation::Post { .. }, Some(row_id)) =
            (item.operation, row_id)
        {
            ids.push(*row_id);
            rows.push((item, transferred));
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let from: Vec<i64> = rows.iter().map(|(item, _)| item.from.info.id).collect();
    let to: Vec<i64> = rows.iter().map(|(item, _)| item.to.info.id).collect();
    let amounts: Vec<i64> = rows.iter().map(|(item, _)| item.amount.get()).collect();
    let currencies: Vec<&str> = rows
        .iter()
        .map(|(item, _)| item.currency.as_str())
        .collect();
    let statuses: Vec<&str> = rows
        .iter()
        .map(|(item, _)| match item.operation {
            Operation::Post { .. } => TransferStatus::Posted.as_str(),
            _ => TransferStatus::Pending.as_str(),
        })
        .collect();
    let expires: Vec<Option<OffsetDateTime>> = rows
        .iter()
        .map(|(item, _)| match item.operation {
            Operation::CreatePending { expires_at } => Some(expires_at),
            _ => None,
        })
        .collect();
    let pending_ids: Vec<Option<i64>> = rows
        .iter()
        .map(|(item, _)| item.operation.pending_id())
        .collect();
    let from_after: Vec<Option<i64>> = rows
        .iter()
        .map(|(_, t)| t.from_entry.as_ref().map(|entry| entry.balance_after))
        .collect();
    let to_after: Vec<Option<i64>> = rows
        .iter()
        .map(|(_, t)| t.to_entry.as_ref().map(|entry| entry.balance_after))
        .collect();
    client
        .execute(
            &statements.insert_hold_rows,
            &[
                &ids,
                &from,
                &to,
                &amounts,
                &currencies,
                &statuses,
                &expires,
                &pending_ids,
                &from_after,
                &to_after,
            ],
        )
        .await
}

/// Inserts the keys of keyed items and of keyed groups (with the group's whole outcome);
/// returns the (username, key) pairs actually inserted.
async fn insert_idempotency_keys(
    client: &impl GenericClient,
    statements: &Statements,
    items: &[JournalItem],
    transfers: &[Transferred],
) -> Result<HashSet<(String, String)>, tokio_postgres::Error> {
    let mut keyed: Vec<(&IdempotencyKey, Option<i64>, serde_json::Value)> = items
        .iter()
        .zip(transfers)
        .filter_map(|(item, transfer)| {
            let key = item.idempotency.as_ref()?;
            let outcome = serde_json::to_value(transfer).expect("a transfer serialises");
            Some((key, Some(transfer.transfer.id), outcome))
        })
        .collect();
    keyed.extend(group_outcomes(items, transfers));
    if keyed.is_empty() {
        return Ok(HashSet::new());
    }
    let usernames: Vec<&str> = keyed
        .iter()
        .map(|(key, ..)| key.username.as_str())
        .collect();
    let keys: Vec<&str> = keyed.iter().map(|(key, ..)| key.key.as_str()).collect();
    let hashes: Vec<&[u8]> = keyed
        .iter()
        .map(|(key, ..)| key.request_hash.as_slice())
        .collect();
    let transfer_ids: Vec<Option<i64>> = keyed.iter().map(|(_, id, _)| *id).collect();
    let operations: Vec<&str> = keyed
        .iter()
        .map(|(key, ..)| key.operation.as_str())
        .collect();
    let outcomes: Vec<&serde_json::Value> = keyed.iter().map(|(.., outcome)| outcome).collect();
    let rows = client
        .query(
            &statements.insert_idempotency_keys,
            &[
                &usernames,
                &keys,
                &hashes,
                &transfer_ids,
                &operations,
                &outcomes,
            ],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Each keyed group's whole outcome: its refusals where they were, its committed items' answers
/// in the other places, in order.
fn group_outcomes<'a>(
    items: &'a [JournalItem],
    transfers: &[Transferred],
) -> Vec<(&'a IdempotencyKey, Option<i64>, serde_json::Value)> {
    items
        .iter()
        .filter_map(|item| Some((item.group?, item.group_key.as_deref()?)))
        .map(|(group, group_key)| {
            let mut committed = items
                .iter()
                .zip(transfers)
                .filter(|(member, _)| member.group == Some(group))
                .map(|(_, transfer)| transfer);
            let results: Vec<BatchItemOutcome> = group_key
                .outcome
                .iter()
                .map(|slot| match slot {
                    Some(refused) => refused.clone(),
                    None => BatchItemOutcome::Committed(Box::new(
                        committed
                            .next()
                            .expect("an answer per committed item")
                            .clone(),
                    )),
                })
                .collect();
            let outcome = BatchOutcome {
                results,
                replayed: false,
            };
            let value = serde_json::to_value(&outcome).expect("an outcome serialises");
            (&group_key.key, None, value)
        })
        .collect()
}

fn duplicate_keys(items: &[JournalItem], inserted: &HashSet<(String, String)>) -> HashSet<usize> {
    let taken = |key: &IdempotencyKey| !inserted.contains(&(key.username.clone(), key.key.clone()));
    let taken_groups: HashSet<u64> = items
        .iter()
        .filter_map(|item| Some((item.group?, item.group_key.as_deref()?)))
        .filter(|(_, group_key)| taken(&group_key.key))
        .map(|(group, _)| group)
        .collect();
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            item.idempotency.as_ref().is_some_and(taken)
                || item
                    .group
                    .is_some_and(|group| taken_groups.contains(&group))
        })
        .map(|(index, _)| index)
        .collect()
}

/// Settles every account of a committed batch once, with its state in PostgreSQL.
fn settle_posted(items: &[JournalItem], committed: &Committed, batch: u64) {
    for (handle, settlement) in group_settlements(items) {
        let after = committed.balances[&handle.info.id];
        settle_one(
            &handle,
            Settlement {
                outcome: SettlementOutcome::Posted {
                    batch,
                    balance: after.balance,
                    held: after.held,
                },
                ..settlement
            },
        );
    }
}

/// Releases every hold of a failed batch; the accounts reload, since a commit that failed in
/// flight may have landed after all.
fn settle_failed(items: &[JournalItem]) {
    for (handle, settlement) in group_settlements(items) {
        settle_one(
            &handle,
            Settlement {
                outcome: SettlementOutcome::ReleasedAndReload,
                ..settlement
            },
        );
    }
}

/// The money one hold of `side` keeps in flight: (debits, credits).
fn held_money(side: Side, amount: Amount) -> (i64, i64) {
    match side {
        Side::Debit => (amount.get(), 0),
        Side::Credit => (0, amount.get()),
        Side::Touch => (0, 0),
    }
}

/// Sums the holds of `items` per account.
fn group_settlements(items: &[JournalItem]) -> Vec<(AccountHandle, Settlement)> {
    let mut grouped: HashMap<AccountId, (AccountHandle, Settlement)> = HashMap::new();
    let mut add = |handle: &AccountHandle, side: Side, amount: Amount| {
        let (debits, credits) = held_money(side, amount);
        let (_, settlement) = grouped.entry(handle.info.id).or_insert_with(|| {
            (
                handle.clone(),
                Settlement {
                    debits: 0,
                    credits: 0,
                    holds: 0,
                    outcome: SettlementOutcome::Released,
                },
            )
        });
        settlement.debits += debits;
        settlement.credits += credits;
        settlement.holds += 1;
    };
    for item in items {
        let (payer, payee) = item.holds();
        add(&item.from, payer, item.amount);
        if let Some(payee) = payee {
            add(&item.to, payee, item.amount);
        }
    }
    grouped.into_values().collect()
}

/// Releases an item's holds, the payer's with `payer_outcome`.
pub(crate) fn release_item(item: &JournalItem, payer_outcome: SettlementOutcome) {
    let (payer, payee) = item.holds();
    release(&item.from, payer, item.amount, payer_outcome);
    if let Some(payee) = payee {
        release(&item.to, payee, item.amount, SettlementOutcome::Released);
    }
}

/// Settles one hold of one account without anything committed.
pub(crate) fn release(
    handle: &AccountHandle,
    side: Side,
    amount: Amount,
    outcome: SettlementOutcome,
) {
    let (debits, credits) = held_money(side, amount);
    settle_one(
        handle,
        Settlement {
            debits,
            credits,
            holds: 1,
            outcome,
        },
    );
}

/// A settlement must reach its actor: without it the hold would keep money forever. It is
/// queued at once when the mailbox has room (keeping FIFO order with the caller's next request);
/// a full mailbox is waited for in the background. The number of settlements in flight is
/// bounded by `transfers_in_flight_max`, since each comes from a held transfer.
fn settle_one(handle: &AccountHandle, settlement: Settlement) {
    match handle.addr.try_send(Settle(settlement)) {
        Ok(()) | Err(SendError::Closed(_)) => {}
        Err(SendError::Full(message)) => {
            let addr = handle.addr.clone();
            tokio::spawn(async move {
                let _ = addr.send(message).await;
            });
        }
    }
}

fn answer_committed(items: Vec<JournalItem>, committed: Committed) {
    assert_eq!(
        items.len(),
        committed.transfers.len(),
        "one answer per item"
    );
    for (item, transferred) in items.into_iter().zip(committed.transfers) {
        let _ = item
            .reply
            .send(JournalOutcome::Committed(Box::new(transferred)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbering() -> Arc<Numbering> {
        Arc::new(Numbering {
            state: std::sync::Mutex::new(NumberingState {
                issued: 0,
                in_flight: std::collections::BTreeSet::new(),
            }),
            watermark: Arc::new(AtomicU64::new(0)),
        })
    }

    #[test]
    fn the_watermark_waits_for_the_oldest_batch_in_flight() {
        let numbering = numbering();
        let first = numbering.issue();
        let second = numbering.issue();
        drop(second);
        // Batch 2 committed before batch 1: a reload must not take 2 as the mark, or it
        // would ignore batch 1's settlement while reading a row without it.
        assert_eq!(numbering.watermark.load(Ordering::Acquire), 0);
        drop(first);
        assert_eq!(numbering.watermark.load(Ordering::Acquire), 2);
        let third = numbering.issue();
        assert_eq!(third.number, 3);
        drop(third);
        assert_eq!(numbering.watermark.load(Ordering::Acquire), 3);
    }
}
