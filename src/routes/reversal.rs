//! `POST /transfers/{id}/reverse`: the payee (or a banker) refunds a posted transfer, all that is
//! left of it or a part, as a new transfer back to the payer.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_actors::{Authority, Refusal, TransferError, TransferId};
use utoipa::ToSchema;

use crate::auth::AuthenticatedUser;
use crate::domain::{Amount, Description, ResourceId};
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::{optional_json, BodyLimits};
use crate::routes::idempotency::{idempotency_key, respond_created, Asked};
use crate::routes::views::{AccountView, EntryView, TransferResult, TransferView};
use crate::startup::AppState;

/// Serialised, it is part of the request's idempotency fingerprint.
#[derive(Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// Minor units, > 0; default: all that is left of the original.
    #[schema(example = 500)]
    amount: Option<i64>,
    /// At most 140 characters, shown to both parties.
    #[schema(example = "Refund: returned item")]
    description: Option<String>,
}

/// Refund a posted transfer: a new posted transfer from its payee back to its payer
/// (`reversal_of`); the original's `reversed_amount` grows by it and never passes its amount.
#[utoipa::path(
    post, path = "/transfers/{id}/reverse", tag = "transfers", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = String, Header, description = "Required: 1–255 visible ASCII characters")),
    request_body(content = Option<ReverseRequest>, description = "Optional; without it all that is left of the original is refunded"),
    responses(
        (status = 201, description = "Refunded; `Idempotent-Replayed: true` on a replay", body = TransferResult),
        (status = 400, description = "`validation_failed` (amount ≤ 0, description too long, no Idempotency-Key), `invalid_json`", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The caller is the payer", body = ErrorBody),
        (status = 404, description = "No such transfer, or the caller is not its payee", body = ErrorBody),
        (status = 409, description = "`transfer_not_posted`, `reversal_exceeds_original`, `idempotency_key_reused`", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "`insufficient_funds`: the payee's available balance is lower than the refund", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn reverse_transfer(
    user: AuthenticatedUser,
    request: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = ResourceId::parse(path.into_inner())?;
    let body: ReverseRequest = optional_json(payload, BodyLimits::of(&request))
        .await?
        .unwrap_or_default();
    let amount = body.amount.map(Amount::parse).transpose()?;
    let description = Description::parse(body.description.as_deref())?;
    let asked = Asked::Reverse {
        transfer_id: id,
        body: &body,
    };
    // A refund retried without a key could pay back twice: the key is required.
    let key = idempotency_key(&request, &user, &asked)?.ok_or_else(|| {
        ApiError::Validation("a refund needs an Idempotency-Key header".to_owned())
    })?;
    let authority = match user.is_banker() {
        true => Authority::Privileged,
        false => Authority::Owner(user.username.as_str().to_owned()),
    };
    let reversed = state
        .engine
        .reverse(
            TransferId::from(id),
            amount,
            description,
            authority,
            Some(key),
        )
        .await
        .map_err(|error| reversal_error(error, id))?;
    let caller = Some(user.username.as_str());
    let reads = |owner: &Option<String>| user.is_banker() || owner.as_deref() == caller;
    let reads_to = reads(&reversed.to_account.owner);
    let body = TransferResult {
        transfer: TransferView::seen(&reversed.transfer, true),
        from_account: AccountView::from(&reversed.from_account),
        from_entry: reversed
            .from_entry
            .as_ref()
            .map(|entry| EntryView::new(entry, true)),
        to_entry: reversed
            .to_entry
            .as_ref()
            .map(|entry| EntryView::new(entry, reads_to)),
        to_account: reads_to.then(|| AccountView::from(&reversed.to_account)),
    };
    Ok(respond_created(reversed.replayed, &body))
}

/// The engine's refusals in the words of a refund.
fn reversal_error(error: TransferError, id: i64) -> ApiError {
    match error {
        TransferError::Refused(Refusal::NotFound) => {
            ApiError::NotFound(format!("no transfer {id} paid to you"))
        }
        TransferError::Refused(Refusal::Forbidden) => {
            ApiError::Forbidden("only the payee or a banker may refund a transfer".to_owned())
        }
        other => other.into(),
    }
}
