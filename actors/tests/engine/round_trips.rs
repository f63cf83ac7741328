//! The journal's round trips to PostgreSQL, counted by its writers: a batch of plain transfers
//! is one exchange (BEGIN, locks, the write and COMMIT pipelined), and what it writes is the
//! same as the longer path wrote: running balances in item order, ids in item order.

use tally_actors::{
    AccountId, Authority, BatchItem, BatchItemOutcome, Currency, Engine, TransferRequest,
    Transferred,
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
