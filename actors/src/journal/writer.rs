//! A writer: takes a batch from the dispatcher, runs its round trips, and carries out what the
//! plan decided: commits and answers, or removes the refused items and tries again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use deadpool_postgres::{ClientWrapper, Manager, Pool};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_postgres::Client;
use tracing::{Instrument, Span};

use super::answers::{assemble, duplicate_keys, duplicate_references, key_rows, keyed, row_ids};
use super::in_doubt::{self, InDoubt, Resolution};
use super::numbering::{BatchNumber, Numbering};
use super::one_trip::{write_transfers, WriteFailed};
use super::plan::{self, AccountAfter, Deltas, Refusals};
use super::round_trips::{
    allocate_ids, apply_deltas, claim_pending, insert_hold_rows, insert_idempotency_keys,
    insert_transfers, Pipeline, Statements,
};
use super::settle::{answer_committed, fail, refuse_all, reject_items, settle_accounts};
use super::{JournalItem, JournalOutcome, Operation};
use crate::db::{describe, may_retry, server_unavailable, server_wait, SERVER_RETRY_PAUSE};
use crate::metrics::EngineMetrics;
use crate::model::{AccountId, TransferId, Transferred};
use prometheus::IntCounter;

pub(crate) struct Writer {
    /// Only for its connection settings: the writer never borrows the request pool's
    /// connections, so a pool exhausted by reads cannot hold up a commit.
    pool: Pool,
    /// Its own connection, opened on first use and again after it broke.
    connection: Option<Connection>,
    metrics: EngineMetrics,
    batch_size_max: usize,
    numbering: Arc<Numbering>,
}

/// Why a batch was not committed.
enum Rejection {
    /// These items must leave the batch; the rest are retried at once.
    Items(Refusals),
    /// Nothing was written. `items_at_fault`: PostgreSQL refused the data itself (a constraint,
    /// a value out of range), so some item caused it, not the database's state.
    Failed {
        reason: String,
        items_at_fault: bool,
        /// The constraint PostgreSQL named, if any.
        constraint: Option<String>,
    },
    /// No server took the batch (no connection, the server shutting down, a demoted read-only
    /// server) before its COMMIT was sent, so it did not commit: it is written again on a fresh
    /// connection while the primary changes, for up to `server_wait`.
    Unwritten { reason: String },
    /// The COMMIT was sent and not answered: the batch may have committed (see `in_doubt`).
    InDoubt(Box<InDoubt>),
}

/// The CHECK that keeps a transfer's reversals within its amount (migration V10).
const REVERSALS_WITHIN_AMOUNT: &str = "transfers_reversed_within_amount";

impl Rejection {
    fn database(error: tokio_postgres::Error) -> Rejection {
        // Classes 22 (data exception) and 23 (integrity constraint violation).
        let items_at_fault = error
            .as_db_error()
            .is_some_and(|db| matches!(&db.code().code()[..2], "22" | "23"));
        Rejection::Failed {
            reason: describe(&error),
            items_at_fault,
            constraint: error
                .as_db_error()
                .and_then(|db| db.constraint())
                .map(str::to_owned),
        }
    }

    /// An error met before the COMMIT was sent: a server's or connection's error proves the
    /// batch unwritten.
    fn before_commit(error: tokio_postgres::Error) -> Rejection {
        match server_unavailable(&error) {
            true => Rejection::Unwritten {
                reason: describe(&error),
            },
            false => Rejection::database(error),
        }
    }

    /// An error met once the COMMIT was sent: a server's or connection's error leaves the batch
    /// in doubt, to be resolved, when it inserted a row to look for (a batch of releases only
    /// inserts none, and fails as before); any other error fails the batch.
    fn commit_unanswered(
        error: tokio_postgres::Error,
        committed: Committed,
        deltas: &Deltas,
        row_ids: &[Option<TransferId>],
        created_at: OffsetDateTime,
    ) -> Rejection {
        let row = row_ids.iter().flatten().next().copied();
        match (server_unavailable(&error), row) {
            (true, Some(row)) => Rejection::InDoubt(Box::new(InDoubt {
                reason: describe(&error),
                committed,
                accounts: deltas.keys().copied().collect(),
                row,
                created_at,
            })),
            _ => Rejection::database(error),
        }
    }

    fn reason(self) -> String {
        match self {
            Rejection::Failed { reason, .. } | Rejection::Unwritten { reason } => reason,
            Rejection::InDoubt(doubt) => doubt.reason,
            Rejection::Items(_) => "items refused".to_owned(),
        }
    }
}

/// A writer's own connection and its statements, prepared once.
struct Connection {
    client: ClientWrapper,
    statements: Statements,
}

impl Connection {
    /// Opens a connection with the pool's settings (outside the pool), within the pool's
    /// create timeout.
    async fn open(pool: &Pool) -> Result<Connection, Rejection> {
        let manager: &Manager = pool.manager();
        let created = tokio::time::timeout(
            server_wait(pool),
            deadpool::managed::Manager::create(manager),
        )
        .await
        .map_err(|_| Rejection::Failed {
            reason: "the journal's connection timed out".to_owned(),
            items_at_fault: false,
            constraint: None,
        })?;
        let client = created.map_err(Rejection::before_commit)?;
        let statements = Statements::prepare(&client)
            .await
            .map_err(Rejection::before_commit)?;
        Ok(Connection { client, statements })
    }
}

/// What a committed batch produced, item by item.
pub(super) struct Committed {
    /// Numbered in row-lock order: see the module's comment.
    batch: BatchNumber,
    transfers: Vec<Transferred>,
    balances: HashMap<AccountId, AccountAfter>,
}

impl Writer {
    pub(crate) fn new(
        pool: Pool,
        metrics: EngineMetrics,
        batch_size_max: usize,
        numbering: Arc<Numbering>,
    ) -> Writer {
        Writer {
            pool,
            connection: None,
            metrics,
            batch_size_max,
            numbering,
        }
    }

    pub(crate) async fn run(
        mut self,
        index: usize,
        mut batches: mpsc::Receiver<Vec<JournalItem>>,
        finished: mpsc::Sender<usize>,
    ) {
        while let Some(batch) = batches.recv().await {
            let span = batch_span(&batch);
            self.commit(batch).instrument(span).await;
            if finished.send(index).await.is_err() {
                return;
            }
        }
    }

    /// Writes `items`, retrying without the ones PostgreSQL refused, until all are answered.
    /// When PostgreSQL refuses the data of a batch of several submissions, each is written on
    /// its own: one caller's item never fails another caller's.
    async fn commit(&mut self, items: Vec<JournalItem>) {
        let mut work: Vec<Vec<JournalItem>> = vec![items];
        // Set when a server first took nothing: writes pause until then at most.
        let mut unwritten_deadline: Option<Instant> = None;
        // Whether a batch found not committed was written again already.
        let mut rewritten = false;
        while let Some(mut items) = work.pop() {
            while !items.is_empty() {
                assert!(items.len() <= self.batch_size_max, "a batch over its bound");
                let started = Instant::now();
                match self.write(&items).await {
                    Ok(committed) => {
                        self.metrics
                            .journal_commit_duration_seconds
                            .observe(started.elapsed().as_secs_f64());
                        self.committed(items, committed);
                        break;
                    }
                    Err(Rejection::Items(refusals)) => {
                        let before = items.len();
                        items = reject_items(items, &refusals);
                        assert!(items.len() < before, "each retry removes at least one item");
                    }
                    Err(Rejection::Unwritten { reason }) => {
                        let deadline = self.writes_pause_until(&mut unwritten_deadline);
                        if !may_retry(deadline) {
                            fail(items, &reason);
                            break;
                        }
                        self.metrics.journal_unwritten_retries.inc();
                        tokio::time::sleep(SERVER_RETRY_PAUSE).await;
                    }
                    Err(Rejection::InDoubt(doubt)) => {
                        let deadline = self.writes_pause_until(&mut unwritten_deadline);
                        match self
                            .settle_doubt(items, doubt, deadline, &mut rewritten)
                            .await
                        {
                            Some(again) => items = again,
                            None => break,
                        }
                    }
                    Err(Rejection::Failed {
                        reason,
                        items_at_fault,
                        constraint,
                    }) => {
                        let split = plan::submissions(items);
                        if items_at_fault && split.len() > 1 {
                            tracing::info!(%reason, submissions = split.len(), "journal batch split");
                            work.extend(split.into_iter().rev());
                        } else if constraint.as_deref() == Some(REVERSALS_WITHIN_AMOUNT) {
                            // Alone, so this submission's reversal is the one past the amount.
                            refuse_all(split.into_iter().flatten().collect(), || {
                                JournalOutcome::ReversalExceeded
                            });
                        } else {
                            fail(split.into_iter().flatten().collect(), &reason);
                        }
                        break;
                    }
                }
            }
        }
    }

    /// One attempt at `items` on the writer's own connection, opened (again) when needed.
    async fn write(&mut self, items: &[JournalItem]) -> Result<Committed, Rejection> {
        let deltas = plan::net_deltas(items).ok_or_else(|| Rejection::Failed {
            reason: "a batch's net balance overflows".to_owned(),
            items_at_fault: true,
            constraint: None,
        })?;
        let connection = match self.connection.take() {
            Some(connection) if !connection.client.is_closed() => connection,
            _ => Connection::open(&self.pool).await?,
        };
        let exchange = Exchange {
            client: &connection.client,
            statements: &connection.statements,
            round_trips: &self.metrics.journal_round_trips,
        };
        let plain = plan::one_round_trip(items);
        let outcome = async {
            match plain {
                true => write_plain(&exchange, items, &deltas, &self.numbering).await,
                false => write_in_transaction(&exchange, items, &deltas, &self.numbering).await,
            }
        }
        .instrument(tracing::debug_span!("journal commit"))
        .await;
        match &outcome {
            // A fresh connection next time: this one may reach a demoted, read-only server, or
            // be broken.
            Err(Rejection::Unwritten { .. } | Rejection::InDoubt(_)) => return outcome,
            // The plain exchange always carries its COMMIT (a ROLLBACK after an error).
            Err(_) if !plain => {
                // Ends what is left of the transaction (a harmless warning when it already ended).
                exchange.round_trips.inc();
                let _ = connection.client.batch_execute("ROLLBACK").await;
            }
            _ => {}
        }
        if !connection.client.is_closed() {
            self.connection = Some(connection);
        }
        outcome
    }

    /// Until when writes pause while no server takes them: set by the first such failure.
    fn writes_pause_until(&self, deadline: &mut Option<Instant>) -> Instant {
        *deadline.get_or_insert_with(|| Instant::now() + server_wait(&self.pool))
    }

    /// Resolves a batch in doubt and answers its callers, or gives its items back to be written
    /// again: found not committed, while writes may still pause (`deadline`), and at least once
    /// however long learning it took (`rewritten`).
    async fn settle_doubt(
        &mut self,
        items: Vec<JournalItem>,
        doubt: Box<InDoubt>,
        deadline: Instant,
        rewritten: &mut bool,
    ) -> Option<Vec<JournalItem>> {
        let resolution = self.resolve(&doubt).await;
        self.metrics.in_doubt_resolved(resolution.label());
        match resolution {
            Resolution::Committed => self.committed(items, doubt.committed),
            // Written again at once, as a batch no server took.
            Resolution::NotCommitted if may_retry(deadline) || !*rewritten => {
                *rewritten = true;
                return Some(items);
            }
            Resolution::NotCommitted => fail(items, &doubt.reason),
            Resolution::Unknown(reason) => {
                let reason = format!(
                    "{}; whether it committed is unknown: {reason}",
                    doubt.reason
                );
                fail(items, &reason);
            }
        }
        None
    }

    /// Whether a batch in doubt committed, asked on fresh connections until a server answers or
    /// `server_wait` has passed. The connection that answered is kept for the next batch.
    async fn resolve(&mut self, doubt: &InDoubt) -> Resolution {
        let deadline = Instant::now() + server_wait(&self.pool);
        loop {
            let asked = match Connection::open(&self.pool).await {
                Ok(connection) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    let asked =
                        in_doubt::ask(&connection.client, &connection.statements, doubt, wait)
                            .await;
                    if asked.is_ok() {
                        self.connection = Some(connection);
                    }
                    asked
                }
                Err(rejection) => Err(in_doubt::AskFailed {
                    retry: matches!(rejection, Rejection::Unwritten { .. }),
                    reason: rejection.reason(),
                }),
            };
            match asked {
                Ok(true) => return Resolution::Committed,
                Ok(false) => return Resolution::NotCommitted,
                Err(failed) if failed.retry && may_retry(deadline) => {
                    tokio::time::sleep(SERVER_RETRY_PAUSE).await;
                }
                Err(failed) => return Resolution::Unknown(failed.reason),
            }
        }
    }

    fn committed(&self, items: Vec<JournalItem>, committed: Committed) {
        self.metrics.journal_batch_size.observe(items.len() as f64);
        self.count(&items);
        let batch = committed.batch.number;
        let settlements = plan::settlements(&items, Some((batch, &committed.balances)));
        settle_accounts(&items, settlements);
        answer_committed(items, committed.transfers);
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

/// The span of one batch: a child of its first item's submitter, following from the others'
/// (a batch serves many requests, and a span has one parent).
fn batch_span(items: &[JournalItem]) -> Span {
    let parent = items.first().and_then(|item| item.span.id());
    // An i64: OpenTelemetry has no unsigned integers (a usize would arrive as text).
    let span =
        tracing::debug_span!(parent: parent, "journal batch", batch_size = items.len() as i64);
    for item in items.iter().skip(1) {
        span.follows_from(&item.span);
    }
    span
}

/// A writer's connection for one attempt, and the counter of its round trips (each exchange
/// that waits for PostgreSQL's answers counts one).
struct Exchange<'a> {
    client: &'a Client,
    statements: &'a Statements,
    round_trips: &'a IntCounter,
}

/// One round trip for a batch of plain transfers without keys or references: nothing is decided between the
/// lock and the commit, so PostgreSQL does it all (see `write_transfers`). The number is issued
/// before the exchange: no batch sharing an account is in flight meanwhile (the dispatcher),
/// and the watermark stays below it until the batch has ended.
async fn write_plain(
    exchange: &Exchange<'_>,
    items: &[JournalItem],
    deltas: &Deltas,
    numbering: &Arc<Numbering>,
) -> Result<Committed, Rejection> {
    let batch = numbering.issue();
    exchange.round_trips.inc();
    let (written, commit) =
        match write_transfers(exchange.client, exchange.statements, items, deltas).await {
            Ok(written) => (written, Ok(())),
            Err(WriteFailed::Commit { error, written }) => (written, Err(error)),
            // PostgreSQL's own error before COMMIT proves nothing was written (a read-only server,
            // one shutting down); a broken connection does not: COMMIT was sent, and without the
            // statements' answers there is no row to look for.
            Err(WriteFailed::BeforeCommit(error)) if error.as_db_error().is_some() => {
                return Err(Rejection::before_commit(error))
            }
            Err(WriteFailed::BeforeCommit(error)) => return Err(Rejection::database(error)),
        };
    // A stale account wrote nothing, whatever became of the COMMIT.
    if !written.stale.is_empty() {
        return Err(Rejection::Items(Refusals {
            stale: written.stale,
            ..Refusals::default()
        }));
    }
    let no_claims = HashMap::new();
    let row_ids = row_ids(items, &written.ids.transfers);
    let created_at = written.ids.created_at;
    let transfers = assemble(items, &row_ids, created_at, &no_claims, &written.balances);
    let committed = Committed {
        batch,
        transfers,
        balances: written.balances,
    };
    match commit {
        Ok(()) => Ok(committed),
        Err(error) => Err(Rejection::commit_unanswered(
            error, committed, deltas, &row_ids, created_at,
        )),
    }
}

/// Two round trips for a batch: BEGIN, the claims, the row locks, the balance updates and the
/// id allocation travel together; the inserts and the COMMIT in the second. Every statement is
/// prepared, so each future below sends its request on its first poll, and a `biased` try_join!
/// polls in order, so they reach PostgreSQL in order, pipelined, and the error it returns is the
/// first failed statement's (unbiased, it may be a later one's 25P02 "transaction is aborted",
/// hiding why: a read-only server's 25006).
async fn write_in_transaction(
    exchange: &Exchange<'_>,
    items: &[JournalItem],
    deltas: &Deltas,
    numbering: &Arc<Numbering>,
) -> Result<Committed, Rejection> {
    let (client, statements) = (exchange.client, exchange.statements);
    let claims = plan::claims(items);
    let debited = plan::debited(items, deltas);
    exchange.round_trips.inc();
    // No COMMIT is sent in this round trip: whatever fails here wrote nothing.
    let (_, claimed, balances, ids) = tokio::try_join!(
        biased;
        client.batch_execute("BEGIN"),
        claim_pending(client, statements, &claims),
        apply_deltas(client, statements, deltas, &debited),
        allocate_ids(client, statements, plan::rows_needed(items)),
    )
    .map_err(Rejection::before_commit)?;
    // Every touched row is locked now, until the commit.
    let batch = numbering.issue();
    if let Some(refusals) = plan::refusals_after_claims(items, deltas, &claimed, &balances) {
        return Err(Rejection::Items(refusals));
    }

    let row_ids = row_ids(items, &ids.transfers);
    let transfers = assemble(items, &row_ids, ids.created_at, &claimed, &balances);
    let committed = Committed {
        batch,
        transfers,
        balances,
    };
    let keyed = keyed(items);
    // A referenced row may be skipped (its reference taken): then the batch must not commit.
    let held_commit = keyed || referenced(items);
    let key_rows = key_rows(items, &committed.transfers);
    exchange.round_trips.inc();
    // Every answer is awaited (join, not try_join): an insert's error then reads in order.
    let pipeline = Pipeline::default();
    let (referenced_rows, hold_rows, inserted_keys, commit) = tokio::join!(
        biased;
        pipeline.statement(insert_transfers(client, statements, items, &committed.transfers)),
        pipeline.statement(insert_hold_rows(
            client,
            statements,
            items,
            &row_ids,
            &committed.transfers
        )),
        pipeline.statement(insert_idempotency_keys(client, statements, &key_rows)),
        // Nothing but a key or a reference can refuse an item past this point, so without
        // them the commit travels with the inserts; should an insert fail, it is a ROLLBACK.
        commit_unless(&pipeline, client, held_commit),
    );
    let inserted: Result<Inserted, tokio_postgres::Error> =
        (|| Ok((referenced_rows?, hold_rows?, inserted_keys?)))();
    let committing = match (inserted, commit) {
        (Ok(inserted), Ok(())) if held_commit => {
            if let Some(refusals) = refusals_after_inserts(items, &row_ids, inserted) {
                return Err(Rejection::Items(refusals));
            }
            exchange.round_trips.inc();
            client.batch_execute("COMMIT").await
        }
        (Ok(_), commit) => commit,
        // PostgreSQL's own error on an insert aborted the transaction: its COMMIT, if sent,
        // was a ROLLBACK. With no COMMIT sent, any error proves the batch unwritten.
        (Err(error), _) if held_commit || error.as_db_error().is_some() => {
            return Err(Rejection::before_commit(error))
        }
        // The connection broke with the COMMIT sent.
        (Err(error), _) => Err(error),
    };
    match committing {
        Ok(()) => Ok(committed),
        Err(error) => Err(Rejection::commit_unanswered(
            error,
            committed,
            deltas,
            &row_ids,
            ids.created_at,
        )),
    }
}

/// The items a key or a reference refused: their key or reference was taken.
fn refusals_after_inserts(
    items: &[JournalItem],
    row_ids: &[Option<TransferId>],
    (referenced_rows, hold_rows, inserted_keys): Inserted,
) -> Option<Refusals> {
    let refusals = Refusals {
        duplicate: duplicate_keys(items, &inserted_keys),
        duplicate_reference: duplicate_references(items, row_ids, &referenced_rows, &hold_rows),
        ..Refusals::default()
    };
    let refused = !refusals.duplicate.is_empty() || !refusals.duplicate_reference.is_empty();
    refused.then_some(refusals)
}

/// What the inserts returned: the referenced rows and hold rows written, and the keys stored.
type Inserted = (
    HashSet<TransferId>,
    HashSet<TransferId>,
    HashSet<(String, String)>,
);

/// Whether any item's new row carries a reference.
fn referenced(items: &[JournalItem]) -> bool {
    items.iter().any(|item| item.details.reference.is_some())
}

async fn commit_unless(
    pipeline: &Pipeline,
    client: &Client,
    held: bool,
) -> Result<(), tokio_postgres::Error> {
    match held {
        true => Ok(()),
        false => pipeline.end(client).await,
    }
}
