use std::collections::{HashMap, HashSet, VecDeque};

use super::*;
use crate::journal::test_items::{grouped, hold, key, post, release, transfer, Item, CREATED};

fn backlog(submissions: Vec<Vec<Item>>) -> VecDeque<Vec<Item>> {
    submissions.into_iter().collect()
}

fn pairs(batch: &[Item]) -> Vec<(i64, i64)> {
    batch
        .iter()
        .map(|item| (item.from.id.get(), item.to.id.get()))
        .collect()
}

fn a(id: i64) -> AccountId {
    AccountId::new(id)
}

fn t(id: i64) -> TransferId {
    TransferId::new(id)
}

fn after(balance: i64, held: i64) -> AccountAfter {
    AccountAfter {
        balance,
        held,
        status: crate::model::AccountStatus::Active,
        limit: crate::model::Limit::default(),
    }
}

fn claimed() -> Claimed {
    Claimed {
        created_at: CREATED,
        expires_at: Some(CREATED + time::Duration::hours(1)),
        posted_at: None,
        details: crate::model::TransferDetails::default(),
    }
}

// Batch choice.

#[test]
fn a_batch_takes_the_oldest_submissions_in_order() {
    let mut waiting = backlog(vec![vec![transfer(1, 2, 5)], vec![transfer(3, 4, 6)]]);
    let batch = choose_batch(&mut waiting, 0, &Busy::default(), 10);
    assert_eq!(pairs(&batch), vec![(1, 2), (3, 4)]);
    assert!(waiting.is_empty());
}

#[test]
fn a_batch_stops_at_its_size() {
    let mut waiting = backlog(
        (0..5)
            .map(|n| vec![transfer(n * 2, n * 2 + 1, 1)])
            .collect(),
    );
    let batch = choose_batch(&mut waiting, 0, &Busy::default(), 3);
    assert_eq!(batch.len(), 3);
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0][0].from.id, a(6), "the rest keep their order");
}

#[test]
fn a_submission_touching_a_busy_account_waits_and_keeps_its_place() {
    let busy = Busy {
        accounts: HashSet::from([a(2)]),
        pending: HashSet::new(),
    };
    let mut waiting = backlog(vec![
        vec![transfer(1, 2, 5)],
        vec![transfer(3, 4, 6)],
        vec![transfer(2, 5, 7)],
        vec![transfer(6, 7, 8)],
    ]);
    let batch = choose_batch(&mut waiting, 0, &busy, 10);
    assert_eq!(pairs(&batch), vec![(3, 4), (6, 7)]);
    let left: Vec<_> = waiting.iter().map(|s| pairs(s)).collect();
    assert_eq!(left, vec![vec![(1, 2)], vec![(2, 5)]]);
}

#[test]
fn a_busy_payee_blocks_too() {
    let busy = Busy {
        accounts: HashSet::from([a(9)]),
        pending: HashSet::new(),
    };
    let mut waiting = backlog(vec![vec![transfer(1, 9, 5)]]);
    assert!(choose_batch(&mut waiting, 0, &busy, 10).is_empty());
    assert_eq!(waiting.len(), 1);
}

#[test]
fn a_group_larger_than_the_batch_goes_alone() {
    let group: Vec<Item> = (0..5).map(|n| grouped(transfer(n, n + 10, 1), 7)).collect();
    let mut waiting = backlog(vec![group, vec![transfer(30, 31, 1)]]);
    let batch = choose_batch(&mut waiting, 0, &Busy::default(), 3);
    assert_eq!(batch.len(), 5, "a group is never cut");
    assert_eq!(waiting.len(), 1);
}

#[test]
fn a_group_that_does_not_fit_waits_for_the_next_batch() {
    let group: Vec<Item> = (0..3).map(|n| grouped(transfer(n, n + 10, 1), 7)).collect();
    let mut waiting = backlog(vec![vec![transfer(30, 31, 1)], group]);
    let batch = choose_batch(&mut waiting, 0, &Busy::default(), 3);
    assert_eq!(pairs(&batch), vec![(30, 31)]);
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].len(), 3);
}

#[test]
fn a_pending_transfer_appears_once_in_a_batch() {
    let mut waiting = backlog(vec![
        vec![post(1, 2, 40, 5, 5)],
        vec![release(1, 2, 40, 5)],
        vec![transfer(3, 4, 1)],
    ]);
    let batch = choose_batch(&mut waiting, 0, &Busy::default(), 10);
    assert_eq!(pairs(&batch), vec![(1, 2), (3, 4)]);
    assert!(matches!(batch[0].operation, Operation::Post { .. }));
    assert_eq!(waiting.len(), 1, "the release of the same hold waits");
    assert!(matches!(waiting[0][0].operation, Operation::Release { .. }));
}

#[test]
fn a_pending_transfer_in_flight_blocks_its_endings() {
    let busy = Busy {
        accounts: HashSet::new(),
        pending: HashSet::from([t(40)]),
    };
    let mut waiting = backlog(vec![vec![release(5, 6, 40, 5)], vec![transfer(7, 8, 1)]]);
    let batch = choose_batch(&mut waiting, 0, &busy, 10);
    assert_eq!(pairs(&batch), vec![(7, 8)]);
}

#[test]
fn a_group_ending_one_hold_twice_waits() {
    let group = vec![
        grouped(post(1, 2, 40, 1, 5), 3),
        grouped(release(3, 4, 40, 5), 3),
    ];
    let mut waiting = backlog(vec![group]);
    assert!(choose_batch(&mut waiting, 0, &Busy::default(), 10).is_empty());
}

#[test]
fn the_blocked_prefix_is_not_looked_at() {
    let mut waiting = backlog(vec![vec![transfer(1, 2, 1)], vec![transfer(3, 4, 1)]]);
    let batch = choose_batch(&mut waiting, 1, &Busy::default(), 10);
    assert_eq!(pairs(&batch), vec![(3, 4)]);
    assert_eq!(pairs(&waiting[0]), vec![(1, 2)], "the prefix stays first");
}

#[test]
fn taking_a_batch_marks_its_accounts_and_holds_busy_once() {
    let mut busy = Busy::default();
    let batch = vec![transfer(1, 2, 1), transfer(2, 3, 1), post(4, 5, 40, 1, 1)];
    let in_flight = busy.take(&batch);
    assert_eq!(in_flight.accounts, [1, 2, 3, 4, 5].map(a));
    assert_eq!(in_flight.pending, vec![t(40)]);
    assert_eq!(busy.accounts.len(), 5);
    busy.give_back(in_flight);
    assert!(busy.accounts.is_empty() && busy.pending.is_empty());
}

#[test]
fn two_batches_in_flight_give_back_only_their_own() {
    let mut busy = Busy::default();
    let first = busy.take(&[transfer(1, 2, 1)]);
    let second = busy.take(&[transfer(2, 3, 1)]);
    assert_eq!(
        second.accounts,
        vec![a(3)],
        "account 2 belongs to the first batch"
    );
    busy.give_back(first);
    assert_eq!(busy.accounts, HashSet::from([a(3)]));
    busy.give_back(second);
    assert!(busy.accounts.is_empty());
}

// Netting.

#[test]
fn transfers_net_per_account_in_id_order() {
    let items = vec![transfer(3, 1, 10), transfer(1, 2, 4), transfer(2, 3, 1)];
    let deltas = net_deltas(&items).expect("no overflow");
    let listed: Vec<_> = deltas.into_iter().collect();
    assert_eq!(
        listed,
        vec![(a(1), (6, 0)), (a(2), (3, 0)), (a(3), (-9, 0))]
    );
}

#[test]
fn netting_conserves_money() {
    let items = vec![transfer(1, 2, 7), transfer(2, 3, 5), transfer(3, 1, 11)];
    let deltas = net_deltas(&items).expect("no overflow");
    assert_eq!(deltas.values().map(|delta| delta.0).sum::<i64>(), 0);
}

#[test]
fn a_new_hold_changes_only_the_payers_held() {
    let deltas = net_deltas(&[hold(1, 2, 30)]).expect("no overflow");
    assert_eq!(deltas[&a(1)], (0, 30));
    assert_eq!(
        deltas[&a(2)],
        (0, 0),
        "the payee is locked and read, unchanged"
    );
}

#[test]
fn a_partial_post_moves_the_amount_and_releases_the_whole_hold() {
    let deltas = net_deltas(&[post(1, 2, 40, 20, 50)]).expect("no overflow");
    assert_eq!(deltas[&a(1)], (-20, -50));
    assert_eq!(deltas[&a(2)], (20, 0));
}

#[test]
fn a_release_gives_back_the_held_amount() {
    let deltas = net_deltas(&[release(1, 2, 40, 50)]).expect("no overflow");
    assert_eq!(deltas[&a(1)], (0, -50));
}

#[test]
fn a_net_sum_past_i64_is_none() {
    let items = vec![transfer(1, 2, i64::MAX), transfer(3, 2, 1)];
    assert!(net_deltas(&items).is_none());
}

// Claims and rows.

#[test]
fn claims_are_sorted_by_pending_id_with_their_final_status() {
    let mut expired = release(5, 6, 10, 30);
    expired.operation = Operation::Release {
        pending_id: t(10),
        held: 30,
        expired: true,
    };
    let items = vec![
        post(1, 2, 70, 20, 50),
        transfer(3, 4, 1),
        release(1, 2, 40, 50),
        expired,
    ];
    assert_eq!(
        claims(&items),
        vec![
            (t(10), "expired", 30),
            (t(40), "voided", 50),
            (t(70), "posted", 20)
        ]
    );
}

#[test]
fn a_batch_without_endings_claims_nothing() {
    assert!(claims(&[transfer(1, 2, 3), hold(1, 2, 3)]).is_empty());
}

#[test]
fn every_operation_but_a_release_needs_a_row() {
    let items = vec![
        transfer(1, 2, 1),
        hold(1, 2, 1),
        post(1, 2, 9, 1, 1),
        release(1, 2, 8, 1),
    ];
    assert_eq!(rows_needed(&items), 3);
}

// Refusals after the first round trip.

#[test]
fn a_batch_with_every_claim_and_update_is_not_refused() {
    let items = vec![post(1, 2, 40, 5, 5), transfer(3, 4, 1)];
    let deltas = net_deltas(&items).expect("no overflow");
    let claimed = HashMap::from([(t(40), claimed())]);
    let updated: HashMap<AccountId, AccountAfter> =
        deltas.keys().map(|id| (*id, after(10, 0))).collect();
    assert_eq!(
        refusals_after_claims(&items, &deltas, &claimed, &updated),
        None
    );
}

#[test]
fn a_lost_claim_is_refused_alone_even_with_its_account_skipped() {
    // The post lost its hold to another request: its held delta would take account 1's held
    // below zero, so PostgreSQL skipped account 1. Only the post leaves; the transfer from
    // account 1 is not judged stale on deltas that counted the lost hold.
    let items = vec![post(1, 2, 40, 5, 5), transfer(1, 3, 1)];
    let deltas = net_deltas(&items).expect("no overflow");
    let updated = HashMap::from([(a(2), after(5, 0)), (a(3), after(1, 0))]);
    let refusals =
        refusals_after_claims(&items, &deltas, &HashMap::new(), &updated).expect("a refusal");
    assert_eq!(refusals.not_pending, HashSet::from([0]));
    assert!(refusals.stale.is_empty());
    assert_eq!(
        refuse(&items, &refusals),
        vec![Some(Refused::NotPending), None]
    );
}

#[test]
fn an_account_not_updated_is_stale() {
    let items = vec![transfer(1, 2, 5), transfer(3, 4, 1)];
    let deltas = net_deltas(&items).expect("no overflow");
    let updated = HashMap::from([
        (a(2), after(5, 0)),
        (a(3), after(1, 0)),
        (a(4), after(1, 0)),
    ]);
    let refusals =
        refusals_after_claims(&items, &deltas, &HashMap::new(), &updated).expect("a refusal");
    assert_eq!(refusals.stale, HashSet::from([a(1)]));
    assert_eq!(refuse(&items, &refusals), vec![Some(Refused::Stale), None]);
}

#[test]
fn a_stale_payer_refuses_only_the_items_it_pays() {
    let refusals = Refusals {
        stale: HashSet::from([a(1)]),
        ..Refusals::default()
    };
    let items = vec![transfer(1, 2, 5), transfer(2, 1, 3), transfer(3, 4, 1)];
    assert_eq!(
        refuse(&items, &refusals),
        vec![Some(Refused::Stale), None, None]
    );
}

#[test]
fn a_stale_payee_alone_refuses_the_items_paying_it() {
    // No payer is stale: the reserve (or an account) could not be credited. Refusing nothing
    // would retry the same batch for ever.
    let refusals = Refusals {
        stale: HashSet::from([a(2)]),
        ..Refusals::default()
    };
    let items = vec![transfer(1, 2, 5), transfer(3, 4, 1)];
    assert_eq!(refuse(&items, &refusals), vec![Some(Refused::Stale), None]);
}

#[test]
fn a_refused_item_takes_its_whole_group_out() {
    let refusals = Refusals {
        stale: HashSet::from([a(1)]),
        ..Refusals::default()
    };
    let items = vec![
        grouped(transfer(5, 6, 1), 9),
        grouped(transfer(1, 2, 5), 9),
        transfer(7, 8, 1),
        grouped(transfer(3, 4, 1), 10),
    ];
    assert_eq!(
        refuse(&items, &refusals),
        vec![
            Some(Refused::GroupAborted),
            Some(Refused::Stale),
            None,
            None
        ]
    );
}

#[test]
fn a_duplicate_key_outranks_staleness() {
    let refusals = Refusals {
        stale: HashSet::from([a(1)]),
        duplicate: HashSet::from([0]),
        not_pending: HashSet::new(),
        duplicate_reference: HashSet::new(),
    };
    let items = vec![transfer(1, 2, 5)];
    assert_eq!(refuse(&items, &refusals), vec![Some(Refused::DuplicateKey)]);
}

#[test]
#[should_panic(expected = "a refusal removes at least one item")]
fn a_refusal_that_removes_nothing_is_caught() {
    let refusals = Refusals {
        stale: HashSet::from([a(99)]),
        ..Refusals::default()
    };
    refuse(&[transfer(1, 2, 5)], &refusals);
}

#[test]
fn retrying_always_ends() {
    // The writer's loop, played with refusals that each name one account: every turn removes at
    // least one item, so it ends within as many turns as there are items.
    let mut items: Vec<Item> = (0..20).map(|n| transfer(n % 7, 100 + n, 1)).collect();
    let mut turns = 0;
    while !items.is_empty() {
        let refusals = Refusals {
            stale: HashSet::from([items[0].from.id]),
            ..Refusals::default()
        };
        let before = items.len();
        let fates = refuse(&items, &refusals);
        items = items
            .into_iter()
            .zip(fates)
            .filter(|(_, fate)| fate.is_none())
            .map(|(item, _)| item)
            .collect();
        assert!(items.len() < before);
        turns += 1;
    }
    assert!(turns <= 7);
}

// Splitting a batch into its submissions.

#[test]
fn a_batch_splits_into_its_callers_submissions() {
    let items = vec![
        transfer(1, 2, 1),
        grouped(transfer(3, 4, 1), 5),
        grouped(transfer(4, 3, 1), 5),
        transfer(6, 7, 1),
        grouped(transfer(8, 9, 1), 6),
    ];
    let sizes: Vec<usize> = submissions(items).iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1, 2, 1, 1]);
}

#[test]
fn a_lone_submission_does_not_split() {
    let items = vec![grouped(transfer(3, 4, 1), 5), grouped(transfer(4, 3, 1), 5)];
    assert_eq!(submissions(items).len(), 1);
}

// Settlements.

#[test]
fn a_committed_batch_settles_each_account_once_with_its_state() {
    let items = vec![transfer(1, 2, 5), transfer(1, 3, 7), transfer(2, 1, 1)];
    let balances = HashMap::from([
        (a(1), after(89, 0)),
        (a(2), after(4, 0)),
        (a(3), after(7, 0)),
    ]);
    let settled = settlements(&items, Some((12, &balances)));
    assert_eq!(settled.len(), 3);
    let one = &settled[&a(1)];
    assert_eq!((one.debits, one.credits, one.holds), (12, 1, 3));
    assert_eq!(
        one.outcome,
        SettlementOutcome::Posted {
            batch: 12,
            committed: after(89, 0),
        }
    );
    assert_eq!((settled[&a(3)].debits, settled[&a(3)].credits), (0, 7));
}

#[test]
fn a_failed_batch_releases_and_reloads_every_account() {
    let items = vec![transfer(1, 2, 5), hold(3, 4, 7)];
    let settled = settlements(&items, None);
    assert!(settled
        .values()
        .all(|s| s.outcome == SettlementOutcome::ReleasedAndReload));
    assert!(
        !settled.contains_key(&a(4)),
        "a new hold's payee holds nothing"
    );
    assert_eq!(settled[&a(3)].debits, 7);
}

#[test]
fn an_ending_touches_the_payer_without_money() {
    let settled = settlements(&[post(1, 2, 40, 5, 9)], None);
    assert_eq!((settled[&a(1)].debits, settled[&a(1)].holds), (0, 1));
    assert_eq!(settled[&a(2)].credits, 5);
    let settled = settlements(&[release(1, 2, 40, 9)], None);
    assert_eq!(settled.len(), 1, "a release's payee holds nothing");
}

#[test]
fn held_money_by_side() {
    let amount = Amount::new(7).expect("an amount");
    assert_eq!(held_money(Side::Debit, amount), (7, 0));
    assert_eq!(held_money(Side::Credit, amount), (0, 7));
    assert_eq!(held_money(Side::Touch, amount), (0, 0));
}

#[test]
fn only_plain_transfers_without_keys_or_references_travel_in_one_round_trip() {
    let plain = vec![transfer(1, 2, 5), grouped(transfer(2, 3, 1), 7)];
    assert!(one_round_trip(&plain));
    let keyed = Item {
        idempotency: Some(key("alice", "k1")),
        ..transfer(3, 4, 1)
    };
    assert!(!one_round_trip(&[transfer(1, 2, 5), keyed]));
    let referenced = Item {
        details: TransferDetails {
            reference: Some("R-1".to_owned()),
            ..TransferDetails::default()
        },
        ..transfer(3, 4, 1)
    };
    assert!(!one_round_trip(&[transfer(1, 2, 5), referenced]));
    let described = Item {
        details: TransferDetails {
            description: Some("Rent".to_owned()),
            reversal_of: Some(TransferId::new(9)),
            ..TransferDetails::default()
        },
        ..transfer(3, 4, 1)
    };
    assert!(one_round_trip(&[transfer(1, 2, 5), described]));
    assert!(!one_round_trip(&[transfer(1, 2, 5), hold(3, 4, 1)]));
    assert!(!one_round_trip(&[post(1, 2, 9, 5, 5)]));
    assert!(!one_round_trip(&[release(1, 2, 9, 5)]));
}
