//! `database.read_url`: statements are read from the replica while its lag is under
//! `database.read_max_lag`, from the primary when it cannot be measured; writes never go there.

use std::time::{Duration, Instant};

use serde_json::Value;
use tally_test_support::{fresh_database, TcpProxy};

use crate::helpers::{spawn_app_with, TestApp, TestUser};

/// The number of entries in the account's statement as Tally answers it now.
async fn statement_len(app: &TestApp, user: &TestUser, account: i64) -> usize {
    let response = app
        .get(&format!("/accounts/{account}/entries"), Some(&user.token))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let entries: Value = response.json().await.expect("a JSON body");
    entries.as_array().expect("a list of entries").len()
}

/// Waits (a few seconds at most) until the statement has `expected` entries.
async fn until_statement_len(app: &TestApp, user: &TestUser, account: i64, expected: usize) {
    let started = Instant::now();
    loop {
        let len = statement_len(app, user, account).await;
        if len == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the statement has {len} entries, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn statements_come_from_a_fresh_replica_and_from_the_primary_when_it_is_away() {
    // The "replica" is another database, without this ledger's rows, so where a statement was
    // read shows in its length.
    let replica = fresh_database().await;
    let proxy = TcpProxy::to_postgres(&replica).await;
    let read_url = replica.url_via_port(proxy.port());
    let app = spawn_app_with(|settings| {
        settings.database.read_url = Some(read_url.parse().expect("a URL"));
    })
    .await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let alice_usd = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let bob_usd = app.open_account(&bob, "USD").await;
    let transfer = app.transfer(&alice, alice_usd, bob_usd, 300, "USD").await;
    assert_eq!(transfer.status().as_u16(), 201, "writes go to the primary");
    assert_eq!(app.balance(alice_usd).await, 700);

    until_statement_len(&app, &alice, alice_usd, 0).await;
    assert_eq!(
        app.metric("tally_replica_lag_seconds").await,
        Some(0.0),
        "a server not in recovery has no lag"
    );

    proxy.cut();
    until_statement_len(&app, &alice, alice_usd, 2).await;
    let started = Instant::now();
    while app.metric("tally_replica_lag_seconds").await != Some(-1.0) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the lag is still reported"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Fresh no more: reads stay on the primary without trying the replica first.
    assert_eq!(statement_len(&app, &alice, alice_usd).await, 2);

    proxy.restore();
    until_statement_len(&app, &alice, alice_usd, 0).await;
}
