//! Pending transfers under concurrency: 1,000 holds over 10 hot accounts, created, posted,
//! voided and expiring at once from 32 tasks on two engines (two replicas) on one database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tally_actors::{
    Authority, Currency, Engine, EngineConfig, TransferError, TransferId, TransferRequest,
    TransferStatus,
};

use crate::helpers::{amount, fixture_with, Lcg};

const HOLDS: u64 = 1_000;
const TASKS: u64 = 32;

#[actix_rt::test]
async fn holds_racing_posts_voids_and_expiry_on_two_engines_end_exactly_once() {
    let config = EngineConfig {
        expiry_sweep_interval: Duration::from_millis(200),
        ..EngineConfig::default()
    };
    let fixture = fixture_with(config.clone()).await;
    let second = Engine::start(config, fixture.pool.clone());
    let engines = [fixture.engine.clone(), second.clone()];
    let accounts = Arc::new(fixture.accounts(10, 5_000).await);

    // Create: each task creates its share of holds; a third expire after one second.
    let creations = (0..TASKS).map(|task| {
        let engine = engines[(task % 2) as usize].clone();
        let accounts = accounts.clone();
        actix_rt::spawn(async move {
            let mut random = Lcg(task + 7);
            let mut created = Vec::new();
            for n in 0..HOLDS / TASKS + 1 {
                let from = random.below(10) as usize;
                let to = (from + 1 + random.below(9) as usize) % 10;
                let timeout = match n % 3 {
                    0 => Duration::from_secs(1),
                    _ => Duration::from_secs(3600),
                };
                let request = TransferRequest {
                    from: accounts[from],
                    to: accounts[to],
                    amount: amount(1 + random.below(50) as i64),
                    currency: Currency::USD,
                    authority: Authority::Privileged,
                    idempotency: None,
                    details: Default::default(),
                };
                if let Ok(held) = engine.transfer_pending(request, timeout).await {
                    created.push(held.transfer);
                }
            }
            created
        })
    });
    let created: Vec<_> = join_all(creations)
        .await
        .into_iter()
        .flat_map(|task| task.expect("a creating task"))
        .collect();
    assert!(
        created.len() > 500,
        "most holds were created: {}",
        created.len()
    );

    // End: post (part of) some, void others, and race a post against a void on the two
    // engines for some; leave the rest to expire or stay pending.
    let created = Arc::new(created);
    let endings = (0..TASKS).map(|task| {
        let engines = engines.clone();
        let created = created.clone();
        actix_rt::spawn(async move {
            let mut random = Lcg(task + 1_000);
            let mut successes: Vec<(TransferId, &'static str)> = Vec::new();
            for transfer in created.iter().skip(task as usize).step_by(TASKS as usize) {
                let engine = &engines[random.below(2) as usize];
                let other = &engines[random.below(2) as usize];
                let id = transfer.id;
                let part = amount(1 + random.below(transfer.amount.get() as u64) as i64);
                let outcomes = match random.below(4) {
                    0 => vec![(
                        "post",
                        engine
                            .post(id, Some(part), Authority::Privileged, None)
                            .await,
                    )],
                    1 => vec![("void", engine.void(id, Authority::Privileged, None).await)],
                    2 => {
                        let (posted, voided) = tokio::join!(
                            engine.post(id, None, Authority::Privileged, None),
                            other.void(id, Authority::Privileged, None)
                        );
                        vec![("post", posted), ("void", voided)]
                    }
                    _ => vec![],
                };
                for (action, outcome) in outcomes {
                    match outcome {
                        Ok(_) => successes.push((id, action)),
                        Err(
                            TransferError::NotPending
                            | TransferError::Unavailable(_)
                            | TransferError::Saturated(_),
                        ) => {}
                        Err(other) => panic!("{action} of {id}: unexpected {other:?}"),
                    }
                }
            }
            successes
        })
    });
    let successes: Vec<(TransferId, &'static str)> = join_all(endings)
        .await
        .into_iter()
        .flat_map(|task| task.expect("an ending task"))
        .collect();
    // The one-second holds expire, released by either engine's sweeper: wait until none of them
    // is pending (the others live an hour).
    let started = std::time::Instant::now();
    loop {
        let short_lived_pending: i64 = fixture
            .client
            .query_one(
                "SELECT count(*) FROM transfers
                 WHERE status = 'pending' AND expires_at < now() + interval '10 minutes'",
                &[],
            )
            .await
            .expect("a count")
            .get(0);
        if short_lived_pending == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{short_lived_pending} one-second holds still pending after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut ended: HashMap<TransferId, usize> = HashMap::new();
    for (id, _) in &successes {
        *ended.entry(*id).or_default() += 1;
    }
    assert!(
        ended.values().all(|count| *count == 1),
        "a hold ended twice"
    );
    let rows = fixture
        .client
        .query(
            "SELECT t.id, t.status, t.expires_at <= now(),
                    (SELECT count(*) FROM transfers p WHERE p.pending_id = t.id)
             FROM transfers t WHERE t.expires_at IS NOT NULL",
            &[],
        )
        .await
        .expect("the holds");
    assert_eq!(rows.len(), created.len());
    for row in &rows {
        let id: i64 = row.get(0);
        let status = TransferStatus::parse(row.get(1)).expect("a known status");
        let due: bool = row.get(2);
        let postings: i64 = row.get(3);
        let by_request = successes
            .iter()
            .find(|(ended, _)| *ended == TransferId::new(id));
        match (status, by_request) {
            (TransferStatus::Posted, Some((_, "post"))) => assert_eq!(postings, 1),
            (TransferStatus::Voided, Some((_, "void"))) => assert_eq!(postings, 0),
            (TransferStatus::Expired, None) => assert!(due && postings == 0),
            (TransferStatus::Pending, None) => assert!(!due, "hold {id} outlived its expiry"),
            other => panic!("hold {id} ended as {other:?}"),
        }
    }
    // Each engine's cache may be stale after the other's commits (PostgreSQL is the truth and
    // a stale cache only costs a reload): the database's invariants are what must hold.
    tally_test_support::check_invariants(&fixture.client).await;

    // And both engines still serve every account: each can spend exactly what PostgreSQL says
    // is available.
    for account in accounts.iter() {
        let available: i64 = fixture
            .client
            .query_one(
                "SELECT balance - held FROM accounts WHERE id = $1",
                &[account],
            )
            .await
            .expect("an account")
            .get(0);
        if available == 0 {
            continue;
        }
        let to = accounts
            .iter()
            .find(|other| *other != account)
            .expect("another");
        let request = TransferRequest {
            from: *account,
            to: *to,
            amount: amount(available),
            currency: Currency::USD,
            authority: Authority::Privileged,
            idempotency: None,
            details: Default::default(),
        };
        second
            .transfer(request)
            .await
            .unwrap_or_else(|error| panic!("{account} cannot spend {available}: {error:?}"));
    }
    tally_test_support::check_invariants(&fixture.client).await;
}
