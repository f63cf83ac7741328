//! The journal: group commit of held transfers to PostgreSQL.
//!
//! One task takes whatever transfers are waiting (at least one, at most `batch_size_max`) and
//! writes them in ONE transaction: one net balance update per touched account (ascending id,
//! before any insert, so foreign-key locks never wait on it), then one multi-row insert of the
//! transfer rows (each carrying both legs and the balances after them; `entries` is a view over
//! them) and of any idempotency keys. Transfer ids are drawn only once the account rows are
//! locked, so on every account ids follow commit order and a statement's running balance reads
//! in id order. A lone transfer is written at once; under load the queue fills while a batch
//! commits, so batches grow by themselves.
//!
//! Only after the commit does it settle the account actors (once per account per batch) and then
//! answer the callers, so a caller that got its answer and sends again finds the actor already
//! settled (mailboxes are FIFO).
//!
//! Several writers (`journal_writers`) take batches from the one queue, each on its own
//! connection, so one batch is built while another waits for its commit's WAL flush. They lock
//! the touched account rows in ascending id order, so they never deadlock; a batch gets its
//! number only once it holds its locks, so of two batches sharing an account, the higher number
//! always committed later (actors adopt the newest batch's balance).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::dev::SendError;
use deadpool_postgres::{Client, GenericClient, Pool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use crate::account::{Settle, Settlement, SettlementOutcome};
use crate::config::EngineConfig;
use crate::db::describe;
use crate::journal_sql::{
    ALLOCATE_IDS, APPLY_DELTAS, INSERT_IDEMPOTENCY_KEYS, INSERT_TRANSFERS, LOCK_ACCOUNTS,
};
use crate::metrics::EngineMetrics;
use crate::model::{
    AccountId, AccountSnapshot, Amount, Currency, Entry, IdempotencyKey, Transfer, TransferStatus,
    Transferred,
};
use crate::registry::AccountHandle;

/// A transfer whose two holds are in place, waiting to be written.
pub(crate) struct HeldTransfer {
    pub from: AccountHandle,
    pub to: AccountHandle,
    pub amount: Amount,
    pub currency: Currency,
    pub idempotency: Option<IdempotencyKey>,
    pub reply: oneshot::Sender<JournalOutcome>,
}

#[derive(Debug)]
pub(crate) enum JournalOutcome {
    Committed(Box<Transferred>),
    /// PostgreSQL refused the debit: the debited account's cached state was stale (another
    /// replica spent from it). The holds are released and the account reloads.
    Stale,
    /// Another request (on this or another replica) committed this idempotency key first.
    DuplicateKey,
    /// The batch could not be written (database down, unexpected error). The holds are
    /// released and both accounts reload, since a failed commit's outcome is unknown.
    Failed(String),
}

#[derive(Clone)]
pub(crate) struct Journal {
    queue: mpsc::Sender<HeldTransfer>,
}

/// Batch numbering shared by the writers.
struct Numbering {
    /// The last number handed out (in row-lock order).
    issued: AtomicU64,
    /// The highest number committed so far.
    committed: Arc<AtomicU64>,
}

impl Journal {
    /// Starts the journal task on `arbiter` (a thread of its own).
    pub(crate) fn start(
        pool: Pool,
        config: &EngineConfig,
        metrics: EngineMetrics,
        arbiter: &actix::ArbiterHandle,
        committed_batches: Arc<AtomicU64>,
    ) -> Journal {
        let (queue, receiver) = mpsc::channel(config.journal_queue_max);
        let receiver = Arc::new(Mutex::new(receiver));
        let numbering = Arc::new(Numbering {
            issued: AtomicU64::new(0),
            committed: committed_batches,
        });
        for _ in 0..config.journal_writers.max(1) {
            let writer = Writer {
                pool: pool.clone(),
                metrics: metrics.clone(),
                batch_size_max: config.batch_size_max,
                numbering: numbering.clone(),
            };
            arbiter.spawn(writer.run(receiver.clone()));
        }
        Journal { queue }
    }

    /// Queues a held transfer; gives it back when the queue is full or the journal is gone.
    pub(crate) fn submit(&self, held: HeldTransfer) -> Result<(), Box<HeldTransfer>> {
        self.queue.try_send(held).map_err(|error| match error {
            mpsc::error::TrySendError::Full(held) => Box::new(held),
            mpsc::error::TrySendError::Closed(held) => Box::new(held),
        })
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
    },
    Failed(String),
}

impl Writer {
    async fn run(self, receiver: Arc<Mutex<mpsc::Receiver<HeldTransfer>>>) {
        let mut batch = Vec::with_capacity(self.batch_size_max);
        loop {
            // One writer at a time takes what is waiting; the others write meanwhile.
            let received = receiver
                .lock()
                .await
                .recv_many(&mut batch, self.batch_size_max)
                .await;
            if received == 0 {
                return;
            }
            self.commit(std::mem::take(&mut batch)).await;
        }
    }

    /// Writes `items`, retrying without the ones PostgreSQL refused, until all are answered.
    async fn commit(&self, mut items: Vec<HeldTransfer>) {
        while !items.is_empty() {
            assert!(items.len() <= self.batch_size_max, "a batch over its bound");
            let started = Instant::now();
            match write(&self.pool, &items, &self.numbering).await {
                Ok(committed) => {
                    let batch = committed.batch;
                    self.numbering.committed.fetch_max(batch, Ordering::AcqRel);
                    self.metrics
                        .journal_commit_duration_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.journal_batch_size.observe(items.len() as f64);
                    self.metrics.transfers_committed.inc_by(items.len() as u64);
                    settle_posted(&items, &committed, batch);
                    answer_committed(items, committed);
                    return;
                }
                Err(Rejection::Items { stale, duplicate }) => {
                    items = self.reject_items(items, &stale, &duplicate);
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

    /// Answers the refused items and returns the others.
    fn reject_items(
        &self,
        items: Vec<HeldTransfer>,
        stale: &HashSet<AccountId>,
        duplicate: &HashSet<usize>,
    ) -> Vec<HeldTransfer> {
        assert!(
            !stale.is_empty() || !duplicate.is_empty(),
            "a rejection names what it rejects"
        );
        let mut kept = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let outcome = if duplicate.contains(&index) {
                JournalOutcome::DuplicateKey
            } else if stale.contains(&item.from.info.id) {
                JournalOutcome::Stale
            } else {
                kept.push(item);
                continue;
            };
            let debit_outcome = match outcome {
                JournalOutcome::Stale => SettlementOutcome::ReleasedAndReload,
                _ => SettlementOutcome::Released,
            };
            settle(&item.from, item.amount.get(), 0, debit_outcome);
            settle(&item.to, 0, item.amount.get(), SettlementOutcome::Released);
            let _ = item.reply.send(outcome);
        }
        kept
    }
}

/// What a committed batch produced, item by item.
struct Committed {
    /// Numbered in row-lock order: see the module's comment.
    batch: u64,
    transfers: Vec<Transferred>,
    balances: HashMap<AccountId, AccountAfter>,
}

async fn write(
    pool: &Pool,
    items: &[HeldTransfer],
    numbering: &Numbering,
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

/// Two round trips for a batch: BEGIN, the row locks, the balance updates and the id allocation
/// travel together; the inserts and the COMMIT in the second. Every statement is prepared, so
/// each future below sends its request on its first poll, and try_join! polls in order, so they
/// reach PostgreSQL in order, pipelined.
async fn write_in_transaction(
    client: &Client,
    statements: &Statements,
    items: &[HeldTransfer],
    deltas: &BTreeMap<AccountId, i64>,
    numbering: &Numbering,
) -> Result<Committed, Rejection> {
    let database = |error: tokio_postgres::Error| Rejection::Failed(describe(&error));
    let (_, balances, ids) = tokio::try_join!(
        client.batch_execute("BEGIN"),
        apply_deltas(client, statements, deltas),
        allocate_ids(client, statements, items.len()),
    )
    .map_err(database)?;
    // Every touched row is locked now, until the commit.
    let batch = numbering.issued.fetch_add(1, Ordering::AcqRel) + 1;
    let stale: HashSet<AccountId> = deltas
        .keys()
        .filter(|id| !balances.contains_key(id))
        .copied()
        .collect();
    if !stale.is_empty() {
        return Err(Rejection::Items {
            stale,
            duplicate: HashSet::new(),
        });
    }

    let transfers = assemble(items, &ids, &balances);
    if items.iter().any(|item| item.idempotency.is_some()) {
        let (_, inserted_keys) = tokio::try_join!(
            insert_transfers(client, statements, &transfers),
            insert_idempotency_keys(client, statements, items, &transfers),
        )
        .map_err(database)?;
        let duplicate = duplicate_keys(items, &inserted_keys);
        if !duplicate.is_empty() {
            return Err(Rejection::Items {
                stale: HashSet::new(),
                duplicate,
            });
        }
        client.batch_execute("COMMIT").await.map_err(database)?;
    } else {
        // Nothing can refuse a transfer past this point, so the commit travels with the
        // insert; should the insert fail, PostgreSQL turns that COMMIT into a ROLLBACK.
        tokio::try_join!(
            insert_transfers(client, statements, &transfers),
            client.batch_execute("COMMIT"),
        )
        .map_err(database)?;
    }
    Ok(Committed {
        batch,
        transfers,
        balances,
    })
}

/// The journal's statements, prepared once per connection (deadpool caches them).
struct Statements {
    allocate_ids: Statement,
    lock_accounts: Statement,
    apply_deltas: Statement,
    insert_transfers: Statement,
    insert_idempotency_keys: Statement,
}

impl Statements {
    async fn prepare(client: &impl GenericClient) -> Result<Statements, tokio_postgres::Error> {
        let (allocate_ids, lock_accounts, apply_deltas, insert_transfers, insert_idempotency_keys) =
            tokio::try_join!(
                client.prepare_cached(ALLOCATE_IDS),
                client.prepare_cached(LOCK_ACCOUNTS),
                client.prepare_cached(APPLY_DELTAS),
                client.prepare_cached(INSERT_TRANSFERS),
                client.prepare_cached(INSERT_IDEMPOTENCY_KEYS),
            )?;
        Ok(Statements {
            allocate_ids,
            lock_accounts,
            apply_deltas,
            insert_transfers,
            insert_idempotency_keys,
        })
    }
}

/// One net change per account, in ascending id order (the order the rows get locked in).
fn net_deltas(items: &[HeldTransfer]) -> Option<BTreeMap<AccountId, i64>> {
    let mut deltas = BTreeMap::new();
    for item in items {
        let amount = item.amount.get();
        let from = deltas.entry(item.from.info.id).or_insert(0i64);
        *from = from.checked_sub(amount)?;
        let to = deltas.entry(item.to.info.id).or_insert(0i64);
        *to = to.checked_add(amount)?;
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
    assert_eq!(rows.len(), count, "one id per transfer");
    let created_at = rows
        .first()
        .map(|row| row.get(1))
        .unwrap_or_else(OffsetDateTime::now_utc);
    Ok(Ids {
        transfers: rows.iter().map(|row| row.get(0)).collect(),
        created_at,
    })
}

/// An account's committed state right after a batch.
#[derive(Debug, Clone, Copy)]
struct AccountAfter {
    balance: i64,
    held: i64,
}

/// Applies the net deltas; returns the state after them of every account updated. The lock is
/// pipelined before the update, so it runs first.
async fn apply_deltas(
    client: &impl GenericClient,
    statements: &Statements,
    deltas: &BTreeMap<AccountId, i64>,
) -> Result<HashMap<AccountId, AccountAfter>, tokio_postgres::Error> {
    let ids: Vec<i64> = deltas.keys().copied().collect();
    let changes: Vec<i64> = deltas.values().copied().collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let update_parameters: [&(dyn ToSql + Sync); 2] = [&ids, &changes];
    let (_, rows) = tokio::try_join!(
        client.query(&statements.lock_accounts, &lock_parameters),
        client.query(&statements.apply_deltas, &update_parameters),
    )?;
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
/// whole batch, undoing one transfer at a time.
fn balances_after_legs(
    items: &[HeldTransfer],
    balances: &HashMap<AccountId, AccountAfter>,
) -> Vec<(i64, i64)> {
    let mut running: HashMap<AccountId, i64> = balances
        .iter()
        .map(|(id, after)| (*id, after.balance))
        .collect();
    let mut legs = vec![(0, 0); items.len()];
    for (index, item) in items.iter().enumerate().rev() {
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
        legs[index] = (from_after, to_after);
    }
    legs
}

fn assemble(
    items: &[HeldTransfer],
    ids: &Ids,
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
        .zip(legs)
        .enumerate()
        .map(|(index, (item, (from_after, to_after)))| {
            let transfer_id = ids.transfers[index];
            let entry = |id: i64, account_id: AccountId, amount: i64, balance_after: i64| Entry {
                id,
                account_id,
                transfer_id,
                amount,
                balance_after,
                created_at: ids.created_at,
            };
            Transferred {
                transfer: Transfer {
                    id: transfer_id,
                    from_account_id: item.from.info.id,
                    to_account_id: item.to.info.id,
                    amount: item.amount,
                    currency: item.currency,
                    status: TransferStatus::Posted,
                    created_at: ids.created_at,
                    posted_at: Some(ids.created_at),
                    expires_at: None,
                },
                from_entry: entry(
                    Entry::debit_id(transfer_id),
                    item.from.info.id,
                    -item.amount.get(),
                    from_after,
                ),
                to_entry: entry(
                    Entry::credit_id(transfer_id),
                    item.to.info.id,
                    item.amount.get(),
                    to_after,
                ),
                from_account: snapshot(&item.from),
                to_account: snapshot(&item.to),
                replayed: false,
            }
        })
        .collect()
}

async fn insert_transfers(
    client: &impl GenericClient,
    statements: &Statements,
    transfers: &[Transferred],
) -> Result<u64, tokio_postgres::Error> {
    let column = |get: fn(&Transferred) -> i64| -> Vec<i64> { transfers.iter().map(get).collect() };
    let currencies: Vec<&str> = transfers
        .iter()
        .map(|t| t.transfer.currency.as_str())
        .collect();
    client
        .execute(
            &statements.insert_transfers,
            &[
                &column(|t| t.transfer.id),
                &column(|t| t.transfer.from_account_id),
                &column(|t| t.transfer.to_account_id),
                &column(|t| t.transfer.amount.get()),
                &currencies,
                &column(|t| t.from_entry.balance_after),
                &column(|t| t.to_entry.balance_after),
            ],
        )
        .await
}

/// Inserts the keys of keyed transfers; returns the (username, key) pairs actually inserted.
async fn insert_idempotency_keys(
    client: &impl GenericClient,
    statements: &Statements,
    items: &[HeldTransfer],
    transfers: &[Transferred],
) -> Result<HashSet<(String, String)>, tokio_postgres::Error> {
    let keyed: Vec<(&IdempotencyKey, &Transferred)> = items
        .iter()
        .zip(transfers)
        .filter_map(|(item, transfer)| item.idempotency.as_ref().map(|key| (key, transfer)))
        .collect();
    if keyed.is_empty() {
        return Ok(HashSet::new());
    }
    let usernames: Vec<&str> = keyed.iter().map(|(key, _)| key.username.as_str()).collect();
    let keys: Vec<&str> = keyed.iter().map(|(key, _)| key.key.as_str()).collect();
    let hashes: Vec<&[u8]> = keyed
        .iter()
        .map(|(key, _)| key.request_hash.as_slice())
        .collect();
    let transfer_ids: Vec<i64> = keyed.iter().map(|(_, t)| t.transfer.id).collect();
    let operations: Vec<&str> = keyed
        .iter()
        .map(|(key, _)| key.operation.as_str())
        .collect();
    let bodies: Vec<serde_json::Value> = keyed
        .iter()
        .map(|(_, t)| serde_json::to_value(t).expect("a transfer serialises"))
        .collect();
    let rows = client
        .query(
            &statements.insert_idempotency_keys,
            &[
                &usernames,
                &keys,
                &hashes,
                &transfer_ids,
                &operations,
                &bodies,
            ],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

fn duplicate_keys(items: &[HeldTransfer], inserted: &HashSet<(String, String)>) -> HashSet<usize> {
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let key = item.idempotency.as_ref()?;
            let pair = (key.username.clone(), key.key.clone());
            (!inserted.contains(&pair)).then_some(index)
        })
        .collect()
}

/// Settles every account of a committed batch once, with its balance in PostgreSQL.
fn settle_posted(items: &[HeldTransfer], committed: &Committed, batch: u64) {
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

/// Releases every hold of a failed batch; the accounts reload, since a commit that failed
/// in flight may have landed after all.
fn settle_failed(items: &[HeldTransfer]) {
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

/// Sums the holds of `items` per account.
fn group_settlements(items: &[HeldTransfer]) -> Vec<(AccountHandle, Settlement)> {
    let mut grouped: HashMap<AccountId, (AccountHandle, Settlement)> = HashMap::new();
    let mut add = |handle: &AccountHandle, debit: i64, credit: i64| {
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
        settlement.debits += debit;
        settlement.credits += credit;
        settlement.holds += 1;
    };
    for item in items {
        add(&item.from, item.amount.get(), 0);
        add(&item.to, 0, item.amount.get());
    }
    grouped.into_values().collect()
}

/// Settles one hold of one account.
pub(crate) fn settle(
    handle: &AccountHandle,
    debits: i64,
    credits: i64,
    outcome: SettlementOutcome,
) {
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

/// A settlement must reach its actor: without it the hold would keep money forever. It
/// is queued at once when the mailbox has room (keeping FIFO order with the caller's next
/// request); a full mailbox is waited for in the background. The number of settlements in
/// flight is bounded by `transfers_in_flight_max`, since each comes from a held transfer.
fn settle_one(handle: &AccountHandle, settlement: Settlement) {
    match handle.addr.try_send(Settle(settlement)) {
        Ok(()) | Err(SendError::Closed(_)) => {}
        Err(SendError::Full(message)) => {
            let addr = handle.addr.clone();
            actix::spawn(async move {
                let _ = addr.send(message).await;
            });
        }
    }
}

fn answer_committed(items: Vec<HeldTransfer>, committed: Committed) {
    assert_eq!(
        items.len(),
        committed.transfers.len(),
        "one answer per transfer"
    );
    for (item, transferred) in items.into_iter().zip(committed.transfers) {
        let _ = item
            .reply
            .send(JournalOutcome::Committed(Box::new(transferred)));
    }
}
