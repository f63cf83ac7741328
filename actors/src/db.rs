//! The engine's few plain reads, with PostgreSQL's errors as one line each, and the wait for a
//! server that takes them while the primary changes.

use std::error::Error as _;
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool, PoolError};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// How long the engine waits for a server that takes its statements when the pool sets no
/// create timeout (it sets `database.connect_timeout`).
const SERVER_WAIT_DEFAULT: Duration = Duration::from_secs(5);
/// The pause between two attempts while no server takes statements.
pub(crate) const SERVER_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A database error as one line, with PostgreSQL's own message (tokio-postgres' `Display` says
/// only "db error").
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// Whether SQLSTATE `code` says the server took nothing: a connection exception (class 08), the
/// server shutting down, restarting or starting up (57P01-57P03), or a server that is no longer
/// the primary (25006, read-only), as while a leader changes.
pub(crate) fn sqlstate_server_unavailable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "25006")
}

/// Whether `error` is the server's or the connection's, not the statement's: no connection, a
/// connection lost, or a [server that took nothing](sqlstate_server_unavailable). Of what was
/// sent, only a COMMIT may have landed.
pub(crate) fn server_unavailable(error: &tokio_postgres::Error) -> bool {
    match error.as_db_error() {
        Some(db) => sqlstate_server_unavailable(db.code().code()),
        None => {
            error.is_closed()
                || error
                    .source()
                    .is_some_and(|source| source.is::<std::io::Error>())
        }
    }
}

/// How long to wait for a server that takes statements: the pool's create timeout
/// (`database.connect_timeout`), so a caller gets its 503 as late as a failed connect would.
pub(crate) fn server_wait(pool: &Pool) -> Duration {
    let timeouts = pool.timeouts();
    timeouts
        .create
        .or(timeouts.wait)
        .unwrap_or(SERVER_WAIT_DEFAULT)
}

/// Whether another attempt, after a pause, still starts before `deadline`.
pub(crate) fn may_retry(deadline: Instant) -> bool {
    Instant::now() + SERVER_RETRY_PAUSE < deadline
}

/// Why one attempt at a query failed: `retry` when the server took nothing.
struct Failed {
    reason: String,
    retry: bool,
}

impl Failed {
    fn database(error: &tokio_postgres::Error) -> Failed {
        Failed {
            reason: describe(error),
            retry: server_unavailable(error),
        }
    }
}

/// Runs one prepared (and cached) statement expecting at most one row (reads by key).
pub(crate) async fn query_opt(
    pool: &Pool,
    sql: &str,
    parameters: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, String> {
    Ok(query(pool, sql, parameters).await?.into_iter().next())
}

/// Runs one prepared (and cached) statement; every row. While no server takes it (the leader
/// changing: no connection, the server shutting down, a demoted server), it is sent again on
/// another connection for up to [`server_wait`]: every statement run here is a read or an insert
/// that does nothing the second time (`ON CONFLICT DO NOTHING`), so sending it twice is safe.
pub(crate) async fn query(
    pool: &Pool,
    sql: &str,
    parameters: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, String> {
    let deadline = Instant::now() + server_wait(pool);
    loop {
        match query_once(pool, sql, parameters).await {
            Ok(rows) => return Ok(rows),
            Err(failed) if failed.retry && may_retry(deadline) => {
                tokio::time::sleep(SERVER_RETRY_PAUSE).await;
            }
            Err(failed) => return Err(failed.reason),
        }
    }
}

async fn query_once(
    pool: &Pool,
    sql: &str,
    parameters: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Failed> {
    let client = pool.get().await.map_err(|error| match error {
        PoolError::Backend(error) => Failed::database(&error),
        error => Failed {
            reason: error.to_string(),
            retry: false,
        },
    })?;
    let outcome = match client.prepare_cached(sql).await {
        Ok(statement) => client.query(&statement, parameters).await,
        Err(error) => Err(error),
    };
    outcome.map_err(|error| {
        let failed = Failed::database(&error);
        if failed.retry {
            // Not back into the pool: a connection to a demoted server stays read-only.
            drop(Object::take(client));
        }
        failed
    })
}

#[cfg(test)]
mod tests {
    use super::sqlstate_server_unavailable;

    #[test]
    fn only_the_servers_states_mean_it_took_nothing() {
        for code in ["08006", "08001", "57P01", "57P02", "57P03", "25006"] {
            assert!(sqlstate_server_unavailable(code), "{code}");
        }
        // The statement's own failures: data, constraints, an aborted transaction, a deadlock.
        for code in ["22003", "23514", "25P02", "40P01", "42501", "57014"] {
            assert!(!sqlstate_server_unavailable(code), "{code}");
        }
    }
}
