//! The answers of a committed batch, as pure functions of plain data: each row's id, each leg's
//! running balance, every item's answer and what each idempotency key stores.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use super::plan::{AccountAfter, Claimed, Planned};
use super::stored::{StoredBatch, StoredTransfer};
use super::{JournalItem, Operation};
use crate::model::{
    AccountId, AccountInfo, AccountSnapshot, BatchItemOutcome, BatchOutcome, Entry, IdempotencyKey,
    Transfer, TransferId, TransferStatus, Transferred,
};

/// Each item's new row id, in item order: every operation but a release writes a row.
pub(crate) fn row_ids<T: Planned>(items: &[T], allocated: &[i64]) -> Vec<Option<TransferId>> {
    let mut allocated = allocated.iter().copied();
    let row_ids = items
        .iter()
        .map(|item| {
            item.operation()
                .writes_row()
                .then(|| TransferId::new(allocated.next().expect("an id per row")))
        })
        .collect();
    assert!(allocated.next().is_none(), "every id allocated is used");
    row_ids
}

/// Each leg's balance right after it: walking the batch backwards from the balances after the
/// whole batch, undoing one movement at a time. Items that move no money have no legs.
pub(crate) fn balances_after_legs<T: Planned>(
    items: &[T],
    balances: &HashMap<AccountId, AccountAfter>,
) -> Vec<Option<(i64, i64)>> {
    let mut running: HashMap<AccountId, i64> = balances
        .iter()
        .map(|(id, after)| (*id, after.balance))
        .collect();
    let mut legs = vec![None; items.len()];
    for (index, item) in items.iter().enumerate().rev() {
        if !item.operation().moves_money() {
            continue;
        }
        let amount = item.amount().get();
        let [from_id, to_id] = item.accounts();
        let from = running.get_mut(&from_id).expect("a touched account");
        let from_after = *from;
        *from = from.checked_add(amount).expect("a leg within i64");
        let to = running.get_mut(&to_id).expect("a touched account");
        let to_after = *to;
        *to = to.checked_sub(amount).expect("a leg within i64");
        legs[index] = Some((from_after, to_after));
    }
    legs
}

/// Every item's answer: its transfer as the row stands after the batch, its legs, and both
/// accounts as they stand after the whole batch.
pub(crate) fn assemble<T: Planned>(
    items: &[T],
    row_ids: &[Option<TransferId>],
    created_at: OffsetDateTime,
    claimed: &HashMap<TransferId, Claimed>,
    balances: &HashMap<AccountId, AccountAfter>,
) -> Vec<Transferred> {
    let legs = balances_after_legs(items, balances);
    items
        .iter()
        .zip(row_ids)
        .zip(legs)
        .map(|((item, row_id), legs)| {
            let transfer = transfer_after(item, *row_id, created_at, claimed);
            let (from_entry, to_entry) = match (*row_id, legs) {
                (Some(row_id), Some((from_after, to_after))) => {
                    let moved = item.amount().get();
                    let at = transfer.posted_at.unwrap_or(created_at);
                    let leg = |id, account_id, amount, balance_after| Entry {
                        id,
                        account_id,
                        transfer_id: transfer.id,
                        amount,
                        balance_after,
                        created_at: at,
                    };
                    let [from_id, to_id] = item.accounts();
                    (
                        Some(leg(Entry::debit_id(row_id), from_id, -moved, from_after)),
                        Some(leg(Entry::credit_id(row_id), to_id, moved, to_after)),
                    )
                }
                _ => (None, None),
            };
            Transferred {
                transfer,
                from_entry,
                to_entry,
                from_account: snapshot(item.payer(), balances),
                to_account: snapshot(item.payee(), balances),
                replayed: false,
            }
        })
        .collect()
}

fn snapshot(info: &AccountInfo, balances: &HashMap<AccountId, AccountAfter>) -> AccountSnapshot {
    let after = balances[&info.id];
    AccountSnapshot {
        id: info.id,
        owner: info.owner.clone(),
        balance: after.balance,
        held: after.held,
        currency: info.currency,
        kind: info.kind,
        created_at: info.created_at,
        status: after.status,
        overdraft: after.limit.overdraft,
    }
}

/// The transfer as its row stands after the batch: a new row, or the pending one it ended.
fn transfer_after<T: Planned>(
    item: &T,
    row_id: Option<TransferId>,
    now: OffsetDateTime,
    claimed: &HashMap<TransferId, Claimed>,
) -> Transfer {
    let [from_account_id, to_account_id] = item.accounts();
    let base = |id: TransferId, status: TransferStatus| Transfer {
        id,
        from_account_id,
        to_account_id,
        amount: item.amount(),
        currency: item.currency(),
        status,
        created_at: now,
        posted_at: None,
        expires_at: None,
        details: item.details().clone(),
        reversed_amount: 0,
    };
    let operation = item.operation();
    match operation {
        Operation::Transfer => Transfer {
            posted_at: Some(now),
            ..base(row_id.expect("a row"), TransferStatus::Posted)
        },
        Operation::CreatePending { expires_at } => Transfer {
            expires_at: Some(expires_at),
            ..base(row_id.expect("a row"), TransferStatus::Pending)
        },
        Operation::Post { pending_id, .. } | Operation::Release { pending_id, .. } => {
            let row = &claimed[&pending_id];
            let status = operation.claim_status().expect("an ending");
            Transfer {
                created_at: row.created_at,
                posted_at: row.posted_at,
                expires_at: row.expires_at,
                details: row.details.clone(),
                ..base(pending_id, status)
            }
        }
    }
}

/// One idempotency row to insert: the key, the transfer it names (none for a batch) and the
/// stored outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyRow<'a> {
    pub key: &'a IdempotencyKey,
    pub transfer_id: Option<TransferId>,
    pub outcome: serde_json::Value,
}

/// The keys of keyed items and of keyed groups, with what each stores.
pub(crate) fn key_rows<'a, T: Planned>(
    items: &'a [T],
    transfers: &[Transferred],
) -> Vec<KeyRow<'a>> {
    let mut rows: Vec<KeyRow<'a>> = items
        .iter()
        .zip(transfers)
        .filter_map(|(item, transferred)| {
            Some(KeyRow {
                key: item.idempotency()?,
                transfer_id: Some(transferred.transfer.id),
                outcome: StoredTransfer::encode(transferred),
            })
        })
        .collect();
    rows.extend(group_outcomes(items, transfers));
    rows
}

/// Each keyed group's whole outcome: its refusals where they were, its committed items' answers
/// in the other places, in order.
fn group_outcomes<'a, T: Planned>(items: &'a [T], transfers: &[Transferred]) -> Vec<KeyRow<'a>> {
    items
        .iter()
        .filter_map(|item| Some((item.group()?, item.group_key()?)))
        .map(|(group, group_key)| {
            let mut committed = items
                .iter()
                .zip(transfers)
                .filter(|(member, _)| member.group() == Some(group))
                .map(|(_, transfer)| transfer);
            let results: Vec<BatchItemOutcome> = group_key
                .outcome
                .iter()
                .map(|slot| match slot {
                    Some(refused) => refused.clone(),
                    None => BatchItemOutcome::Committed(Box::new(
                        committed
                            .next()
                            .expect("an answer per committed item")
                            .clone(),
                    )),
                })
                .collect();
            assert!(committed.next().is_none(), "every committed item answered");
            let outcome = BatchOutcome {
                results,
                replayed: false,
            };
            KeyRow {
                key: &group_key.key,
                transfer_id: None,
                outcome: StoredBatch::encode(&outcome),
            }
        })
        .collect()
}

/// The items with a reference whose row PostgreSQL skipped: their payer already used it.
pub(crate) fn duplicate_references(
    items: &[JournalItem],
    row_ids: &[Option<TransferId>],
    referenced_rows: &HashSet<TransferId>,
    hold_rows: &HashSet<TransferId>,
) -> HashSet<usize> {
    items
        .iter()
        .zip(row_ids)
        .enumerate()
        .filter(|(_, (item, _))| item.details.reference.is_some())
        .filter(|(_, (_, row_id))| {
            row_id.is_some_and(|id| !referenced_rows.contains(&id) && !hold_rows.contains(&id))
        })
        .map(|(index, _)| index)
        .collect()
}

/// The items whose key (or whose group's key) was not inserted: another request committed it.
pub(crate) fn duplicate_keys<T: Planned>(
    items: &[T],
    inserted: &HashSet<(String, String)>,
) -> HashSet<usize> {
    let taken = |key: &IdempotencyKey| !inserted.contains(&(key.username.clone(), key.key.clone()));
    let taken_groups: HashSet<u64> = items
        .iter()
        .filter_map(|item| Some((item.group()?, item.group_key()?)))
        .filter(|(_, group_key)| taken(&group_key.key))
        .map(|(group, _)| group)
        .collect();
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            item.idempotency().is_some_and(taken)
                || item
                    .group()
                    .is_some_and(|group| taken_groups.contains(&group))
        })
        .map(|(index, _)| index)
        .collect()
}

/// Whether the batch stores a key, so that it must wait for the keys' answer before COMMIT.
pub(crate) fn keyed<T: Planned>(items: &[T]) -> bool {
    items
        .iter()
        .any(|item| item.idempotency().is_some() || item.group_key().is_some())
}

#[cfg(test)]
#[path = "answers_tests.rs"]
mod tests;
