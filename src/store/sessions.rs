//! The `sessions` table: one row per login, what refresh tokens and logouts are checked against.
//! Returns its own row type and error; routes decide what a caller sees.

use std::time::Duration;

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Role, Username};

/// The channel a logout notifies with the session id, so every replica refuses its access
/// tokens at once (see `auth::revocation`).
pub const BLOCKED_CHANNEL: &str = "tally_session_blocked";

/// A login's session: what its refresh token is checked against.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id: Uuid,
    pub username: &'a Username,
    pub refresh_token_id: Uuid,
    pub user_agent: &'a str,
    pub client_ip: &'a str,
    pub expires_at: OffsetDateTime,
}

/// A stored session and its user's current role (a renewed access token carries the role the
/// user has now, not the one they had at login).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: Uuid,
    pub username: String,
    pub refresh_token_id: Uuid,
    pub is_blocked: bool,
    pub expires_at: OffsetDateTime,
    pub role: Role,
}

/// Sessions blocked since some instant, in blocking order, with the database's clock.
#[derive(Debug, Clone)]
pub struct BlockedSince {
    pub sessions: Vec<(Uuid, OffsetDateTime)>,
    /// The database's clock when it answered.
    pub database_now: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// A row the schema should have made impossible (e.g. an unknown role).
    #[error("a malformed sessions row: {0}")]
    Malformed(String),
}

pub async fn insert_session(
    pool: &Pool,
    session: &NewSession<'_>,
) -> Result<(), SessionStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "INSERT INTO sessions (id, username, refresh_token_id, user_agent, client_ip, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &session.id,
                &session.username.as_str(),
                &session.refresh_token_id,
                &session.user_agent,
                &session.client_ip,
                &session.expires_at,
            ],
        )
        .await?;
    Ok(())
}

pub async fn find_session(pool: &Pool, id: Uuid) -> Result<Option<SessionRow>, SessionStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT s.id, s.username, s.refresh_token_id, s.is_blocked, s.expires_at, u.role
             FROM sessions s JOIN users u ON u.username = s.username
             WHERE s.id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&id]).await? else {
        return Ok(None);
    };
    let role: String = row.try_get("role")?;
    Ok(Some(SessionRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        refresh_token_id: row.try_get("refresh_token_id")?,
        is_blocked: row.try_get("is_blocked")?,
        expires_at: row.try_get("expires_at")?,
        role: role.parse().map_err(SessionStoreError::Malformed)?,
    }))
}

/// Blocks `username`'s session `id`, so its refresh token stops working, and notifies every
/// replica (on commit) so its access tokens do too. Idempotent: the first block time stays. The
/// notice goes out even when the row is gone (purged or deleted): the caller's access token is
/// alive, and every replica must refuse it.
pub async fn block_session(
    pool: &Pool,
    id: Uuid,
    username: &Username,
) -> Result<(), SessionStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "WITH blocked AS (
                 UPDATE sessions SET is_blocked = true, blocked_at = COALESCE(blocked_at, now())
                 WHERE id = $1 AND username = $2
                 RETURNING id
             )
             SELECT pg_notify('{BLOCKED_CHANNEL}', CAST($1 AS uuid)::text)"
        ))
        .await?;
    client.query(&statement, &[&id, &username.as_str()]).await?;
    Ok(())
}

/// Up to `rows_max` sessions blocked at or after `since`, oldest block first.
pub async fn blocked_since(
    pool: &Pool,
    since: OffsetDateTime,
    rows_max: i64,
) -> Result<BlockedSince, SessionStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT id, blocked_at, statement_timestamp() AS database_now FROM sessions
             WHERE blocked_at >= $1 ORDER BY blocked_at LIMIT $2",
        )
        .await?;
    let rows = client.query(&statement, &[&since, &rows_max]).await?;
    let database_now = match rows.first() {
        Some(row) => row.try_get("database_now")?,
        None => client
            .query_one("SELECT statement_timestamp()", &[])
            .await?
            .try_get(0)?,
    };
    let sessions = rows
        .iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("blocked_at")?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(BlockedSince {
        sessions,
        database_now,
    })
}

/// Deletes up to `rows_max` sessions that expired more than `grace` ago (their refresh tokens
/// are dead, and so is every access token issued for them); returns how many. One bounded
/// statement, so a purge never holds locks on a large part of the table.
pub async fn purge_expired(
    pool: &Pool,
    grace: Duration,
    rows_max: i64,
) -> Result<u64, SessionStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions WHERE expires_at < now() - make_interval(secs => $1)
                 ORDER BY expires_at LIMIT $2
             )",
        )
        .await?;
    Ok(client
        .execute(&statement, &[&grace.as_secs_f64(), &rows_max])
        .await?)
}
