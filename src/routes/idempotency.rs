//! The `Idempotency-Key` header and the `Idempotent-Replayed` answer, shared by every route that
//! moves money.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use tally_actors::IdempotencyKey as EngineKey;

use crate::auth::AuthenticatedUser;
use crate::domain::IdempotencyKey;
use crate::error::ApiError;

pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// The caller's key for this request, if it sent one. `operation` names the kind of request
/// (`transfer`, `deposit`, ...) and `what` the request itself, so the same key with another
/// request is a conflict.
pub fn idempotency_key(
    request: &HttpRequest,
    user: &AuthenticatedUser,
    operation: &str,
    what: &str,
) -> Result<Option<EngineKey>, ApiError> {
    let Some(header) = request.headers().get(IdempotencyKey::HEADER) else {
        return Ok(None);
    };
    Ok(Some(IdempotencyKey::parse(
        header.as_bytes(),
        &user.username,
        operation,
        what,
    )?))
}

/// 201 with `body`; a replay says so in a header and carries the first answer.
pub fn respond_created(replayed: bool, body: &impl Serialize) -> HttpResponse {
    respond(HttpResponse::Created(), replayed, body)
}

/// `status` with `body`; a replay says so in a header and carries the first answer.
pub fn respond(
    mut status: actix_web::HttpResponseBuilder,
    replayed: bool,
    body: &impl Serialize,
) -> HttpResponse {
    if replayed {
        status.insert_header((REPLAYED_HEADER, "true"));
    }
    status.json(body)
}
