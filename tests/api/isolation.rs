//! One user's requests never fail or stall another's (issue 20): bodies that are not objects,
//! reads from PostgreSQL, batches' payer checks, login lock-outs, hold floods, slow bodies.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

/// Rows the refused requests could have written.
async fn footprint(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "users",
        "sessions",
        "accounts",
        "transfers",
        "idempotency_keys",
    ] {
        counts.push(app.count(table).await);
    }
    counts
}

#[actix_web::test]
async fn every_body_must_be_a_json_object() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let from = app.funded_account(&alice, &banker, "EUR", 1_000).await;
    let to = app.open_account(&bob, "EUR").await;
    let pending: Value = app
        .post(
            "/transfers",
            &json!({ "from_account_id": from, "to_account_id": to, "amount": 5,
                     "currency": "EUR", "pending": true, "timeout_seconds": 600 }),
            Some(&alice.token),
        )
        .await
        .json()
        .await
        .expect("a pending transfer");
    let pending_id = pending["transfer"]["id"].as_i64().expect("a transfer id");
    let before = footprint(&app).await;
    let routes = [
        ("/users".to_owned(), None),
        ("/users/login".to_owned(), None),
        ("/tokens/renew_access".to_owned(), None),
        ("/accounts".to_owned(), Some(&bob.token)),
        (format!("/accounts/{from}/deposits"), Some(&banker.token)),
        (format!("/accounts/{from}/withdrawals"), Some(&alice.token)),
        ("/transfers".to_owned(), Some(&alice.token)),
        ("/transfers/batch".to_owned(), Some(&alice.token)),
        (format!("/transfers/{pending_id}/post"), Some(&bob.token)),
    ];
    let sequences = [
        json!([7]),
        json!(["USD"]),
        json!([from, to, 7, "EUR"]),
        json!([[{ "from_account_id": from, "to_account_id": to, "amount": 7, "currency": "EUR" }]]),
        json!(7),
        json!("EUR"),
        json!(null),
    ];
    for (path, token) in &routes {
        for body in &sequences {
            let response = app.post(path, body, token.map(String::as_str)).await;
            let error = assert_error(response, 400, "invalid_json").await;
            assert!(error["error"]["index"].is_null(), "{path} {body}: {error}");
        }
    }
    // Inside a batch, every item is an object too.
    let batch = json!({ "transfers": [
        { "from_account_id": from, "to_account_id": to, "amount": 1, "currency": "EUR" },
        [from, to, 7, "EUR"],
    ] });
    let response = app
        .post("/transfers/batch", &batch, Some(&alice.token))
        .await;
    let error = assert_error(response, 400, "invalid_json").await;
    assert_eq!(error["error"]["index"], 1);

    assert_eq!(
        footprint(&app).await,
        before,
        "a refused body changes nothing"
    );
    assert_eq!(app.balance(from).await, 1_000, "only the hold of 5 is held");
    assert_eq!(app.balance(to).await, 0);
}

#[actix_web::test]
async fn numbers_too_big_for_i64_are_validation_failures_however_written() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let account = app.open_account(&alice, "EUR").await;
    let path = format!("/accounts/{account}/deposits");
    for amount in [
        "1e400",
        "-1e400",
        "99999999999999999999",
        "9223372036854775808",
    ] {
        let body = format!("{{\"amount\": {amount}}}").into_bytes();
        let response = app.post_raw(&path, body, Some(&banker.token)).await;
        assert_error(response, 400, "validation_failed").await;
    }
    let body = br#"{"from_account_id": 1e400, "to_account_id": 2, "amount": 1, "currency": "EUR"}"#;
    let response = app
        .post_raw("/transfers", body.to_vec(), Some(&alice.token))
        .await;
    assert_error(response, 400, "validation_failed").await;
    assert_eq!(app.balance(account).await, 0);
}
