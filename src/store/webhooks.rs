//! The `webhooks` table: targets, their delivery cursors and leases (design.md "Webhooks").

use std::time::Duration;

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

/// A webhook as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub types: Option<Vec<String>>,
    pub status: String,
    pub delivered_id: i64,
    pub failures: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: OffsetDateTime,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

/// A webhook a replica holds the lease of, with what it needs to deliver.
#[derive(Debug, Clone)]
pub struct Leased {
    pub id: i64,
    pub url: String,
    pub types: Option<Vec<String>>,
    pub secret: String,
    pub delivered_id: i64,
    pub failures: i32,
}

const COLUMNS: &str = "id, url, types, status, delivered_id, failures, last_error,
    next_attempt_at, created_by, created_at";

fn webhook(row: &Row) -> Webhook {
    Webhook {
        id: row.get("id"),
        url: row.get("url"),
        types: row.get("types"),
        status: row.get("status"),
        delivered_id: row.get("delivered_id"),
        failures: row.get("failures"),
        last_error: row.get("last_error"),
        next_attempt_at: row.get("next_attempt_at"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
    }
}

/// Inserts a webhook starting after the newest numbered event, unless `webhooks_max` exist
/// already (None then).
pub async fn insert(
    pool: &Pool,
    url: &str,
    types: Option<&[String]>,
    secret: &str,
    created_by: &str,
    webhooks_max: i64,
) -> Result<Option<Webhook>, StoreError> {
    let client = pool.get().await?;
    let sql = format!(
        "INSERT INTO webhooks (url, types, secret, created_by, delivered_id)
         SELECT $1, $2, $3, $4, (SELECT max(event_id) FROM event_marks)
         WHERE (SELECT count(*) FROM webhooks) < $5
         RETURNING {COLUMNS}"
    );
    let row = client
        .query_opt(&sql, &[&url, &types, &secret, &created_by, &webhooks_max])
        .await?;
    Ok(row.as_ref().map(webhook))
}

pub async fn list(pool: &Pool, limit: i64) -> Result<Vec<Webhook>, StoreError> {
    let client = pool.get().await?;
    let sql = format!("SELECT {COLUMNS} FROM webhooks ORDER BY id LIMIT $1");
    let rows = client.query(&sql, &[&limit]).await?;
    Ok(rows.iter().map(webhook).collect())
}

pub async fn find(pool: &Pool, id: i64) -> Result<Option<Webhook>, StoreError> {
    let client = pool.get().await?;
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1");
    Ok(client.query_opt(&sql, &[&id]).await?.as_ref().map(webhook))
}

pub async fn delete(pool: &Pool, id: i64) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let deleted = client
        .execute("DELETE FROM webhooks WHERE id = $1", &[&id])
        .await?;
    Ok(deleted == 1)
}

/// Leases up to `limit` due, active webhooks no replica holds and behind event `head`, for
/// `lease`.
pub async fn lease_due(
    pool: &Pool,
    owner: Uuid,
    lease: Duration,
    limit: i64,
    head: i64,
) -> Result<Vec<Leased>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "UPDATE webhooks w SET lease_owner = $1,
                 lease_until = now() + make_interval(secs => $2)
             WHERE w.id IN (
                 SELECT id FROM webhooks
                 WHERE status = 'active' AND next_attempt_at <= now()
                   AND (lease_until IS NULL OR lease_until < now()) AND delivered_id < $4
                 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING w.id, w.url, w.types, w.secret, w.delivered_id, w.failures",
            &[&owner, &lease.as_secs_f64(), &limit, &head],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Leased {
            id: row.get(0),
            url: row.get(1),
            types: row.get(2),
            secret: row.get(3),
            delivered_id: row.get(4),
            failures: row.get(5),
        })
        .collect())
}

/// Moves the cursor (a delivery acknowledged, or events skipped) and renews the lease; false
/// when this replica no longer holds it.
pub async fn advance(
    pool: &Pool,
    id: i64,
    owner: Uuid,
    delivered_id: i64,
    lease: Duration,
) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let updated = client
        .execute(
            "UPDATE webhooks SET delivered_id = GREATEST(delivered_id, $3), failures = 0,
                 failing_since = NULL, last_error = NULL,
                 lease_until = now() + make_interval(secs => $4)
             WHERE id = $1 AND lease_owner = $2",
            &[&id, &owner, &delivered_id, &lease.as_secs_f64()],
        )
        .await?;
    Ok(updated == 1)
}

/// A failed delivery: the next attempt after `retry_in`, paused once it has failed for
/// `give_up_after`; the lease is given back.
pub async fn fail(
    pool: &Pool,
    id: i64,
    owner: Uuid,
    error: &str,
    retry_in: Duration,
    give_up_after: Duration,
) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE webhooks SET failures = failures + 1,
                 failing_since = COALESCE(failing_since, now()), last_error = $3,
                 next_attempt_at = now() + make_interval(secs => $4),
                 status = CASE WHEN COALESCE(failing_since, now())
                                    <= now() - make_interval(secs => $5)
                               THEN 'paused' ELSE status END,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND lease_owner = $2",
            &[
                &id,
                &owner,
                &error,
                &retry_in.as_secs_f64(),
                &give_up_after.as_secs_f64(),
            ],
        )
        .await?;
    Ok(())
}

/// Gives the lease back.
pub async fn release(pool: &Pool, id: i64, owner: Uuid) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND lease_owner = $2",
            &[&id, &owner],
        )
        .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
}

impl From<StoreError> for crate::error::ApiError {
    fn from(error: StoreError) -> crate::error::ApiError {
        match error {
            StoreError::Pool(error) => error.into(),
            StoreError::Database(error) => error.into(),
        }
    }
}
