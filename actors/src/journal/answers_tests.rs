use std::collections::{HashMap, HashSet};

use super::*;
use crate::journal::plan::{AccountAfter, Claimed};
use crate::journal::test_items::{grouped, hold, key, post, release, transfer, Item, CREATED};
use crate::journal::GroupKey;
use crate::model::{Amount, Refusal};

fn after(balance: i64, held: i64) -> AccountAfter {
    AccountAfter {
        balance,
        held,
        status: crate::model::AccountStatus::Active,
        limit: crate::model::Limit::default(),
    }
}

fn balances(pairs: &[(i64, i64, i64)]) -> HashMap<AccountId, AccountAfter> {
    pairs
        .iter()
        .map(|(id, balance, held)| (AccountId::new(*id), after(*balance, *held)))
        .collect()
}

fn t(id: i64) -> TransferId {
    TransferId::new(id)
}

fn claimed_row() -> Claimed {
    Claimed {
        created_at: CREATED - time::Duration::minutes(5),
        expires_at: Some(CREATED + time::Duration::hours(1)),
        posted_at: Some(CREATED),
        details: crate::model::TransferDetails::default(),
    }
}

// Row ids.

#[test]
fn rows_get_the_allocated_ids_in_item_order_and_releases_none() {
    let items = vec![transfer(1, 2, 1), release(1, 2, 9, 1), hold(1, 2, 1)];
    assert_eq!(
        row_ids(&items, &[100, 101]),
        vec![Some(t(100)), None, Some(t(101))]
    );
}

#[test]
#[should_panic(expected = "every id allocated is used")]
fn an_unused_id_is_caught() {
    row_ids(&[transfer(1, 2, 1)], &[100, 101]);
}

#[test]
#[should_panic(expected = "an id per row")]
fn a_missing_id_is_caught() {
    row_ids(&[transfer(1, 2, 1), transfer(2, 1, 1)], &[100]);
}

// Legs.

#[test]
fn legs_walk_back_from_the_balances_after_the_batch() {
    // Account 1 had 100: pays 10, then 5, and gets 3.
    let items = vec![transfer(1, 2, 10), transfer(1, 3, 5), transfer(2, 1, 3)];
    let legs = balances_after_legs(&items, &balances(&[(1, 88, 0), (2, 7, 0), (3, 5, 0)]));
    assert_eq!(
        legs,
        vec![Some((90, 10)), Some((85, 5)), Some((7, 88))],
        "each leg's balance right after it"
    );
}

#[test]
fn holds_and_releases_have_no_legs() {
    let items = vec![hold(1, 2, 10), release(1, 2, 9, 4), post(1, 2, 8, 6, 6)];
    let legs = balances_after_legs(&items, &balances(&[(1, 94, 10), (2, 6, 0)]));
    assert_eq!(legs, vec![None, None, Some((94, 6))]);
}

// Answers.

#[test]
fn a_transfer_answers_posted_with_both_legs_and_snapshots() {
    let items = vec![transfer(1, 2, 10)];
    let after = balances(&[(1, 90, 0), (2, 10, 0)]);
    let answers = assemble(&items, &[Some(t(50))], CREATED, &HashMap::new(), &after);
    let answer = &answers[0];
    assert_eq!(answer.transfer.id, t(50));
    assert_eq!(answer.transfer.status, TransferStatus::Posted);
    assert_eq!(answer.transfer.posted_at, Some(CREATED));
    let debit = answer.from_entry.as_ref().expect("a debit");
    let credit = answer.to_entry.as_ref().expect("a credit");
    assert_eq!(
        (debit.id, debit.amount, debit.balance_after),
        (100, -10, 90)
    );
    assert_eq!(
        (credit.id, credit.amount, credit.balance_after),
        (101, 10, 10)
    );
    assert_eq!(debit.account_id, AccountId::new(1));
    assert_eq!(credit.account_id, AccountId::new(2));
    assert_eq!(answer.from_account.balance, 90);
    assert_eq!(answer.to_account.balance, 10);
    assert!(!answer.replayed);
}

#[test]
fn a_new_hold_answers_pending_without_legs() {
    let items = vec![hold(1, 2, 10)];
    let after = balances(&[(1, 100, 10), (2, 0, 0)]);
    let answer = &assemble(&items, &[Some(t(51))], CREATED, &HashMap::new(), &after)[0];
    assert_eq!(answer.transfer.status, TransferStatus::Pending);
    assert_eq!(
        answer.transfer.expires_at,
        Some(CREATED + time::Duration::hours(1))
    );
    assert!(answer.from_entry.is_none() && answer.to_entry.is_none());
    assert_eq!(answer.from_account.held, 10);
}

#[test]
fn a_post_answers_the_pending_transfer_with_the_postings_legs() {
    let items = vec![post(1, 2, 40, 6, 10)];
    let after = balances(&[(1, 94, 0), (2, 6, 0)]);
    let claimed = HashMap::from([(t(40), claimed_row())]);
    let answer = &assemble(&items, &[Some(t(52))], CREATED, &claimed, &after)[0];
    assert_eq!(answer.transfer.id, t(40), "the pending transfer's id");
    assert_eq!(answer.transfer.status, TransferStatus::Posted);
    assert_eq!(answer.transfer.created_at, claimed_row().created_at);
    let debit = answer.from_entry.as_ref().expect("a debit");
    assert_eq!(
        debit.id,
        Entry::debit_id(t(52)),
        "legs carry the posting's row id"
    );
    assert_eq!(debit.transfer_id, t(40), "legs name the pending transfer");
}

#[test]
fn a_void_answers_voided_and_an_expiry_expired() {
    let mut expiry = release(1, 2, 41, 10);
    expiry.operation = Operation::Release {
        pending_id: t(41),
        held: 10,
        expired: true,
    };
    let items = vec![release(1, 2, 40, 10), expiry];
    let after = balances(&[(1, 100, 0), (2, 0, 0)]);
    let claimed = HashMap::from([(t(40), claimed_row()), (t(41), claimed_row())]);
    let answers = assemble(&items, &[None, None], CREATED, &claimed, &after);
    assert_eq!(answers[0].transfer.status, TransferStatus::Voided);
    assert_eq!(answers[1].transfer.status, TransferStatus::Expired);
    assert!(answers.iter().all(|answer| answer.from_entry.is_none()));
}

#[test]
fn every_answer_shows_the_accounts_after_the_whole_batch() {
    let items = vec![transfer(1, 2, 10), transfer(2, 1, 4)];
    let after = balances(&[(1, 94, 0), (2, 6, 0)]);
    let answers = assemble(
        &items,
        &[Some(t(1)), Some(t(2))],
        CREATED,
        &HashMap::new(),
        &after,
    );
    assert_eq!(answers[0].from_account.balance, 94);
    assert_eq!(answers[1].to_account.balance, 94);
}

#[test]
fn legs_name_only_their_own_accounts() {
    // Privacy: an answer's legs belong to its own two accounts, never to another item's.
    let items = vec![transfer(1, 2, 10), transfer(3, 4, 4)];
    let after = balances(&[(1, 90, 0), (2, 10, 0), (3, 96, 0), (4, 4, 0)]);
    let answers = assemble(
        &items,
        &[Some(t(1)), Some(t(2))],
        CREATED,
        &HashMap::new(),
        &after,
    );
    for (answer, accounts) in answers
        .iter()
        .zip([[1, 2], [3, 4]].map(|pair| pair.map(AccountId::new)))
    {
        let legs = [&answer.from_entry, &answer.to_entry];
        let named: Vec<AccountId> = legs
            .iter()
            .map(|leg| leg.as_ref().expect("a leg").account_id)
            .collect();
        assert_eq!(named, accounts);
        assert_eq!(
            [answer.from_account.id, answer.to_account.id],
            accounts,
            "snapshots of its own accounts"
        );
    }
}

// Keys and stored outcomes.

#[test]
fn a_keyed_item_stores_its_answer_and_names_its_transfer() {
    let mut keyed_item = transfer(1, 2, 10);
    keyed_item.idempotency = Some(key("alice", "k1"));
    let items = vec![keyed_item, transfer(3, 4, 1)];
    let after = balances(&[(1, 90, 0), (2, 10, 0), (3, 9, 0), (4, 1, 0)]);
    let answers = assemble(
        &items,
        &[Some(t(7)), Some(t(8))],
        CREATED,
        &HashMap::new(),
        &after,
    );
    let rows = key_rows(&items, &answers);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key.key, "k1");
    assert_eq!(rows[0].transfer_id, Some(t(7)));
    let decoded = StoredTransfer::decode(rows[0].outcome.clone()).expect("it decodes");
    assert_eq!(decoded.transfer, answers[0].transfer);
}

#[test]
fn a_keyed_group_stores_refusals_in_place_and_committed_answers_in_order() {
    let group_key = GroupKey {
        key: key("bob", "batch-1"),
        outcome: vec![
            None,
            Some(BatchItemOutcome::Refused(Refusal::InsufficientFunds)),
            None,
        ],
    };
    let mut first = grouped(transfer(1, 2, 10), 4);
    first.group_key = Some(group_key);
    let items = vec![first, grouped(transfer(2, 3, 5), 4), transfer(8, 9, 1)];
    let after = balances(&[(1, 90, 0), (2, 5, 0), (3, 5, 0), (8, 0, 0), (9, 1, 0)]);
    let answers = assemble(
        &items,
        &[Some(t(1)), Some(t(2)), Some(t(3))],
        CREATED,
        &HashMap::new(),
        &after,
    );
    let rows = key_rows(&items, &answers);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].transfer_id, None,
        "a batch names no single transfer"
    );
    let outcome = StoredBatch::decode(rows[0].outcome.clone())
        .expect("it decodes")
        .expect("an outcome");
    let ids: Vec<Option<i64>> = outcome
        .results
        .iter()
        .map(|result| match result {
            BatchItemOutcome::Committed(transferred) => Some(transferred.transfer.id.get()),
            BatchItemOutcome::Refused(_) => None,
        })
        .collect();
    assert_eq!(ids, vec![Some(1), None, Some(2)]);
}

#[test]
fn only_keyed_batches_wait_for_their_keys() {
    assert!(!keyed(&[transfer(1, 2, 1)]));
    let mut item = transfer(1, 2, 1);
    item.idempotency = Some(key("a", "b"));
    assert!(keyed(&[transfer(3, 4, 1), item]));
}

#[test]
fn a_key_not_inserted_refuses_its_item_or_its_whole_group() {
    let mut single = transfer(1, 2, 1);
    single.idempotency = Some(key("alice", "taken"));
    let mut own = transfer(3, 4, 1);
    own.idempotency = Some(key("alice", "mine"));
    let mut group_first = grouped(transfer(5, 6, 1), 2);
    group_first.group_key = Some(GroupKey {
        key: key("bob", "taken-batch"),
        outcome: vec![None, None],
    });
    let items: Vec<Item> = vec![single, own, group_first, grouped(transfer(6, 7, 1), 2)];
    let inserted = HashSet::from([("alice".to_owned(), "mine".to_owned())]);
    assert_eq!(duplicate_keys(&items, &inserted), HashSet::from([0, 2, 3]));
}

#[test]
fn answers_use_the_amount_moved_not_the_amount_held() {
    let items = vec![post(1, 2, 40, 3, 10)];
    let after = balances(&[(1, 97, 0), (2, 3, 0)]);
    let claimed = HashMap::from([(t(40), claimed_row())]);
    let answer = &assemble(&items, &[Some(t(9))], CREATED, &claimed, &after)[0];
    assert_eq!(answer.transfer.amount, Amount::new(3).expect("an amount"));
    assert_eq!(answer.to_entry.as_ref().expect("a credit").amount, 3);
}
