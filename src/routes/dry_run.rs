//! `?dry_run=true` on `POST /transfers` and `POST /transfers/batch`: what the request would
//! answer now, judged by the engine on the accounts' current state; nothing is moved, held or
//! stored (an `Idempotency-Key` is checked for its form, then neither looked up nor stored).

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use tally_actors::{AccountId, DryRun, Refusal, TransferError};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthenticatedUser;
use crate::error::{ApiError, ErrorDetail};
use crate::routes::views::AccountView;

/// The query string of `POST /transfers` and `POST /transfers/batch`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DryRunQuery {
    /// `true`: answer 200 with what the request would do, and do nothing (default false).
    dry_run: Option<bool>,
}

impl DryRunQuery {
    pub fn asked(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// A transfer as a dry run says it would be: no id (always null) and no timestamps, since
/// nothing is stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunTransferView {
    /// Always null: a dry run creates no transfer.
    #[schema(value_type = Option<i64>)]
    pub id: Option<i64>,
    #[schema(value_type = i64)]
    pub from_account_id: AccountId,
    #[schema(value_type = i64)]
    pub to_account_id: AccountId,
    /// Minor units, > 0.
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// `posted`, or `pending` for a pending transfer.
    #[schema(value_type = String, example = "posted")]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl From<&DryRun> for DryRunTransferView {
    /// The caller is the payer's owner: it reads what it wrote.
    fn from(dry_run: &DryRun) -> DryRunTransferView {
        let request = &dry_run.request;
        let details = &request.details;
        DryRunTransferView {
            id: None,
            from_account_id: request.from,
            to_account_id: request.to,
            amount: request.amount.get(),
            currency: request.currency.as_str().to_owned(),
            status: if dry_run.pending { "pending" } else { "posted" },
            description: details.description.clone(),
            reference: details.reference.clone(),
            metadata: details.metadata.clone(),
        }
    }
}

/// The answer to a dry run of `POST /transfers`: the transfer it would make and the payer's
/// account as it would stand after it (`to_account` too when the caller owns it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunResult {
    /// Always true.
    pub dry_run: bool,
    pub transfer: DryRunTransferView,
    pub from_account: AccountView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_account: Option<AccountView>,
}

/// One item of a batch's dry run: the transfer it would make, or why it would be refused.
#[derive(Serialize, ToSchema)]
pub struct DryRunBatchItemResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer: Option<DryRunTransferView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
}

/// The answer to a dry run of `POST /transfers/batch`.
#[derive(Serialize, ToSchema)]
pub struct DryRunBatchResult {
    /// Always true.
    dry_run: bool,
    /// In request order.
    results: Vec<DryRunBatchItemResult>,
    /// The caller's accounts the batch would change, as they would stand after it.
    accounts: Vec<AccountView>,
}

fn owned_by(user: &AuthenticatedUser, account: &tally_actors::AccountSnapshot) -> bool {
    account.owner.as_deref() == Some(user.username.as_str())
}

/// 200 with a single transfer's dry run.
pub fn respond(user: &AuthenticatedUser, dry_run: &DryRun) -> HttpResponse {
    let body = DryRunResult {
        dry_run: true,
        transfer: DryRunTransferView::from(dry_run),
        from_account: AccountView::from(&dry_run.from_account),
        // privacy_of_state: a recipient's balance is never shown to the sender.
        to_account: owned_by(user, &dry_run.to_account)
            .then(|| AccountView::from(&dry_run.to_account)),
    };
    HttpResponse::Ok().json(body)
}

/// 200 with a batch's dry run: each item in order, and the caller's accounts after all of them.
pub fn respond_batch(
    user: &AuthenticatedUser,
    results: &[Result<DryRun, Refusal>],
) -> HttpResponse {
    let mut accounts: BTreeMap<AccountId, AccountView> = BTreeMap::new();
    let results = results
        .iter()
        .map(|result| match result {
            Ok(dry_run) => {
                // Later items overwrite earlier ones: the last is the account after the batch.
                for account in [&dry_run.from_account, &dry_run.to_account] {
                    if owned_by(user, account) {
                        accounts.insert(account.id, AccountView::from(account));
                    }
                }
                DryRunBatchItemResult {
                    transfer: Some(DryRunTransferView::from(dry_run)),
                    error: None,
                }
            }
            Err(refusal) => DryRunBatchItemResult {
                transfer: None,
                error: Some(ApiError::from(TransferError::Refused(*refusal)).detail()),
            },
        })
        .collect();
    HttpResponse::Ok().json(DryRunBatchResult {
        dry_run: true,
        results,
        accounts: accounts.into_values().collect(),
    })
}
