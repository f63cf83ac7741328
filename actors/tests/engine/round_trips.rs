//! The journal's round trips to PostgreSQL, counted by its writers: a batch of plain transfers
//! is one exchange (BEGIN, locks, the write and COMMIT pipelined), and what it writes is the
//! same as the longer path wrote: running balances in item order, ids in item order, what the
//! transfer says, refunds counted on their original; and it refuses what the longer path
//! refuses: a payer frozen or a payee closed behind the engine's back (by another replica).

use std::collections::BTreeMap;

use tally_actors::{
    AccountId, Authority, BatchItem, BatchItemOutcome, Currency, Engine, Refusal, TransferDetails,
    TransferError, TransferRequest, Transferred,
};

use crate::helpers::{amount, fixture, key};

fn sample(engine: &Engine, name: &str) -> f64 {
    let families = engine.metrics_registry().gather();
    let family = families
        .iter()
        .find(|family| family.get_name() == name)
        .unwrap_or_else(|| panic!("no metric {name}"));
    let metric = &family.get_metric()[0];
    match metric.has_histogram() {
        true => metric.get_histogram().get_sample_count() as f64,
        false => metric.get_counter().get_value(),
    }
}

/// (batches committed, round trips) so far.
fn counts(engine: &Engine) -> (f64, f64) {
    (
        sample(engine, "tally_journal_batch_size"),
        sample(engine, "tally_journal_round_trips_total"),
    )
}

fn item(from: AccountId, to: AccountId, minor_units: i64) -> BatchItem {
    BatchItem {
        request: TransferRequest {
            from,
            to,
            amount: amount(minor_units),
            currency: Currency::USD,
            authority: Authority::Privileged,
            idempotency: None,
            details: Default::default(),
        },
        pending_timeout: None,
    }
}

fn committed(outcome: &BatchItemOutcome) -> &Transferred {
    match outcome {
        BatchItemOutcome::Committed(transferred) => transferred,
        BatchItemOutcome::Refused(refusal) => panic!("refused: {refusal:?}"),
    }
}

#[actix_rt::test]
async fn a_batch_of_plain_transfers_is_one_round_trip() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let carol = fixture.account("carol", Currency::USD, 0).await;
    let (batches_before, trips_before) = counts(&fixture.engine);
    for _ in 0..5 {
        fixture.transfer(alice, bob, 1).await.expect("committed");
    }
    // One transaction of four items: bob is paid, then spends, then alice twice.
    let outcome = fixture
        .engine
        .transfer_batch(
            vec![
                item(alice, bob, 50),
                item(bob, carol, 40),
                item(carol, alice, 5),
                item(alice, carol, 50),
            ],
            true,
            None,
        )
        .await
        .expect("a batch");
    let (batches, trips) = counts(&fixture.engine);
    assert_eq!(
        batches - batches_before,
        6.0,
        "five lone transfers, one batch"
    );
    assert_eq!(trips - trips_before, 6.0, "one round trip per batch");

    assert_eq!(
        (
            fixture.balance(alice).await,
            fixture.balance(bob).await,
            fixture.balance(carol).await
        ),
        (0, 15, 85)
    );
    // The rows carry each leg's running balance in item order, with ids in item order, and the
    // answers say what the rows say.
    let answers: Vec<&Transferred> = outcome.results.iter().map(committed).collect();
    let ids: Vec<i64> = answers.iter().map(|t| t.transfer.id.get()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids in order");
    let rows = fixture
        .client
        .query(
            "SELECT id, from_balance_after, to_balance_after FROM transfers
             WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await
        .expect("the rows");
    let legs: Vec<(i64, i64, i64)> = rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let expected: Vec<(i64, i64, i64)> = ids
        .iter()
        .zip([(45, 55), (15, 40), (35, 50), (0, 85)])
        .map(|(id, (from, to))| (*id, from, to))
        .collect();
    assert_eq!(legs, expected);
    for (answer, (_, from, to)) in answers.iter().zip(&expected) {
        let from_entry = answer.from_entry.as_ref().expect("a debit leg");
        let to_entry = answer.to_entry.as_ref().expect("a credit leg");
        assert_eq!(
            (from_entry.balance_after, to_entry.balance_after),
            (*from, *to)
        );
    }
    assert_eq!(answers[3].from_account.balance, 0, "alice after the batch");
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_keyed_transfer_still_takes_three_round_trips() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let (batches_before, trips_before) = counts(&fixture.engine);
    let mut request = fixture.request(alice, bob, 10).await;
    request.idempotency = Some(key("alice", "once", "alice-bob-10"));
    fixture.engine.transfer(request).await.expect("committed");
    let (batches, trips) = counts(&fixture.engine);
    assert_eq!(batches - batches_before, 1.0);
    // The key stores the answer, so it waits for the locks; then COMMIT waits for the key.
    assert_eq!(trips - trips_before, 3.0);
    assert_eq!(fixture.balance(bob).await, 10);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn what_a_transfer_says_and_its_refunds_travel_in_one_round_trip() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let mut request = fixture.request(alice, bob, 60).await;
    request.details = TransferDetails {
        description: Some("Rent".to_owned()),
        metadata: Some(BTreeMap::from([("flat".to_owned(), "4B".to_owned())])),
        ..TransferDetails::default()
    };
    let (batches_before, trips_before) = counts(&fixture.engine);
    let paid = fixture.engine.transfer(request).await.expect("committed");
    let refund = fixture
        .engine
        .reverse(
            paid.transfer.id,
            Some(amount(25)),
            Some("Half back".to_owned()),
            Authority::Owner("bob".to_owned()),
            None,
        )
        .await
        .expect("refunded");
    let (batches, trips) = counts(&fixture.engine);
    assert_eq!((batches - batches_before, trips - trips_before), (2.0, 2.0));

    let row = fixture
        .client
        .query_one(
            "SELECT description, metadata->>'flat', reversed_amount FROM transfers WHERE id = $1",
            &[&paid.transfer.id],
        )
        .await
        .expect("the payment");
    let (description, flat, reversed): (Option<String>, Option<String>, i64) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (description.as_deref(), flat.as_deref(), reversed),
        (Some("Rent"), Some("4B"), 25)
    );
    let row = fixture
        .client
        .query_one(
            "SELECT description, reversal_of, from_account_id, amount FROM transfers
             WHERE id = $1",
            &[&refund.transfer.id],
        )
        .await
        .expect("the refund");
    let (description, reversal_of, from, refunded): (Option<String>, Option<i64>, AccountId, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (description.as_deref(), reversal_of, from, refunded),
        (Some("Half back"), Some(paid.transfer.id.get()), bob, 25)
    );
    assert_eq!(refund.transfer.details.reversal_of, Some(paid.transfer.id));
    assert_eq!(
        (fixture.balance(alice).await, fixture.balance(bob).await),
        (65, 35)
    );
    fixture.assert_consistent().await;
}

/// Refunds racing one another past what is left: the trigger and CHECK of V10 fire inside the
/// one-round-trip write as in the other, so exactly what is left is refunded, and every other
/// refund is refused, none failed.
#[actix_rt::test]
async fn racing_refunds_without_keys_refund_exactly_what_is_left() {
    const REFUNDS: i64 = 12;
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 200).await;
    let paid = fixture.transfer(alice, bob, 35).await.expect("committed");
    let refunds = (0..REFUNDS).map(|_| {
        fixture.engine.reverse(
            paid.transfer.id,
            Some(amount(10)),
            None,
            Authority::Owner("bob".to_owned()),
            None,
        )
    });
    let outcomes = futures_util::future::join_all(refunds).await;
    let mut refunded = 0;
    for outcome in &outcomes {
        match outcome {
            Ok(transferred) => refunded += transferred.transfer.amount.get(),
            Err(TransferError::Refused(Refusal::ReversalExceedsOriginal)) => {}
            Err(error) => panic!("a refund failed: {error:?}"),
        }
    }
    assert_eq!(refunded, 30, "three refunds of 10 fit in 35");
    let reversed: i64 = fixture
        .client
        .query_one(
            "SELECT reversed_amount FROM transfers WHERE id = $1",
            &[&paid.transfer.id],
        )
        .await
        .expect("the payment")
        .get(0);
    assert_eq!(reversed, 30);
    assert_eq!(
        (fixture.balance(alice).await, fixture.balance(bob).await),
        (95, 205)
    );
    fixture.assert_consistent().await;
}

/// Another replica froze the payer, or closed the payee, after this engine cached them active:
/// the one-round-trip write refuses the batch (one round trip, no batch committed, nothing
/// written), the accounts reload, and the caller is told why.
#[actix_rt::test]
async fn a_status_changed_elsewhere_is_refused_by_the_one_round_trip() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let carol = fixture.account("carol", Currency::USD, 100).await;
    let dave = fixture.account("dave", Currency::USD, 0).await;
    // Cached as active by this engine: each has taken part in a transfer.
    fixture.transfer(alice, bob, 1).await.expect("committed");
    fixture.transfer(carol, dave, 1).await.expect("committed");
    fixture.transfer(dave, carol, 1).await.expect("committed");
    let set_status = "UPDATE accounts SET status = $2, status_changed_at = now() WHERE id = $1";
    fixture
        .client
        .execute(set_status, &[&alice, &"frozen"])
        .await
        .expect("frozen elsewhere");
    fixture
        .client
        .execute(set_status, &[&dave, &"closed"])
        .await
        .expect("closed elsewhere");
    let transfers_before = fixture.transfer_count().await;

    for (from, to, refusal) in [
        (alice, bob, Refusal::AccountFrozen),
        (carol, dave, Refusal::AccountClosed),
    ] {
        let (batches_before, trips_before) = counts(&fixture.engine);
        let refused = fixture.transfer(from, to, 5).await;
        assert!(
            matches!(refused, Err(TransferError::Refused(r)) if r == refusal),
            "{refused:?}"
        );
        let (batches, trips) = counts(&fixture.engine);
        assert_eq!(
            (batches - batches_before, trips - trips_before),
            (0.0, 1.0),
            "PostgreSQL refused it in the one round trip"
        );
    }
    assert_eq!(fixture.transfer_count().await, transfers_before);
    assert_eq!(
        (fixture.balance(alice).await, fixture.balance(carol).await),
        (99, 100)
    );
    // The two-round-trip path (a keyed transfer) reloads a payee closed elsewhere too.
    let eve = fixture.account("eve", Currency::USD, 0).await;
    fixture.transfer(carol, eve, 1).await.expect("committed");
    fixture.transfer(eve, carol, 1).await.expect("committed");
    fixture
        .client
        .execute(set_status, &[&eve, &"closed"])
        .await
        .expect("closed elsewhere");
    let mut keyed = fixture.request(carol, eve, 5).await;
    keyed.idempotency = Some(key("carol", "to-eve", "carol-eve-5"));
    let refused = fixture.engine.transfer(keyed).await;
    assert!(
        matches!(refused, Err(TransferError::Refused(Refusal::AccountClosed))),
        "{refused:?}"
    );
    // A frozen account still receives, in one round trip.
    let (_, trips_before) = counts(&fixture.engine);
    fixture.transfer(carol, alice, 5).await.expect("credited");
    assert_eq!(counts(&fixture.engine).1 - trips_before, 1.0);
    assert_eq!(fixture.balance(alice).await, 104);
    fixture.assert_consistent().await;
}
