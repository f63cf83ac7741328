//! The JSON shapes of docs/api.md for accounts, transfers and entries.

use serde::Serialize;
use tally_actors::{AccountSnapshot, Entry, Transfer};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An account. `owner` is null only for a currency's reserve account (visible to bankers).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub owner: Option<String>,
    /// Committed balance in minor units.
    pub balance: i64,
    #[schema(example = "USD")]
    pub currency: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<&AccountSnapshot> for AccountView {
    fn from(account: &AccountSnapshot) -> AccountView {
        AccountView {
            id: account.id,
            owner: account.owner.clone(),
            balance: account.balance,
            currency: account.currency.as_str().to_owned(),
            created_at: account.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferView {
    pub id: i64,
    pub from_account_id: i64,
    pub to_account_id: i64,
    /// Minor units, > 0.
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<&Transfer> for TransferView {
    fn from(transfer: &Transfer) -> TransferView {
        TransferView {
            id: transfer.id,
            from_account_id: transfer.from_account_id,
            to_account_id: transfer.to_account_id,
            amount: transfer.amount.get(),
            currency: transfer.currency.as_str().to_owned(),
            created_at: transfer.created_at,
        }
    }
}

/// One side of a transfer on one account: negative for a debit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub account_id: i64,
    pub transfer_id: i64,
    pub amount: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<&Entry> for EntryView {
    fn from(entry: &Entry) -> EntryView {
        EntryView {
            id: entry.id,
            account_id: entry.account_id,
            transfer_id: entry.transfer_id,
            amount: entry.amount,
            created_at: entry.created_at,
        }
    }
}

/// The answer to `POST /transfers`. `to_account` is present only when the caller owns it: a
/// recipient's balance is never shown to the sender.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferResult {
    pub transfer: TransferView,
    pub from_account: AccountView,
    pub from_entry: EntryView,
    pub to_entry: EntryView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_account: Option<AccountView>,
}

/// The answer to a deposit or a withdrawal: the transfer and the customer's account after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovementResult {
    pub transfer: TransferView,
    pub account: AccountView,
}
