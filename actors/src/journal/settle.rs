//! Carries out the settlements the plan returned: each reaches its account's actor, and each
//! caller gets its answer after its accounts were settled; for a batch committed, refused in
//! part, or failed.

use std::collections::BTreeMap;

use actix::dev::SendError;

use super::plan::{self, held_money, Refusals, Refused};
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

/// Releases every hold of a failed batch and answers its callers; the accounts reload, since a
/// commit that failed in flight may have landed after all.
pub(crate) fn fail(items: Vec<JournalItem>, reason: &str) {
    tracing::warn!(%reason, transfers = items.len(), "journal batch failed");
    settle_accounts(&items, plan::settlements(&items, None));
    for item in items {
        let _ = item.reply.send(JournalOutcome::Failed(reason.to_owned()));
    }
}

/// Answers every item of a submission PostgreSQL refused for its own data with `outcome`; the
/// holds are released and the accounts reload, as for a failed batch.
pub(crate) fn refuse_all(items: Vec<JournalItem>, outcome: fn() -> JournalOutcome) {
    settle_accounts(&items, plan::settlements(&items, None));
    for item in items {
        let _ = item.reply.send(outcome());
    }
}

/// Answers the refused items, releasing their holds, and returns the others.
pub(crate) fn reject_items(items: Vec<JournalItem>, refusals: &Refusals) -> Vec<JournalItem> {
    let fates = plan::refuse(&items, refusals);
    let mut kept = Vec::with_capacity(items.len());
    for (item, fate) in items.into_iter().zip(fates) {
        let Some(fate) = fate else {
            kept.push(item);
            continue;
        };
        let (outcome, payer_outcome) = match fate {
            Refused::Stale => (JournalOutcome::Stale, SettlementOutcome::ReleasedAndReload),
            Refused::DuplicateKey => (JournalOutcome::DuplicateKey, SettlementOutcome::Released),
            Refused::DuplicateReference => (
                JournalOutcome::DuplicateReference,
                SettlementOutcome::Released,
            ),
            Refused::NotPending => (JournalOutcome::NotPending, SettlementOutcome::Released),
            Refused::GroupAborted => (JournalOutcome::GroupAborted, SettlementOutcome::Released),
        };
        // A payee PostgreSQL refused to credit (closed by another replica) must reload too, or
        // its stale cache would take the retry into the same refusal until contended.
        let payee_outcome =
            match fate == Refused::Stale && refusals.stale.contains(&item.to.info.id) {
                true => SettlementOutcome::ReleasedAndReload,
                false => SettlementOutcome::Released,
            };
        release_item_with(&item, payer_outcome, payee_outcome);
        let _ = item.reply.send(outcome);
    }
    kept
}
