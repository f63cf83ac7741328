use std::time::Duration;

use tally_actors::{Authority, Currency, Engine, EngineConfig, Refusal, TransferError};

use crate::helpers::{amount, fixture, fixture_with};

fn counter(engine: &Engine, name: &str) -> f64 {
    engine
        .metrics_registry()
        .gather()
        .into_iter()
        .find(|family| family.get_name() == name)
        .map(|family| {
            let metric = &family.get_metric()[0];
            if metric.has_gauge() {
                metric.get_gauge().get_value()
            } else {
                metric.get_counter().get_value()
            }
        })
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[actix_rt::test]
async fn idle_actors_are_passivated_and_come_back_with_their_state() {
    let fixture = fixture_with(EngineConfig {
        idle_passivation: Duration::from_millis(100),
        ..EngineConfig::default()
    })
    .await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    fixture.transfer(alice, bob, 30).await.expect("committed");
    assert!(fixture.engine.active_accounts() >= 2);

    let mut passivated = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if fixture.engine.active_accounts() == 0 {
            passivated = true;
            break;
        }
    }
    assert!(passivated, "idle actors leave memory");
    assert!(counter(&fixture.engine, "tally_account_passivations_total") >= 3.0);
    assert_eq!(counter(&fixture.engine, "tally_account_actors_active"), 0.0);

    // Reactivated from PostgreSQL: the state is the committed one.
    assert_eq!(
        fixture.engine.account(alice).await.expect("alice").balance,
        70
    );
    fixture
        .transfer(alice, bob, 70)
        .await
        .expect("the whole balance moves");
    assert_eq!(
        fixture.transfer(alice, bob, 1).await.unwrap_err(),
        TransferError::Refused(Refusal::InsufficientFunds)
    );
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_restarted_actor_reloads_its_state_from_the_database() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    assert_eq!(
        fixture.engine.account(alice).await.expect("alice").balance,
        100
    );

    // Another replica moves money the first engine has not seen.
    let other = Engine::start(EngineConfig::default(), fixture.pool.clone());
    other
        .withdraw(alice, amount(60), Authority::Privileged, None)
        .await
        .expect("a withdrawal elsewhere");
    assert_eq!(
        fixture.engine.account(alice).await.expect("stale").balance,
        100
    );

    fixture
        .engine
        .restart_account(alice)
        .await
        .expect("restarted");
    assert_eq!(
        fixture.engine.account(alice).await.expect("alice").balance,
        40,
        "reloaded, never guessed"
    );
    assert_eq!(
        counter(&fixture.engine, "tally_account_restarts_total"),
        1.0
    );
    fixture
        .transfer(alice, bob, 40)
        .await
        .expect("the reloaded balance is spendable");
    // (The reserve's cached balance is stale here by design: only the other engine moved it.)
    tally_test_support::check_invariants(&fixture.client).await;
    assert_eq!(
        fixture.engine.account(alice).await.expect("alice").balance,
        0
    );
    assert_eq!(fixture.engine.account(bob).await.expect("bob").balance, 40);
}

/// A transfer's two holds travel in one message, the first account's actor passing the second
/// on. Refused at the first account (the payer has the lower id) nothing is held; refused at the
/// second (the payer has the higher id, so the payee's credit hold was taken first) the
/// coordinator releases the first. Either way nothing stays in flight: every actor passivates
/// when idle, which an actor with a hold never does.
#[actix_rt::test]
async fn a_pair_of_holds_refused_at_either_account_leaves_nothing_held() {
    let fixture = fixture_with(EngineConfig {
        idle_passivation: Duration::from_millis(100),
        ..EngineConfig::default()
    })
    .await;
    let low = fixture.account("alice", Currency::USD, 10).await;
    let high = fixture.account("bob", Currency::USD, 10).await;
    assert!(low < high, "accounts are numbered in creation order");
    for (from, to) in [(low, high), (high, low)] {
        assert_eq!(
            fixture.transfer(from, to, 11).await.unwrap_err(),
            TransferError::Refused(Refusal::InsufficientFunds)
        );
    }
    let mut passivated = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if fixture.engine.active_accounts() == 0 {
            passivated = true;
            break;
        }
    }
    assert!(passivated, "no hold left in flight on either account");
    // And the whole balance still moves both ways.
    fixture.transfer(high, low, 10).await.expect("committed");
    fixture.transfer(low, high, 20).await.expect("committed");
    assert_eq!(
        (fixture.balance(low).await, fixture.balance(high).await),
        (0, 20)
    );
    fixture.assert_consistent().await;
}
