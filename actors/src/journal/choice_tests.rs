//! The dispatcher's choices: which waiting submissions make a batch for an idle writer, and
//! which may follow a writer's batches in flight on its connection.

use std::collections::{HashMap, HashSet, VecDeque};

use super::*;
use crate::journal::test_items::{grouped, hold, key, post, release, transfer, Item};

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

/// Accounts busy on writer 0, one batch each.
fn busy_on_first_writer(ids: &[i64]) -> HashMap<AccountId, Owner> {
    ids.iter()
        .map(|id| {
            let owner = Owner {
                writer: 0,
                batches: 1,
            };
            (a(*id), owner)
        })
        .collect()
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
        accounts: busy_on_first_writer(&[2]),
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
        accounts: busy_on_first_writer(&[9]),
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
        accounts: HashMap::new(),
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
    let in_flight = busy.take(0, &batch);
    assert_eq!(in_flight.accounts, [1, 2, 3, 4, 5].map(a));
    assert_eq!(in_flight.pending, vec![t(40)]);
    assert_eq!(busy.accounts.len(), 5);
    busy.give_back(in_flight);
    assert!(busy.accounts.is_empty() && busy.pending.is_empty());
}

#[test]
fn two_batches_in_flight_on_one_writer_give_back_only_their_own() {
    let mut busy = Busy::default();
    let first = busy.take(1, &[transfer(1, 2, 1)]);
    let second = busy.take(1, &[transfer(2, 3, 1)]);
    assert_eq!(second.accounts, vec![a(2), a(3)]);
    assert_eq!(busy.accounts[&a(2)].batches, 2, "account 2 is in both");
    busy.give_back(first);
    let left: HashSet<AccountId> = busy.accounts.keys().copied().collect();
    assert_eq!(
        left,
        HashSet::from([a(2), a(3)]),
        "the second still holds 2"
    );
    assert!(busy.accounts.values().all(|owner| owner.writer == 1));
    busy.give_back(second);
    assert!(busy.accounts.is_empty());
}

#[test]
#[should_panic(expected = "a busy account on one writer only")]
fn an_account_is_never_busy_on_two_writers() {
    let mut busy = Busy::default();
    busy.take(0, &[transfer(1, 2, 1)]);
    busy.take(1, &[transfer(2, 3, 1)]);
}

// Followers: batches pipelined behind a writer's batches in flight.

#[test]
fn a_follower_takes_plain_transfers_on_its_writers_accounts_and_free_ones() {
    let busy = Busy {
        accounts: busy_on_first_writer(&[1, 2]),
        pending: HashSet::new(),
    };
    let mut waiting = backlog(vec![
        vec![transfer(1, 2, 5)],
        vec![transfer(2, 7, 6)],
        vec![transfer(8, 9, 7)],
    ]);
    let batch = choose_follower(&mut waiting, &busy, 0, 10);
    assert_eq!(pairs(&batch), vec![(1, 2), (2, 7), (8, 9)]);
    assert!(waiting.is_empty());
}

#[test]
fn a_follower_leaves_accounts_of_another_writer_and_keeps_their_order() {
    let mut accounts = busy_on_first_writer(&[1]);
    accounts.insert(
        a(5),
        Owner {
            writer: 1,
            batches: 1,
        },
    );
    let busy = Busy {
        accounts,
        pending: HashSet::new(),
    };
    let mut waiting = backlog(vec![
        vec![transfer(5, 6, 1)],
        vec![transfer(1, 3, 2)],
        vec![transfer(6, 7, 3)],
    ]);
    let batch = choose_follower(&mut waiting, &busy, 0, 10);
    assert_eq!(pairs(&batch), vec![(1, 3)]);
    let left: Vec<_> = waiting.iter().map(|s| pairs(s)).collect();
    assert_eq!(
        left,
        vec![vec![(5, 6)], vec![(6, 7)]],
        "6 waits behind 5's transfer"
    );
}

#[test]
fn a_follower_takes_only_what_travels_in_one_round_trip() {
    let busy = Busy {
        accounts: busy_on_first_writer(&[1]),
        pending: HashSet::new(),
    };
    let mut keyed = transfer(2, 3, 1);
    keyed.idempotency = Some(key("ada", "k1"));
    let mut waiting = backlog(vec![
        vec![keyed],
        vec![hold(4, 5, 2)],
        vec![post(6, 7, 40, 1, 1)],
        vec![transfer(1, 8, 3)],
    ]);
    let batch = choose_follower(&mut waiting, &busy, 0, 10);
    assert_eq!(pairs(&batch), vec![(1, 8)]);
    assert_eq!(
        waiting.len(),
        3,
        "a key, a new hold and a post wait for a batch of their own"
    );
}

#[test]
fn a_follower_is_bounded() {
    let busy = Busy::default();
    let mut waiting = backlog((0..5).map(|n| vec![transfer(n, n + 10, 1)]).collect());
    let batch = choose_follower(&mut waiting, &busy, 0, 3);
    assert_eq!(pairs(&batch), vec![(0, 10), (1, 11), (2, 12)]);
    assert_eq!(waiting.len(), 2);
}

#[test]
fn a_follower_never_overtakes_a_submission_waiting_on_a_shared_account() {
    let busy = Busy {
        accounts: busy_on_first_writer(&[1]),
        pending: HashSet::new(),
    };
    let mut keyed = transfer(1, 2, 1);
    keyed.idempotency = Some(key("ada", "k1"));
    let mut waiting = backlog(vec![
        vec![keyed],
        vec![transfer(2, 3, 2)],
        vec![transfer(1, 4, 3)],
        vec![transfer(5, 6, 4)],
    ]);
    let batch = choose_follower(&mut waiting, &busy, 0, 10);
    assert_eq!(
        pairs(&batch),
        vec![(5, 6)],
        "accounts 1 and 2 wait for the keyed transfer, which waits for the batches in flight"
    );
    let left: Vec<_> = waiting.iter().map(|s| pairs(s)).collect();
    assert_eq!(left, vec![vec![(1, 2)], vec![(2, 3)], vec![(1, 4)]]);
}
