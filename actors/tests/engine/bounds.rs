//! Memory is bounded: walking 100,000 accounts keeps at most `accounts_active_max` actors
//! registered, and the passivated ones really end (before the bound, a passivated actor whose
//! address someone still held was restarted by its supervisor and lived for ever).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use futures_util::future::join_all;
use tally_actors::{AccountId, EngineConfig};

use crate::helpers::fixture_with;

const ACCOUNTS: i64 = 100_000;
const ACTIVE_MAX: usize = 1_000;
const WALKERS: i64 = 8;

/// The process's resident memory in KiB.
fn resident_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

#[actix_rt::test]
async fn walking_100_000_accounts_keeps_the_actors_within_their_bound() {
    let fixture = fixture_with(EngineConfig {
        accounts_active_max: ACTIVE_MAX,
        ..EngineConfig::default()
    })
    .await;
    fixture
        .client
        .batch_execute(&format!(
            "INSERT INTO users (username, hashed_password, full_name, email)
                 SELECT 'walker' || n, 'not a hash', 'Walker', 'walker' || n || '@example.com'
                 FROM generate_series(1, {ACCOUNTS}) n;
             INSERT INTO accounts (owner, currency)
                 SELECT 'walker' || n, 'USD' FROM generate_series(1, {ACCOUNTS}) n;"
        ))
        .await
        .expect("the accounts");
    let first: i64 = fixture
        .client
        .query_one(
            "SELECT min(id) FROM accounts WHERE owner LIKE 'walker%'",
            &[],
        )
        .await
        .expect("the first id")
        .get(0);

    let next = Arc::new(AtomicI64::new(0));
    let peak = Arc::new(AtomicI64::new(0));
    let alive_peak = Arc::new(AtomicI64::new(0));
    let mut resident_at_start = 0;
    // Each walker looks up the next id; the actor count is read as they go.
    for round in 0..2 {
        let end = ACCOUNTS / 2 * (round + 1);
        let walkers = (0..WALKERS).map(|_| {
            let engine = fixture.engine.clone();
            let next = next.clone();
            let peak = peak.clone();
            let alive_peak = alive_peak.clone();
            actix_rt::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        next.fetch_sub(1, Ordering::Relaxed);
                        return;
                    }
                    let account = engine
                        .account(AccountId::new(first + n))
                        .await
                        .expect("an account");
                    assert_eq!(account.id, AccountId::new(first + n));
                    peak.fetch_max(engine.active_accounts() as i64, Ordering::Relaxed);
                    alive_peak.fetch_max(engine.account_actors_alive() as i64, Ordering::Relaxed);
                }
            })
        });
        for walker in join_all(walkers).await {
            walker.expect("a walker");
        }
        if round == 0 {
            resident_at_start = resident_kib();
        }
    }
    assert_eq!(
        next.load(Ordering::Relaxed),
        ACCOUNTS,
        "every account walked"
    );
    let peak = peak.load(Ordering::Relaxed);
    assert!(
        peak <= ACTIVE_MAX as i64,
        "{peak} actors active, above the bound of {ACTIVE_MAX}"
    );
    assert!(fixture.engine.active_accounts() <= ACTIVE_MAX);
    // The second half of the walk activated 50,000 more actors, each replacing an evicted one:
    // memory stays flat (a generous margin for a noisy allocator).
    // Passivated actors end once the last address to them drops: only the few an eviction
    // has just retired are still draining.
    let alive_peak = alive_peak.load(Ordering::Relaxed);
    assert!(
        alive_peak <= 2 * ACTIVE_MAX as i64,
        "{alive_peak} actors in memory, far above the bound of {ACTIVE_MAX}"
    );
    assert!(fixture.engine.account_actors_alive() <= ACTIVE_MAX + WALKERS as usize);
    // The resident size is the whole test process's, shared with the tests running beside this
    // one (a loaded machine stretches the walk over more of them): a coarse guard against
    // anything kept per account (1.3 KiB each would pass it); the actor counts above are exact.
    let grown_kib = resident_kib() - resident_at_start;
    assert!(
        grown_kib < 64 * 1024,
        "memory grew by {grown_kib} KiB over the second 50,000 accounts"
    );
}
