//! `POST /transfers` and `GET /transfers/{id}`.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_actors::{Authority, TransferRequest};
use utoipa::ToSchema;

use crate::auth::AuthenticatedUser;
use crate::domain::{parse_details, Amount, CurrencyCode, PendingTimeout, ResourceId};
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::Json;
use crate::routes::dry_run::{self, DryRunQuery, DryRunResult};
use crate::routes::idempotency::{idempotency_key, respond_created, Asked};
use crate::routes::views::{AccountView, EntryView, TransferResult, TransferView};
use crate::startup::AppState;

/// Serialised, it is the request's idempotency fingerprint (`routes::idempotency::Asked`).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransferRequest {
    from_account_id: i64,
    to_account_id: i64,
    /// Minor units, > 0.
    #[schema(example = 1250)]
    amount: i64,
    #[schema(example = "USD")]
    currency: String,
    /// Hold the amount on the payer's account until the payee posts or voids it (or it
    /// expires) instead of moving it now. Default false.
    pending: Option<bool>,
    /// Seconds until a pending transfer expires: 1–604800 (default 86400); only with `pending`.
    timeout_seconds: Option<i64>,
    // Absent fields are left out of the fingerprint, so a request without them keeps the
    // fingerprint it had before they existed.
    /// At most 140 characters, shown to both parties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Rent for March")]
    description: Option<String>,
    /// 1–64 visible ASCII characters, unique per paying account (409 `duplicate_reference`).
    /// Shown to the payer's owner and bankers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "INV-2026-0042")]
    reference: Option<String>,
    /// At most 16 keys `^[a-z0-9_]{1,40}$`, string values of at most 200 characters. Shown to
    /// the payer's owner and bankers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<BTreeMap<String, String>>,
}

impl CreateTransferRequest {
    /// The engine's request (without an idempotency key) and, for a pending transfer, its
    /// timeout; 400 for any field out of bounds.
    pub fn parse(
        &self,
        user: &AuthenticatedUser,
    ) -> Result<(TransferRequest, Option<std::time::Duration>), ApiError> {
        let amount = Amount::parse(self.amount)?;
        let currency = CurrencyCode::parse(&self.currency)?;
        let from = ResourceId::parse(self.from_account_id)?;
        let to = ResourceId::parse(self.to_account_id)?;
        let timeout = PendingTimeout::parse(self.pending, self.timeout_seconds)?;
        let details = parse_details(
            self.description.as_deref(),
            self.reference.as_deref(),
            self.metadata.as_ref(),
        )?;
        if from == to {
            return Err(ApiError::SameAccount);
        }
        let request = TransferRequest {
            from,
            to,
            amount,
            currency,
            authority: Authority::Owner(user.username.as_str().to_owned()),
            idempotency: None,
            details,
        };
        Ok((request, timeout))
    }

    pub fn from_account_id(&self) -> i64 {
        self.from_account_id
    }
}

/// Move money from one of the caller's accounts to another account in the same currency, or hold
/// it there as a pending transfer (`pending: true`) for the payee to post or void.
#[utoipa::path(
    post, path = "/transfers", tag = "transfers", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters, scoped to the caller, kept at least 24 hours"), DryRunQuery),
    request_body = CreateTransferRequest,
    responses(
        (status = 200, description = "`dry_run=true`: what the transfer would do; nothing moved, held or stored", body = DryRunResult),
        (status = 201, description = "Committed (a pending transfer: held, without entries); `Idempotent-Replayed: true` on a replay", body = TransferResult),
        (status = 400, description = "`validation_failed`, `same_account`, `invalid_json`", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The caller does not own `from_account_id`", body = ErrorBody),
        (status = 404, description = "Either account is missing", body = ErrorBody),
        (status = 409, description = "`idempotency_key_reused`; `too_many_holds`: a pending transfer from an account already paying `engine.holds_open_max` open holds; `duplicate_reference`: the paying account already made a transfer with this `reference`", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "`currency_mismatch`, `insufficient_funds`", body = ErrorBody),
        (status = 503, description = "Database unreachable or engine saturated; see Retry-After", body = ErrorBody),
    )
)]
pub async fn create_transfer(
    user: AuthenticatedUser,
    request: HttpRequest,
    query: web::Query<DryRunQuery>,
    body: Json<CreateTransferRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (mut transfer, timeout) = body.parse(&user)?;
    let asked = Asked::Transfer { body: &body };
    transfer.idempotency = idempotency_key(&request, &user, &asked)?;
    if query.asked() {
        // Its key was checked for its form; a dry run neither looks it up nor stores it.
        transfer.idempotency = None;
        let pending = timeout.is_some();
        let dry_run = state.engine.dry_run_transfer(transfer, pending).await?;
        return Ok(dry_run::respond(&user, &dry_run));
    }
    let transferred = match timeout {
        None => state.engine.transfer(transfer).await?,
        Some(timeout) => state.engine.transfer_pending(transfer, timeout).await?,
    };
    let caller_owns_recipient =
        transferred.to_account.owner.as_deref() == Some(user.username.as_str());
    let body = TransferResult {
        // The caller paid: it reads what it wrote.
        transfer: TransferView::seen(&transferred.transfer, true),
        from_account: AccountView::from(&transferred.from_account),
        from_entry: transferred
            .from_entry
            .as_ref()
            .map(|entry| EntryView::new(entry, true)),
        // privacy_of_state: a recipient's running balance is never shown to the sender.
        to_entry: transferred
            .to_entry
            .as_ref()
            .map(|entry| EntryView::new(entry, caller_owns_recipient)),
        to_account: caller_owns_recipient.then(|| AccountView::from(&transferred.to_account)),
    };
    Ok(respond_created(transferred.replayed, &body))
}

/// A transfer, to the owner of either side or a banker; 404 to anyone else.
#[utoipa::path(
    get, path = "/transfers/{id}", tag = "transfers", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = TransferView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_transfer(
    user: AuthenticatedUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ResourceId::parse(path.into_inner())?;
    let not_found = || ApiError::NotFound(format!("no transfer {id}"));
    let found = state.reads.find_transfer(id).await?.ok_or_else(not_found)?;
    let caller = Some(user.username.as_str());
    let pays = found.from_owner.as_deref() == caller;
    let involved = pays || found.to_owner.as_deref() == caller;
    if !(involved || user.is_banker()) {
        return Err(not_found());
    }
    let view = TransferView::seen(&found.transfer, pays || user.is_banker());
    Ok(HttpResponse::Ok().json(view))
}
