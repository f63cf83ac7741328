//! The `login_failures` table: failed logins per username in the current window, shared by
//! every replica. Returns its own types; `auth::limiter` decides what they mean.

use std::time::Duration;

use deadpool_postgres::Pool;

/// A username's window after counting one more attempt in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountedWindow {
    /// Attempts counted in the window, this one included; never above `failures_max + 1`.
    pub failures: i32,
    /// Until the window ends.
    pub remaining: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginFailureStoreError {
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
}

/// Counts an attempt for `username` in its window (a new window when the last one ended),
/// atomically, so concurrent attempts on any replica each count. Once the count passes
/// `failures_max` it stays at `failures_max + 1`.
pub async fn count_attempt(
    pool: &Pool,
    username: &str,
    window: Duration,
    failures_max: u32,
) -> Result<CountedWindow, LoginFailureStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "INSERT INTO login_failures AS f (username, window_started_at, failures)
             VALUES ($1, now(), 1)
             ON CONFLICT (username) DO UPDATE SET
                 window_started_at = CASE
                     WHEN f.window_started_at <= now() - make_interval(secs => $2) THEN now()
                     ELSE f.window_started_at END,
                 failures = CASE
                     WHEN f.window_started_at <= now() - make_interval(secs => $2) THEN 1
                     ELSE LEAST(f.failures + 1, $3 + 1) END
             RETURNING failures, GREATEST(0, EXTRACT(EPOCH FROM
                 window_started_at + make_interval(secs => $2) - now()))::float8 AS remaining",
        )
        .await?;
    let failures_max = i32::try_from(failures_max).unwrap_or(i32::MAX - 1);
    let row = client
        .query_one(
            &statement,
            &[&username, &window.as_secs_f64(), &failures_max],
        )
        .await?;
    let remaining: f64 = row.try_get("remaining")?;
    Ok(CountedWindow {
        failures: row.try_get("failures")?,
        remaining: Duration::try_from_secs_f64(remaining).unwrap_or(Duration::ZERO),
    })
}

/// Takes back one counted attempt that ended in neither success nor failure (e.g. the
/// password check was refused for load).
pub async fn uncount_attempt(pool: &Pool, username: &str) -> Result<(), LoginFailureStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "UPDATE login_failures SET failures = failures - 1
             WHERE username = $1 AND failures > 0",
        )
        .await?;
    client.execute(&statement, &[&username]).await?;
    Ok(())
}

/// Forgets `username`'s failures (a successful login).
pub async fn forgive(pool: &Pool, username: &str) -> Result<(), LoginFailureStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("DELETE FROM login_failures WHERE username = $1")
        .await?;
    client.execute(&statement, &[&username]).await?;
    Ok(())
}

/// Deletes up to `rows_max` windows that ended more than `window` ago; returns how many.
pub async fn purge_ended(
    pool: &Pool,
    window: Duration,
    rows_max: i64,
) -> Result<u64, LoginFailureStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "DELETE FROM login_failures WHERE username IN (
                 SELECT username FROM login_failures
                 WHERE window_started_at < now() - make_interval(secs => $1)
                 ORDER BY window_started_at LIMIT $2
             )",
        )
        .await?;
    Ok(client
        .execute(&statement, &[&window.as_secs_f64(), &rows_max])
        .await?)
}
