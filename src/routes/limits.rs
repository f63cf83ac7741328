//! `PUT /accounts/{id}/limits`: a banker sets an account's overdraft limit.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_actors::config::OVERDRAFT_MAX;
use tally_actors::AccountId;
use utoipa::ToSchema;

use crate::auth::AuthenticatedUser;
use crate::domain::ResourceId;
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::Json;
use crate::routes::idempotency::{idempotency_key, respond, Asked};
use crate::routes::views::AccountView;
use crate::startup::AppState;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// Minor units the balance may go below 0: 0 (no overdraft, the default) to 10^12.
    #[schema(example = 50000)]
    overdraft: i64,
}

/// Set an account's overdraft limit (bankers only): a debit may then take its balance down to
/// `-overdraft`. Lowering it below the account's debt is allowed: the debt stays, and new debits
/// are refused until credits bring the balance back within the limit.
#[utoipa::path(
    put, path = "/accounts/{id}/limits", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account id"), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")),
    request_body = LimitsRequest,
    responses(
        (status = 200, description = "The account with its new `overdraft` and `available`", body = AccountView),
        (status = 400, description = "`overdraft` not an integer from 0 to 10^12, or a bad key", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "A depositor, on their own account", body = ErrorBody),
        (status = 404, description = "No such account, a reserve, or an account the caller may not read", body = ErrorBody),
        (status = 409, description = "`account_closed`, `idempotency_key_reused`", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn set_limits(
    user: AuthenticatedUser,
    request: HttpRequest,
    path: web::Path<i64>,
    body: Json<LimitsRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ResourceId::parse(*path)?;
    let overdraft = overdraft(body.overdraft)?;
    if !user.is_banker() {
        return Err(refusal_for_depositor(&user, &state, id).await);
    }
    let asked = Asked::Limits {
        account_id: id,
        body: &body,
    };
    let key = idempotency_key(&request, &user, &asked)?;
    let changed = state.engine.set_overdraft(id, overdraft, key).await?;
    Ok(respond(
        HttpResponse::Ok(),
        changed.replayed,
        &AccountView::from(&changed.account),
    ))
}

/// The limit asked for, within 0 to `OVERDRAFT_MAX`.
fn overdraft(minor_units: i64) -> Result<i64, ApiError> {
    match (0..=OVERDRAFT_MAX).contains(&minor_units) {
        true => Ok(minor_units),
        false => Err(ApiError::Validation(format!(
            "overdraft must be an integer number of minor units from 0 to {OVERDRAFT_MAX}"
        ))),
    }
}

/// A depositor may not set limits: 403 on their own account, and 404 on any other, as if it
/// did not exist (they may not read it).
async fn refusal_for_depositor(
    user: &AuthenticatedUser,
    state: &AppState,
    id: AccountId,
) -> ApiError {
    match state.reads.account_committed(id).await {
        Ok(account) if account.owner.as_deref() == Some(user.username.as_str()) => {
            ApiError::Forbidden("only a banker sets an account's limits".to_owned())
        }
        Ok(_) => ApiError::NotFound("no such account".to_owned()),
        Err(error) => ApiError::from(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_bounded_by_overdraft_max() {
        assert_eq!(overdraft(0).ok(), Some(0));
        assert_eq!(overdraft(OVERDRAFT_MAX).ok(), Some(OVERDRAFT_MAX));
        assert!(overdraft(-1).is_err());
        assert!(overdraft(OVERDRAFT_MAX + 1).is_err());
    }
}
