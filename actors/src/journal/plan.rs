//! The journal's decisions, as pure functions of plain data: which waiting submissions make the
//! next batch, each account's net change, the claims, which items a refusal removes and what is
//! retried, and the settlement each account gets (the answers are in `answers`). Nothing here
//! touches PostgreSQL or an actor, so all of it is unit-tested.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use time::OffsetDateTime;

use super::{GroupKey, Operation};
use crate::account::{Settlement, SettlementOutcome, Side};
use crate::model::{
    AccountId, AccountInfo, Amount, Currency, IdempotencyKey, TransferDetails, TransferId,
};

/// What planning needs of an item: its plain facts, no actor address and no reply channel.
pub(crate) trait Planned {
    fn operation(&self) -> Operation;
    fn payer(&self) -> &AccountInfo;
    fn payee(&self) -> &AccountInfo;
    fn amount(&self) -> Amount;
    fn currency(&self) -> Currency;
    fn details(&self) -> &TransferDetails;
    fn idempotency(&self) -> Option<&IdempotencyKey>;
    fn group(&self) -> Option<u64>;
    fn group_key(&self) -> Option<&GroupKey>;

    fn accounts(&self) -> [AccountId; 2] {
        [self.payer().id, self.payee().id]
    }

    /// What the item does to balances: (payer's balance, payer's held, payee's balance).
    fn effect(&self) -> (i64, i64, i64) {
        let amount = self.amount().get();
        match self.operation() {
            Operation::Transfer => (-amount, 0, amount),
            Operation::CreatePending { .. } => (0, amount, 0),
            Operation::Post { held, .. } => (-amount, -held, amount),
            Operation::Release { held, .. } => (0, -held, 0),
        }
    }
}

/// What the batches in flight hold: no new batch may touch these.
#[derive(Debug, Default)]
pub(crate) struct Busy {
    pub accounts: HashSet<AccountId>,
    pub pending: HashSet<TransferId>,
}

/// What one batch in flight added to `Busy`, given back when it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InFlight {
    pub accounts: Vec<AccountId>,
    pub pending: Vec<TransferId>,
}

impl Busy {
    /// Marks a chosen batch's accounts and pending transfers busy.
    pub(crate) fn take<T: Planned>(&mut self, batch: &[T]) -> InFlight {
        let mut in_flight = InFlight::default();
        for item in batch {
            for account in item.accounts() {
                if self.accounts.insert(account) {
                    in_flight.accounts.push(account);
                }
            }
            if let Some(pending) = item.operation().pending_id() {
                assert!(
                    self.pending.insert(pending),
                    "a pending transfer in one batch"
                );
                in_flight.pending.push(pending);
            }
        }
        in_flight
    }

    pub(crate) fn give_back(&mut self, done: InFlight) {
        for account in done.accounts {
            assert!(self.accounts.remove(&account), "a busy account");
        }
        for pending in done.pending {
            assert!(self.pending.remove(&pending), "a busy pending transfer");
        }
    }
}

/// The oldest waiting submissions, up to `batch_size_max` items (a larger group goes alone),
/// that touch no account or pending transfer of a batch in flight; a pending transfer appears
/// at most once in a batch. The first `blocked_prefix` submissions are known to be blocked and
/// are not looked at. Submissions left behind keep their order.
pub(crate) fn choose_batch<T: Planned>(
    backlog: &mut VecDeque<Vec<T>>,
    blocked_prefix: usize,
    busy: &Busy,
    batch_size_max: usize,
) -> Vec<T> {
    let mut batch: Vec<T> = Vec::new();
    let mut deferred: VecDeque<Vec<T>> = backlog.drain(..blocked_prefix).collect();
    let mut batch_pending = HashSet::new();
    while let Some(submission) = backlog.pop_front() {
        let fits = batch.is_empty() || batch.len() + submission.len() <= batch_size_max;
        if !fits {
            backlog.push_front(submission);
            break;
        }
        let touches_busy = submission.iter().any(|item| {
            item.accounts()
                .iter()
                .any(|account| busy.accounts.contains(account))
        });
        let pending: Vec<TransferId> = submission
            .iter()
            .filter_map(|item| item.operation().pending_id())
            .collect();
        let pending_taken = pending
            .iter()
            .any(|id| busy.pending.contains(id) || batch_pending.contains(id))
            || (1..pending.len()).any(|i| pending[..i].contains(&pending[i]));
        if touches_busy || pending_taken {
            deferred.push_back(submission);
            continue;
        }
        batch_pending.extend(pending);
        batch.extend(submission);
        if batch.len() >= batch_size_max {
            break;
        }
    }
    while let Some(submission) = deferred.pop_back() {
        backlog.push_front(submission);
    }
    batch
}

/// An account's net change in a batch: (balance, held).
pub(crate) type Deltas = BTreeMap<AccountId, (i64, i64)>;

/// One net change per account, in ascending id order (the order the rows get locked in). A
/// payee whose balance does not change is still locked and read, for the answer's snapshot.
/// `None` when a sum leaves i64 (PostgreSQL would refuse it anyway).
pub(crate) fn net_deltas<T: Planned>(items: &[T]) -> Option<Deltas> {
    let mut deltas: Deltas = BTreeMap::new();
    for item in items {
        let (from_balance, from_held, to_balance) = item.effect();
        let from = deltas.entry(item.payer().id).or_insert((0, 0));
        from.0 = from.0.checked_add(from_balance)?;
        from.1 = from.1.checked_add(from_held)?;
        let to = deltas.entry(item.payee().id).or_insert((0, 0));
        to.0 = to.0.checked_add(to_balance)?;
    }
    Some(deltas)
}

/// Per account of `deltas`, in its order: whether an item debits it (pays out of it or puts a
/// new hold on it). Only such an account must be active; the payer of a hold being posted or
/// released is not debited anew, so a frozen account's own holds still finish.
pub(crate) fn debited<T: Planned>(items: &[T], deltas: &Deltas) -> Vec<bool> {
    let payers: HashSet<AccountId> = items
        .iter()
        .filter(|item| {
            matches!(
                item.operation(),
                Operation::Transfer | Operation::CreatePending { .. }
            )
        })
        .map(|item| item.payer().id)
        .collect();
    deltas.keys().map(|id| payers.contains(id)).collect()
}

/// The pending transfers a batch ends, in ascending id order: (id, final status, amount).
pub(crate) fn claims<T: Planned>(items: &[T]) -> Vec<(TransferId, &'static str, i64)> {
    let mut claims: Vec<(TransferId, &'static str, i64)> = items
        .iter()
        .filter_map(|item| {
            let operation = item.operation();
            let id = operation.pending_id()?;
            let status = operation.claim_status()?.as_str();
            let amount = match operation {
                Operation::Release { held, .. } => held,
                _ => item.amount().get(),
            };
            Some((id, status, amount))
        })
        .collect();
    claims.sort_unstable_by_key(|claim| claim.0);
    claims
}

/// Whether a batch travels in one round trip: plain transfers only (no claim to judge), no key
/// to store (a key stores the answer, which needs the ids and balances first) and no reference
/// (a reference its payer already used refuses one item, which must not fail the others).
pub(crate) fn one_round_trip<T: Planned>(items: &[T]) -> bool {
    items.iter().all(|item| {
        item.operation() == Operation::Transfer
            && item.idempotency().is_none()
            && item.group_key().is_none()
            && item.details().reference.is_none()
    })
}

/// How many new rows a batch inserts (an id each).
pub(crate) fn rows_needed<T: Planned>(items: &[T]) -> usize {
    items
        .iter()
        .filter(|item| item.operation().writes_row())
        .count()
}

/// A claimed pending transfer, as its row stands after the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimed {
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub posted_at: Option<OffsetDateTime>,
    pub details: TransferDetails,
}

/// An account's committed state right after a batch.
pub(crate) type AccountAfter = crate::account::Committed;

/// Why items must leave a batch before it can commit; the rest is retried at once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Refusals {
    /// Accounts PostgreSQL did not update: their cached state was stale.
    pub stale: HashSet<AccountId>,
    /// Items whose idempotency key (or group's key) another request committed first.
    pub duplicate: HashSet<usize>,
    /// Items ending a pending transfer that was no longer pending.
    pub not_pending: HashSet<usize>,
    /// Items whose reference their payer account already used.
    pub duplicate_reference: HashSet<usize>,
}

/// What the first round trip's answers refuse, if anything. Items whose claim failed go first
/// and alone: the deltas were computed with their holds, so no account's staleness can be
/// judged until they are out.
pub(crate) fn refusals_after_claims<T: Planned>(
    items: &[T],
    deltas: &Deltas,
    claimed: &HashMap<TransferId, Claimed>,
    updated: &HashMap<AccountId, AccountAfter>,
) -> Option<Refusals> {
    let not_pending: HashSet<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            item.operation()
                .pending_id()
                .is_some_and(|id| !claimed.contains_key(&id))
        })
        .map(|(index, _)| index)
        .collect();
    if !not_pending.is_empty() {
        return Some(Refusals {
            not_pending,
            ..Refusals::default()
        });
    }
    let stale: HashSet<AccountId> = deltas
        .keys()
        .filter(|id| !updated.contains_key(id))
        .copied()
        .collect();
    (!stale.is_empty()).then(|| Refusals {
        stale,
        ..Refusals::default()
    })
}

/// Why one item left a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Stale,
    DuplicateKey,
    DuplicateReference,
    NotPending,
    /// Another item of its group was refused.
    GroupAborted,
}

/// Each item's fate under `refusals`: `None` stays for the retry. A group leaves whole when any
/// of its items must. An item is stale when its payer is; only when no payer is (a payee that
/// PostgreSQL refused to credit) are the items paying into a stale account stale. Asserts
/// progress: at least one item leaves, so the retry loop cannot spin.
pub(crate) fn refuse<T: Planned>(items: &[T], refusals: &Refusals) -> Vec<Option<Refused>> {
    let payer_stale = items
        .iter()
        .any(|item| refusals.stale.contains(&item.payer().id));
    let stale = |item: &T| {
        let [from, to] = item.accounts();
        refusals.stale.contains(&from) || (!payer_stale && refusals.stale.contains(&to))
    };
    let own = |index: usize, item: &T| {
        if refusals.duplicate.contains(&index) {
            Some(Refused::DuplicateKey)
        } else if refusals.duplicate_reference.contains(&index) {
            Some(Refused::DuplicateReference)
        } else if refusals.not_pending.contains(&index) {
            Some(Refused::NotPending)
        } else if stale(item) {
            Some(Refused::Stale)
        } else {
            None
        }
    };
    let fates: Vec<Option<Refused>> = items
        .iter()
        .enumerate()
        .map(|(index, item)| own(index, item))
        .collect();
    let aborted_groups: HashSet<u64> = items
        .iter()
        .zip(&fates)
        .filter(|(_, fate)| fate.is_some())
        .filter_map(|(item, _)| item.group())
        .collect();
    let fates: Vec<Option<Refused>> = items
        .iter()
        .zip(fates)
        .map(|(item, fate)| match (fate, item.group()) {
            (Some(fate), _) => Some(fate),
            (None, Some(group)) if aborted_groups.contains(&group) => Some(Refused::GroupAborted),
            (None, _) => None,
        })
        .collect();
    assert!(
        fates.iter().any(Option::is_some),
        "a refusal removes at least one item"
    );
    fates
}

/// The batch split into its submissions (a group stays whole; other items go alone), in
/// order: to retry each on its own when PostgreSQL refused the batch for one item's sake.
pub(crate) fn submissions<T: Planned>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut split: Vec<Vec<T>> = Vec::new();
    for item in items {
        let joins_last = match (item.group(), split.last().and_then(|last| last.last())) {
            (Some(group), Some(previous)) => previous.group() == Some(group),
            _ => false,
        };
        match joins_last {
            true => split.last_mut().expect("a last submission").push(item),
            false => split.push(vec![item]),
        }
    }
    split
}

/// The money one hold of `side` keeps in flight: (debits, credits).
pub(crate) fn held_money(side: Side, amount: Amount) -> (i64, i64) {
    match side {
        Side::Debit => (amount.get(), 0),
        Side::Credit => (0, amount.get()),
        Side::Touch => (0, 0),
    }
}

/// One settlement per touched account, summing the holds the items put on it, in ascending
/// account id order. Committed (`balances` given, with `batch`): each account adopts its state
/// in PostgreSQL. Failed (`None`): the holds are released and the accounts reload, since a
/// commit that failed in flight may have landed after all.
pub(crate) fn settlements<T: Planned>(
    items: &[T],
    committed: Option<(u64, &HashMap<AccountId, AccountAfter>)>,
) -> BTreeMap<AccountId, Settlement> {
    let mut grouped: BTreeMap<AccountId, Settlement> = BTreeMap::new();
    let mut add = |id: AccountId, side: Side, amount: Amount| {
        let (debits, credits) = held_money(side, amount);
        let settlement = grouped.entry(id).or_insert_with(|| Settlement {
            debits: 0,
            credits: 0,
            holds: 0,
            outcome: match committed {
                Some((batch, balances)) => SettlementOutcome::Posted {
                    batch,
                    committed: balances[&id],
                },
                None => SettlementOutcome::ReleasedAndReload,
            },
        });
        settlement.debits = settlement.debits.checked_add(debits).expect("held money");
        settlement.credits = settlement.credits.checked_add(credits).expect("held money");
        settlement.holds += 1;
    };
    for item in items {
        let (payer, payee) = item.operation().holds();
        let [from, to] = item.accounts();
        add(from, payer, item.amount());
        if let Some(payee) = payee {
            add(to, payee, item.amount());
        }
    }
    grouped
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
