//! `Authorization: Bearer <access token>` → the authenticated user, for any handler:
//!
//! ```ignore
//! async fn me(user: AuthenticatedUser) -> Result<HttpResponse, ApiError> { ... }
//! async fn deposit(Banker(user): Banker) -> Result<HttpResponse, ApiError> { ... }
//! ```
//!
//! Access tokens are checked by key and expiry only, without a database round trip; logout
//! blocks the session's refresh token, and access tokens lapse within their short TTL.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use uuid::Uuid;

use super::token::TokenPurpose;
use crate::domain::{Role, Username};
use crate::error::ApiError;
use crate::startup::AppState;

/// The caller, as its access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub username: Username,
    pub role: Role,
    pub session_id: Uuid,
}

impl AuthenticatedUser {
    pub fn is_banker(&self) -> bool {
        self.role == Role::Banker
    }

    /// 403 unless the caller is a banker.
    pub fn require_banker(&self) -> Result<(), ApiError> {
        if self.is_banker() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only a banker may do this".to_owned()))
        }
    }

    /// 403 unless the caller is `owner` or a banker.
    pub fn require_owner_or_banker(&self, owner: &str) -> Result<(), ApiError> {
        if self.is_banker() || self.username.as_str() == owner {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only the owner or a banker may do this".to_owned(),
            ))
        }
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthenticatedUser, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

/// An authenticated banker; anyone else gets 403 `forbidden` (401 without a valid token).
#[derive(Debug, Clone)]
pub struct Banker(pub AuthenticatedUser);

impl FromRequest for Banker {
    type Error = ApiError;
    type Future = Ready<Result<Banker, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request).and_then(|user| {
            user.require_banker()?;
            Ok(Banker(user))
        }))
    }
}

fn authenticate(request: &HttpRequest) -> Result<AuthenticatedUser, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState is not registered")))?;
    let token = bearer_token(request)?;
    let payload = state.tokens.verify(TokenPurpose::Access, token)?;
    Ok(AuthenticatedUser {
        username: payload.username,
        role: payload.role,
        session_id: payload.session_id,
    })
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive.
fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthenticated("missing Authorization header".to_owned()))?;
    let malformed = || {
        ApiError::Unauthenticated("the Authorization header must be `Bearer <token>`".to_owned())
    };
    let (scheme, token) = header
        .to_str()
        .map_err(|_| malformed())?
        .split_once(' ')
        .ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}
