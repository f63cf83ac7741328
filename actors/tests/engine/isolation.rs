//! One caller's item never fails another's: a race of posts on one hold, a deposit past the
//! supply bound seen only by PostgreSQL, and a batch whose every item was refused (or an atomic
//! batch refused whole) keeping its key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tally_actors::{
    AccountId, Authority, BatchError, BatchItem, BatchItemOutcome, Currency, Engine, Refusal,
    TransferError, TransferId, TransferRequest,
};

use crate::helpers::{amount, fixture, key, Fixture, Lcg};

const HOLDS: usize = 5;
const POSTS_PER_HOLD: usize = 20;
const INNOCENT_TASKS: u64 = 8;

fn privileged(from: AccountId, to: AccountId, minor_units: i64) -> TransferRequest {
    TransferRequest {
        from,
        to,
        amount: amount(minor_units),
        currency: Currency::USD,
        authority: Authority::Privileged,
        idempotency: None,
        details: Default::default(),
    }
}

/// Transfers among `accounts` until `stop`; returns (committed, unavailable answers).
async fn innocent_traffic(
    engine: Engine,
    accounts: Arc<Vec<AccountId>>,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> (u64, Vec<TransferError>) {
    let mut random = Lcg(seed);
    let mut committed = 0;
    let mut unavailable = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let from = random.below(accounts.len() as u64) as usize;
        let to = (from + 1 + random.below(accounts.len() as u64 - 1) as usize) % accounts.len();
        match engine
            .transfer(privileged(accounts[from], accounts[to], 1))
            .await
        {
            Ok(_) => committed += 1,
            Err(error @ (TransferError::Saturated(_) | TransferError::Unavailable(_))) => {
                unavailable.push(error)
            }
            Err(other) => panic!("an innocent transfer: unexpected {other:?}"),
        }
    }
    (committed, unavailable)
}

#[actix_rt::test]
async fn racing_posts_on_one_hold_fail_no_innocent_transfer() {
    let fixture = fixture().await;
    let accounts = fixture.accounts(12, 1_000_000).await;
    let (payers, innocents) = accounts.split_at(2);
    let innocents = Arc::new(innocents.to_vec());
    let stop = Arc::new(AtomicBool::new(false));
    let traffic: Vec<_> = (0..INNOCENT_TASKS)
        .map(|seed| {
            actix_rt::spawn(innocent_traffic(
                fixture.engine.clone(),
                innocents.clone(),
                seed + 11,
                stop.clone(),
            ))
        })
        .collect();

    for _ in 0..HOLDS {
        let hold = fixture
            .engine
            .transfer_pending(
                privileged(payers[0], payers[1], 500),
                Duration::from_secs(3600),
            )
            .await
            .expect("a hold");
        let posts = (0..POSTS_PER_HOLD).map(|_| {
            let engine = fixture.engine.clone();
            actix_rt::spawn(async move {
                engine
                    .post(hold.transfer.id, None, Authority::Privileged, None)
                    .await
            })
        });
        let outcomes: Vec<_> = join_all(posts)
            .await
            .into_iter()
            .map(|task| task.expect("a post task"))
            .collect();
        let won = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(won, 1, "exactly one post wins: {outcomes:?}");
        for outcome in outcomes.iter().filter(|outcome| outcome.is_err()) {
            assert_eq!(
                outcome.as_ref().expect_err("a loser"),
                &TransferError::NotPending,
                "a losing post answers not pending"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut committed = 0;
    for task in traffic {
        let (done, unavailable) = task.await.expect("a traffic task");
        assert!(
            unavailable.is_empty(),
            "innocent transfers failed: {unavailable:?}"
        );
        committed += done;
    }
    assert!(committed > 0, "innocent traffic ran beside the race");
    assert_eq!(
        fixture.balance(payers[1]).await,
        1_000_000 + 500 * HOLDS as i64
    );
    assert_eq!(
        fixture.balance(payers[0]).await,
        1_000_000 - 500 * HOLDS as i64
    );
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_deposit_past_the_supply_seen_only_by_postgres_is_refused_alone() {
    let fixture = fixture().await;
    let second = Engine::start(Default::default(), fixture.pool.clone());
    let first_account = fixture.account("first", Currency::USD, 0).await;
    let second_account = fixture.account("second", Currency::USD, 0).await;
    // The second replica caches the reserve first, then the first replica issues almost the
    // whole supply: the second's cached reserve no longer knows it.
    second
        .deposit(second_account, amount(1), None)
        .await
        .expect("a small deposit");
    fixture
        .engine
        .deposit(first_account, amount(i64::MAX - 10), None)
        .await
        .expect("a deposit up to the supply");

    let (overflowing, beside) = tokio::join!(
        second.deposit(second_account, amount(100), None),
        second.withdraw(second_account, amount(1), Authority::Privileged, None),
    );
    assert_eq!(
        overflowing.expect_err("past the supply"),
        TransferError::Refused(Refusal::BalanceOverflow)
    );
    beside.expect("an item beside the overflowing one commits");
    assert_eq!(fixture.balance(second_account).await, 0);
    assert_eq!(fixture.balance(first_account).await, i64::MAX - 10);
    let reserve: i64 = fixture
        .client
        .query_one(
            "SELECT balance FROM accounts WHERE kind = 'reserve' AND currency = 'USD'",
            &[],
        )
        .await
        .expect("the reserve")
        .get(0);
    assert_eq!(reserve, -(i64::MAX - 10));
    // PostgreSQL itself refuses a reserve past the supply.
    let past = fixture
        .client
        .execute(
            "UPDATE accounts SET balance = -9223372036854775807 - 1 WHERE kind = 'reserve'",
            &[],
        )
        .await;
    assert!(past.is_err(), "a reserve past the supply is refused");
}

#[actix_rt::test]
async fn a_batch_whose_every_item_was_refused_keeps_its_key() {
    let fixture = fixture().await;
    let payer = fixture.account("payer", Currency::USD, 0).await;
    let payee = fixture.account("payee", Currency::USD, 0).await;
    let items = || {
        vec![BatchItem {
            request: privileged(payer, payee, 700),
            pending_timeout: None,
        }]
    };
    let mut batch_key = key("payer", "k-refused", "the batch");
    batch_key.operation = "batch".to_owned();
    let first = fixture
        .engine
        .transfer_batch(items(), false, Some(batch_key.clone()))
        .await
        .expect("an answered batch");
    assert_eq!(
        first.results,
        vec![BatchItemOutcome::Refused(Refusal::InsufficientFunds)]
    );
    assert!(!first.replayed);

    fixture
        .engine
        .deposit(payer, amount(1_000), None)
        .await
        .expect("funding");
    let again = fixture
        .engine
        .transfer_batch(items(), false, Some(batch_key))
        .await
        .expect("a replayed batch");
    assert!(again.replayed, "the same key answers the stored outcome");
    assert_eq!(again.results, first.results);
    assert_eq!(fixture.balance(payer).await, 1_000, "nothing moved");
    assert_eq!(fixture.balance(payee).await, 0);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn an_atomic_batch_refused_whole_keeps_its_key_and_refusal() {
    let fixture = fixture().await;
    let payer = fixture.account("payer", Currency::USD, 100).await;
    let payee = fixture.account("payee", Currency::USD, 0).await;
    // The first item fits, the second is short: the whole batch is refused at index 1.
    let items = || {
        [60, 41]
            .into_iter()
            .map(|minor_units| BatchItem {
                request: privileged(payer, payee, minor_units),
                pending_timeout: None,
            })
            .collect::<Vec<_>>()
    };
    let mut batch_key = key("payer", "k-atomic", "the atomic batch");
    batch_key.operation = "batch".to_owned();
    let transfers = fixture.transfer_count().await;
    let first = fixture
        .engine
        .transfer_batch(items(), true, Some(batch_key.clone()))
        .await;
    let refused = BatchError::Refused {
        index: 1,
        refusal: Refusal::InsufficientFunds,
        replayed: false,
    };
    assert_eq!(first, Err(refused));

    fixture
        .engine
        .deposit(payer, amount(1_000), None)
        .await
        .expect("funding");
    let again = fixture
        .engine
        .transfer_batch(items(), true, Some(batch_key.clone()))
        .await;
    let replayed = BatchError::Refused {
        index: 1,
        refusal: Refusal::InsufficientFunds,
        replayed: true,
    };
    assert_eq!(
        again,
        Err(replayed),
        "the same key answers the stored refusal"
    );
    assert_eq!(fixture.balance(payer).await, 1_100, "nothing moved");
    assert_eq!(fixture.balance(payee).await, 0);
    assert_eq!(
        fixture.transfer_count().await,
        transfers + 1,
        "only the funding deposit was written"
    );

    let mut other_body = batch_key.clone();
    other_body.request_hash = b"another batch".to_vec();
    let reused = fixture
        .engine
        .transfer_batch(items(), true, Some(other_body))
        .await;
    assert_eq!(
        reused,
        Err(BatchError::Failed(TransferError::IdempotencyKeyReused))
    );
    assert_eq!(fixture.balance(payer).await, 1_100);

    // Without the key the same batch now commits: the refusal stayed with the key alone.
    let unkeyed = fixture
        .engine
        .transfer_batch(items(), true, None)
        .await
        .expect("a funded batch");
    assert_eq!(unkeyed.results.len(), 2);
    assert_eq!(fixture.balance(payee).await, 101);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_batch_refused_before_it_is_played_answers_its_key_first() {
    let fixture = fixture().await;
    let payer = fixture.account("payer", Currency::USD, 100).await;
    let payee = fixture.account("payee", Currency::USD, 0).await;
    let items = || {
        vec![BatchItem {
            request: privileged(payer, payee, 30),
            pending_timeout: None,
        }]
    };
    let past_cap = || BatchError::TooManyHolds {
        index: 0,
        replayed: false,
    };
    let mut committed_key = key("payer", "k-committed", "the batch");
    committed_key.operation = "batch".to_owned();
    let committed = fixture
        .engine
        .transfer_batch(items(), false, Some(committed_key.clone()))
        .await
        .expect("a committed batch");
    // The same key past the cap: the stored answer, not a new refusal.
    let replayed = fixture
        .engine
        .refuse_batch(past_cap(), Some(committed_key))
        .await
        .expect("the committed answer");
    assert!(replayed.replayed);
    let ids = |results: &[BatchItemOutcome]| -> Vec<TransferId> {
        results
            .iter()
            .map(|result| match result {
                BatchItemOutcome::Committed(transferred) => transferred.transfer.id,
                other => panic!("a committed item, not {other:?}"),
            })
            .collect()
    };
    assert_eq!(ids(&replayed.results), ids(&committed.results));

    let mut refused_key = key("payer", "k-capped", "the capped batch");
    refused_key.operation = "batch".to_owned();
    let first = fixture
        .engine
        .refuse_batch(past_cap(), Some(refused_key.clone()))
        .await;
    assert_eq!(first, Err(past_cap()));
    // Under the cap now, the same key still answers the stored refusal and moves nothing.
    let again = fixture
        .engine
        .transfer_batch(items(), false, Some(refused_key))
        .await;
    let stored = BatchError::TooManyHolds {
        index: 0,
        replayed: true,
    };
    assert_eq!(again, Err(stored));
    assert_eq!(
        fixture.balance(payer).await,
        70,
        "only the first batch moved"
    );
    assert_eq!(fixture.balance(payee).await, 30);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_commit_needs_no_connection_from_the_request_pool() {
    // A request pool of two that gives up after 300 ms, as a loaded replica's would.
    let database = tally_test_support::fresh_database().await;
    let config: tokio_postgres::Config = database.url().parse().expect("a database URL");
    let pool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(
        config,
        tokio_postgres::NoTls,
    ))
    .max_size(2)
    .wait_timeout(Some(Duration::from_millis(300)))
    .runtime(deadpool_postgres::Runtime::Tokio1)
    .build()
    .expect("a pool");
    let fixture = Fixture {
        engine: Engine::start(Default::default(), pool.clone()),
        pool: pool.clone(),
        client: database.connect().await,
    };
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    // Both actors active: the transfer below needs no read.
    fixture
        .engine
        .transfer(privileged(alice, bob, 1))
        .await
        .expect("a first transfer");

    // Reads have taken every connection of the pool (and keep them).
    let taken = [
        pool.get().await.expect("a connection"),
        pool.get().await.expect("a connection"),
    ];
    assert!(pool.get().await.is_err(), "the request pool is exhausted");

    let moved = fixture
        .engine
        .transfer(privileged(alice, bob, 30))
        .await
        .expect("a commit on the journal's own connection");
    assert_eq!(moved.to_account.balance, 31);
    drop(taken);
    assert_eq!(fixture.balance(bob).await, 31);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn an_item_postgres_refuses_fails_only_its_own_caller() {
    let fixture = fixture().await;
    let accounts = fixture.accounts(10, 10_000).await;
    // A rule the engine does not know: PostgreSQL refuses the batch holding such a row.
    fixture
        .client
        .batch_execute("ALTER TABLE transfers ADD CONSTRAINT no_13 CHECK (amount <> 13)")
        .await
        .expect("a constraint");
    let sends = (0..60).map(|n| {
        let engine = fixture.engine.clone();
        let from = accounts[n % 10];
        let to = accounts[(n + 1 + n / 10) % 10];
        let minor_units = if n % 12 == 5 { 13 } else { 1 };
        actix_rt::spawn(async move {
            let outcome = engine.transfer(privileged(from, to, minor_units)).await;
            (minor_units, outcome)
        })
    });
    let mut innocent = 0;
    for task in join_all(sends).await {
        let (minor_units, outcome) = task.expect("a task");
        match minor_units {
            13 => assert!(
                matches!(
                    outcome,
                    Err(TransferError::Unavailable(_) | TransferError::Saturated(_))
                ),
                "the refused row fails its own caller: {outcome:?}"
            ),
            _ => {
                outcome.expect("an innocent transfer commits");
                innocent += 1;
            }
        }
    }
    assert_eq!(innocent, 55);
    let moved: i64 = fixture
        .client
        .query_one("SELECT count(*) FROM transfers WHERE amount = 1", &[])
        .await
        .expect("a count")
        .get(0);
    assert_eq!(moved, 55);
    fixture.assert_consistent().await;
}
