//! The `users` table. Returns its own row type and error; routes decide what a caller sees.

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use crate::domain::{NewUser, Role, Username};

/// A stored user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub role: Role,
    pub password_changed_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum UserStoreError {
    #[error("this username is already taken")]
    UsernameTaken,
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// A row the schema should have made impossible (e.g. an unknown role).
    #[error("a malformed users row: {0}")]
    Malformed(String),
}

const USER_COLUMNS: &str = "username, full_name, email, role, password_changed_at, created_at";

impl TryFrom<&Row> for UserRow {
    type Error = UserStoreError;

    fn try_from(row: &Row) -> Result<UserRow, UserStoreError> {
        let role: String = row.try_get("role")?;
        Ok(UserRow {
            username: row.try_get("username")?,
            full_name: row.try_get("full_name")?,
            email: row.try_get("email")?,
            role: role.parse().map_err(UserStoreError::Malformed)?,
            password_changed_at: row.try_get("password_changed_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Inserts a user; `UsernameTaken` or `EmailTaken` when either is in use.
pub async fn insert_user(
    pool: &Pool,
    new_user: &NewUser,
    hashed_password: &str,
    role: Role,
) -> Result<UserRow, UserStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "INSERT INTO users (username, hashed_password, full_name, email, role)
             VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        ))
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &new_user.username.as_str(),
                &hashed_password,
                &new_user.full_name.as_str(),
                &new_user.email.as_str(),
                &role.as_str(),
            ],
        )
        .await
        .map_err(taken_or_other)?;
    UserRow::try_from(&row)
}

fn taken_or_other(error: tokio_postgres::Error) -> UserStoreError {
    let unique_violation = error
        .as_db_error()
        .filter(|database_error| database_error.code() == &SqlState::UNIQUE_VIOLATION);
    match unique_violation.map(|database_error| database_error.constraint()) {
        None => error.into(),
        Some(Some("users_email_key")) => UserStoreError::EmailTaken,
        Some(_) => UserStoreError::UsernameTaken,
    }
}

pub async fn find_user(
    pool: &Pool,
    username: &Username,
) -> Result<Option<UserRow>, UserStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .await?;
    client
        .query_opt(&statement, &[&username.as_str()])
        .await?
        .as_ref()
        .map(UserRow::try_from)
        .transpose()
}

/// The user and their password hash, for a login.
pub async fn find_user_with_hash(
    pool: &Pool,
    username: &Username,
) -> Result<Option<(UserRow, String)>, UserStoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, hashed_password FROM users WHERE username = $1"
        ))
        .await?;
    let Some(row) = client.query_opt(&statement, &[&username.as_str()]).await? else {
        return Ok(None);
    };
    Ok(Some((
        UserRow::try_from(&row)?,
        row.try_get("hashed_password")?,
    )))
}
