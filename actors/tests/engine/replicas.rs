use std::sync::Arc;

use futures_util::future::join_all;
use tally_actors::{Currency, Engine, EngineConfig, Refusal, TransferError};
use tally_test_support::check_invariants;

use crate::helpers::{amount, fixture, Lcg};

/// Two engines (two replicas) on one database over the same hot accounts, in both directions:
/// each holds its own cache, so each regularly debits from a stale balance. PostgreSQL refuses
/// the overdrafts, the engine reloads and retries, and the books stay whole.
#[actix_rt::test]
async fn two_engines_on_one_database_never_overdraw_or_lose_money() {
    let fixture = fixture().await;
    let second = Engine::start(EngineConfig::default(), fixture.pool.clone());
    let accounts = Arc::new(fixture.accounts(6, 300).await);
    let tasks = (0..32u64).map(|task| {
        let engine = if task % 2 == 0 {
            fixture.engine.clone()
        } else {
            second.clone()
        };
        let accounts = accounts.clone();
        actix_rt::spawn(async move {
            let mut random = Lcg(task + 100);
            let mut outcomes = Vec::new();
            for _ in 0..120 {
                let from = accounts[random.below(6) as usize];
                let to = accounts[(accounts.iter().position(|a| *a == from).unwrap()
                    + 1
                    + random.below(5) as usize)
                    % 6];
                let request = tally_actors::TransferRequest {
                    from,
                    to,
                    amount: amount(1 + random.below(120) as i64),
                    currency: Currency::USD,
                    authority: tally_actors::Authority::Privileged,
                    idempotency: None,
                    details: Default::default(),
                };
                outcomes.push(engine.transfer(request).await);
            }
            outcomes
        })
    });
    let outcomes: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|task| task.expect("the task finished"))
        .collect();
    let committed = outcomes.iter().filter(|o| o.is_ok()).count();
    for outcome in &outcomes {
        match outcome {
            Ok(_)
            | Err(TransferError::Refused(Refusal::InsufficientFunds))
            // Contention the retries could not resolve is answered 503, never wrongly.
            | Err(TransferError::Unavailable(_) | TransferError::Saturated(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let invariants = check_invariants(&fixture.client).await;
    assert_eq!(
        invariants.transfers,
        6 + committed as i64,
        "every commit is one transfer"
    );
    assert!(committed > 1_000, "most transfers commit: {committed}");
}

/// A transfer refused by PostgreSQL because another replica drained its account must not fail
/// the innocent transfers written in the same batch.
#[actix_rt::test]
async fn a_stale_transfer_does_not_fail_the_innocent_ones_in_its_batch() {
    let fixture = fixture().await;
    let drained = fixture.account("drained", Currency::USD, 100).await;
    let accounts = fixture.accounts(8, 100).await;
    // The first engine caches 100 on `drained`; the second spends it all.
    assert_eq!(
        fixture
            .engine
            .account(drained)
            .await
            .expect("cached")
            .balance,
        100
    );
    let second = Engine::start(EngineConfig::default(), fixture.pool.clone());
    second
        .withdraw(
            drained,
            amount(100),
            tally_actors::Authority::Privileged,
            None,
        )
        .await
        .expect("drained elsewhere");

    let stale = fixture.request(drained, accounts[0], 50).await;
    let mut calls = vec![fixture.engine.transfer(stale)];
    for pair in accounts.chunks(2) {
        calls.push(
            fixture
                .engine
                .transfer(fixture.request(pair[0], pair[1], 60).await),
        );
    }
    let outcomes = join_all(calls).await;
    assert_eq!(
        outcomes[0].clone().unwrap_err(),
        TransferError::Refused(Refusal::InsufficientFunds),
        "refused once the stale account reloaded"
    );
    for innocent in &outcomes[1..] {
        assert!(innocent.is_ok(), "innocent transfer failed: {innocent:?}");
    }
    assert_eq!(fixture.balance(drained).await, 0);
    assert_eq!(
        fixture
            .engine
            .account(drained)
            .await
            .expect("reloaded")
            .balance,
        0
    );
    check_invariants(&fixture.client).await;
}
