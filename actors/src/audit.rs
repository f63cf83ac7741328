//! The continuous invariant auditor: every `audit_interval` one replica (whichever holds the
//! audit's advisory lock) checks the ledger's invariants in one consistent snapshot, and the
//! counts of violations go to `tally_audit_violations{invariant}`.
//!
//! Accounts are checked as a whole every time (conservation, floors, holds: one scan of
//! `accounts`); legs incrementally, above a watermark (migration V8), and all of them once a day.
//! The replica also checks its own idle account actors: each cached balance must be one the
//! database recorded for the account (its balance, or a `balance_after` of one of its legs; an
//! older one only means another replica moved money since, which the engine detects on the next
//! transfer).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::Pool;
use futures_util::{future, stream, StreamExt};
use prometheus::{Gauge, IntGaugeVec, Opts};
use tokio_postgres::{IsolationLevel, Transaction};

use crate::account::{Snapshot, SnapshotReply};
use crate::db::describe;
use crate::engine::Engine;
use crate::model::AccountId;
use crate::registry::AccountHandle;

/// Held (per transaction) while auditing, so only one replica audits at a time.
pub const AUDIT_LOCK_KEY: i64 = 0x7a11_a0d1;
/// The audit's sort memory, set for its own transaction.
const AUDIT_WORK_MEM: &str = "SET LOCAL work_mem = '64MB'";
/// A full audit (every leg, not only those above the watermark) runs this often.
pub const FULL_AUDIT_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Cached balances compared with the database in one audit at most.
pub const CACHED_ACCOUNTS_MAX: usize = 10_000;
/// Cached balances asked of account actors at a time: one message each, so a burst of at most
/// this many on the account arbiters (their mailboxes get one message each whatever the bound).
pub const CACHED_READS_IN_FLIGHT_MAX: usize = 64;
/// Accounts named in the log per invariant when violated (the metric counts them all).
const LOGGED_ACCOUNTS_MAX: i64 = 10;

/// The invariants, as the `invariant` label names them.
pub const INVARIANTS: [&str; 6] = [
    "conservation",
    "balance_matches_legs",
    "legs_chain",
    "held_matches_pending",
    "floor",
    "cached_balance",
];

/// Currencies whose balances, reserve included, do not sum to 0 (money is only ever moved).
const CONSERVATION: &str = "
    SELECT currency, count(*) OVER () FROM accounts GROUP BY currency HAVING sum(balance) <> 0
    LIMIT $1";

/// Accounts below their floor: a customer's balance - held under its floor (V12; 0 without a
/// limit), a floor above the limit's, a reserve with a limit.
const FLOOR: &str = "
    SELECT id::text, count(*) OVER () FROM accounts
    WHERE (kind = 'customer' AND balance::numeric - held < floor)
       OR floor > -overdraft
       OR (kind = 'reserve' AND (overdraft <> 0 OR floor <> 0))
    LIMIT $1";

/// Accounts whose held amount is not the sum of their open pending transfers.
const HELD: &str = "
    WITH open AS (
        SELECT from_account_id AS id, sum(amount)::bigint AS held
        FROM transfers WHERE status = 'pending' GROUP BY from_account_id)
    SELECT a.id::text, count(*) OVER ()
    FROM accounts a LEFT JOIN open o ON o.id = a.id
    WHERE a.held <> COALESCE(o.held, 0)
    LIMIT $1";

/// The legs above `$1` (every leg when it is 0), signed, with the balance right after each: the
/// window both the balance and the chain checks read. One text for both.
macro_rules! legs_above {
    () => {
        "legs AS (
        SELECT id, from_account_id AS account_id, -amount AS amount,
               from_balance_after AS balance_after
        FROM transfers WHERE id > $1 AND from_balance_after IS NOT NULL
        UNION ALL
        SELECT id, to_account_id, amount, to_balance_after
        FROM transfers WHERE id > $1 AND to_balance_after IS NOT NULL)"
    };
}

/// Accounts (those with a leg above $1; all when $1 is 0) whose balance is not the
/// `balance_after` of their last leg (0 without legs). A touched account's last leg is above $1,
/// so the legs above $1 alone decide: one scan and one sort of them, and no lookup per account.
/// (A lookup per account, "its newest leg by id", was planned as a backward scan of the whole
/// table once a few hot accounts held most rows: 94 and 105 s per audit in scripts/bench,
/// a core taken from the transfers measured.)
const BALANCE: &str = concat!(
    "
    WITH ",
    legs_above!(),
    ",
    last AS (
        SELECT DISTINCT ON (account_id) account_id, balance_after
        FROM legs ORDER BY account_id, id DESC)
    SELECT a.id::text, count(*) OVER ()
    FROM accounts a LEFT JOIN last l ON l.account_id = a.id
    WHERE ($1 = 0 OR l.account_id IS NOT NULL)
      AND a.balance <> COALESCE(l.balance_after, 0)
    LIMIT $2"
);
/// Legs above $1 whose `balance_after` is not the previous leg's plus their amount: the chain
/// of running balances has a gap. An account's first leg in the window follows its newest leg
/// at or below $1 (none in a full audit), found by one descent of each side's account index:
/// the greatest (account, id) at or below (the account, $1), kept if it is the account's. That
/// order only the account indexes give, so the lookup cannot become a backward scan of the
/// primary key filtered by account, as `account = … ORDER BY id DESC LIMIT 1` was planned once
/// statistics put most rows on a few accounts (the whole table for each account without a
/// recent leg: over 300 s for a window of 20,000 transfers; design.md, "The auditor was in
/// every measurement").
const CHAIN: &str = concat!(
    "
    WITH ",
    legs_above!(),
    ",
    chained AS (
        SELECT account_id, id, amount, balance_after,
               lag(balance_after) OVER (PARTITION BY account_id ORDER BY id) AS previous
        FROM legs)
    SELECT c.account_id::text || '@' || c.id::text, count(*) OVER ()
    FROM chained c
    WHERE c.balance_after <> c.amount + COALESCE(c.previous, (
        SELECT before.balance_after FROM (
            (SELECT id, from_account_id AS account_id, from_balance_after AS balance_after
             FROM transfers
             WHERE $1 > 0 AND (from_account_id, id) <= (c.account_id, $1)
               AND from_balance_after IS NOT NULL
             ORDER BY from_account_id DESC, id DESC LIMIT 1)
            UNION ALL
            (SELECT id, to_account_id, to_balance_after
             FROM transfers
             WHERE $1 > 0 AND (to_account_id, id) <= (c.account_id, $1)
               AND to_balance_after IS NOT NULL
             ORDER BY to_account_id DESC, id DESC LIMIT 1)
        ) before
        WHERE before.account_id = c.account_id
        ORDER BY before.id DESC LIMIT 1), 0)
    LIMIT $2"
);

/// Cached (id, balance) pairs that are neither the account's balance nor a balance it had.
const CACHED: &str = "
    SELECT c.id::text, count(*) OVER ()
    FROM unnest($1::bigint[], $2::bigint[]) AS c(id, balance)
    JOIN accounts a ON a.id = c.id
    WHERE a.balance <> c.balance AND c.balance <> 0
      AND NOT EXISTS (SELECT 1 FROM transfers t
                      WHERE t.from_account_id = c.id AND t.from_balance_after = c.balance)
      AND NOT EXISTS (SELECT 1 FROM transfers t
                      WHERE t.to_account_id = c.id AND t.to_balance_after = c.balance)
    LIMIT $3";

/// What one audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Whether every leg was checked, not only those above the watermark.
    pub full: bool,
    /// Violations per invariant (every name of `INVARIANTS`, 0 included).
    pub violations: BTreeMap<&'static str, i64>,
}

impl AuditReport {
    pub fn total(&self) -> i64 {
        self.violations.values().sum()
    }
}

/// Why no audit ran.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    /// Another replica is auditing now.
    #[error("another replica holds the audit lock")]
    Busy,
    #[error("the audit failed: {0}")]
    Failed(String),
}

/// The auditor's metrics, registered with the engine's.
#[derive(Clone)]
pub struct AuditMetrics {
    violations: IntGaugeVec,
    last_success_timestamp_seconds: Gauge,
}

impl AuditMetrics {
    fn register(registry: &prometheus::Registry) -> AuditMetrics {
        let violations = IntGaugeVec::new(
            Opts::new(
                "tally_audit_violations",
                "Violations the last audit found, per invariant (0 is healthy).",
            ),
            &["invariant"],
        )
        .expect("a valid metric");
        let last_success_timestamp_seconds = Gauge::new(
            "tally_audit_last_success_timestamp_seconds",
            "When an audit last completed (on this replica), in Unix seconds.",
        )
        .expect("a valid metric");
        for invariant in INVARIANTS {
            violations.with_label_values(&[invariant]).set(0);
        }
        // A second engine on the same registry (never in production) keeps the first's gauges.
        let _ = registry.register(Box::new(violations.clone()));
        let _ = registry.register(Box::new(last_success_timestamp_seconds.clone()));
        AuditMetrics {
            violations,
            last_success_timestamp_seconds,
        }
    }

    fn record(&self, report: &AuditReport) {
        for (invariant, count) in &report.violations {
            self.violations.with_label_values(&[invariant]).set(*count);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        self.last_success_timestamp_seconds.set(now);
    }
}

/// Audits every `interval` for as long as the engine lives. A replica that finds the lock
/// taken skips its turn; its metrics keep what it found last.
pub fn start(engine: &Engine, interval: Duration) {
    assert!(!interval.is_zero(), "the audit interval is above zero");
    let metrics = AuditMetrics::register(engine.metrics_registry());
    let weak = std::sync::Arc::downgrade(&engine.inner);
    tokio::spawn(async move {
        // The first audit waits one interval: a replica starting up has other work first.
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let engine = Engine { inner };
            match audit(&engine).await {
                Ok(report) => {
                    metrics.record(&report);
                    log_report(&report);
                }
                Err(AuditError::Busy) => {}
                Err(error) => tracing::warn!(%error, "the audit failed; retrying next interval"),
            }
        }
    });
}

fn log_report(report: &AuditReport) {
    if report.total() > 0 {
        tracing::error!(violations = ?report.violations, full = report.full, "the audit found violated invariants");
    } else {
        tracing::debug!(full = report.full, "the audit found every invariant held");
    }
}

/// One audit now: the invariants in one snapshot, the watermark moved, the report returned.
pub async fn audit(engine: &Engine) -> Result<AuditReport, AuditError> {
    // Read before the snapshot is taken: every balance an actor settled is committed by then.
    let cached = cached_balances(engine).await;
    let pool: &Pool = &engine.inner.pool;
    let mut client = pool
        .get()
        .await
        .map_err(|e| AuditError::Failed(e.to_string()))?;
    let transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(|e| AuditError::Failed(describe(&e)))?;
    let locked: bool = query_one(
        &transaction,
        "SELECT pg_try_advisory_xact_lock($1)",
        &[&AUDIT_LOCK_KEY],
    )
    .await?
    .get(0);
    if !locked {
        return Err(AuditError::Busy);
    }
    // The legs above the watermark are sorted in memory (30 s of a busy ledger is ~10^5 rows),
    // not in temporary files; for this transaction only.
    transaction
        .batch_execute(AUDIT_WORK_MEM)
        .await
        .map_err(|e| AuditError::Failed(describe(&e)))?;
    let report = audit_in(&transaction, &cached).await?;
    transaction
        .commit()
        .await
        .map_err(|e| AuditError::Failed(describe(&e)))?;
    Ok(report)
}

/// The committed balances of up to `CACHED_ACCOUNTS_MAX` of this replica's account actors,
/// `CACHED_READS_IN_FLIGHT_MAX` asked at a time.
async fn cached_balances(engine: &Engine) -> (Vec<AccountId>, Vec<i64>) {
    let handles = engine.inner.registry.handles();
    stream::iter(handles.into_iter().take(CACHED_ACCOUNTS_MAX))
        .map(cached_balance)
        .buffer_unordered(CACHED_READS_IN_FLIGHT_MAX)
        .filter_map(future::ready)
        .unzip()
        .await
}

/// One actor's committed balance, asked of its actor directly: not through the registry, so the
/// audit does not count as a use in its least-recently-used order. A busy (full mailbox),
/// passivated or unloaded actor is skipped: it is checked again next time.
async fn cached_balance(handle: AccountHandle) -> Option<(AccountId, i64)> {
    let answer = Snapshot::ask(&handle.addr, false)?;
    match answer.await {
        Ok(SnapshotReply::Account(snapshot)) => Some((snapshot.id, snapshot.balance)),
        Ok(SnapshotReply::Retired | SnapshotReply::Unavailable) | Err(_) => None,
    }
}

async fn audit_in(
    transaction: &Transaction<'_>,
    cached: &(Vec<AccountId>, Vec<i64>),
) -> Result<AuditReport, AuditError> {
    // Read without a row lock: the advisory lock already makes this the only auditor, and a
    // row lock would give the transaction an xid for the whole audit, which the event
    // numbering's watermark waits for (the change stream stood still for as long as an audit
    // ran). The xid comes with the closing UPDATE only.
    let state = query_one(
        transaction,
        "SELECT watermark_id, seen_id, last_full_at IS NULL OR last_full_at < now() - make_interval(secs => $1),
                full_violations::text
         FROM audit_state WHERE id = 1",
        &[&FULL_AUDIT_INTERVAL.as_secs_f64()],
    )
    .await?;
    let (watermark_id, seen_id, full): (i64, i64, bool) =
        (state.get(0), state.get(1), state.get(2));
    let full_before: BTreeMap<String, i64> =
        serde_json::from_str(state.get::<_, &str>(3)).unwrap_or_default();
    let from_id = if full { 0 } else { watermark_id };
    let max_id: i64 = query_one(
        transaction,
        "SELECT COALESCE(max(id), 0) FROM transfers",
        &[],
    )
    .await?
    .get(0);
    let logged = LOGGED_ACCOUNTS_MAX;
    let mut violations = BTreeMap::new();
    violations.insert(
        "conservation",
        check(transaction, "conservation", CONSERVATION, &[&logged]).await?,
    );
    violations.insert(
        "floor",
        check(transaction, "floor", FLOOR, &[&logged]).await?,
    );
    violations.insert(
        "held_matches_pending",
        check(transaction, "held_matches_pending", HELD, &[&logged]).await?,
    );
    violations.insert(
        "balance_matches_legs",
        check(
            transaction,
            "balance_matches_legs",
            BALANCE,
            &[&from_id, &logged],
        )
        .await?,
    );
    violations.insert(
        "legs_chain",
        check(transaction, "legs_chain", CHAIN, &[&from_id, &logged]).await?,
    );
    violations.insert(
        "cached_balance",
        check(
            transaction,
            "cached_balance",
            CACHED,
            &[&cached.0, &cached.1, &logged],
        )
        .await?,
    );
    // What only a full audit can see stays reported until a full audit finds it gone.
    if !full {
        for invariant in ["balance_matches_legs", "legs_chain"] {
            let before = full_before.get(invariant).copied().unwrap_or(0);
            let count = violations
                .get_mut(invariant)
                .expect("every invariant is counted");
            *count = (*count).max(before);
        }
    }
    save_state(
        transaction,
        full,
        seen_id.max(watermark_id),
        max_id,
        &violations,
    )
    .await?;
    Ok(AuditReport { full, violations })
}

async fn save_state(
    transaction: &Transaction<'_>,
    full: bool,
    watermark_id: i64,
    seen_id: i64,
    violations: &BTreeMap<&'static str, i64>,
) -> Result<(), AuditError> {
    let violations_json = serde_json::to_string(violations).expect("a map of counts serialises");
    transaction
        .execute(
            "UPDATE audit_state
             SET watermark_id = $1, seen_id = $2, last_success_at = now(),
                 last_full_at = CASE WHEN $3 THEN now() ELSE last_full_at END,
                 full_violations = CASE WHEN $3 THEN $4::text::jsonb ELSE full_violations END
             WHERE id = 1",
            &[&watermark_id, &seen_id, &full, &violations_json],
        )
        .await
        .map_err(|e| AuditError::Failed(describe(&e)))?;
    Ok(())
}

/// Runs one check: its violations counted, the first few named in the log.
async fn check(
    transaction: &Transaction<'_>,
    invariant: &'static str,
    sql: &str,
    parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<i64, AuditError> {
    let rows = transaction
        .query(sql, parameters)
        .await
        .map_err(|e| AuditError::Failed(format!("{invariant}: {}", describe(&e))))?;
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let count: i64 = first.get(1);
    let named: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    tracing::error!(invariant, count, examples = ?named, "an invariant is violated");
    Ok(count)
}

async fn query_one(
    transaction: &Transaction<'_>,
    sql: &str,
    parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<tokio_postgres::Row, AuditError> {
    transaction
        .query_one(sql, parameters)
        .await
        .map_err(|e| AuditError::Failed(describe(&e)))
}
