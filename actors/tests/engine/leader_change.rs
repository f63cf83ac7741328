//! While the PostgreSQL leader changes, no server takes writes for a moment: connections are
//! refused, or reach a demoted, read-only server. A batch that no server took before its COMMIT
//! did not commit, so the journal writes it again on a fresh connection for up to the pool's
//! create timeout instead of answering `Unavailable`; past it, the callers get `Unavailable` and
//! nothing is written.

use std::time::{Duration, Instant};

use tally_actors::{Engine, EngineConfig, TransferError};
use tally_test_support::{fresh_database, TcpProxy};
use tokio_postgres::Client;

use crate::helpers::{pool_waiting, Fixture};

/// Makes the test database refuse writes (as a demoted leader does) or take them again, and
/// drops every other connection to it, so the engine's next ones see the change.
async fn set_read_only(client: &Client, read_only: bool) {
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .expect("the database's name")
        .get(0);
    let setting = if read_only { "on" } else { "off" };
    client
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = {setting}"
        ))
        .await
        .expect("the database's default is changed");
    let terminated: Vec<i32> = client
        .query(
            // Client backends only: an autovacuum worker on the database is the superuser's,
            // and terminating it is refused (an error, not a `false`).
            "SELECT pid FROM pg_stat_activity, pg_terminate_backend(pid)
             WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[&name],
        )
        .await
        .expect("the other connections are dropped")
        .iter()
        .map(|row| row.get(0))
        .collect();
    // Until the terminated backends are gone (and their clients have read the end), the
    // engine could still send a batch on one: a connection lost with BEGIN..COMMIT in flight
    // leaves the outcome unknown, rightly answered `Unavailable`. That is not the case tested
    // here, where the change happened before the transfer was sent.
    for _ in 0..100 {
        let remaining: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                &[&terminated],
            )
            .await
            .expect("the terminated connections are counted")
            .get(0);
        if remaining == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[actix_rt::test]
async fn a_transfer_sent_while_the_server_is_read_only_commits_once_it_takes_writes() {
    let database = fresh_database().await;
    let pool = pool_waiting(&database.url(), Duration::from_secs(10));
    let fixture = Fixture {
        engine: Engine::start(EngineConfig::default(), pool.clone()),
        client: database.connect().await,
        pool,
    };
    let accounts = fixture.accounts(2, 1_000).await;
    // Both actors active: the transfer goes straight to the journal.
    fixture
        .transfer(accounts[0], accounts[1], 1)
        .await
        .expect("a transfer before the change");
    let before = fixture.transfer_count().await;

    set_read_only(&fixture.client, true).await;
    let engine = fixture.engine.clone();
    let request = fixture.request(accounts[0], accounts[1], 100).await;
    let transfer = actix_rt::spawn(async move { engine.transfer(request).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    if transfer.is_finished() {
        panic!("the transfer did not wait: {:?}", transfer.await);
    }
    assert_eq!(
        fixture.transfer_count().await,
        before,
        "nothing written yet"
    );
    set_read_only(&fixture.client, false).await;

    let transferred = transfer
        .await
        .expect("joined")
        .expect("committed once the server takes writes");
    assert_eq!(transferred.transfer.amount.get(), 100);
    assert_eq!(fixture.transfer_count().await, before + 1, "written once");
    assert_eq!(fixture.balance(accounts[0]).await, 899);
    assert_eq!(fixture.balance(accounts[1]).await, 1_101);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_transfer_sent_while_postgres_is_unreachable_commits_when_it_returns_in_time() {
    let database = fresh_database().await;
    let proxy = TcpProxy::to_postgres(&database).await;
    let pool = pool_waiting(
        &database.url_via_port(proxy.port()),
        Duration::from_secs(10),
    );
    let fixture = Fixture {
        engine: Engine::start(EngineConfig::default(), pool.clone()),
        client: database.connect().await,
        pool,
    };
    let accounts = fixture.accounts(2, 1_000).await;
    fixture
        .transfer(accounts[0], accounts[1], 1)
        .await
        .expect("a transfer before the outage");

    proxy.cut();
    // The engine's clients read the end of their cut connections first (see set_read_only).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let engine = fixture.engine.clone();
    let request = fixture.request(accounts[0], accounts[1], 100).await;
    let transfer = actix_rt::spawn(async move { engine.transfer(request).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!transfer.is_finished(), "the transfer waits for PostgreSQL");
    proxy.restore();

    transfer
        .await
        .expect("joined")
        .expect("committed once PostgreSQL is back");
    assert_eq!(fixture.balance(accounts[0]).await, 899);
    assert_eq!(fixture.balance(accounts[1]).await, 1_101);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn a_transfer_waits_no_longer_than_the_pool_create_timeout_then_answers_unavailable() {
    let database = fresh_database().await;
    let wait = Duration::from_millis(600);
    let pool = pool_waiting(&database.url(), wait);
    let fixture = Fixture {
        engine: Engine::start(EngineConfig::default(), pool.clone()),
        client: database.connect().await,
        pool,
    };
    let accounts = fixture.accounts(2, 1_000).await;
    fixture
        .transfer(accounts[0], accounts[1], 1)
        .await
        .expect("a transfer before the change");
    let before = fixture.transfer_count().await;

    set_read_only(&fixture.client, true).await;
    let started = Instant::now();
    let outcome = fixture.transfer(accounts[0], accounts[1], 100).await;
    let waited = started.elapsed();
    assert!(
        matches!(outcome, Err(TransferError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(
        waited >= wait / 2,
        "it waited for a writable server: {waited:?}"
    );
    // Generous: the bound is 600 ms, this machine is shared.
    assert!(waited < Duration::from_secs(10), "bounded: {waited:?}");
    set_read_only(&fixture.client, false).await;

    assert_eq!(fixture.transfer_count().await, before, "nothing written");
    assert_eq!(fixture.balance(accounts[0]).await, 999);
    fixture
        .transfer(accounts[0], accounts[1], 100)
        .await
        .expect("a transfer once the server takes writes");
    assert_eq!(fixture.balance(accounts[0]).await, 899);
    fixture.assert_consistent().await;
}
