use deadpool_postgres::Pool;
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use crate::domain::{NewUser, Role, Username};
use crate::error::ApiError;

/// A user as API.md shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub password_changed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

const USER_COLUMNS: &str = "username, full_name, email, role, password_changed_at, created_at";

impl TryFrom<&Row> for User {
    type Error = ApiError;

    fn try_from(row: &Row) -> Result<User, ApiError> {
        let role: String = row.try_get("role")?;
        Ok(User {
            username: row.try_get("username")?,
            full_name: row.try_get("full_name")?,
            email: row.try_get("email")?,
            role: role
                .parse()
                .map_err(|error: String| ApiError::internal(anyhow::anyhow!(error)))?,
            password_changed_at: row.try_get("password_changed_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Inserts a user; 409 `conflict` when the username or the email is taken.
pub async fn insert_user(
    pool: &Pool,
    new_user: &NewUser,
    hashed_password: &str,
    role: Role,
) -> Result<User, ApiError> {
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
        .map_err(conflict_or_other)?;
    User::try_from(&row)
}

fn conflict_or_other(error: tokio_postgres::Error) -> ApiError {
    let Some(database_error) = error.as_db_error() else {
        return error.into();
    };
    if database_error.code() != &SqlState::UNIQUE_VIOLATION {
        return error.into();
    }
    match database_error.constraint() {
        Some("users_email_key") => {
            ApiError::Conflict("a user with this email already exists".to_owned())
        }
        _ => ApiError::Conflict("this username is already taken".to_owned()),
    }
}

pub async fn find_user(pool: &Pool, username: &Username) -> Result<Option<User>, ApiError> {
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
        .map(User::try_from)
        .transpose()
}

/// The user and their password hash, for a login.
pub async fn find_user_with_hash(
    pool: &Pool,
    username: &Username,
) -> Result<Option<(User, String)>, ApiError> {
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
        User::try_from(&row)?,
        row.try_get("hashed_password")?,
    )))
}
