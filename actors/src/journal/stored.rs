//! Stored idempotency outcomes: what an `idempotency_keys.outcome` holds, as a type of its own
//! with a version, apart from the engine's public model. The public model may rename or add
//! fields; these names are what rows already in PostgreSQL say, so a replay keeps decoding them.
//!
//! Forms in tables: version 0 (no `version` field) is what the engine wrote up to this type
//! (and what migration V4 rewrote older rows into); version 1 adds the field; version 2 adds a
//! form of its own, an atomic batch refused whole (`StoredBatchRefused`). All decode here.
//! Committed outcomes are still written at version 1, their shape unchanged, so the previous
//! binary keeps replaying them while a rolling upgrade runs both.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{
    AccountId, AccountKind, AccountSnapshot, AccountStatus, Amount, BatchError, BatchItemOutcome,
    BatchOutcome, Currency, Entry, Refusal, Transfer, TransferDetails, TransferId, TransferStatus,
    Transferred,
};

/// The version this engine writes committed outcomes (and per-item answers) at.
pub(crate) const STORED_VERSION: u32 = 1;

/// The version of the refused-batch form, the first that has it.
pub(crate) const REFUSED_VERSION: u32 = 2;

/// The newest version this engine reads; a newer one is refused, not misread.
pub(crate) const VERSION_READ_MAX: u32 = REFUSED_VERSION;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoredError {
    #[error("a stored outcome that does not decode: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("a stored outcome of version {0}, newer than this engine's")]
    Newer(u32),
}

/// A single request's stored outcome (a transfer, a hold, a post, a void, a deposit...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredTransfer {
    /// Absent (0) in rows written before versioning.
    #[serde(default)]
    version: u32,
    transfer: StoredTransferRow,
    from_entry: Option<StoredEntry>,
    to_entry: Option<StoredEntry>,
    from_account: StoredAccount,
    to_account: StoredAccount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredTransferRow {
    id: i64,
    from_account_id: i64,
    to_account_id: i64,
    amount: Amount,
    currency: Currency,
    status: TransferStatus,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    posted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    /// Absent when the transfer says nothing (and in rows written before V10): an older engine
    /// ignores these fields, so version 1 keeps its shape.
    #[serde(default, flatten)]
    details: TransferDetails,
    #[serde(default, skip_serializing_if = "is_zero")]
    reversed_amount: i64,
}

fn is_zero(amount: &i64) -> bool {
    *amount == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredEntry {
    id: i64,
    account_id: i64,
    transfer_id: i64,
    amount: i64,
    balance_after: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredAccount {
    id: i64,
    owner: Option<String>,
    balance: i64,
    /// Absent in rows written before holds existed (migration V4 added it to most).
    #[serde(default)]
    held: i64,
    currency: Currency,
    kind: AccountKind,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// Absent in rows written before accounts had a status (migration V11): they were active.
    /// Left out when active, so an active account is stored as it always was.
    #[serde(default, skip_serializing_if = "is_active")]
    status: AccountStatus,
    /// Absent in rows written before limits (migration V12), and when 0: stored as it was.
    #[serde(default, skip_serializing_if = "is_zero")]
    overdraft: i64,
}

/// A batch request's stored outcome: each item committed or refused, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredBatch {
    #[serde(default)]
    version: u32,
    results: Vec<StoredItem>,
}

/// An atomic batch refused whole by the ledger's state (its first refused item): stored so the
/// same key answers the same refusal again, even after the accounts change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredBatchRefused {
    version: u32,
    refused: StoredRefusedItem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredRefusedItem {
    index: usize,
    refusal: StoredRefusal,
}

/// A refusal's code as stored: a money rule's, or the open holds cap's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum StoredRefusal {
    Rule(Refusal),
    Cap(StoredCap),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredCap {
    TooManyHolds,
}

/// What a batch's key answers: its outcome, or an atomic batch's refusal.
pub(crate) type BatchAnswer = Result<BatchOutcome, BatchError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredItem {
    Committed(Box<StoredTransfer>),
    Refused(Refusal),
}

fn checked(version: u32) -> Result<(), StoredError> {
    match version <= VERSION_READ_MAX {
        true => Ok(()),
        false => Err(StoredError::Newer(version)),
    }
}

impl StoredTransfer {
    fn from_model(transferred: &Transferred) -> StoredTransfer {
        let transfer = &transferred.transfer;
        StoredTransfer {
            version: STORED_VERSION,
            transfer: StoredTransferRow {
                id: transfer.id.get(),
                from_account_id: transfer.from_account_id.get(),
                to_account_id: transfer.to_account_id.get(),
                amount: transfer.amount,
                currency: transfer.currency,
                status: transfer.status,
                created_at: transfer.created_at,
                posted_at: transfer.posted_at,
                expires_at: transfer.expires_at,
                details: transfer.details.clone(),
                reversed_amount: transfer.reversed_amount,
            },
            from_entry: transferred.from_entry.as_ref().map(StoredEntry::from_model),
            to_entry: transferred.to_entry.as_ref().map(StoredEntry::from_model),
            from_account: StoredAccount::from_model(&transferred.from_account),
            to_account: StoredAccount::from_model(&transferred.to_account),
        }
    }

    fn into_model(self) -> Result<Transferred, StoredError> {
        checked(self.version)?;
        let row = self.transfer;
        Ok(Transferred {
            transfer: Transfer {
                id: TransferId::new(row.id),
                from_account_id: AccountId::new(row.from_account_id),
                to_account_id: AccountId::new(row.to_account_id),
                amount: row.amount,
                currency: row.currency,
                status: row.status,
                created_at: row.created_at,
                posted_at: row.posted_at,
                expires_at: row.expires_at,
                details: row.details,
                reversed_amount: row.reversed_amount,
            },
            from_entry: self.from_entry.map(StoredEntry::into_model),
            to_entry: self.to_entry.map(StoredEntry::into_model),
            from_account: self.from_account.into_model(),
            to_account: self.to_account.into_model(),
            replayed: true,
        })
    }

    /// The JSON stored for a committed request.
    pub(crate) fn encode(transferred: &Transferred) -> serde_json::Value {
        serde_json::to_value(StoredTransfer::from_model(transferred)).expect("a stored outcome")
    }

    /// A stored outcome as the answer to a replay (`replayed` set).
    pub(crate) fn decode(value: serde_json::Value) -> Result<Transferred, StoredError> {
        serde_json::from_value::<StoredTransfer>(value)?.into_model()
    }
}

impl StoredEntry {
    fn from_model(entry: &Entry) -> StoredEntry {
        StoredEntry {
            id: entry.id,
            account_id: entry.account_id.get(),
            transfer_id: entry.transfer_id.get(),
            amount: entry.amount,
            balance_after: entry.balance_after,
            created_at: entry.created_at,
        }
    }

    fn into_model(self) -> Entry {
        Entry {
            id: self.id,
            account_id: AccountId::new(self.account_id),
            transfer_id: TransferId::new(self.transfer_id),
            amount: self.amount,
            balance_after: self.balance_after,
            created_at: self.created_at,
        }
    }
}

fn is_active(status: &AccountStatus) -> bool {
    *status == AccountStatus::Active
}

impl StoredAccount {
    fn from_model(account: &AccountSnapshot) -> StoredAccount {
        StoredAccount {
            id: account.id.get(),
            owner: account.owner.clone(),
            balance: account.balance,
            held: account.held,
            currency: account.currency,
            kind: account.kind,
            created_at: account.created_at,
            status: account.status,
            overdraft: account.overdraft,
        }
    }

    fn into_model(self) -> AccountSnapshot {
        AccountSnapshot {
            id: AccountId::new(self.id),
            owner: self.owner,
            balance: self.balance,
            held: self.held,
            currency: self.currency,
            kind: self.kind,
            created_at: self.created_at,
            status: self.status,
            overdraft: self.overdraft,
        }
    }
}

impl StoredBatch {
    /// The JSON stored for an answered batch: its outcome, or an atomic batch's refusal.
    /// `None` for an unavailable engine: not an answer to store, the caller may retry.
    pub(crate) fn encode_answer(answer: &BatchAnswer) -> Option<serde_json::Value> {
        match answer {
            Ok(outcome) => Some(StoredBatch::encode(outcome)),
            Err(BatchError::Refused { index, refusal, .. }) => Some(StoredBatchRefused::encode(
                *index,
                StoredRefusal::Rule(*refusal),
            )),
            Err(BatchError::TooManyHolds { index, .. }) => Some(StoredBatchRefused::encode(
                *index,
                StoredRefusal::Cap(StoredCap::TooManyHolds),
            )),
            Err(BatchError::Failed(_)) => None,
        }
    }

    /// The JSON stored for a batch's outcome (each item committed or refused).
    pub(crate) fn encode(outcome: &BatchOutcome) -> serde_json::Value {
        let results = outcome
            .results
            .iter()
            .map(|result| match result {
                BatchItemOutcome::Committed(transferred) => {
                    StoredItem::Committed(Box::new(StoredTransfer::from_model(transferred)))
                }
                BatchItemOutcome::Refused(refusal) => StoredItem::Refused(*refusal),
            })
            .collect();
        let stored = StoredBatch {
            version: STORED_VERSION,
            results,
        };
        serde_json::to_value(stored).expect("a stored outcome")
    }

    /// A stored batch answer as the answer to a replay (`replayed` set).
    pub(crate) fn decode(value: serde_json::Value) -> Result<BatchAnswer, StoredError> {
        if value.get("refused").is_some() {
            let stored: StoredBatchRefused = serde_json::from_value(value)?;
            checked(stored.version)?;
            return Ok(Err(stored.into_model()));
        }
        let stored: StoredBatch = serde_json::from_value(value)?;
        checked(stored.version)?;
        let results = stored
            .results
            .into_iter()
            .map(|result| match result {
                StoredItem::Committed(transferred) => Ok(BatchItemOutcome::Committed(Box::new(
                    transferred.into_model()?,
                ))),
                StoredItem::Refused(refusal) => Ok(BatchItemOutcome::Refused(refusal)),
            })
            .collect::<Result<Vec<_>, StoredError>>()?;
        Ok(Ok(BatchOutcome {
            results,
            replayed: true,
        }))
    }
}

impl StoredBatchRefused {
    fn encode(index: usize, refusal: StoredRefusal) -> serde_json::Value {
        let stored = StoredBatchRefused {
            version: REFUSED_VERSION,
            refused: StoredRefusedItem { index, refusal },
        };
        serde_json::to_value(stored).expect("a stored outcome")
    }

    fn into_model(self) -> BatchError {
        let index = self.refused.index;
        match self.refused.refusal {
            StoredRefusal::Rule(refusal) => BatchError::Refused {
                index,
                refusal,
                replayed: true,
            },
            StoredRefusal::Cap(StoredCap::TooManyHolds) => BatchError::TooManyHolds {
                index,
                replayed: true,
            },
        }
    }
}

#[cfg(test)]
#[path = "stored_tests.rs"]
mod tests;
