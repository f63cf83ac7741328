//! `GET /transfers`: the transfers the caller may see, filtered, newest first, paged.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use tally_actors::{SearchScope, TransferId, TransferSearch, TransferStatus};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthenticatedUser;
use crate::domain::{Instant, Metadata, Reference, ResourceId, StatementPage};
use crate::error::{ApiError, ErrorBody};
use crate::routes::views::TransferView;
use crate::startup::AppState;

/// The `metadata.KEY` filters one search may carry: as many as a transfer may have keys.
pub const METADATA_FILTERS_MAX: usize = Metadata::KEYS_MAX;
const METADATA_PREFIX: &str = "metadata.";

/// The named filters, as sent; any number of `metadata.KEY=VALUE` besides.
#[derive(Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Only transfers with this account on either side.
    account_id: Option<i64>,
    /// Only the transfer with this reference (the payer's: a customer finds only transfers
    /// they paid).
    reference: Option<String>,
    /// Only transfers in this status: pending, posted, voided or expired.
    status: Option<String>,
    /// Only transfers created at or after this RFC 3339 instant.
    since: Option<String>,
    /// Only transfers created before this RFC 3339 instant.
    until: Option<String>,
    /// Transfers per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Only transfers with a smaller id: the previous page's `next_before_id`.
    before_id: Option<i64>,
}

/// One page of a search.
#[derive(Serialize, ToSchema)]
pub struct TransferPage {
    /// Newest first.
    pub transfers: Vec<TransferView>,
    /// The `before_id` of the next page; null on the last page.
    pub next_before_id: Option<i64>,
}

/// The transfers the caller may see (touching an account they own; a banker: all), newest
/// first. Filters combine; `metadata.KEY=VALUE` (repeatable, at most 16) matches the payer's
/// metadata, and like `reference`, finds for a customer only transfers they paid.
#[utoipa::path(
    get, path = "/transfers", tag = "transfers", security(("bearer" = [])),
    params(SearchParams),
    responses(
        (status = 200, body = TransferPage),
        (status = 400, description = "`validation_failed`: a filter or bound out of its rule, an unknown or repeated parameter", body = ErrorBody),
        (status = 401, body = ErrorBody),
    )
)]
pub async fn search_transfers(
    user: AuthenticatedUser,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (params, metadata) = split(query.into_inner())?;
    let search = parse(&user, params, metadata)?;
    let page = state.reads.search_transfers(&search).await?;
    let caller = Some(user.username.as_str());
    let transfers = page
        .transfers
        .iter()
        .map(|found| {
            let pays = found.from_owner.as_deref() == caller;
            TransferView::seen(&found.transfer, pays || user.is_banker())
        })
        .collect();
    Ok(HttpResponse::Ok().json(TransferPage {
        transfers,
        next_before_id: page.next_before_id.map(TransferId::get),
    }))
}

/// The named parameters and the metadata filters; 400 for an unknown or repeated name.
fn split(
    pairs: Vec<(String, String)>,
) -> Result<(SearchParams, BTreeMap<String, String>), ApiError> {
    let mut params = SearchParams::default();
    let mut metadata = BTreeMap::new();
    let repeated = |name: &str| ApiError::Validation(format!("{name} is given more than once"));
    for (name, value) in pairs {
        if let Some(key) = name.strip_prefix(METADATA_PREFIX) {
            Metadata::check_key(key)?;
            if metadata.insert(key.to_owned(), value).is_some() {
                return Err(repeated(&name));
            }
            continue;
        }
        let slot = match name.as_str() {
            "account_id" | "limit" | "before_id" => {
                let number = value
                    .parse::<i64>()
                    .map_err(|_| ApiError::Validation(format!("{name} must be an integer")))?;
                let slot = match name.as_str() {
                    "account_id" => &mut params.account_id,
                    "limit" => &mut params.limit,
                    _ => &mut params.before_id,
                };
                if slot.replace(number).is_some() {
                    return Err(repeated(&name));
                }
                continue;
            }
            "reference" => &mut params.reference,
            "status" => &mut params.status,
            "since" => &mut params.since,
            "until" => &mut params.until,
            _ => {
                return Err(ApiError::Validation(format!(
                    "unknown query parameter {name}"
                )))
            }
        };
        if slot.replace(value).is_some() {
            return Err(repeated(&name));
        }
    }
    if metadata.len() > METADATA_FILTERS_MAX {
        return Err(ApiError::Validation(format!(
            "at most {METADATA_FILTERS_MAX} metadata filters"
        )));
    }
    Ok((params, metadata))
}

fn parse(
    user: &AuthenticatedUser,
    params: SearchParams,
    metadata: BTreeMap<String, String>,
) -> Result<TransferSearch, ApiError> {
    let page = StatementPage::parse(params.limit, params.before_id)?;
    let account_id = params.account_id.map(ResourceId::parse).transpose()?;
    let status = match params.status.as_deref() {
        None => None,
        Some(text) => Some(TransferStatus::parse(text).ok_or_else(|| {
            ApiError::Validation(
                "status must be one of pending, posted, voided, expired".to_owned(),
            )
        })?),
    };
    // Values are checked as a transfer's are: a filter no transfer can match is a mistake.
    let metadata = Metadata::parse(Some(&metadata))?.unwrap_or_default();
    let scope = match user.is_banker() {
        true => SearchScope::Everything,
        false => SearchScope::Owner(user.username.as_str().to_owned()),
    };
    Ok(TransferSearch {
        scope,
        account_id,
        reference: Reference::parse(params.reference.as_deref())?,
        status,
        since: Instant::parse_optional("since", params.since.as_deref())?,
        until: Instant::parse_optional("until", params.until.as_deref())?,
        metadata,
        limit: page.limit,
        before_id: TransferId::from(page.before_id),
    })
}
