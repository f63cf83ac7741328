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
