//! Reads that may come from a replica (`database.read_url`): statements, balances at an instant,
//! transfer lists and account lists. A replica serves them only while its measured replay lag is
//! under `database.read_max_lag`; otherwise, or when it cannot be reached, the primary does.
//! Writes, and every read that authorises a write, always go to the primary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use prometheus::{Gauge, Opts};

/// How often the replica's lag is measured.
pub const LAG_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// The lag recorded while it cannot be measured: above any `read_max_lag`.
const LAG_UNKNOWN_MS: u64 = u64::MAX;

/// Seconds the replica's replay is behind: 0 when it has replayed all it received (an idle
/// primary sends nothing, and the last replayed commit's age is no lag), else the age of the
/// last replayed commit. A server not in recovery (a promoted replica, or a primary given as
/// read URL) has no lag.
const REPLAY_LAG: &str = "
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
    END::float8";

/// `tally_replica_lag_seconds`, registered in `registry`: 0 until a read replica is started
/// (without one every read is on the primary).
pub fn lag_gauge(registry: &prometheus::Registry) -> Gauge {
    let gauge = Gauge::with_opts(Opts::new(
        "tally_replica_lag_seconds",
        "Replay lag of the read replica (database.read_url); -1 while it cannot be measured, 0 without one.",
    ))
    .expect("a valid metric");
    // A second engine on the same registry (never in production) keeps the first's gauge.
    let _ = registry.register(Box::new(gauge.clone()));
    gauge
}

/// A read replica's pool and its last measured lag.
#[derive(Clone)]
pub struct ReadReplica {
    pub(crate) pool: Pool,
    max_lag: Duration,
    lag_ms: Arc<AtomicU64>,
}

impl ReadReplica {
    /// Measures the replica's lag every `LAG_CHECK_INTERVAL` from now on, into `gauge` (see
    /// [`lag_gauge`]; -1 while it cannot be measured).
    pub fn start(pool: Pool, max_lag: Duration, gauge: Gauge) -> ReadReplica {
        let replica = ReadReplica {
            pool,
            max_lag,
            lag_ms: Arc::new(AtomicU64::new(LAG_UNKNOWN_MS)),
        };
        gauge.set(-1.0);
        let pool = replica.pool.clone();
        let lag_ms = Arc::downgrade(&replica.lag_ms);
        // Measures for as long as the replica is in use (the engine holds it).
        tokio::spawn(async move {
            loop {
                let lag_s = measure(&pool).await;
                let Some(lag_ms) = lag_ms.upgrade() else {
                    return;
                };
                let measured_ms = lag_s.map_or(LAG_UNKNOWN_MS, |s| (s.max(0.0) * 1000.0) as u64);
                lag_ms.store(measured_ms, Ordering::Relaxed);
                gauge.set(lag_s.unwrap_or(-1.0));
                drop(lag_ms);
                tokio::time::sleep(LAG_CHECK_INTERVAL).await;
            }
        });
        replica
    }

    /// Whether the replica is fresh enough to answer reads now.
    pub fn fresh(&self) -> bool {
        let lag_ms = self.lag_ms.load(Ordering::Relaxed);
        lag_ms != LAG_UNKNOWN_MS && u128::from(lag_ms) < self.max_lag.as_millis()
    }
}

async fn measure(pool: &Pool) -> Option<f64> {
    let client = pool.get().await.ok()?;
    let row = client.query_one(REPLAY_LAG, &[]).await.ok()?;
    Some(row.get(0))
}
