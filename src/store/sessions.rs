use deadpool_postgres::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Role, Username};
use crate::error::ApiError;

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
pub struct Session {
    pub id: Uuid,
    pub username: String,
    pub refresh_token_id: Uuid,
    pub is_blocked: bool,
    pub expires_at: OffsetDateTime,
    pub role: Role,
}

pub async fn insert_session(pool: &Pool, session: &NewSession<'_>) -> Result<(), ApiError> {
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

pub async fn find_session(pool: &Pool, id: Uuid) -> Result<Option<Session>, ApiError> {
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
    Ok(Some(Session {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        refresh_token_id: row.try_get("refresh_token_id")?,
        is_blocked: row.try_get("is_blocked")?,
        expires_at: row.try_get("expires_at")?,
        role: role
            .parse()
            .map_err(|error: String| ApiError::internal(anyhow::anyhow!(error)))?,
    }))
}

/// Blocks `username`'s session `id`, so its refresh token stops working. Idempotent.
pub async fn block_session(pool: &Pool, id: Uuid, username: &Username) -> Result<(), ApiError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("UPDATE sessions SET is_blocked = true WHERE id = $1 AND username = $2")
        .await?;
    client
        .execute(&statement, &[&id, &username.as_str()])
        .await?;
    Ok(())
}
