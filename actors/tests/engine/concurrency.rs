use std::sync::Arc;

use futures_util::future::join_all;
use tally_actors::{AccountId, Refusal, TransferError};

use crate::helpers::{fixture, Fixture, Lcg};

const TRANSFERS: usize = 10_000;
const TASKS: usize = 64;

struct Tally {
    committed: usize,
    insufficient: usize,
}

/// 64 tasks send 10,000 transfers between random pairs of `accounts` (both directions, amounts
/// that sometimes exceed the balance); every call must be answered, and afterwards PostgreSQL
/// and memory must agree with the money rules.
async fn run(fixture: &Fixture, accounts: Vec<AccountId>) -> Tally {
    let accounts = Arc::new(accounts);
    let per_task = TRANSFERS / TASKS;
    let tasks = (0..TASKS).map(|task| {
        let accounts = accounts.clone();
        let engine = fixture.engine.clone();
        async move {
            let mut random = Lcg(task as u64 + 1);
            let mut outcomes = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let from = accounts[random.below(accounts.len() as u64) as usize];
                let mut to = accounts[random.below(accounts.len() as u64) as usize];
                if to == from {
                    to = accounts
                        [(accounts.iter().position(|a| *a == from).unwrap() + 1) % accounts.len()];
                }
                let request = tally_actors::TransferRequest {
                    from,
                    to,
                    amount: crate::helpers::amount(1 + random.below(400) as i64),
                    currency: tally_actors::Currency::USD,
                    authority: tally_actors::Authority::Privileged,
                    idempotency: None,
                    details: Default::default(),
                };
                outcomes.push(engine.transfer(request).await);
            }
            outcomes
        }
    });
    let outcomes: Vec<_> = join_all(tasks.map(actix_rt::spawn))
        .await
        .into_iter()
        .flat_map(|task| task.expect("the task finished"))
        .collect();
    assert_eq!(outcomes.len(), per_task * TASKS, "every call answered");
    let mut tally = Tally {
        committed: 0,
        insufficient: 0,
    };
    for outcome in outcomes {
        match outcome {
            Ok(_) => tally.committed += 1,
            Err(TransferError::Refused(Refusal::InsufficientFunds)) => tally.insufficient += 1,
            Err(other) => panic!("unexpected outcome {other:?}"),
        }
    }
    tally
}

async fn assert_outcome(fixture: &Fixture, accounts: usize, tally: &Tally) {
    let invariants = fixture.assert_consistent().await;
    let funding = accounts as i64;
    assert_eq!(
        invariants.transfers,
        funding + tally.committed as i64,
        "every committed transfer is exactly one row"
    );
    assert_eq!(invariants.entries, 2 * invariants.transfers);
}

fn mean_batch_size(fixture: &Fixture) -> f64 {
    let families = fixture.engine.metrics_registry().gather();
    let family = families
        .iter()
        .find(|family| family.get_name() == "tally_journal_batch_size")
        .expect("the batch size histogram");
    let histogram = family.get_metric()[0].get_histogram();
    histogram.get_sample_sum() / histogram.get_sample_count() as f64
}

#[actix_rt::test]
async fn ten_thousand_transfers_over_ten_hot_accounts_keep_every_invariant() {
    let fixture = fixture().await;
    let accounts = fixture.accounts(10, 2_000).await;
    let tally = run(&fixture, accounts).await;
    assert!(
        tally.committed > TRANSFERS / 2,
        "most transfers commit: {}",
        tally.committed
    );
    assert!(
        tally.insufficient > 0,
        "some transfers hit an empty account"
    );
    assert_outcome(&fixture, 10, &tally).await;
    assert!(
        mean_batch_size(&fixture) > 1.5,
        "batches grow under load: {}",
        mean_batch_size(&fixture)
    );
}

#[actix_rt::test]
async fn ten_thousand_transfers_over_a_thousand_accounts_keep_every_invariant() {
    let fixture = fixture().await;
    let accounts = fixture.accounts(1_000, 500).await;
    let tally = run(&fixture, accounts).await;
    assert!(
        tally.committed > TRANSFERS / 2,
        "most transfers commit: {}",
        tally.committed
    );
    assert_outcome(&fixture, 1_000, &tally).await;
}

/// Two journal writers commit side by side: they lock rows in one order (no deadlock) and number
/// batches in lock order, so the actors still end with exactly the database's balances.
#[actix_rt::test]
async fn two_journal_writers_keep_every_invariant_on_hot_accounts() {
    let fixture = crate::helpers::fixture_with(tally_actors::EngineConfig {
        journal_writers: 2,
        ..tally_actors::EngineConfig::default()
    })
    .await;
    let accounts = fixture.accounts(10, 2_000).await;
    let tally = run(&fixture, accounts).await;
    assert!(
        tally.committed > TRANSFERS / 2,
        "most transfers commit: {}",
        tally.committed
    );
    assert_outcome(&fixture, 10, &tally).await;
}
