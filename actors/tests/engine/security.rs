//! The engine's side of the security review: no refusal depends on the recipient's state, a
//! caller that goes away cannot strand a hold, and a stale cached balance never refuses money
//! another replica put there.

use std::time::Duration;

use futures_util::future::join_all;
use tally_actors::{Currency, Engine, EngineConfig, Refusal, TransferError};

use crate::helpers::{amount, fixture};

/// A binary search over `amount` must learn nothing about the recipient: the same request
/// gets the same answer whether the recipient holds nothing or almost the whole supply.
#[actix_rt::test]
async fn a_refusal_never_depends_on_the_recipients_balance() {
    let fixture = fixture().await;
    // The rich recipient has the lowest id, so its credit is held before alice's debit.
    let rich = fixture
        .account("rich", Currency::USD, i64::MAX - 1_000)
        .await;
    let alice = fixture.account("alice", Currency::USD, 10).await;
    let poor = fixture.account("poor", Currency::USD, 0).await;

    for amount in [11, 1_000, i64::MAX / 2, i64::MAX] {
        let to_poor = fixture.transfer(alice, poor, amount).await.unwrap_err();
        let to_rich = fixture.transfer(alice, rich, amount).await.unwrap_err();
        assert_eq!(to_poor, TransferError::Refused(Refusal::InsufficientFunds));
        assert_eq!(to_rich, to_poor, "amount {amount}");
    }
    fixture
        .transfer(alice, rich, 10)
        .await
        .expect("a credit within the supply always fits");
    // Only a deposit can pass the supply bound, and the reserve is what it depends on.
    assert_eq!(
        fixture
            .engine
            .deposit(poor, amount(991), None)
            .await
            .unwrap_err(),
        TransferError::Refused(Refusal::BalanceOverflow)
    );
    fixture
        .engine
        .deposit(poor, amount(990), None)
        .await
        .expect("up to the supply bound");
    fixture.assert_consistent().await;
}

/// Callers that give up at any point (a client reset drops the HTTP handler's future) leave no
/// hold behind: afterwards every account can spend exactly its whole balance.
#[actix_rt::test]
async fn callers_that_go_away_mid_transfer_strand_no_hold() {
    let fixture = fixture().await;
    let accounts = fixture.accounts(4, 1_000).await;
    for round in 0..40u64 {
        let attempts = (0..8u64).map(|n| {
            let from = accounts[(n % 4) as usize];
            let to = accounts[((n + 1) % 4) as usize];
            let engine = fixture.engine.clone();
            let patience = Duration::from_micros(50 * ((round * 8 + n) % 40));
            async move {
                let request = tally_actors::TransferRequest {
                    from,
                    to,
                    amount: amount(1 + (n as i64)),
                    currency: Currency::USD,
                    authority: tally_actors::Authority::Privileged,
                    idempotency: None,
                    details: Default::default(),
                };
                // Dropped when the patience runs out: the caller went away.
                let _ = tokio::time::timeout(patience, engine.transfer(request)).await;
            }
        });
        join_all(attempts).await;
    }
    // Whatever committed has committed; the abandoned transfers run to their end.
    crate::helpers::wait_until_no_transfer_in_flight(&fixture.engine).await;
    let balances = fixture.balances().await;
    for account in &accounts {
        let whole = balances[account];
        let other = accounts.iter().find(|a| *a != account).expect("another");
        fixture
            .transfer(*account, *other, whole)
            .await
            .unwrap_or_else(|error| panic!("account {account} cannot spend {whole}: {error:?}"));
        fixture
            .transfer(*other, *account, whole)
            .await
            .expect("and back");
    }
    fixture.assert_consistent().await;
}

/// Engine A cached alice's empty account; engine B (another replica) credits it. A's debit must
/// not be refused for funds from the stale cache: it checks PostgreSQL first.
#[actix_rt::test]
async fn a_stale_low_balance_is_checked_against_the_database_before_refusing() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 0).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    assert_eq!(
        fixture.engine.account(alice).await.expect("cached").balance,
        0
    );
    let replica = Engine::start(EngineConfig::default(), fixture.pool.clone());
    replica
        .deposit(alice, amount(500), None)
        .await
        .expect("a deposit on the other replica");

    fixture
        .transfer(alice, bob, 300)
        .await
        .expect("the first engine sees the other replica's credit");
    assert_eq!(
        fixture.transfer(alice, bob, 201).await.unwrap_err(),
        TransferError::Refused(Refusal::InsufficientFunds),
        "and still refuses what is not there"
    );
    assert_eq!(fixture.balance(alice).await, 200);
    check_invariants_hold(&fixture).await;
}

async fn check_invariants_hold(fixture: &crate::helpers::Fixture) {
    tally_test_support::check_invariants(&fixture.client).await;
}
