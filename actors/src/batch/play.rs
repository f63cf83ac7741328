//! Playing a batch in request order against its payers' leases: pure, unit-tested. An item is
//! accepted when its payer's lease, plus what earlier accepted items paid into the payer, covers
//! it; the sums are checked, and conservation is asserted on every play.

use std::collections::{BTreeMap, HashMap};

use crate::model::{AccountId, BatchItem, BatchItemOutcome, BatchOutcome, Refusal};

/// What playing the batch in order decided for each item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Play {
    /// Per item: accepted, or refused and why.
    pub decisions: Vec<Result<(), Refusal>>,
    /// Per account: (debits, debit holds, credits, credit holds) of the accepted items.
    pub holds: BTreeMap<AccountId, (i64, u32, i64, u32)>,
}

/// Plays `items` in order. `statics`: each item's static check; `leases`: what each paying
/// account granted. Budgets are i128: a lease plus credits cannot leave them.
pub(super) fn play(
    items: &[BatchItem],
    statics: &[Result<(), Refusal>],
    leases: &BTreeMap<AccountId, i64>,
) -> Play {
    assert_eq!(items.len(), statics.len(), "a static check per item");
    let mut budgets: HashMap<AccountId, i128> = leases
        .iter()
        .map(|(id, leased)| (*id, i128::from(*leased)))
        .collect();
    let mut holds: BTreeMap<AccountId, (i64, u32, i64, u32)> = BTreeMap::new();
    let mut decisions = Vec::with_capacity(items.len());
    for (item, fits) in items.iter().zip(statics) {
        let request = &item.request;
        let amount = request.amount.get();
        let decision = fits.and_then(|()| {
            let budget = budgets.entry(request.from).or_insert(0);
            if *budget < i128::from(amount) {
                return Err(Refusal::InsufficientFunds);
            }
            *budget -= i128::from(amount);
            Ok(())
        });
        if decision.is_ok() {
            let payer = holds.entry(request.from).or_default();
            payer.0 = payer
                .0
                .checked_add(amount)
                .expect("debits within the lease");
            payer.1 += 1;
            if item.pending_timeout.is_none() {
                // Only money that moves now can fund a later item; a hold moves nothing yet.
                *budgets.entry(request.to).or_insert(0) += i128::from(amount);
                let payee = holds.entry(request.to).or_default();
                payee.2 = payee
                    .2
                    .checked_add(amount)
                    .expect("credits within the supply");
                payee.3 += 1;
            }
        }
        decisions.push(decision);
    }
    let play = Play { decisions, holds };
    assert_conserved(items, leases, &budgets, &play);
    play
}

/// Money is conserved: every account's budget left is its lease plus what it received minus
/// what it paid, never below zero; and what the accepted items paid is what they credited
/// plus what they put on hold.
fn assert_conserved(
    items: &[BatchItem],
    leases: &BTreeMap<AccountId, i64>,
    budgets: &HashMap<AccountId, i128>,
    play: &Play,
) {
    for (id, left) in budgets {
        let leased = i128::from(leases.get(id).copied().unwrap_or(0));
        let (debits, _, credits, _) = play.holds.get(id).copied().unwrap_or_default();
        assert!(*left >= 0, "a budget below zero");
        assert_eq!(
            *left,
            leased + i128::from(credits) - i128::from(debits),
            "a budget is its lease plus credits minus debits"
        );
        assert!(i128::from(debits) <= leased + i128::from(credits));
    }
    let held: i128 = items
        .iter()
        .zip(&play.decisions)
        .filter(|(item, decision)| decision.is_ok() && item.pending_timeout.is_some())
        .map(|(item, _)| i128::from(item.request.amount.get()))
        .sum();
    let paid: i128 = play.holds.values().map(|h| i128::from(h.0)).sum();
    let credited: i128 = play.holds.values().map(|h| i128::from(h.2)).sum();
    assert_eq!(paid, credited + held, "money is conserved in a batch");
}

pub(super) fn first_refusal(decisions: &[Result<(), Refusal>]) -> Option<(usize, Refusal)> {
    decisions
        .iter()
        .enumerate()
        .find_map(|(index, decision)| decision.err().map(|refusal| (index, refusal)))
}

pub(super) fn refused_only(decisions: &[Result<(), Refusal>]) -> BatchOutcome {
    BatchOutcome {
        results: decisions
            .iter()
            .map(|decision| BatchItemOutcome::Refused(decision.expect_err("all refused")))
            .collect(),
        replayed: false,
    }
}

#[cfg(test)]
#[path = "play_tests.rs"]
mod tests;
