use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tally_actors::{Currency, Engine, EngineConfig, Refusal, TransferError};
use tally_test_support::{check_invariants, fresh_database, insert_user, TcpProxy};

use crate::helpers::{
    amount, assert_memory_matches_database, fixture_with, pool_waiting, Fixture, Lcg,
};

/// Polls `condition` until it holds; panics naming `what` after 10 s.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The engine reaches PostgreSQL through a proxy the test cuts mid-run for longer than the engine
/// waits for it: the callers caught by the outage get `Unavailable`, nothing half-written remains, memory matches the database, and
/// the engine serves again once the database is back.
#[actix_rt::test]
async fn a_database_outage_mid_run_fails_only_the_affected_transfers_and_heals() {
    // The fault: PostgreSQL unreachable this long, once transfers flow.
    const OUTAGE: Duration = Duration::from_millis(1_200);
    let database = fresh_database().await;
    let proxy = TcpProxy::to_postgres(&database).await;
    // The engine waits this long for PostgreSQL to take writes again, shorter than the outage
    // (and long enough to open a connection through the proxy on a loaded machine: the setup's
    // first deposit opens the journal's).
    let pool = pool_waiting(&database.url_via_port(proxy.port()), OUTAGE / 4);
    let fixture = Fixture {
        engine: Engine::start(EngineConfig::default(), pool.clone()),
        client: database.connect().await,
        pool,
    };
    let accounts = fixture.accounts(10, 10_000).await;

    // Transfers committed so far.
    let committed = Arc::new(AtomicUsize::new(0));
    let senders = (0..16u64).map(|task| {
        let engine = fixture.engine.clone();
        let accounts = accounts.clone();
        let committed = committed.clone();
        actix_rt::spawn(async move {
            let mut random = Lcg(task + 7);
            let mut outcomes = Vec::new();
            for _ in 0..150 {
                let from = accounts[random.below(10) as usize];
                let to = accounts[(accounts.iter().position(|a| *a == from).unwrap()
                    + 1
                    + random.below(9) as usize)
                    % 10];
                let request = tally_actors::TransferRequest {
                    from,
                    to,
                    amount: amount(1 + random.below(50) as i64),
                    currency: Currency::USD,
                    authority: tally_actors::Authority::Privileged,
                    idempotency: None,
                    details: Default::default(),
                };
                let outcome = engine.transfer(request).await;
                if outcome.is_ok() {
                    committed.fetch_add(1, Ordering::Relaxed);
                }
                outcomes.push(outcome);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            outcomes
        })
    });
    let senders = actix_rt::spawn(join_all(senders));
    wait_until("20 transfers committed", || {
        committed.load(Ordering::Relaxed) >= 20
    })
    .await;
    proxy.cut();
    tokio::time::sleep(OUTAGE).await;
    proxy.restore();
    let outcomes: Vec<_> = senders
        .await
        .expect("joined")
        .into_iter()
        .flat_map(|task| task.expect("the task finished"))
        .collect();

    let committed = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let unavailable = outcomes
        .iter()
        .filter(|outcome| {
            matches!(
                outcome,
                Err(TransferError::Unavailable(_) | TransferError::Saturated(_))
            )
        })
        .count();
    assert_eq!(
        committed + unavailable,
        outcomes.len(),
        "only commits and outages: {:?}",
        outcomes.iter().find(|o| !matches!(
            o,
            Ok(_) | Err(TransferError::Unavailable(_) | TransferError::Saturated(_))
        ))
    );
    assert!(unavailable > 0, "the outage was felt");
    assert!(committed > 0, "transfers committed around the outage");

    // Serving again: a new transfer commits, and the books are whole.
    let mut healed = false;
    for _ in 0..50 {
        if fixture.transfer(accounts[0], accounts[1], 1).await.is_ok() {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healed, "the engine serves again once the database is back");
    let invariants = check_invariants(&fixture.client).await;
    // Every committed answer is a row: funding deposits + commits + the healing transfer. A
    // commit whose acknowledgement was lost in the cut may add rows without an Ok answer.
    assert!(invariants.transfers > 10 + committed as i64);
    assert_memory_matches_database(&fixture.engine, &fixture.balances().await).await;
}

/// A batch refused by PostgreSQL as a whole (here: the insert privilege revoked) answers every
/// transfer in it with an error and leaves nothing of it in memory.
#[actix_rt::test]
async fn a_batch_the_database_refuses_leaves_nothing_in_memory() {
    let database = fresh_database().await;
    let admin = database.connect().await;
    // A role that may do what the engine does, so the test can take a privilege away.
    let role = format!("engine_{}", &database.name[11..]);
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role};
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};"
        ))
        .await
        .expect("an engine role");
    let url = database
        .url()
        .replacen("postgres://tally@", &format!("postgres://{role}@"), 1);
    let pool = tally_test_support::pool(&url, 4);
    let fixture = Fixture {
        engine: Engine::start(EngineConfig::default(), pool.clone()),
        client: admin,
        pool,
    };
    insert_user(&fixture.client, "alice").await;
    let alice = fixture.account("alice", Currency::USD, 500).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;

    fixture
        .client
        .batch_execute(&format!("REVOKE INSERT ON transfers FROM {role}"))
        .await
        .expect("revoked");
    let refused = join_all((0..8).map(|_| fixture.transfer(alice, bob, 10))).await;
    assert!(
        refused.iter().all(|outcome| matches!(
            outcome,
            Err(TransferError::Unavailable(_) | TransferError::Saturated(_))
        )),
        "{refused:?}"
    );
    assert_eq!(fixture.balance(alice).await, 500);
    assert_memory_matches_database(&fixture.engine, &fixture.balances().await).await;
    // Nothing is left on hold: the whole balance can still move.
    fixture
        .client
        .batch_execute(&format!("GRANT INSERT ON transfers TO {role}"))
        .await
        .expect("granted");
    fixture
        .transfer(alice, bob, 500)
        .await
        .expect("the engine serves again");
    assert_eq!(
        fixture.transfer(alice, bob, 1).await.unwrap_err(),
        TransferError::Refused(Refusal::InsufficientFunds)
    );
    fixture
        .client
        .batch_execute(&format!(
            "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role};
             DROP ROLE {role};"
        ))
        .await
        .expect("cleaned");
    fixture.assert_consistent().await;
}

/// A full queue answers `Unavailable` at once instead of queueing without bound.
#[actix_rt::test]
async fn a_full_engine_answers_unavailable() {
    let fixture = fixture_with(EngineConfig {
        transfers_in_flight_max: 1,
        ..EngineConfig::default()
    })
    .await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let (first, second) = tokio::join!(
        fixture.transfer(alice, bob, 10),
        fixture.transfer(alice, bob, 10)
    );
    let outcomes = [first, second];
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.iter().any(|o| matches!(
        o,
        Err(TransferError::Unavailable(_) | TransferError::Saturated(_))
    )));
    assert_eq!(fixture.balance(alice).await, 90);
    let failed = fixture
        .engine
        .metrics_registry()
        .gather()
        .into_iter()
        .find(|family| family.get_name() == "tally_engine_rejected_total")
        .expect("the counter")
        .get_metric()
        .iter()
        .find(|metric| metric.get_label()[0].get_value() == "in_flight")
        .expect("the in_flight queue's series")
        .get_counter()
        .get_value();
    assert_eq!(failed, 1.0);
}
