//! The `login_failures` table: failed logins per subject (a username from an address, an
//! address, a username) in the subject's current window, shared by every replica. Returns its
//! own types; `auth::limiter` decides what they mean.

use std::time::Duration;

use deadpool_postgres::Pool;

/// A count never goes above this (a subject refused long ago keeps no growing number).
const FAILURES_COUNTED_MAX: i32 = 1_000_000;

/// A subject's window after counting one more attempt in it.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedWindow {
    pub subject: String,
    /// Attempts counted in the window, this one included.
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

/// Counts an attempt for each of `subjects` in its window (a new window when the last one
/// ended), in one statement, so concurrent attempts on any replica each count. Rows are
/// written in subject order, so concurrent attempts never deadlock.
pub async fn count_attempt(
    pool: &Pool,
    subjects: &[String],
    window: Duration,
) -> Result<Vec<CountedWindow>, LoginFailureStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "INSERT INTO login_failures AS f (subject, window_started_at, failures)
             SELECT subject, now(), 1 FROM unnest($1::text[]) AS subject ORDER BY subject
             ON CONFLICT (subject) DO UPDATE SET
                 window_started_at = CASE
                     WHEN f.window_started_at <= now() - make_interval(secs => $2) THEN now()
                     ELSE f.window_started_at END,
                 failures = CASE
                     WHEN f.window_started_at <= now() - make_interval(secs => $2) THEN 1
                     ELSE LEAST(f.failures + 1, $3) END
             RETURNING subject, failures, GREATEST(0, EXTRACT(EPOCH FROM
                 window_started_at + make_interval(secs => $2) - now()))::float8 AS remaining",
        )
        .await?;
    let rows = client
        .query(
            &statement,
            &[&subjects, &window.as_secs_f64(), &FAILURES_COUNTED_MAX],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let remaining: f64 = row.try_get("remaining")?;
            Ok(CountedWindow {
                subject: row.try_get("subject")?,
                failures: row.try_get("failures")?,
                remaining: Duration::try_from_secs_f64(remaining).unwrap_or(Duration::ZERO),
            })
        })
        .collect()
}

/// Takes back one counted attempt of each of `subjects` (refused, or ended in neither success
/// nor failure, or a success from a shared address).
pub async fn uncount_attempt(
    pool: &Pool,
    subjects: &[String],
) -> Result<(), LoginFailureStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "UPDATE login_failures SET failures = failures - 1
             WHERE subject IN (SELECT subject FROM login_failures
                               WHERE subject = ANY($1) AND failures > 0
                               ORDER BY subject FOR UPDATE)",
        )
        .await?;
    client.execute(&statement, &[&subjects]).await?;
    Ok(())
}

/// Forgets `subjects`' failures (a successful login).
pub async fn forgive(pool: &Pool, subjects: &[String]) -> Result<(), LoginFailureStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "DELETE FROM login_failures
             WHERE subject IN (SELECT subject FROM login_failures WHERE subject = ANY($1)
                               ORDER BY subject FOR UPDATE)",
        )
        .await?;
    client.execute(&statement, &[&subjects]).await?;
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
            "DELETE FROM login_failures WHERE subject IN (
                 SELECT subject FROM login_failures
                 WHERE window_started_at < now() - make_interval(secs => $1)
                 ORDER BY window_started_at LIMIT $2
             )",
        )
        .await?;
    Ok(client
        .execute(&statement, &[&window.as_secs_f64(), &rows_max])
        .await?)
}
