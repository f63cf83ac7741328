//! The typed failures of the engine's calls: refusals by the money rules (nothing moved), full
//! bounds (retry shortly), outages (retry with the same key), corrupt rows; and the outcomes of
//! batches, which carry them per item.

use serde::{Deserialize, Serialize};

use super::{TransferRequest, Transferred};

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
    #[error("the account is frozen: it can receive money but not pay")]
    AccountFrozen,
    #[error("the account is closed")]
    AccountClosed,
    #[error("only an account with balance 0 and nothing held can be closed")]
    AccountNotEmpty,
    /// The payer's account already made a transfer with this reference.
    #[error("the payer's account already has a transfer with this reference")]
    DuplicateReference,
    /// A refund would take what was reversed of a transfer past its amount.
    #[error("the reversals would exceed the original transfer's amount")]
    ReversalExceedsOriginal,
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
            Refusal::AccountFrozen => "account_frozen",
            Refusal::AccountClosed => "account_closed",
            Refusal::AccountNotEmpty => "account_not_empty",
            Refusal::DuplicateReference => "duplicate_reference",
            Refusal::ReversalExceedsOriginal => "reversal_exceeds_original",
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
    /// A reversal of a transfer that is not posted (pending, voided or expired).
    #[error("the transfer is not posted")]
    NotPosted,
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
