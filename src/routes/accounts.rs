//! Accounts, statements, deposits and withdrawals.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_actors::{
    AccountSnapshot, AccountStatus, Authority, StatementQuery, TransferId, TransferStatus,
    Transferred, TransfersQuery,
};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuthenticatedUser, Banker};
use crate::domain::{Amount, CurrencyCode, Instant, Page, ResourceId, StatementPage};
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::Json;
use crate::routes::idempotency::{idempotency_key, respond_created, Asked};
use crate::routes::views::{AccountView, BalanceAtView, EntryView, MovementResult, TransferView};
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// One of USD, EUR, CAD, KRW, JPY, GBP.
    #[schema(example = "USD")]
    currency: String,
}

/// Open an account in a currency (one per currency per user).
#[utoipa::path(
    post, path = "/accounts", tag = "accounts", security(("bearer" = [])),
    request_body = CreateAccountRequest,
    responses(
        (status = 201, description = "The new account, balance 0", body = AccountView),
        (status = 400, description = "Unsupported currency or malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 409, description = "The caller already has an account in this currency (`conflict`)", body = ErrorBody),
    )
)]
pub async fn create_account(
    user: AuthenticatedUser,
    body: Json<CreateAccountRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let currency = CurrencyCode::parse(&body.currency)?;
    let account = state
        .engine
        .open_account(user.username.as_str(), currency)
        .await?;
    Ok(HttpResponse::Created().json(AccountView::from(&account)))
}

/// An account, to its owner or a banker.
#[utoipa::path(
    get, path = "/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, body = AccountView),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Neither the owner nor a banker", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_account(
    user: AuthenticatedUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = visible_account(&user, &state, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(account))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page number, ≥ 1 (default 1).
    page_id: Option<i64>,
    /// Accounts per page, 1–100 (default 10).
    page_size: Option<i64>,
}

/// The caller's accounts, by id.
#[utoipa::path(
    get, path = "/accounts", tag = "accounts", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = [AccountView]),
        (status = 400, description = "page_id or page_size out of range", body = ErrorBody),
        (status = 401, body = ErrorBody),
    )
)]
pub async fn list_accounts(
    user: AuthenticatedUser,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.page_id, query.page_size)?;
    let accounts = state
        .reads
        .accounts_of(user.username.as_str(), page.offset, page.limit)
        .await?;
    let views: Vec<AccountView> = accounts.iter().map(AccountView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementParams {
    /// Entries per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Only entries with a smaller id (the last id of the previous page).
    before_id: Option<i64>,
    /// Only entries created at or after this RFC 3339 instant.
    since: Option<String>,
    /// Only entries created before this RFC 3339 instant.
    until: Option<String>,
}

/// An account's entries, newest first, each with the balance right after it.
#[utoipa::path(
    get, path = "/accounts/{id}/entries", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id"), StatementParams),
    responses(
        (status = 200, body = [EntryView]),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn list_entries(
    user: AuthenticatedUser,
    path: web::Path<i64>,
    query: web::Query<StatementParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = StatementPage::parse(query.limit, query.before_id)?;
    let statement = StatementQuery {
        limit: page.limit,
        before_id: page.before_id,
        since: Instant::parse_optional("since", query.since.as_deref())?,
        until: Instant::parse_optional("until", query.until.as_deref())?,
    };
    let account = visible_account(&user, &state, path.into_inner()).await?;
    let entries = state.reads.statement(account.id, statement).await?;
    let views: Vec<EntryView> = entries.iter().map(EntryView::line).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BalanceParams {
    /// The RFC 3339 instant (required).
    at: Option<String>,
}

/// An account's posted balance at an instant (0 before its first entry).
#[utoipa::path(
    get, path = "/accounts/{id}/balance", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id"), BalanceParams),
    responses(
        (status = 200, body = BalanceAtView),
        (status = 400, description = "`at` missing or not an RFC 3339 instant", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn balance_at(
    user: AuthenticatedUser,
    path: web::Path<i64>,
    query: web::Query<BalanceParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let text = query
        .at
        .as_deref()
        .ok_or_else(|| ApiError::Validation("at is required: an RFC 3339 instant".to_owned()))?;
    let at = Instant::parse("at", text)?;
    let account = visible_account(&user, &state, path.into_inner()).await?;
    let balance = state.reads.balance_at(account.id, at).await?;
    Ok(HttpResponse::Ok().json(BalanceAtView {
        account_id: account.id,
        currency: account.currency,
        balance,
        at,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TransfersParams {
    /// Only transfers in this status: pending, posted, voided or expired.
    status: Option<String>,
    /// Transfers per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Only transfers with a smaller id (the last id of the previous page).
    before_id: Option<i64>,
}

/// The transfers where the account is either side, newest first.
#[utoipa::path(
    get, path = "/accounts/{id}/transfers", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id"), TransfersParams),
    responses(
        (status = 200, body = [TransferView]),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn list_transfers(
    user: AuthenticatedUser,
    path: web::Path<i64>,
    query: web::Query<TransfersParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = StatementPage::parse(query.limit, query.before_id)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(TransferStatus::parse(text).ok_or_else(|| {
            ApiError::Validation(
                "status must be one of pending, posted, voided, expired".to_owned(),
            )
        })?),
    };
    let account = visible_account(&user, &state, path.into_inner()).await?;
    let transfers = state
        .reads
        .transfers_of(
            account.id,
            TransfersQuery {
                status,
                limit: page.limit,
                before_id: TransferId::new(page.before_id),
            },
        )
        .await?;
    // The caller reads this account: the payer's details of the transfers it paid.
    let views: Vec<TransferView> = transfers
        .iter()
        .map(|transfer| {
            let pays = transfer.from_account_id == account.id;
            TransferView::seen(transfer, pays || user.is_banker())
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Serialised, it is part of the request's idempotency fingerprint.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// Minor units, > 0.
    #[schema(example = 1250)]
    amount: i64,
}

/// Money into an account from its currency's reserve (bankers only).
#[utoipa::path(
    post, path = "/accounts/{id}/deposits", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")),
    request_body = AmountRequest,
    responses(
        (status = 201, body = MovementResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not a banker", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn deposit(
    Banker(user): Banker,
    request: HttpRequest,
    path: web::Path<i64>,
    body: Json<AmountRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, amount, key) = movement_request(Kind::Deposit, &request, &user, *path, &body)?;
    let transferred = state.engine.deposit(account, amount, key).await?;
    Ok(movement(&transferred, &transferred.to_account))
}

/// Money from an account back to its currency's reserve (its owner or a banker).
#[utoipa::path(
    post, path = "/accounts/{id}/withdrawals", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")),
    request_body = AmountRequest,
    responses(
        (status = 201, body = MovementResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, description = "`insufficient_funds`", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn withdraw(
    user: AuthenticatedUser,
    request: HttpRequest,
    path: web::Path<i64>,
    body: Json<AmountRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, amount, key) = movement_request(Kind::Withdrawal, &request, &user, *path, &body)?;
    let authority = match user.is_banker() {
        true => Authority::Privileged,
        false => Authority::Owner(user.username.as_str().to_owned()),
    };
    let transferred = state
        .engine
        .withdraw(account, amount, authority, key)
        .await?;
    Ok(movement(&transferred, &transferred.from_account))
}

/// Freeze an account (bankers only): it refuses every debit with 409 `account_frozen` until
/// unfrozen; it still receives money, and its own pending transfers may still be posted.
#[utoipa::path(
    post, path = "/accounts/{id}/freeze", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account, `frozen` (already frozen: the same)", body = AccountView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not a banker", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`account_closed`", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn freeze(
    _banker: Banker,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change_status(&state, *path, AccountStatus::Frozen).await
}

/// Unfreeze a frozen account (bankers only).
#[utoipa::path(
    post, path = "/accounts/{id}/unfreeze", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account, `active` (already active: the same)", body = AccountView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not a banker", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`account_closed`", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn unfreeze(
    _banker: Banker,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change_status(&state, *path, AccountStatus::Active).await
}

/// Close an empty account (its owner or a banker), for good: it then refuses debits and
/// credits with 409 `account_closed`.
#[utoipa::path(
    post, path = "/accounts/{id}/close", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account, `closed` (already closed: the same)", body = AccountView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Neither the owner nor a banker", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`account_not_empty`: a balance, a hold or money in flight", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn close(
    user: AuthenticatedUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = visible_account(&user, &state, *path).await?;
    change_status(&state, account.id.get(), AccountStatus::Closed).await
}

/// Changes the status through the engine; a reserve account is not anyone's to change (404).
async fn change_status(
    state: &AppState,
    id: i64,
    to: AccountStatus,
) -> Result<HttpResponse, ApiError> {
    let id = ResourceId::parse(id)?;
    let account = state.engine.change_status(id, to).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&account)))
}

enum Kind {
    Deposit,
    Withdrawal,
}

/// The account, amount and idempotency key of a deposit or a withdrawal.
fn movement_request(
    kind: Kind,
    request: &HttpRequest,
    user: &AuthenticatedUser,
    account: i64,
    body: &AmountRequest,
) -> Result<
    (
        tally_actors::AccountId,
        tally_actors::Amount,
        Option<tally_actors::IdempotencyKey>,
    ),
    ApiError,
> {
    let account = ResourceId::parse(account)?;
    let amount = Amount::parse(body.amount)?;
    let asked = match kind {
        Kind::Deposit => Asked::Deposit {
            account_id: account,
            body,
        },
        Kind::Withdrawal => Asked::Withdrawal {
            account_id: account,
            body,
        },
    };
    let key = idempotency_key(request, user, &asked)?;
    Ok((account, amount, key))
}

fn movement(transferred: &Transferred, account: &AccountSnapshot) -> HttpResponse {
    let body = MovementResult {
        transfer: TransferView::from(&transferred.transfer),
        account: AccountView::from(account),
    };
    respond_created(transferred.replayed, &body)
}

/// The account when the caller may see it: 404 when missing, 403 when someone else's.
async fn visible_account(
    user: &AuthenticatedUser,
    state: &AppState,
    id: i64,
) -> Result<AccountView, ApiError> {
    let id = ResourceId::parse(id)?;
    // From PostgreSQL, not an actor's memory: another replica's transfers are in it.
    let account = AccountView::from(&state.reads.account_committed(id).await?);
    match (&account.owner, user.is_banker()) {
        (_, true) => Ok(account),
        (Some(owner), false) if owner == user.username.as_str() => Ok(account),
        _ => Err(ApiError::Forbidden(
            "this account belongs to someone else".to_owned(),
        )),
    }
}
