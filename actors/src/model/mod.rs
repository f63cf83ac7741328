//! The engine's vocabulary: ids, amounts, currencies, and the typed outcomes of its calls.
//! Values are parsed once at the edge (`Amount::new`, `Currency::parse`), so an invalid one cannot
//! reach the engine's internals.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

/// Defines an id newtype over PostgreSQL's `bigint`: serialised as the bare number, stored as
/// `bigint`, distinct from every other id so the two cannot be swapped.
macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> $name {
                $name(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> $name {
                $name(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl ToSql for $name {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <i64 as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }

        impl<'a> FromSql<'a> for $name {
            fn from_sql(
                ty: &Type,
                raw: &'a [u8],
            ) -> Result<$name, Box<dyn std::error::Error + Sync + Send>> {
                i64::from_sql(ty, raw).map($name)
            }

            fn accepts(ty: &Type) -> bool {
                <i64 as FromSql>::accepts(ty)
            }
        }
    };
}

id_newtype!(
    /// An account's id (`accounts.id`).
    AccountId
);
id_newtype!(
    /// A transfer's id (`transfers.id`).
    TransferId
);

/// A transfer amount in minor units (cents): always > 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Amount(i64);

impl Amount {
    pub fn new(minor_units: i64) -> Result<Amount, Refusal> {
        if minor_units > 0 {
            Ok(Amount(minor_units))
        } else {
            Err(Refusal::InvalidAmount)
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Amount {
    type Error = Refusal;
    fn try_from(minor_units: i64) -> Result<Self, Self::Error> {
        Amount::new(minor_units)
    }
}

impl From<Amount> for i64 {
    fn from(amount: Amount) -> i64 {
        amount.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    USD,
    EUR,
    CAD,
    KRW,
    JPY,
    GBP,
}

impl Currency {
    pub const ALL: [Currency; 6] = [
        Currency::USD,
        Currency::EUR,
        Currency::CAD,
        Currency::KRW,
        Currency::JPY,
        Currency::GBP,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Currency::USD => "USD",
            Currency::EUR => "EUR",
            Currency::CAD => "CAD",
            Currency::KRW => "KRW",
            Currency::JPY => "JPY",
            Currency::GBP => "GBP",
        }
    }

    pub fn parse(code: &str) -> Option<Currency> {
        Currency::ALL
            .into_iter()
            .find(|currency| currency.as_str() == code)
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Currency::parse(code).ok_or_else(|| format!("unsupported currency `{code}`"))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    Customer,
    /// The per-currency system account money enters and leaves through; the only one that may
    /// go negative.
    Reserve,
}

impl AccountKind {
    pub fn parse(kind: &str) -> Option<AccountKind> {
        match kind {
            "customer" => Some(AccountKind::Customer),
            "reserve" => Some(AccountKind::Reserve),
            _ => None,
        }
    }
}

/// Whether an account may pay and be paid. Bankers freeze and unfreeze; its owner or a banker
/// closes an empty account, for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Active,
    /// Refuses debits (its own holds may still be posted); accepts credits.
    Frozen,
    /// Refuses debits and credits; never active again.
    Closed,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 3] = [
        AccountStatus::Active,
        AccountStatus::Frozen,
        AccountStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Frozen => "frozen",
            AccountStatus::Closed => "closed",
        }
    }

    pub fn parse(status: &str) -> Option<AccountStatus> {
        match status {
            "active" => Some(AccountStatus::Active),
            "frozen" => Some(AccountStatus::Frozen),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }

    /// How much the status restricts: active < frozen < closed.
    pub fn rank(self) -> u8 {
        match self {
            AccountStatus::Active => 0,
            AccountStatus::Frozen => 1,
            AccountStatus::Closed => 2,
        }
    }

    /// Why a debit from an account in this status is refused, if it is.
    pub fn debit_refusal(self) -> Option<Refusal> {
        match self {
            AccountStatus::Active => None,
            AccountStatus::Frozen => Some(Refusal::AccountFrozen),
            AccountStatus::Closed => Some(Refusal::AccountClosed),
        }
    }

    /// Why a credit to an account in this status is refused, if it is.
    pub fn credit_refusal(self) -> Option<Refusal> {
        match self {
            AccountStatus::Closed => Some(Refusal::AccountClosed),
            AccountStatus::Active | AccountStatus::Frozen => None,
        }
    }
}

/// An account's overdraft limit and the floor it sets (docs/design.md, "Overdraft limits").
/// `balance − held` may go down to `floor` and no further; `floor` is `−overdraft`, or lower while
/// a limit lowered below the account's debt has not been paid back (it only ever rises then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limit {
    /// Minor units the balance may go below 0 (0 to `OVERDRAFT_MAX`).
    pub overdraft: i64,
    /// The lowest `balance − held` may go now: at most `−overdraft`.
    pub floor: i64,
}

/// What never changes about an account once it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub id: AccountId,
    /// `None` for a reserve account.
    pub owner: Option<String>,
    pub currency: Currency,
    pub kind: AccountKind,
    pub created_at: OffsetDateTime,
}

/// An account with its balance as the engine knows it (committed money only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    pub id: AccountId,
    pub owner: Option<String>,
    /// Posted money.
    pub balance: i64,
    /// The sum of the account's pending outgoing transfers (holds).
    #[serde(default)]
    pub held: i64,
    pub currency: Currency,
    pub kind: AccountKind,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default)]
    pub status: AccountStatus,
    /// Minor units the balance may go below 0 (0 unless a banker set a limit).
    #[serde(default)]
    pub overdraft: i64,
}

impl AccountSnapshot {
    /// What transfers and withdrawals may spend: `balance + overdraft − held`. Negative while a
    /// limit lowered below the account's debt is not paid back.
    pub fn available(&self) -> i64 {
        self.balance + self.overdraft - self.held
    }
}

/// Where a transfer stands. Ordinary transfers, deposits and withdrawals are `Posted` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl TransferStatus {
    pub const ALL: [TransferStatus; 4] = [
        TransferStatus::Pending,
        TransferStatus::Posted,
        TransferStatus::Voided,
        TransferStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Pending => "pending",
            TransferStatus::Posted => "posted",
            TransferStatus::Voided => "voided",
            TransferStatus::Expired => "expired",
        }
    }

    pub fn parse(status: &str) -> Option<TransferStatus> {
        TransferStatus::ALL
            .into_iter()
            .find(|known| known.as_str() == status)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: TransferId,
    pub from_account_id: AccountId,
    pub to_account_id: AccountId,
    pub amount: Amount,
    pub currency: Currency,
    pub status: TransferStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub posted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub details: TransferDetails,
    /// How much of this transfer was refused back to its payer by reversals (≤ `amount`).
    #[serde(default)]
    pub reversed_amount: i64,
}

/// What a transfer says about itself: `description` for both parties; `reference` (unique per
/// payer account) and `metadata` are the payer's own. Bounds are checked at the edge (the HTTP
/// crate's domain types) and again by the database's CHECK constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransferDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The transfer this one reverses (a refund), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversal_of: Option<TransferId>,
}

impl TransferDetails {
    /// The metadata as stored (a JSONB object), or NULL.
    pub fn metadata_json(&self) -> Option<serde_json::Value> {
        self.metadata
            .as_ref()
            .map(|metadata| serde_json::to_value(metadata).expect("a map of strings"))
    }

    /// Details from a row's columns; metadata that is not an object of strings is dropped.
    pub fn from_columns(
        description: Option<String>,
        reference: Option<String>,
        metadata: Option<serde_json::Value>,
    ) -> TransferDetails {
        TransferDetails {
            description,
            reference,
            metadata: metadata.and_then(|value| serde_json::from_value(value).ok()),
            reversal_of: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: i64,
    pub account_id: AccountId,
    pub transfer_id: TransferId,
    /// Negative for a debit.
    pub amount: i64,
    /// The account's posted balance right after this entry.
    pub balance_after: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Entry {
    /// A transfer's debit leg is entry 2t, its credit leg 2t+1 (`entries` is a view over
    /// transfers): both ids are derived, never stored.
    pub fn debit_id(transfer_id: TransferId) -> i64 {
        transfer_id.get() * 2
    }

    pub fn credit_id(transfer_id: TransferId) -> i64 {
        transfer_id.get() * 2 + 1
    }
}

/// A committed change of a transfer (moved, held, posted, voided or expired): durable in PostgreSQL before this value exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transferred {
    pub transfer: Transfer,
    /// The legs, when money moved (a posted transfer or posting); none for a hold, a void or
    /// an expiry.
    pub from_entry: Option<Entry>,
    pub to_entry: Option<Entry>,
    /// Both accounts as they stood right after the transfer's batch committed.
    pub from_account: AccountSnapshot,
    pub to_account: AccountSnapshot,
    /// True when this is the stored answer to an idempotent replay: no money moved now.
    #[serde(default)]
    pub replayed: bool,
}

/// Who asks for a transfer, which decides whose accounts may be debited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// A user: may debit only accounts they own.
    Owner(String),
    /// A banker or the system: may debit any customer account.
    Privileged,
}

/// What kind of movement: customer transfers never touch a reserve account; deposits and
/// withdrawals are transfers from and to the currency's reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Transfer,
    Deposit,
    Withdrawal,
}

/// An `Idempotency-Key` as the engine keeps it: scoped to a user, with a hash of the request so
/// the same key with another body is told apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    pub username: String,
    pub key: String,
    pub request_hash: Vec<u8>,
    /// What kind of request used the key (`transfer`, `deposit`, ...), stored with its outcome.
    pub operation: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Amount,
    pub currency: Currency,
    pub authority: Authority,
    pub idempotency: Option<IdempotencyKey>,
    pub details: TransferDetails,
}

mod errors;

pub use errors::{
    BatchError, BatchItem, BatchItemOutcome, BatchOutcome, LookupError, OpenAccountError, Outage,
    Refusal, Saturation, TransferError,
};
