//! PostgreSQL down: requests get 503 `unavailable` with `Retry-After`, nothing moves, the process
//! stays up, and it serves again by itself once the database is back.

use std::time::Duration;

use crate::helpers::{assert_error, spawn_app_behind_proxy};

#[actix_web::test]
async fn transfers_answer_503_while_the_database_is_away_and_resume_after() {
    let app = spawn_app_behind_proxy().await;
    let proxy = app.proxy.as_ref().expect("a proxy");
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let banker = app.create_banker().await;
    let from = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let to = app.open_account(&bob, "USD").await;

    proxy.cut();
    let response = app.transfer(&alice, from, to, 100, "USD").await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert_error(response, 503, "unavailable").await;
    // Reads go through the account's actor: it may still answer from the committed state it
    // holds (never anything uncommitted), or 503 once it has tried to reload.
    let read = app
        .get(&format!("/accounts/{from}"), Some(&alice.token))
        .await;
    match read.status().as_u16() {
        200 => {
            let account: serde_json::Value = read.json().await.expect("an account");
            assert_eq!(account["balance"], 1_000, "only committed money is shown");
        }
        _ => {
            assert_error(read, 503, "unavailable").await;
        }
    }
    assert_eq!(
        app.get("/healthz", None).await.status().as_u16(),
        200,
        "the process stays up"
    );

    proxy.restore();
    let mut status = 0;
    for _ in 0..50 {
        status = app
            .transfer(&alice, from, to, 100, "USD")
            .await
            .status()
            .as_u16();
        if status == 201 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 201, "serving again without a restart");
    assert_eq!(
        app.balance(from).await,
        900,
        "only the transfer after the outage moved money"
    );
    assert_eq!(app.balance(to).await, 100);
    app.assert_invariants().await;
}
