use futures_util::future::join_all;
use tally_actors::{Currency, Saturation, TransferError};

use crate::helpers::{fixture, key};

#[actix_rt::test]
async fn a_replay_returns_the_first_answer_and_moves_no_money() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let mut request = fixture.request(alice, bob, 30).await;
    request.idempotency = Some(key("alice", "k-1", "alice->bob 30"));

    let first = fixture
        .engine
        .transfer(request.clone())
        .await
        .expect("committed");
    let again = fixture
        .engine
        .transfer(request.clone())
        .await
        .expect("replayed");

    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(again.transfer, first.transfer);
    assert_eq!(
        (again.from_entry.clone(), again.to_entry.clone()),
        (first.from_entry.clone(), first.to_entry.clone())
    );
    assert_eq!(again.from_account.balance, 70, "the first answer's balance");
    assert_eq!(fixture.balance(alice).await, 70);
    assert_eq!(
        fixture.transfer_count().await,
        2,
        "one deposit and one transfer"
    );
    let stored: i64 = fixture
        .client
        .query_one(
            "SELECT transfer_id FROM idempotency_keys WHERE username = 'alice' AND key = 'k-1'",
            &[],
        )
        .await
        .expect("the key row")
        .get(0);
    assert_eq!(stored, first.transfer.id.get());
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn the_same_key_with_another_request_is_a_conflict() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let mut request = fixture.request(alice, bob, 30).await;
    request.idempotency = Some(key("alice", "k-1", "alice->bob 30"));
    fixture
        .engine
        .transfer(request.clone())
        .await
        .expect("committed");

    let mut other = fixture.request(alice, bob, 31).await;
    other.idempotency = Some(key("alice", "k-1", "alice->bob 31"));
    assert_eq!(
        fixture.engine.transfer(other).await.unwrap_err(),
        TransferError::IdempotencyKeyReused
    );
    // Keys are scoped to the user: bob may use the same key for his own transfer.
    let mut bobs = fixture.request(bob, alice, 5).await;
    bobs.idempotency = Some(key("bob", "k-1", "bob->alice 5"));
    assert!(
        !fixture
            .engine
            .transfer(bobs)
            .await
            .expect("committed")
            .replayed
    );
    assert_eq!(fixture.balance(alice).await, 75);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn concurrent_duplicates_move_money_once() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 1_000).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let mut request = fixture.request(alice, bob, 100).await;
    request.idempotency = Some(key("alice", "same-moment", "alice->bob 100"));

    let calls = (0..32).map(|_| {
        let engine = fixture.engine.clone();
        let request = request.clone();
        actix_rt::spawn(async move { engine.transfer(request).await })
    });
    let answers: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|answer| answer.expect("joined").expect("committed or replayed"))
        .collect();

    let first = answers.iter().filter(|answer| !answer.replayed).count();
    assert_eq!(first, 1, "exactly one call moved money");
    assert!(answers
        .iter()
        .all(|answer| answer.transfer == answers[0].transfer));
    assert_eq!(fixture.balance(alice).await, 900);
    assert_eq!(fixture.balance(bob).await, 100);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn concurrent_duplicates_on_two_engines_move_money_once() {
    let fixture = fixture().await;
    let other_engine = tally_actors::Engine::start(Default::default(), fixture.pool.clone());
    let alice = fixture.account("alice", Currency::USD, 1_000).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let mut request = fixture.request(alice, bob, 100).await;
    request.idempotency = Some(key("alice", "two-replicas", "alice->bob 100"));

    let calls = (0..16).map(|index| {
        let engine = if index % 2 == 0 {
            fixture.engine.clone()
        } else {
            other_engine.clone()
        };
        let request = request.clone();
        actix_rt::spawn(async move { engine.transfer(request).await })
    });
    let answers: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|answer| answer.expect("joined").expect("committed or replayed"))
        .collect();
    assert_eq!(answers.iter().filter(|answer| !answer.replayed).count(), 1);
    assert_eq!(fixture.balance(bob).await, 100);
    tally_test_support::check_invariants(&fixture.client).await;
}

#[actix_rt::test]
async fn keys_older_than_the_retention_are_purged_and_newer_ones_kept() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    for name in ["old", "recent"] {
        let mut request = fixture.request(alice, bob, 10).await;
        request.idempotency = Some(key("alice", name, name));
        fixture.engine.transfer(request).await.expect("committed");
    }
    // The default retention is 7 days: age one key past it, the other to just inside it.
    fixture
        .client
        .batch_execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '8 days' WHERE key = 'old';
             UPDATE idempotency_keys SET created_at = now() - interval '6 days' WHERE key = 'recent';",
        )
        .await
        .expect("aged");

    assert_eq!(fixture.engine.purge_idempotency_keys().await, Ok(1));
    let kept: Vec<String> = fixture
        .client
        .query("SELECT key FROM idempotency_keys", &[])
        .await
        .expect("the keys")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(kept, ["recent"]);
    // The kept key still replays; the transfers themselves are never purged.
    let mut replay = fixture.request(alice, bob, 10).await;
    replay.idempotency = Some(key("alice", "recent", "recent"));
    assert!(
        fixture
            .engine
            .transfer(replay)
            .await
            .expect("replayed")
            .replayed
    );
    assert_eq!(fixture.transfer_count().await, 3);
    assert_eq!(fixture.engine.purge_idempotency_keys().await, Ok(0));
}

#[actix_rt::test]
async fn a_flood_of_one_key_is_admitted_before_it_waits_on_the_key() {
    // Four permits: the requests beyond them are refused at once instead of queueing on the
    // key's lock (each would then read PostgreSQL). Money moves once whatever happens.
    let fixture = crate::helpers::fixture_with(tally_actors::EngineConfig {
        transfers_in_flight_max: 4,
        ..tally_actors::EngineConfig::default()
    })
    .await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let mut request = fixture.request(alice, bob, 30).await;
    request.idempotency = Some(key("alice", "flood", "alice->bob 30"));
    let sends = (0..64).map(|_| {
        let engine = fixture.engine.clone();
        let request = request.clone();
        actix_rt::spawn(async move { engine.transfer(request).await })
    });
    let outcomes: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|task| task.expect("a task"))
        .collect();
    let refused_at_admission = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(TransferError::Saturated(Saturation::InFlight))))
        .count();
    let committed = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(transferred) if !transferred.replayed))
        .count();
    assert!(
        refused_at_admission > 0,
        "the flood beyond the permits is refused: {outcomes:?}"
    );
    assert_eq!(committed, 1, "one request moved the money");
    let answered = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(
        answered + refused_at_admission,
        outcomes.len(),
        "every request committed, replayed or was refused at admission"
    );
    assert_eq!(fixture.balance(alice).await, 70);
    assert_eq!(fixture.balance(bob).await, 30);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_corrupt_stored_outcome_is_counted_as_corruption() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let mut request = fixture.request(alice, bob, 30).await;
    request.idempotency = Some(key("alice", "k-corrupt", "alice->bob 30"));
    fixture
        .engine
        .transfer(request.clone())
        .await
        .expect("committed");
    fixture
        .client
        .execute(
            "UPDATE idempotency_keys SET outcome = '{\"transfer\": 7}' WHERE key = 'k-corrupt'",
            &[],
        )
        .await
        .expect("a corrupted row");

    let replay = fixture.engine.transfer(request).await;
    assert!(
        matches!(
            &replay,
            Err(TransferError::Corrupt {
                what: "idempotency outcome"
            })
        ),
        "{replay:?}"
    );
    let counted: f64 = fixture
        .engine
        .metrics_registry()
        .gather()
        .iter()
        .filter(|family| family.get_name() == "tally_corrupt_rows_total")
        .flat_map(|family| family.get_metric().iter())
        .filter(|metric| {
            metric
                .get_label()
                .iter()
                .any(|label| label.get_value() == "idempotency_outcome")
        })
        .map(|metric| metric.get_counter().get_value())
        .sum();
    assert_eq!(counted, 1.0, "the corrupt row is counted");
    assert_eq!(fixture.balance(alice).await, 70, "nothing moved again");
}
