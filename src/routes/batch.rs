//! `POST /transfers/batch`: up to 1,000 transfers in one request, each item or all of them.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_actors::config::BATCH_ITEMS_MAX;
use tally_actors::{
    AccountId, AccountKind, AccountSnapshot, BatchError, BatchItem, BatchItemOutcome, BatchOutcome,
};
use utoipa::ToSchema;

use crate::auth::AuthenticatedUser;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::routes::body::{required_json, BodyLimits};
use crate::routes::dry_run::{self, DryRunQuery};
use crate::routes::idempotency::{idempotency_key, respond, Asked, REPLAYED_HEADER};
use crate::routes::transfers::CreateTransferRequest;
use crate::routes::views::{AccountView, TransferView};
use crate::startup::AppState;

/// The body limit of this route only: 1,000 items of a few hundred bytes each, with room.
pub const BATCH_BODY_LIMIT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1–1,000 items, each the body of `POST /transfers`; they take effect in this order.
    #[schema(value_type = Vec<CreateTransferRequest>)]
    transfers: Vec<Value>,
    /// All or nothing (default false: each item on its own).
    atomic: Option<bool>,
}

/// One item's result: its transfer, or why it was refused.
#[derive(Serialize, ToSchema)]
pub struct BatchItemResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer: Option<TransferView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// In request order.
    results: Vec<BatchItemResult>,
    /// The caller's accounts the batch changed, after it.
    accounts: Vec<AccountView>,
}

/// Many transfers in one request, taking effect in request order.
#[utoipa::path(
    post, path = "/transfers/batch", tag = "transfers", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "For the whole batch: 1–255 visible ASCII characters"), DryRunQuery),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "`atomic: false`: each item's result in order; `Idempotent-Replayed: true` on a replay. `dry_run=true` (`DryRunBatchResult`): what each item would do; nothing moved, held or stored", body = BatchResult),
        (status = 201, description = "`atomic: true`: every item committed", body = BatchResult),
        (status = 400, description = "An invalid item (`validation_failed`, `same_account`, with `index`), no items or more than 1,000, `invalid_json`", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "An item's `from_account_id` is not the caller's (with `index`)", body = ErrorBody),
        (status = 404, description = "`atomic: true`: the first refused item's account is missing (with `index`); stored with the `Idempotency-Key`, `Idempotent-Replayed: true` on a replay", body = ErrorBody, headers(("Idempotent-Replayed" = bool, description = "`true` on a replay of the stored refusal; absent otherwise"))),
        (status = 409, description = "`idempotency_key_reused`; `too_many_holds` (with `index`): the batch's pending items would take a payer past `engine.holds_open_max` open holds; `atomic: true`: `duplicate_reference` (with `index`), an item's `reference` already used by its paying account or by an earlier item; stored with the `Idempotency-Key`", body = ErrorBody, headers(("Idempotent-Replayed" = bool, description = "`true` on a replay of the stored refusal; absent otherwise"))),
        (status = 413, description = "Body over 4 MiB", body = ErrorBody),
        (status = 422, description = "`atomic: true`: the first refused item (`insufficient_funds`, `currency_mismatch`, with `index`); stored with the `Idempotency-Key`, `Idempotent-Replayed: true` on a replay", body = ErrorBody, headers(("Idempotent-Replayed" = bool, description = "`true` on a replay of the stored refusal; absent otherwise"))),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn create_batch(
    user: AuthenticatedUser,
    request: HttpRequest,
    query: web::Query<DryRunQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limits = BodyLimits::with_size(&request, BATCH_BODY_LIMIT_BYTES);
    let body: BatchRequest = required_json(payload, limits, "a batch needs a body").await?;
    // Every field by name: a field added to the body cannot miss the fingerprint below.
    let BatchRequest { transfers, atomic } = body;
    if !(1..=BATCH_ITEMS_MAX).contains(&transfers.len()) {
        return Err(ApiError::Validation(format!(
            "transfers must hold 1 to {BATCH_ITEMS_MAX} items"
        )));
    }
    let (items, parsed) = match parse_items(&transfers, &user) {
        Ok(parsed) => parsed,
        Err((index, error)) => return Ok(error.indexed_response(index)),
    };
    if let Some((index, error)) = foreign_payer(&items, &user, &state).await? {
        return Ok(error.indexed_response(index));
    }
    let asked = Asked::Batch {
        transfers: &parsed,
        atomic,
    };
    let key = idempotency_key(&request, &user, &asked)?;
    let atomic = atomic.unwrap_or(false);
    if query.asked() {
        return dry_run_batch(&user, &items, atomic, &state).await;
    }
    // Past the holds cap, a keyed batch still answers its key's stored answer first.
    let answer = match past_holds_cap(&items, &state).await? {
        Some(index) => {
            let refused = BatchError::TooManyHolds {
                index,
                replayed: false,
            };
            state.engine.refuse_batch(refused, key).await
        }
        None => state.engine.transfer_batch(items, atomic, key).await,
    };
    match answer {
        Ok(outcome) => Ok(respond_batch(&user, &outcome, atomic)),
        Err(BatchError::Refused {
            index,
            refusal,
            replayed,
        }) => {
            let error = ApiError::from(tally_actors::TransferError::Refused(refusal));
            Ok(refused_response(error, index, replayed))
        }
        Err(BatchError::TooManyHolds { index, replayed }) => {
            Ok(refused_response(ApiError::TooManyHolds, index, replayed))
        }
        Err(BatchError::Failed(error)) => Err(error.into()),
    }
}

/// A batch's dry run: the refusals the real batch would answer (the holds cap, an atomic
/// batch's first refused item, with `index`), or each item's outcome. Its key (checked for its
/// form) is neither looked up nor stored.
async fn dry_run_batch(
    user: &AuthenticatedUser,
    items: &[BatchItem],
    atomic: bool,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    if let Some(index) = past_holds_cap(items, state).await? {
        return Ok(refused_response(ApiError::TooManyHolds, index, false));
    }
    match state.engine.dry_run_batch(items, atomic).await {
        Ok(results) => Ok(dry_run::respond_batch(user, &results)),
        Err(BatchError::Refused { index, refusal, .. }) => {
            let error = ApiError::from(tally_actors::TransferError::Refused(refusal));
            Ok(refused_response(error, index, false))
        }
        Err(BatchError::TooManyHolds { index, .. }) => {
            Ok(refused_response(ApiError::TooManyHolds, index, false))
        }
        Err(BatchError::Failed(error)) => Err(error.into()),
    }
}

/// A batch's refusal, with the `index` of the item at fault; a replay of the stored refusal
/// says so.
fn refused_response(error: ApiError, index: usize, replayed: bool) -> HttpResponse {
    let mut response = error.indexed_response(index);
    if replayed {
        let name = HeaderName::from_bytes(REPLAYED_HEADER.as_bytes()).expect("a header name");
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static("true"));
    }
    response
}

/// Every item parsed (for the engine, and as sent for the fingerprint), or the first invalid
/// one's index and error.
fn parse_items(
    transfers: &[Value],
    user: &AuthenticatedUser,
) -> Result<(Vec<BatchItem>, Vec<CreateTransferRequest>), (usize, ApiError)> {
    let mut items = Vec::with_capacity(transfers.len());
    let mut parsed_all = Vec::with_capacity(transfers.len());
    for (index, value) in transfers.iter().enumerate() {
        if !value.is_object() {
            let error = ApiError::InvalidJson("each item must be a JSON object".to_owned());
            return Err((index, error));
        }
        let parsed: CreateTransferRequest =
            CreateTransferRequest::deserialize(value).map_err(|error| {
                let error =
                    ApiError::Validation(format!("the item does not match a transfer: {error}"));
                (index, error)
            })?;
        let (request, pending_timeout) = parsed.parse(user).map_err(|error| (index, error))?;
        items.push(BatchItem {
            request,
            pending_timeout,
        });
        parsed_all.push(parsed);
    }
    Ok((items, parsed_all))
}

/// The first item whose payer is not the caller's account, refused before anything moves:
/// 404 for a reserve (as everywhere, a reserve is no one's to name), 403 for another's account.
/// A payer that does not exist is left to the item's own 404. Every payer is looked up in one
/// query, which activates no actor.
async fn foreign_payer(
    items: &[BatchItem],
    user: &AuthenticatedUser,
    state: &AppState,
) -> Result<Option<(usize, ApiError)>, ApiError> {
    let mut payers: Vec<AccountId> = items.iter().map(|item| item.request.from).collect();
    payers.sort_unstable();
    payers.dedup();
    let found: HashMap<AccountId, AccountSnapshot> = state
        .reads
        .accounts_by_id(&payers)
        .await?
        .into_iter()
        .map(|account| (account.id, account))
        .collect();
    let caller = user.username.as_str();
    for (index, item) in items.iter().enumerate() {
        let Some(payer) = found.get(&item.request.from) else {
            continue;
        };
        if payer.kind == AccountKind::Reserve {
            return Ok(Some((
                index,
                ApiError::NotFound("no such account".to_owned()),
            )));
        }
        if payer.owner.as_deref() != Some(caller) {
            let error =
                ApiError::Forbidden("only the account's owner may move money out of it".to_owned());
            return Ok(Some((index, error)));
        }
    }
    Ok(None)
}

/// The first pending item that would take its payer past `engine.holds_open_max` open holds;
/// the whole batch is refused before anything moves. One query for every payer.
async fn past_holds_cap(items: &[BatchItem], state: &AppState) -> Result<Option<usize>, ApiError> {
    let mut payers: Vec<AccountId> = items
        .iter()
        .filter(|item| item.pending_timeout.is_some())
        .map(|item| item.request.from)
        .collect();
    if payers.is_empty() {
        return Ok(None);
    }
    payers.sort_unstable();
    payers.dedup();
    let mut open = state.reads.holds_open(&payers).await?;
    let holds_open_max = state.settings.engine.holds_open_max;
    for (index, item) in items.iter().enumerate() {
        if item.pending_timeout.is_none() {
            continue;
        }
        let count = open.entry(item.request.from).or_insert(0);
        *count += 1;
        if *count > holds_open_max {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

fn respond_batch(user: &AuthenticatedUser, outcome: &BatchOutcome, atomic: bool) -> HttpResponse {
    let caller = Some(user.username.as_str());
    let mut accounts: BTreeMap<AccountId, AccountView> = BTreeMap::new();
    let results = outcome
        .results
        .iter()
        .map(|result| match result {
            BatchItemOutcome::Committed(transferred) => {
                for account in [&transferred.from_account, &transferred.to_account] {
                    if account.owner.as_deref() == caller {
                        accounts.insert(account.id, AccountView::from(account));
                    }
                }
                BatchItemResult {
                    // Every item's payer is the caller's.
                    transfer: Some(TransferView::seen(&transferred.transfer, true)),
                    error: None,
                }
            }
            BatchItemOutcome::Refused(refusal) => {
                let error = ApiError::from(tally_actors::TransferError::Refused(*refusal));
                BatchItemResult {
                    transfer: None,
                    error: Some(error.detail()),
                }
            }
        })
        .collect();
    let status = match atomic {
        true => HttpResponse::Created(),
        false => HttpResponse::Ok(),
    };
    let body = BatchResult {
        results,
        accounts: accounts.into_values().collect(),
    };
    respond(status, outcome.replayed, &body)
}
