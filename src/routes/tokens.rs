//! `POST /tokens/renew_access`: a refresh token and its live session buy a new access token.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::TokenPurpose;
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::Json;
use crate::startup::AppState;
use crate::store::sessions;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewAccessRequest {
    refresh_token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RenewAccessResponse {
    access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    access_token_expires_at: OffsetDateTime,
}

/// 200 with a new access token; 401 when the refresh token is not genuine, or its session is
/// blocked, expired, or holds another refresh token.
#[utoipa::path(
    post, path = "/tokens/renew_access", tag = "users",
    request_body = RenewAccessRequest,
    responses(
        (status = 200, body = RenewAccessResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Blocked, expired or foreign session, or not a refresh token", body = ErrorBody),
    )
)]
pub async fn renew_access(
    body: Json<RenewAccessRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let refresh = state
        .tokens
        .verify(TokenPurpose::Refresh, &body.refresh_token)?;
    let session = sessions::find_session(&state.pool, refresh.session_id)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the session does not exist".to_owned()))?;
    if session.is_blocked {
        return Err(ApiError::Unauthenticated(
            "the session has ended (logged out or blocked)".to_owned(),
        ));
    }
    if session.username != refresh.username.as_str() || session.refresh_token_id != refresh.token_id
    {
        return Err(ApiError::Unauthenticated(
            "the refresh token does not belong to this session".to_owned(),
        ));
    }
    if session.expires_at <= state.tokens.now() {
        return Err(ApiError::TokenExpired);
    }
    // The role is read again: a user promoted or demoted since login gets the current one.
    let access = state.tokens.issue(
        TokenPurpose::Access,
        &refresh.username,
        session.role,
        session.id,
    )?;
    Ok(HttpResponse::Ok().json(RenewAccessResponse {
        access_token: access.token,
        access_token_expires_at: access.payload.expires_at,
    }))
}
