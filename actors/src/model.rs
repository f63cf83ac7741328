//! The engine's vocabulary: ids, amounts, currencies, and the typed outcomes of its calls.
//! Values are parsed once at the edge (`Amount::new`, `Currency::parse`), so an invalid one cannot
//! reach the engine's internals.

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
}

impl AccountSnapshot {
    /// What transfers and withdrawals may spend.
    pub fn available(&self) -> i64 {
        self.balance - self.held
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
}

/// Why the money rules refused a transfer. Nothing moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("the amount must be above zero")]
    InvalidAmount,
    #[error("a transfer needs two different accounts")]
    SameAccount,
    #[error("no such account")]
    NotFound,
    #[error("the account belongs to someone else")]
    Forbidden,
    #[error("an account is not in the transfer's currency")]
    CurrencyMismatch,
    #[error("the available balance is lower than the amount")]
    InsufficientFunds,
    /// Only a deposit can be refused so: it would take the currency's total supply past the
    /// 64-bit range. By conservation no customer balance exceeds the supply, so no other credit
    /// can overflow, and no refusal depends on a recipient's balance.
    #[error("the deposit would take the currency's total supply past the 64-bit range")]
    BalanceOverflow,
    #[error("a pending transfer can be posted for at most its pending amount")]
    AmountAbovePending,
}

impl Refusal {
    /// A stable label (metrics, logs).
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::InvalidAmount => "invalid_amount",
            Refusal::SameAccount => "same_account",
            Refusal::NotFound => "not_found",
            Refusal::Forbidden => "forbidden",
            Refusal::CurrencyMismatch => "currency_mismatch",
            Refusal::InsufficientFunds => "insufficient_funds",
            Refusal::BalanceOverflow => "balance_overflow",
            Refusal::AmountAbovePending => "amount_above_pending",
        }
    }
}

/// Which bound inside the engine was full: nothing moved, and the same request may be retried
/// shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Saturation {
    #[error("too many transfers in flight")]
    InFlight,
    #[error("an account's mailbox is full")]
    AccountMailbox,
    #[error("the journal queue is full")]
    JournalQueue,
    #[error("too many active accounts")]
    ActiveAccounts,
    /// The accounts stayed contended through every retry (`stale_retries_max`).
    #[error("the accounts are contended")]
    Contended,
    /// Another request holds the same idempotency key right now.
    #[error("the idempotency key is being used by another request")]
    KeyInUse,
}

/// What the engine could not reach. Nothing moved, except after `Database` during a commit,
/// where the outcome is unknown: retry with the same key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Outage {
    /// PostgreSQL failed or could not be reached (its message, for the log).
    #[error("the database is unavailable: {0}")]
    Database(String),
    /// An account actor could not load its state.
    #[error("an account could not be loaded")]
    AccountNotLoaded,
    /// The engine is stopping: its task or the journal ended.
    #[error("the engine stopped")]
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("this idempotency key was already used with another request")]
    IdempotencyKeyReused,
    /// Post or void of a transfer that is no longer pending (posted, voided, expired, or past
    /// its `expires_at`).
    #[error("the transfer is not pending")]
    NotPending,
    /// A new hold on an account that already pays `holds_open_max` open ones.
    #[error("the account has too many open holds")]
    TooManyHolds,
    #[error("saturated: {0}")]
    Saturated(Saturation),
    #[error("unavailable: {0}")]
    Unavailable(Outage),
    /// A row in PostgreSQL that does not decode (logged and counted where found): a bug or
    /// damage, not an outage.
    #[error("a corrupt {what} in the database")]
    Corrupt { what: &'static str },
}

impl From<Saturation> for TransferError {
    fn from(saturation: Saturation) -> Self {
        TransferError::Saturated(saturation)
    }
}

impl From<Outage> for TransferError {
    fn from(outage: Outage) -> Self {
        TransferError::Unavailable(outage)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenAccountError {
    #[error("the owner already has an account in this currency")]
    Duplicate,
    #[error("no such owner")]
    OwnerNotFound,
    #[error("unavailable: {0}")]
    Unavailable(Outage),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("no such account")]
    NotFound,
    #[error("saturated: {0}")]
    Saturated(Saturation),
    #[error("unavailable: {0}")]
    Unavailable(Outage),
    /// As `TransferError::Corrupt`.
    #[error("a corrupt {what} in the database")]
    Corrupt { what: &'static str },
}

impl From<Saturation> for LookupError {
    fn from(saturation: Saturation) -> Self {
        LookupError::Saturated(saturation)
    }
}

impl From<Outage> for LookupError {
    fn from(outage: Outage) -> Self {
        LookupError::Unavailable(outage)
    }
}

impl From<LookupError> for TransferError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::NotFound => TransferError::Refused(Refusal::NotFound),
            LookupError::Saturated(saturation) => TransferError::Saturated(saturation),
            LookupError::Unavailable(outage) => TransferError::Unavailable(outage),
            LookupError::Corrupt { what } => TransferError::Corrupt { what },
        }
    }
}

/// One item of a batch: a transfer, pending when `pending_timeout` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub request: TransferRequest,
    pub pending_timeout: Option<std::time::Duration>,
}

/// What one item of a committed batch became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchItemOutcome {
    Committed(Box<Transferred>),
    Refused(Refusal),
}

/// The answer to a batch, in request order: stored with its idempotency key, replayed as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub results: Vec<BatchItemOutcome>,
    #[serde(default)]
    pub replayed: bool,
}

/// Why a batch as a whole did not commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// An all-or-nothing batch whose item `index` was refused; nothing moved. `replayed`: the
    /// answer stored with the batch's idempotency key, given again.
    #[error("item {index} was refused: {refusal}")]
    Refused {
        index: usize,
        refusal: Refusal,
        replayed: bool,
    },
    /// A batch whose pending item `index` would take its payer past `holds_open_max` open
    /// holds; nothing moved. `replayed` as for `Refused`.
    #[error("item {index} would take its payer past the open holds cap")]
    TooManyHolds { index: usize, replayed: bool },
    #[error(transparent)]
    Failed(#[from] TransferError),
}
