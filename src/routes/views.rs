//! The JSON shapes of docs/api.md for accounts, transfers and entries.

use std::collections::BTreeMap;

use serde::Serialize;
use tally_actors::{AccountId, AccountSnapshot, Entry, StatementLine, Transfer, TransferId};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An account. `owner` is null only for a currency's reserve account (visible to bankers).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    #[schema(value_type = i64)]
    pub id: AccountId,
    pub owner: Option<String>,
    /// Posted balance in minor units.
    pub balance: i64,
    /// The sum of the account's pending outgoing transfers.
    pub held: i64,
    /// `balance + overdraft - held`: what transfers and withdrawals may spend (below 0 while a
    /// limit lowered below the account's debt is not paid back).
    pub available: i64,
    /// Minor units the balance may go below 0, set by a banker (0 by default).
    pub overdraft: i64,
    #[schema(value_type = String, example = "USD")]
    pub currency: &'static str,
    #[serde(with = "crate::routes::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// `active`; `frozen` (refuses debits, accepts credits); `closed` (refuses both, for good).
    #[schema(example = "active")]
    pub status: String,
}

impl From<&AccountSnapshot> for AccountView {
    fn from(account: &AccountSnapshot) -> AccountView {
        AccountView {
            id: account.id,
            owner: account.owner.clone(),
            balance: account.balance,
            held: account.held,
            available: account.available(),
            overdraft: account.overdraft,
            currency: account.currency.as_str(),
            created_at: account.created_at,
            status: account.status.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferView {
    #[schema(value_type = i64)]
    pub id: TransferId,
    #[schema(value_type = i64)]
    pub from_account_id: AccountId,
    #[schema(value_type = i64)]
    pub to_account_id: AccountId,
    /// Minor units, > 0.
    pub amount: i64,
    #[schema(value_type = String, example = "USD")]
    pub currency: &'static str,
    /// `posted` for every ordinary transfer, deposit and withdrawal; `pending`, `voided` or
    /// `expired` for holds.
    #[schema(value_type = String, example = "posted")]
    pub status: &'static str,
    #[serde(with = "crate::routes::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Null unless posted.
    #[serde(with = "crate::routes::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub posted_at: Option<OffsetDateTime>,
    /// Null unless the transfer was created pending.
    #[serde(with = "crate::routes::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// What the payer wrote about the transfer; shown to both parties. Absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The payer's reference, unique per paying account; only to the payer's owner and
    /// bankers. Absent when none (or not shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The payer's metadata; only to the payer's owner and bankers. Absent when none (or not
    /// shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The transfer this one refunds; absent unless it is a reversal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal_of: Option<i64>,
    /// How much of this transfer was refunded by reversals (0 to `amount`).
    pub reversed_amount: i64,
}

/// Without a caller to judge by, a transfer shows only what both parties may read.
impl From<&Transfer> for TransferView {
    fn from(transfer: &Transfer) -> TransferView {
        TransferView::seen(transfer, false)
    }
}

impl TransferView {
    /// The transfer as a caller sees it: `reference` and `metadata` only when `reads_payer`
    /// (the caller owns the paying account, or is a banker).
    pub fn seen(transfer: &Transfer, reads_payer: bool) -> TransferView {
        let details = &transfer.details;
        TransferView {
            id: transfer.id,
            from_account_id: transfer.from_account_id,
            to_account_id: transfer.to_account_id,
            amount: transfer.amount.get(),
            currency: transfer.currency.as_str(),
            status: transfer.status.as_str(),
            created_at: transfer.created_at,
            posted_at: transfer.posted_at,
            expires_at: transfer.expires_at,
            description: details.description.clone(),
            reference: details.reference.clone().filter(|_| reads_payer),
            metadata: details.metadata.clone().filter(|_| reads_payer),
            reversal_of: details.reversal_of.map(TransferId::get),
            reversed_amount: transfer.reversed_amount,
        }
    }
}

/// One side of a transfer on one account: negative for a debit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryView {
    pub id: i64,
    #[schema(value_type = i64)]
    pub account_id: AccountId,
    #[schema(value_type = i64)]
    pub transfer_id: TransferId,
    pub amount: i64,
    /// The account's posted balance right after this entry; only on entries of accounts the
    /// caller owns (or to a banker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_after: Option<i64>,
    #[serde(with = "crate::routes::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// On a statement: the account on the other side of the transfer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterparty_account_id: Option<i64>,
    /// On a statement: the transfer's description, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// On a statement: the transfer's reference, on the payer's side (a debit) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// On a statement: `reserve` when the other side is the currency's reserve (the entry is a
    /// deposit or a withdrawal, which are not refunded), else `customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterparty_kind: Option<CounterpartyKind>,
    /// On a statement: how much of the transfer was refunded so far (0 to its amount).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversed_amount: Option<i64>,
}

/// What kind of account is on the other side of a statement entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CounterpartyKind {
    Customer,
    Reserve,
}

impl EntryView {
    /// A statement line: the entry (the caller reads the account) with its counterparty and
    /// what the transfer says.
    pub fn line(line: &StatementLine) -> EntryView {
        EntryView {
            counterparty_account_id: Some(line.counterparty_account_id.get()),
            description: line.description.clone(),
            reference: line.reference.clone(),
            counterparty_kind: Some(match line.counterparty_is_reserve {
                true => CounterpartyKind::Reserve,
                false => CounterpartyKind::Customer,
            }),
            reversed_amount: Some(line.reversed_amount),
            ..EntryView::new(&line.entry, true)
        }
    }

    /// The entry as the caller may see it: `balance_after` only when `may_read_account`.
    pub fn new(entry: &Entry, may_read_account: bool) -> EntryView {
        EntryView {
            id: entry.id,
            account_id: entry.account_id,
            transfer_id: entry.transfer_id,
            amount: entry.amount,
            balance_after: may_read_account.then_some(entry.balance_after),
            created_at: entry.created_at,
            counterparty_account_id: None,
            description: None,
            reference: None,
            counterparty_kind: None,
            reversed_amount: None,
        }
    }
}

/// The answer to `POST /transfers`. `to_account` is present only when the caller owns it: a
/// recipient's balance is never shown to the sender. A pending transfer has no entries yet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferResult {
    pub transfer: TransferView,
    pub from_account: AccountView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_entry: Option<EntryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_entry: Option<EntryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_account: Option<AccountView>,
}

/// The answer to posting or voiding a pending transfer: the transfer, its entries when it was
/// posted, and the accounts the caller owns (a banker: both).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingResult {
    pub transfer: TransferView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_entry: Option<EntryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_entry: Option<EntryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_account: Option<AccountView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_account: Option<AccountView>,
}

/// The answer to a deposit or a withdrawal: the transfer and the customer's account after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovementResult {
    pub transfer: TransferView,
    pub account: AccountView,
}

/// The posted balance of an account at an instant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BalanceAtView {
    #[schema(value_type = i64)]
    pub account_id: AccountId,
    #[schema(value_type = String, example = "USD")]
    pub currency: &'static str,
    pub balance: i64,
    #[serde(with = "crate::routes::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}
