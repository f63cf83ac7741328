//! The invariant auditor: silent on a healthy ledger, counting each kind of corruption made by
//! hand, incremental above its watermark, one replica at a time.

use std::time::{Duration, Instant};

use tally_actors::audit::{audit, AuditError, AUDIT_LOCK_KEY, CACHED_READS_IN_FLIGHT_MAX};
use tally_actors::events::{self, EventBody};
use tally_actors::{AccountId, Currency, TransferId};

use crate::helpers::{fixture, Fixture};

async fn violations(fixture: &Fixture, invariant: &str) -> i64 {
    let report = audit(&fixture.engine).await.expect("an audit");
    report.violations[invariant]
}

/// Two funded accounts, a transfer between them and an open hold.
async fn ledger(fixture: &Fixture) -> (AccountId, AccountId) {
    let ids = fixture.accounts(2, 1_000).await;
    fixture
        .transfer(ids[0], ids[1], 300)
        .await
        .expect("a transfer");
    let request = fixture.request(ids[1], ids[0], 50).await;
    fixture
        .engine
        .transfer_pending(request, Duration::from_secs(3600))
        .await
        .expect("a hold");
    (ids[0], ids[1])
}

async fn execute(fixture: &Fixture, sql: &str, account: AccountId) {
    let changed = fixture
        .client
        .execute(sql, &[&account])
        .await
        .expect("a corruption by hand");
    assert!(changed > 0, "the corruption changed rows: {sql}");
}

#[actix_rt::test]
async fn a_healthy_ledger_has_no_violation_in_full_or_incremental_audits() {
    let fixture = fixture().await;
    let (a, b) = ledger(&fixture).await;
    let first = audit(&fixture.engine).await.expect("an audit");
    assert!(first.full, "the first audit checks every leg");
    assert_eq!(first.total(), 0, "{first:?}");

    fixture.transfer(a, b, 10).await.expect("a transfer");
    let second = audit(&fixture.engine).await.expect("an audit");
    assert!(
        !second.full,
        "a later audit checks the legs above the watermark"
    );
    assert_eq!(second.total(), 0, "{second:?}");
    let third = audit(&fixture.engine).await.expect("an audit");
    assert_eq!(third.total(), 0, "{third:?}");

    // The watermark trails one audit: it is the highest id the audit before saw.
    let (watermark, seen, max_id): (i64, i64, i64) = {
        let row = fixture
            .client
            .query_one(
                "SELECT watermark_id, seen_id, (SELECT max(id) FROM transfers) FROM audit_state",
                &[],
            )
            .await
            .expect("the audit state");
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(seen, max_id);
    assert_eq!(watermark, max_id, "no transfer since the audit before");
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_balance_changed_by_hand_breaks_conservation_and_the_last_leg() {
    let fixture = fixture().await;
    let (a, _) = ledger(&fixture).await;
    execute(
        &fixture,
        "UPDATE accounts SET balance = balance + 7 WHERE id = $1",
        a,
    )
    .await;
    let report = audit(&fixture.engine).await.expect("an audit");
    assert_eq!(report.violations["conservation"], 1, "{report:?}");
    assert_eq!(report.violations["balance_matches_legs"], 1, "{report:?}");
    assert_eq!(report.violations["legs_chain"], 0, "{report:?}");
    // The actor's cached balance is one the account really had.
    assert_eq!(report.violations["cached_balance"], 0, "{report:?}");
}

#[actix_rt::test]
async fn a_gap_in_the_running_balances_is_found_by_the_full_audit_and_stays_reported() {
    let fixture = fixture().await;
    let (a, b) = ledger(&fixture).await;
    assert_eq!(audit(&fixture.engine).await.expect("an audit").total(), 0);
    // An old leg, below the watermark once the next audit has run.
    fixture.transfer(a, b, 1).await.expect("a transfer");
    execute(
        &fixture,
        "UPDATE transfers SET to_balance_after = to_balance_after + 1
         WHERE id = (SELECT min(id) FROM transfers WHERE to_account_id = $1 AND to_balance_after IS NOT NULL)",
        b,
    )
    .await;
    fixture
        .client
        .execute("UPDATE audit_state SET last_full_at = NULL", &[])
        .await
        .expect("the next audit is full");
    let full = audit(&fixture.engine).await.expect("an audit");
    assert!(full.full);
    assert_eq!(
        full.violations["legs_chain"], 2,
        "the bad leg and the one after: {full:?}"
    );
    assert_eq!(full.violations["conservation"], 0, "{full:?}");
    // An incremental audit does not read that leg, yet keeps reporting what the full one found.
    let incremental = audit(&fixture.engine).await.expect("an audit");
    assert!(!incremental.full);
    assert_eq!(incremental.violations["legs_chain"], 2, "{incremental:?}");
}

#[actix_rt::test]
async fn a_gap_between_the_watermark_and_the_first_leg_above_it_is_found_incrementally() {
    let fixture = fixture().await;
    let ids = fixture.accounts(2, 1_000).await;
    let (a, b) = (ids[0], ids[1]);
    fixture.transfer(a, b, 300).await.expect("a transfer");
    let paid = fixture.transfer(b, a, 20).await.expect("a transfer");
    // b's newest row at or below the watermark is a hold (no leg): the leg before the window is
    // the payment of 20, on b's paying side, newer than b's last receipt.
    let request = fixture.request(b, a, 50).await;
    fixture
        .engine
        .transfer_pending(request, Duration::from_secs(3600))
        .await
        .expect("a hold");
    assert_eq!(audit(&fixture.engine).await.expect("an audit").total(), 0);
    assert_eq!(audit(&fixture.engine).await.expect("an audit").total(), 0);
    let row = fixture
        .client
        .query_one(
            "SELECT watermark_id, (SELECT max(id) FROM transfers) FROM audit_state",
            &[],
        )
        .await
        .expect("the audit state");
    let watermark: i64 = row.get(0);
    assert_eq!(
        watermark,
        row.get::<_, i64>(1),
        "every row is below the watermark"
    );

    // Each account's first leg above the watermark follows its legs below it, or none for an
    // account opened since (the lookup meets another account's legs there).
    let window = fixture.transfer(a, b, 10).await.expect("a transfer");
    let opened = fixture.account("opened_later", Currency::USD, 0).await;
    fixture.transfer(a, opened, 5).await.expect("a transfer");
    let healthy = audit(&fixture.engine).await.expect("an audit");
    assert!(!healthy.full);
    assert_eq!(healthy.total(), 0, "{healthy:?}");

    // The leg right below the watermark no longer leads to b's first leg above it. The audit
    // before read from the same watermark (it trails one audit), and so does the next.
    let changed = fixture
        .client
        .execute(
            "UPDATE transfers SET from_balance_after = from_balance_after + 1 WHERE id = $1",
            &[&paid.transfer.id],
        )
        .await
        .expect("a corruption by hand");
    assert_eq!(changed, 1);
    assert!(paid.transfer.id.get() < watermark);
    let report = audit(&fixture.engine).await.expect("an audit");
    assert!(!report.full);
    assert_eq!(
        report.violations["legs_chain"], 1,
        "b's first leg above the watermark: {report:?}"
    );
    assert_eq!(report.violations["balance_matches_legs"], 0, "{report:?}");
    assert_eq!(report.violations["conservation"], 0, "{report:?}");
    assert!(window.transfer.id.get() > watermark);
}

#[actix_rt::test]
async fn held_money_without_its_pending_transfer_and_a_broken_floor_are_found() {
    let fixture = fixture().await;
    let (a, _) = ledger(&fixture).await;
    // The constraint would refuse a customer below its floor: the corruption drops it first,
    // as a faulty migration could.
    fixture
        .client
        .batch_execute("ALTER TABLE accounts DROP CONSTRAINT accounts_within_floor")
        .await
        .expect("the constraint is dropped");
    execute(
        &fixture,
        "UPDATE accounts SET held = balance + 1 WHERE id = $1",
        a,
    )
    .await;
    let report = audit(&fixture.engine).await.expect("an audit");
    assert_eq!(report.violations["held_matches_pending"], 1, "{report:?}");
    assert_eq!(report.violations["floor"], 1, "{report:?}");
    assert_eq!(report.violations["conservation"], 0, "{report:?}");
}

#[actix_rt::test]
async fn a_cached_balance_the_account_never_had_is_found() {
    let fixture = fixture().await;
    let ids = fixture.accounts(1, 1_000).await;
    let account = ids[0];
    assert_eq!(
        fixture
            .engine
            .account(account)
            .await
            .expect("cached")
            .balance,
        1_000
    );
    // The ledger is rewritten under the actor: 1,000 is no longer any balance it had.
    execute(
        &fixture,
        "UPDATE transfers SET to_balance_after = to_balance_after + 5 WHERE to_account_id = $1",
        account,
    )
    .await;
    execute(
        &fixture,
        "UPDATE accounts SET balance = balance + 5 WHERE id = $1",
        account,
    )
    .await;
    let report = audit(&fixture.engine).await.expect("an audit");
    assert_eq!(report.violations["cached_balance"], 1, "{report:?}");
    assert_eq!(report.violations["balance_matches_legs"], 0, "{report:?}");
}

#[actix_rt::test]
async fn every_cached_balance_is_compared_past_the_reads_in_flight_bound() {
    let fixture = fixture().await;
    let count = 2 * CACHED_READS_IN_FLIGHT_MAX + 1;
    let ids = fixture.accounts(count, 1_000).await;
    let customers: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    // Each customer's only leg and balance move by 5 under its actor, which still holds 1,000.
    for sql in [
        "UPDATE transfers SET to_balance_after = to_balance_after + 5 WHERE to_account_id = ANY($1)",
        "UPDATE accounts SET balance = balance + 5 WHERE id = ANY($1)",
    ] {
        let changed = fixture
            .client
            .execute(sql, &[&customers])
            .await
            .expect("a corruption by hand");
        assert_eq!(changed, count as u64, "{sql}");
    }
    let report = audit(&fixture.engine).await.expect("an audit");
    assert_eq!(
        report.violations["cached_balance"], count as i64,
        "{report:?}"
    );
}

#[actix_rt::test]
async fn only_one_replica_audits_at_a_time() {
    let fixture = fixture().await;
    ledger(&fixture).await;
    fixture
        .client
        .execute("SELECT pg_advisory_lock($1)", &[&AUDIT_LOCK_KEY])
        .await
        .expect("the lock, as another replica holds it");
    assert_eq!(audit(&fixture.engine).await, Err(AuditError::Busy));
    fixture
        .client
        .execute("SELECT pg_advisory_unlock($1)", &[&AUDIT_LOCK_KEY])
        .await
        .expect("the lock given back");
    assert_eq!(violations(&fixture, "conservation").await, 0);
}

#[actix_rt::test]
async fn reloading_every_account_adopts_what_the_new_primary_holds() {
    let fixture = fixture().await;
    let ids = fixture.accounts(2, 1_000).await;
    // A new primary's state differs from what the actors cached (written here by hand).
    fixture
        .client
        .execute(
            "UPDATE accounts SET balance = balance - 100 WHERE id = $1",
            &[&ids[0]],
        )
        .await
        .expect("a balance changed under the actor");
    assert_eq!(
        fixture
            .engine
            .account(ids[0])
            .await
            .expect("cached")
            .balance,
        1_000
    );
    assert!(fixture.engine.reload_all_accounts().await >= 2);
    assert_eq!(
        fixture
            .engine
            .account(ids[0])
            .await
            .expect("reloaded")
            .balance,
        900
    );
    assert_eq!(
        fixture
            .engine
            .account(ids[1])
            .await
            .expect("reloaded")
            .balance,
        1_000
    );
}

/// How long an event may take to be numbered and read while an audit is in progress: the
/// numbering ticks every 50 ms; this only bounds a failing test.
const EVENT_WAIT: Duration = Duration::from_secs(10);

#[actix_rt::test]
async fn an_audit_in_progress_does_not_hold_back_the_change_stream() {
    let fixture = fixture().await;
    let (a, b) = ledger(&fixture).await;
    let _head = events::start_numbering(fixture.pool.clone());
    // The audit is stopped deterministically after it has read `audit_state` and taken its
    // snapshot: another session holds `accounts`, which its first check reads; once the audit
    // waits for that lock its future is no longer polled, and the lock is given back. Its
    // transaction then stays open between two statements, as it is between any two checks.
    fixture
        .client
        .batch_execute("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("the lock, held by another session");
    let audit = audit(&fixture.engine);
    tokio::pin!(audit);
    let started = Instant::now();
    let pid = loop {
        tokio::select! {
            report = &mut audit => panic!("the audit ended under the lock: {report:?}"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if let Some(pid) = audit_waiting_for_accounts(&fixture).await {
            break pid;
        }
        assert!(
            started.elapsed() < EVENT_WAIT,
            "the audit never reached its checks"
        );
    };
    fixture
        .client
        .batch_execute("COMMIT")
        .await
        .expect("the lock given back");
    let xid_free = audit_idle_without_xid(&fixture, pid).await;
    assert!(xid_free, "the audit in progress holds an xid");

    let transferred = fixture.transfer(a, b, 5).await.expect("a transfer");
    let read = read_transfer_event(&fixture, transferred.transfer.id).await;
    assert!(
        read,
        "the transfer's event was not numbered within {EVENT_WAIT:?} while the audit ran"
    );

    let report = audit.await.expect("the audit completes");
    assert_eq!(report.total(), 0, "{report:?}");
    fixture.assert_consistent().await;
}

/// The backend of this database's audit waiting for a lock in its first check.
async fn audit_waiting_for_accounts(fixture: &Fixture) -> Option<i32> {
    let client = fixture.pool.get().await.expect("a connection");
    client
        .query_opt(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE '%GROUP BY currency HAVING sum(balance)%'",
            &[],
        )
        .await
        .expect("the activity")
        .map(|row| row.get(0))
}

/// Waits for the audit's backend to finish its statement; whether it has no xid then.
async fn audit_idle_without_xid(fixture: &Fixture, pid: i32) -> bool {
    let client = fixture.pool.get().await.expect("a connection");
    let started = Instant::now();
    loop {
        let row = client
            .query_one(
                "SELECT state, backend_xid IS NULL FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .await
            .expect("the audit's backend");
        if row.get::<_, &str>(0) == "idle in transaction" {
            return row.get(1);
        }
        assert!(
            started.elapsed() < EVENT_WAIT,
            "the audit's statement never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the change stream from its start until the transfer's event, within `EVENT_WAIT`.
async fn read_transfer_event(fixture: &Fixture, id: TransferId) -> bool {
    let started = Instant::now();
    let mut after = 0;
    while started.elapsed() < EVENT_WAIT {
        let page = events::read(&fixture.pool, after, events::EVENTS_SCAN_MAX)
            .await
            .expect("a page of events");
        let found = page.events.iter().any(|event| {
            matches!(&event.body, EventBody::Transfer { transfer, .. } if transfer.id == id)
        });
        if found {
            return true;
        }
        after = page.last_id;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The audit reads every idle actor's cached balance, but that is not a use of the account: an
/// actor read only by audits is still passivated once idle (`idle_passivation`), or audits every
/// `audit_interval` (shorter than it) would keep every actor in memory for ever.
#[actix_rt::test]
async fn audits_do_not_keep_idle_actors_in_memory() {
    let fixture = crate::helpers::fixture_with(tally_actors::EngineConfig {
        // Long enough for several audits on a loaded machine, short for the test.
        idle_passivation: Duration::from_secs(1),
        ..tally_actors::EngineConfig::default()
    })
    .await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    fixture.transfer(alice, bob, 30).await.expect("committed");
    assert!(fixture.engine.active_accounts() >= 2);
    let started = Instant::now();
    let mut audits = 0;
    while fixture.engine.active_accounts() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{} actors still in memory after {audits} audits",
            fixture.engine.active_accounts()
        );
        let report = audit(&fixture.engine).await.expect("an audit");
        assert_eq!(report.total(), 0, "{:?}", report.violations);
        audits += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        audits >= 3,
        "audits ran while the actors were idle: {audits}"
    );
}
