//! `POST /transfers/{id}/post` and `POST /transfers/{id}/void`: the payee (or a banker) ends a
//! pending transfer. The payer cannot: that is what makes a hold a guarantee.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_actors::{Authority, Refusal, TransferError, TransferId, Transferred};
use utoipa::ToSchema;

use crate::auth::AuthenticatedUser;
use crate::domain::{Amount, ResourceId};
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::{optional_json, BodyLimits};
use crate::routes::idempotency::{idempotency_key, respond, Asked};
use crate::routes::views::{AccountView, EntryView, PendingResult, TransferView};
use crate::startup::AppState;

/// No body is the default body: both move the whole pending amount, and fingerprint alike.
#[derive(Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostRequest {
    /// Minor units to move, 0 < amount ≤ the pending amount (default: all of it); the rest of
    /// the hold is released.
    #[schema(example = 1000)]
    amount: Option<i64>,
}

/// Post a pending transfer: the amount moves to the payee, the rest of the hold is released.
#[utoipa::path(
    post, path = "/transfers/{id}/post", tag = "transfers", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")),
    request_body(content = Option<PostRequest>, description = "Optional; without it the whole pending amount moves"),
    responses(
        (status = 200, description = "Posted; `Idempotent-Replayed: true` on a replay", body = PendingResult),
        (status = 400, description = "`validation_failed` (amount ≤ 0 or above the pending amount), `invalid_json`", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The caller is the payer", body = ErrorBody),
        (status = 404, description = "No such transfer, or the caller is not a party", body = ErrorBody),
        (status = 409, description = "`transfer_not_pending`, `idempotency_key_reused`", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn post_transfer(
    user: AuthenticatedUser,
    request: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ResourceId::parse(path.into_inner())?;
    let body: PostRequest = optional_json(payload, BodyLimits::of(&request))
        .await?
        .unwrap_or_default();
    let amount = match body.amount {
        None => None,
        Some(amount) => Some(Amount::parse(amount)?),
    };
    let asked = Asked::Post {
        transfer_id: id,
        body: &body,
    };
    let key = idempotency_key(&request, &user, &asked)?;
    let posted = state
        .engine
        .post(id, amount, authority(&user), key)
        .await
        .map_err(|error| pending_error(error, id))?;
    Ok(respond_ended(&user, &posted))
}

/// Void a pending transfer: its hold is released and nothing moves.
#[utoipa::path(
    post, path = "/transfers/{id}/void", tag = "transfers", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")),
    responses(
        (status = 200, description = "Voided; `Idempotent-Replayed: true` on a replay", body = PendingResult),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The caller is the payer", body = ErrorBody),
        (status = 404, description = "No such transfer, or the caller is not a party", body = ErrorBody),
        (status = 409, description = "`transfer_not_pending`, `idempotency_key_reused`", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn void_transfer(
    user: AuthenticatedUser,
    request: HttpRequest,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ResourceId::parse(path.into_inner())?;
    let key = idempotency_key(&request, &user, &Asked::Void { transfer_id: id })?;
    let voided = state
        .engine
        .void(id, authority(&user), key)
        .await
        .map_err(|error| pending_error(error, id))?;
    Ok(respond_ended(&user, &voided))
}

fn authority(user: &AuthenticatedUser) -> Authority {
    match user.is_banker() {
        true => Authority::Privileged,
        false => Authority::Owner(user.username.as_str().to_owned()),
    }
}

/// The engine's refusals in the words of a pending transfer, not of an account.
fn pending_error(error: TransferError, id: TransferId) -> ApiError {
    match error {
        TransferError::Refused(Refusal::NotFound) => {
            ApiError::NotFound(format!("no pending transfer {id} of yours"))
        }
        TransferError::Refused(Refusal::Forbidden) => ApiError::Forbidden(
            "only the payee or a banker may post or void a pending transfer".to_owned(),
        ),
        other => other.into(),
    }
}

/// 200 with the transfer, its entries, and the accounts the caller may read.
fn respond_ended(user: &AuthenticatedUser, ended: &Transferred) -> HttpResponse {
    let caller = Some(user.username.as_str());
    let reads = |owner: &Option<String>| user.is_banker() || owner.as_deref() == caller;
    let reads_from = reads(&ended.from_account.owner);
    let reads_to = reads(&ended.to_account.owner);
    let body = PendingResult {
        transfer: TransferView::seen(&ended.transfer, reads_from),
        from_entry: ended
            .from_entry
            .as_ref()
            .map(|entry| EntryView::new(entry, reads_from)),
        to_entry: ended
            .to_entry
            .as_ref()
            .map(|entry| EntryView::new(entry, reads_to)),
        from_account: reads_from.then(|| AccountView::from(&ended.from_account)),
        to_account: reads_to.then(|| AccountView::from(&ended.to_account)),
    };
    respond(HttpResponse::Ok(), ended.replayed, &body)
}
