//! Carries out the settlements the plan returned: each reaches its account's actor, and each
//! caller gets its answer after its accounts were settled.

use std::collections::BTreeMap;

use actix::dev::SendError;

use super::plan::held_money;
use super::{JournalItem, JournalOutcome};
use crate::account::{Settle, Settlement, SettlementOutcome, Side};
use crate::model::{AccountId, Amount, Transferred};
use crate::registry::AccountHandle;

/// Sends each account of `items` its settlement (one per account, from the plan).
pub(crate) fn settle_accounts(items: &[JournalItem], settlements: BTreeMap<AccountId, Settlement>) {
    let mut handles: BTreeMap<AccountId, &AccountHandle> = BTreeMap::new();
    for item in items {
        handles.insert(item.from.info.id, &item.from);
        handles.insert(item.to.info.id, &item.to);
    }
    for (id, settlement) in settlements {
        settle_one(handles[&id], settlement);
    }
}

/// Answers each item of a committed batch with its transfer.
pub(crate) fn answer_committed(items: Vec<JournalItem>, transfers: Vec<Transferred>) {
    assert_eq!(items.len(), transfers.len(), "one answer per item");
    for (item, transferred) in items.into_iter().zip(transfers) {
        let _ = item
            .reply
            .send(JournalOutcome::Committed(Box::new(transferred)));
    }
}

/// Releases an item's holds, the payer's with `payer_outcome`.
pub(crate) fn release_item(item: &JournalItem, payer_outcome: SettlementOutcome) {
    release_item_with(item, payer_outcome, SettlementOutcome::Released);
}

/// Releases an item's holds with an outcome for each side (a stale payee reloads too).
pub(crate) fn release_item_with(
    item: &JournalItem,
    payer_outcome: SettlementOutcome,
    payee_outcome: SettlementOutcome,
) {
    let (payer, payee) = item.holds();
    release(&item.from, payer, item.amount, payer_outcome);
    if let Some(payee) = payee {
        release(&item.to, payee, item.amount, payee_outcome);
    }
}

/// Settles one hold of one account without anything committed.
pub(crate) fn release(
    handle: &AccountHandle,
    side: Side,
    amount: Amount,
    outcome: SettlementOutcome,
) {
    let (debits, credits) = held_money(side, amount);
    settle_one(
        handle,
        Settlement {
            debits,
            credits,
            holds: 1,
            outcome,
        },
    );
}

/// A settlement must reach its actor: without it the hold would keep money forever. It is
/// queued at once when the mailbox has room (keeping FIFO order with the caller's next request);
/// a full mailbox is waited for in the background. The number of settlements in flight is
/// bounded by `transfers_in_flight_max`, since each comes from a held transfer.
fn settle_one(handle: &AccountHandle, settlement: Settlement) {
    match handle.addr.try_send(Settle(settlement)) {
        Ok(()) | Err(SendError::Closed(_)) => {}
        Err(SendError::Full(message)) => {
            let addr = handle.addr.clone();
            tokio::spawn(async move {
                let _ = addr.send(message).await;
            });
        }
    }
}
