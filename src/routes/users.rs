//! `POST /users`, `POST /users/login`, `POST /users/logout`, `GET /users/me`.

use std::net::IpAddr;

use actix_web::http::header::USER_AGENT;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{AuthenticatedUser, LoginRefused, TokenPurpose};
use crate::domain::{NewUser, Password, Role, Username};
use crate::error::{ApiError, ErrorBody};
use crate::net::client_address_of;
use crate::routes::body::Json;
use crate::startup::AppState;
use crate::store::sessions::{self, NewSession, SessionStoreError};
use crate::store::users::{self, UserRow, UserStoreError};

/// Longer user agents are cut: the header is the client's to fill, the row is ours to bound.
const USER_AGENT_CHARS_MAX: usize = 512;

/// A user as the API shows it (docs/api.md): never the password hash.
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

impl From<UserRow> for User {
    fn from(row: UserRow) -> User {
        User {
            username: row.username,
            full_name: row.full_name,
            email: row.email,
            role: row.role,
            password_changed_at: row.password_changed_at,
            created_at: row.created_at,
        }
    }
}

impl From<UserStoreError> for ApiError {
    fn from(error: UserStoreError) -> ApiError {
        match error {
            UserStoreError::UsernameTaken | UserStoreError::EmailTaken => {
                ApiError::Conflict(error.to_string())
            }
            UserStoreError::Pool(error) => error.into(),
            UserStoreError::Database(error) => error.into(),
            UserStoreError::Malformed(_) => ApiError::internal(error),
        }
    }
}

impl From<SessionStoreError> for ApiError {
    fn from(error: SessionStoreError) -> ApiError {
        match error {
            SessionStoreError::Pool(error) => error.into(),
            SessionStoreError::Database(error) => error.into(),
            SessionStoreError::Malformed(_) => ApiError::internal(error),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(pattern = "^[a-z0-9_]{3,64}$", min_length = 3, max_length = 64)]
    username: String,
    /// 8 to 72 bytes (JSON Schema counts characters, so only the upper bound is stated).
    #[schema(max_length = 72)]
    password: String,
    /// 1 to 100 characters once trimmed.
    #[schema(min_length = 1)]
    full_name: String,
    email: String,
}

/// 201 with the new user, a depositor; 409 when the username or email is taken.
#[utoipa::path(
    post, path = "/users", tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = User),
        (status = 400, description = "An invalid field (`validation_failed`)", body = ErrorBody),
        (status = 409, description = "Username or email taken (`conflict`)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ups and logins from this address", body = ErrorBody),
        (status = 503, description = "`unavailable`: the database or the password checks are saturated", body = ErrorBody),
    )
)]
pub async fn create_user(
    request: HttpRequest,
    body: Json<CreateUserRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let CreateUserRequest {
        username,
        password,
        full_name,
        email,
    } = body.into_inner();
    let new_user = NewUser::parse(username, password, full_name, email)?;
    admit_address(&state, &request)?;
    let hashed_password = state.passwords.hash(new_user.password.clone()).await?;
    let user =
        users::insert_user(&state.pool, &new_user, &hashed_password, Role::Depositor).await?;
    Ok(HttpResponse::Created().json(User::from(user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(pattern = "^[a-z0-9_]{3,64}$", min_length = 3, max_length = 64)]
    username: String,
    #[schema(max_length = 72)]
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    session_id: Uuid,
    access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    access_token_expires_at: OffsetDateTime,
    refresh_token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    refresh_token_expires_at: OffsetDateTime,
    user: User,
}

/// 200 with a new session's tokens; 401 `invalid_credentials` alike for an unknown user and a
/// wrong password; 429 `rate_limited` after too many failures for the username.
#[utoipa::path(
    post, path = "/users/login", tag = "users",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "`invalid_credentials`, alike for an unknown user and a wrong password", body = ErrorBody),
        (status = 429, description = "`rate_limited`: 10 failures in 5 minutes for this username, or too many logins from this address", body = ErrorBody),
        (status = 503, description = "`unavailable`: the database or the password checks are saturated", body = ErrorBody),
    )
)]
pub async fn login(
    request: HttpRequest,
    body: Json<LoginRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password } = body.into_inner();
    let username = Username::parse(username)?;
    let password = Password::parse(password)?;
    admit_address(&state, &request)?;
    let address = client_address_of(&request, &state.settings.http.trusted_proxies);
    let user = check_credentials(&state, &username, address, password).await?;
    let session = open_session(&state, &request, &username, user).await?;
    Ok(HttpResponse::Ok().json(session))
}

async fn check_credentials(
    state: &AppState,
    username: &Username,
    address: IpAddr,
    password: Password,
) -> Result<User, ApiError> {
    let attempt = state
        .login_limiter
        .begin(username.as_str(), address)
        .await
        .map_err(|refused| match refused {
            LoginRefused::RateLimited {
                reason,
                retry_after,
            } => {
                state.metrics.logins_rate_limited.inc();
                ApiError::RateLimited {
                    reason,
                    retry_after_seconds: retry_after.as_secs() + 1,
                }
            }
            // Never fail open: an attempt that cannot be counted is not made.
            LoginRefused::Uncounted(error) => ApiError::unavailable_database(error),
        })?;
    let (user, hashed_password) = users::find_user_with_hash(&state.pool, username)
        .await?
        .unzip();
    // Verified even for an unknown user (against a dummy hash), so both take as long.
    let matches = state.passwords.verify(password, hashed_password).await?;
    match user {
        Some(user) if matches => {
            tokio::time::sleep(attempt.succeeded().await).await;
            Ok(user.into())
        }
        _ => {
            state.metrics.login_failures.inc();
            tokio::time::sleep(attempt.failed()).await;
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Counts a password check (sign-up or login) against the client address's limit.
fn admit_address(state: &AppState, request: &HttpRequest) -> Result<(), ApiError> {
    let address = client_address_of(request, &state.settings.http.trusted_proxies);
    state.address_limiter.admit(address).map_err(|wait| {
        state.metrics.logins_rate_limited.inc();
        ApiError::RateLimited {
            reason: "too many sign-ups and logins from this address",
            retry_after_seconds: wait.as_secs() + 1,
        }
    })
}

async fn open_session(
    state: &AppState,
    request: &HttpRequest,
    username: &Username,
    user: User,
) -> Result<LoginResponse, ApiError> {
    let session_id = Uuid::new_v4();
    let refresh = state
        .tokens
        .issue(TokenPurpose::Refresh, username, user.role, session_id)?;
    let access = state
        .tokens
        .issue(TokenPurpose::Access, username, user.role, session_id)?;
    let client_ip = client_address_of(request, &state.settings.http.trusted_proxies).to_string();
    let user_agent: String = request
        .headers()
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(USER_AGENT_CHARS_MAX)
        .collect();
    let session = NewSession {
        id: session_id,
        username,
        refresh_token_id: refresh.payload.token_id,
        user_agent: &user_agent,
        client_ip: &client_ip,
        expires_at: refresh.payload.expires_at,
    };
    sessions::insert_session(&state.pool, &session).await?;
    Ok(LoginResponse {
        session_id,
        access_token: access.token,
        access_token_expires_at: access.payload.expires_at,
        refresh_token: refresh.token,
        refresh_token_expires_at: refresh.payload.expires_at,
        user,
    })
}

/// 204; blocks the caller's session: its refresh token and every access token issued for it
/// are refused, here at once and by every replica within a second (`auth::revocation`).
#[utoipa::path(
    post, path = "/users/logout", tag = "users", security(("bearer" = [])),
    responses((status = 204, description = "The session is blocked"), (status = 401, body = ErrorBody))
)]
pub async fn logout(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    sessions::block_session(&state.pool, user.session_id, &user.username).await?;
    state.revoked.revoke(user.session_id);
    Ok(HttpResponse::NoContent().finish())
}

/// 200 with the caller.
#[utoipa::path(
    get, path = "/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody))
)]
pub async fn me(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let found = users::find_user(&state.pool, &user.username)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the token's user no longer exists".to_owned()))?;
    Ok(HttpResponse::Ok().json(User::from(found)))
}
