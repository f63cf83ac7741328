use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::model::{Amount, Authority, Currency, TransferRequest};

fn item(from: i64, to: i64, amount: i64) -> BatchItem {
    BatchItem {
        request: TransferRequest {
            from: AccountId::new(from),
            to: AccountId::new(to),
            amount: Amount::new(amount).expect("a positive amount"),
            currency: Currency::USD,
            authority: Authority::Privileged,
            idempotency: None,
            details: Default::default(),
        },
        pending_timeout: None,
    }
}

fn pending(from: i64, to: i64, amount: i64) -> BatchItem {
    BatchItem {
        pending_timeout: Some(Duration::from_secs(60)),
        ..item(from, to, amount)
    }
}

fn fine(items: &[BatchItem]) -> Vec<Result<(), Refusal>> {
    vec![Ok(()); items.len()]
}

fn leases(pairs: &[(i64, i64)]) -> BTreeMap<AccountId, i64> {
    pairs
        .iter()
        .map(|&(id, lease)| (AccountId::new(id), lease))
        .collect()
}

#[test]
fn a_credit_earlier_in_the_batch_funds_a_later_debit() {
    let items = vec![item(1, 2, 50), item(2, 3, 50)];
    let play = play(&items, &fine(&items), &leases(&[(1, 50)]));
    assert_eq!(play.decisions, vec![Ok(()), Ok(())]);
}

#[test]
fn a_credit_later_in_the_batch_funds_nothing_before_it() {
    let items = vec![item(2, 3, 50), item(1, 2, 50)];
    let play = play(&items, &fine(&items), &leases(&[(1, 50)]));
    assert_eq!(
        play.decisions,
        vec![Err(Refusal::InsufficientFunds), Ok(())]
    );
}

#[test]
fn a_hold_moves_nothing_so_funds_nothing() {
    let items = vec![pending(1, 2, 50), item(2, 3, 50)];
    let play = play(&items, &fine(&items), &leases(&[(1, 50)]));
    assert_eq!(play.decisions[1], Err(Refusal::InsufficientFunds));
    assert_eq!(
        play.holds[&AccountId::new(1)],
        (50, 1, 0, 0),
        "the payer's hold"
    );
    assert!(
        !play.holds.contains_key(&AccountId::new(2)),
        "a hold's payee holds nothing"
    );
}

#[test]
fn a_short_lease_refuses_an_item_and_a_smaller_one_after_it_passes() {
    let items = vec![item(1, 2, 30), item(1, 3, 30), item(1, 4, 10)];
    let play = play(&items, &fine(&items), &leases(&[(1, 40)]));
    assert_eq!(
        play.decisions,
        vec![Ok(()), Err(Refusal::InsufficientFunds), Ok(())]
    );
    assert_eq!(play.holds[&AccountId::new(1)], (40, 2, 0, 0));
}

#[test]
fn a_static_refusal_passes_through_and_spends_nothing() {
    let items = vec![item(1, 2, 30), item(1, 3, 30)];
    let statics = vec![Err(Refusal::CurrencyMismatch), Ok(())];
    let play = play(&items, &statics, &leases(&[(1, 30)]));
    assert_eq!(play.decisions, vec![Err(Refusal::CurrencyMismatch), Ok(())]);
}

#[test]
fn an_account_without_a_lease_has_nothing_to_spend() {
    let items = vec![item(5, 6, 1)];
    let play = play(&items, &fine(&items), &BTreeMap::new());
    assert_eq!(play.decisions, vec![Err(Refusal::InsufficientFunds)]);
    assert!(play.holds.is_empty());
}

#[test]
fn holds_count_each_accepted_item_on_both_sides() {
    let items = vec![item(1, 2, 10), item(1, 2, 5), item(2, 1, 3)];
    let play = play(&items, &fine(&items), &leases(&[(1, 15), (2, 0)]));
    assert_eq!(play.holds[&AccountId::new(1)], (15, 2, 3, 1));
    assert_eq!(play.holds[&AccountId::new(2)], (3, 1, 15, 2));
}

#[test]
fn amounts_near_the_supply_do_not_overflow() {
    let big = i64::MAX / 2;
    let items = vec![item(1, 2, big), item(3, 2, big), item(2, 4, big * 2)];
    let play = play(&items, &fine(&items), &leases(&[(1, big), (3, big)]));
    assert_eq!(play.decisions, vec![Ok(()), Ok(()), Ok(())]);
    assert_eq!(play.holds[&AccountId::new(4)], (0, 0, big * 2, 1));
}

#[test]
fn every_random_play_conserves_money() {
    // play() asserts conservation itself: any imbalance would panic here.
    let mut state: u64 = 17;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % bound
    };
    for _ in 0..200 {
        let count = 1 + next(40) as usize;
        let items: Vec<BatchItem> = (0..count)
            .map(|_| {
                let from = next(6) as i64;
                let to = (from + 1 + next(5) as i64) % 6;
                let amount = 1 + next(100) as i64;
                match next(4) {
                    0 => pending(from, to, amount),
                    _ => item(from, to, amount),
                }
            })
            .collect();
        let granted: Vec<(i64, i64)> = (0..6).map(|id| (id, next(300) as i64)).collect();
        let play = play(&items, &fine(&items), &leases(&granted));
        let accepted = play.decisions.iter().filter(|d| d.is_ok()).count() as u32;
        let payer_holds: u32 = play.holds.values().map(|h| h.1).sum();
        assert_eq!(payer_holds, accepted, "one payer hold per accepted item");
    }
}

#[test]
fn the_first_refusal_is_found_with_its_index() {
    let decisions = vec![Ok(()), Err(Refusal::NotFound), Err(Refusal::SameAccount)];
    assert_eq!(first_refusal(&decisions), Some((1, Refusal::NotFound)));
    assert_eq!(first_refusal(&[Ok(()), Ok(())]), None);
}

#[test]
fn a_batch_refused_whole_answers_each_refusal_in_place() {
    let decisions = vec![Err(Refusal::NotFound), Err(Refusal::InsufficientFunds)];
    let outcome = refused_only(&decisions);
    assert_eq!(
        outcome.results,
        vec![
            BatchItemOutcome::Refused(Refusal::NotFound),
            BatchItemOutcome::Refused(Refusal::InsufficientFunds)
        ]
    );
    assert!(!outcome.replayed);
}
