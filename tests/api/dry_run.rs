//! `?dry_run=true` on `POST /transfers` and `POST /transfers/batch`: 200 with what the request
//! would do (no ids), or the refusal the real request would answer; nothing moved, held or
//! stored, and an `Idempotency-Key` sent with it stays free.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app_with, Scene, TestApp, TestUser};

/// Every account's (id, balance, held), the transfers and the idempotency keys: what a dry run
/// must leave as it found it.
async fn ledger(app: &TestApp) -> (Vec<(i64, i64, i64)>, i64, i64) {
    let client = app.db().await;
    let accounts = client
        .query("SELECT id, balance, held FROM accounts ORDER BY id", &[])
        .await
        .expect("the accounts")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    (
        accounts,
        app.count("transfers").await,
        app.count("idempotency_keys").await,
    )
}

async fn dry(
    app: &TestApp,
    path: &str,
    body: &Value,
    user: &TestUser,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(Method::POST, format!("{}{path}?dry_run=true", app.address))
        .bearer_auth(&user.token)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("the request is sent")
}

fn transfer(from: i64, to: i64, amount: i64) -> Value {
    json!({"from_account_id": from, "to_account_id": to, "amount": amount, "currency": "USD"})
}

/// A dry run of one transfer that must answer `status` (and `code` when an error), changing
/// nothing; returns its body.
async fn dry_transfer(s: &Scene, body: &Value, user: &TestUser, status: u16, code: &str) -> Value {
    let before = ledger(&s.app).await;
    let response = dry(&s.app, "/transfers", body, user, None).await;
    let answer = match status {
        200 => {
            assert_eq!(response.status().as_u16(), 200, "{body}");
            response.json().await.expect("a dry run")
        }
        _ => assert_error(response, status, code).await,
    };
    assert_eq!(
        ledger(&s.app).await,
        before,
        "a dry run changed nothing: {body}"
    );
    answer
}

#[actix_web::test]
async fn a_dry_run_answers_what_the_transfer_would_and_changes_nothing() {
    let s = Scene::funded(100).await;
    let (alice, bob) = (s.alice_usd, s.bob_usd);
    let before = ledger(&s.app).await;
    let mut body = transfer(alice, bob, 30);
    body["reference"] = json!("R-1");
    let response = dry(&s.app, "/transfers", &body, &s.alice, Some("dry-1")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("Idempotent-Replayed").is_none());
    let answer: Value = response.json().await.expect("a dry run");
    assert_eq!(answer["dry_run"], true);
    let seen = &answer["transfer"];
    assert_eq!(
        (
            &seen["id"],
            &seen["amount"],
            &seen["status"],
            &seen["reference"]
        ),
        (&Value::Null, &json!(30), &json!("posted"), &json!("R-1"))
    );
    let from = &answer["from_account"];
    assert_eq!(
        (&from["id"], &from["balance"], &from["available"]),
        (&json!(alice), &json!(70), &json!(70))
    );
    assert!(
        answer.get("to_account").is_none(),
        "the payee's is never shown"
    );
    assert!(answer.get("from_entry").is_none());
    assert_eq!(
        ledger(&s.app).await,
        before,
        "nothing moved and no key was stored"
    );
    // The key was not stored: the real request with it moves the money, not a replay.
    let real = s
        .app
        .post_keyed("/transfers", &body, &s.alice.token, "dry-1")
        .await;
    assert_eq!(real.status().as_u16(), 201);
    assert!(real.headers().get("Idempotent-Replayed").is_none());
    assert_eq!(s.app.balance(alice).await, 70);

    // A pending transfer would hold the amount, not move it.
    let mut pending = transfer(alice, bob, 20);
    pending["pending"] = json!(true);
    let answer = dry_transfer(&s, &pending, &s.alice, 200, "").await;
    assert_eq!(answer["transfer"]["status"], "pending");
    let from = &answer["from_account"];
    assert_eq!(
        (&from["balance"], &from["held"], &from["available"]),
        (&json!(70), &json!(20), &json!(50))
    );
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_dry_run_refuses_what_the_real_transfer_would() {
    let s = Scene::funded(100).await;
    let (alice, bob) = (s.alice_usd, s.bob_usd);
    let alice_eur = s.app.open_account(&s.alice, "EUR").await;
    dry_transfer(
        &s,
        &transfer(alice, bob, 0),
        &s.alice,
        400,
        "validation_failed",
    )
    .await;
    dry_transfer(
        &s,
        &transfer(alice, alice, 1),
        &s.alice,
        400,
        "same_account",
    )
    .await;
    dry_transfer(&s, &transfer(alice, 999_999, 1), &s.alice, 404, "not_found").await;
    dry_transfer(&s, &transfer(bob, alice, 1), &s.alice, 403, "forbidden").await;
    dry_transfer(
        &s,
        &transfer(alice, alice_eur, 1),
        &s.alice,
        422,
        "currency_mismatch",
    )
    .await;
    dry_transfer(
        &s,
        &transfer(alice, bob, 101),
        &s.alice,
        422,
        "insufficient_funds",
    )
    .await;
    dry_transfer(&s, &transfer(alice, bob, 100), &s.alice, 200, "").await;
    // The reference its payer already used.
    let mut referenced = transfer(alice, bob, 1);
    referenced["reference"] = json!("INV-7");
    let real = s
        .app
        .post("/transfers", &referenced, Some(&s.alice.token))
        .await;
    assert_eq!(real.status().as_u16(), 201);
    dry_transfer(&s, &referenced, &s.alice, 409, "duplicate_reference").await;
    // Against the overdraft limit's floor: down to -overdraft and no further.
    let limit = s
        .app
        .request(
            Method::PUT,
            &format!("/accounts/{alice}/limits"),
            Some(&json!({"overdraft": 50})),
            Some(&s.banker.token),
        )
        .await;
    assert_eq!(limit.status().as_u16(), 200);
    let answer = dry_transfer(&s, &transfer(alice, bob, 149), &s.alice, 200, "").await;
    assert_eq!(answer["from_account"]["balance"], -50);
    dry_transfer(
        &s,
        &transfer(alice, bob, 150),
        &s.alice,
        422,
        "insufficient_funds",
    )
    .await;
    // Frozen payer, closed payee.
    let frozen = s
        .app
        .post(
            &format!("/accounts/{alice}/freeze"),
            &json!({}),
            Some(&s.banker.token),
        )
        .await;
    assert_eq!(frozen.status().as_u16(), 200);
    dry_transfer(
        &s,
        &transfer(alice, bob, 1),
        &s.alice,
        409,
        "account_frozen",
    )
    .await;
    let unfrozen = s
        .app
        .post(
            &format!("/accounts/{alice}/unfreeze"),
            &json!({}),
            Some(&s.banker.token),
        )
        .await;
    assert_eq!(unfrozen.status().as_u16(), 200);
    let bob_eur = s.app.open_account(&s.bob, "EUR").await;
    let closed = s
        .app
        .post(
            &format!("/accounts/{bob_eur}/close"),
            &json!({}),
            Some(&s.bob.token),
        )
        .await;
    assert_eq!(closed.status().as_u16(), 200);
    let funded = s.app.deposit(&s.banker, alice_eur, 10).await;
    assert_eq!(funded.status().as_u16(), 201);
    let mut to_closed = transfer(alice_eur, bob_eur, 1);
    to_closed["currency"] = json!("EUR");
    dry_transfer(&s, &to_closed, &s.alice, 409, "account_closed").await;
    // The query string and the key are checked as any request's.
    let before = ledger(&s.app).await;
    let url = format!("{}/transfers?dry_run=maybe", s.app.address);
    let response = s
        .app
        .client
        .post(url)
        .bearer_auth(&s.alice.token)
        .json(&transfer(alice, bob, 1))
        .send()
        .await
        .expect("sent");
    assert_error(response, 400, "validation_failed").await;
    let response = dry(
        &s.app,
        "/transfers",
        &transfer(alice, bob, 1),
        &s.alice,
        Some("bad key"),
    )
    .await;
    assert_error(response, 400, "validation_failed").await;
    assert_eq!(ledger(&s.app).await, before);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_batch_dry_run_plays_its_items_in_order_and_changes_nothing() {
    let s = Scene::funded(100).await;
    let (alice, bob) = (s.alice_usd, s.bob_usd);
    let mut pending = transfer(alice, bob, 10);
    pending["pending"] = json!(true);
    let items = json!([
        transfer(alice, bob, 60),
        transfer(alice, bob, 60),
        pending,
        transfer(alice, bob, 30)
    ]);
    let before = ledger(&s.app).await;
    let body = json!({"transfers": items});
    let response = dry(
        &s.app,
        "/transfers/batch",
        &body,
        &s.alice,
        Some("dry-batch"),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.expect("a dry run");
    assert_eq!(answer["dry_run"], true);
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    assert_eq!(
        (
            &results[0]["transfer"]["id"],
            &results[0]["transfer"]["amount"]
        ),
        (&Value::Null, &json!(60))
    );
    // The second finds only 40 left after the first; the hold and the last fit in them.
    assert_eq!(results[1]["error"]["code"], "insufficient_funds");
    assert_eq!(results[2]["transfer"]["status"], "pending");
    assert_eq!(results[3]["transfer"]["status"], "posted");
    let accounts = answer["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 1, "only the caller's: {accounts:?}");
    assert_eq!(
        (
            &accounts[0]["id"],
            &accounts[0]["balance"],
            &accounts[0]["held"]
        ),
        (&json!(alice), &json!(10), &json!(10))
    );
    assert_eq!(ledger(&s.app).await, before);

    // Atomic: the real batch's refusal, with its index; nothing stored for the key either.
    let atomic = json!({"transfers": body["transfers"], "atomic": true});
    let response = dry(
        &s.app,
        "/transfers/batch",
        &atomic,
        &s.alice,
        Some("dry-batch"),
    )
    .await;
    let refused = assert_error(response, 422, "insufficient_funds").await;
    assert_eq!(refused["error"]["index"], 1);
    let mut twice = transfer(alice, bob, 1);
    twice["reference"] = json!("PAY-1");
    let referenced = json!({"transfers": [twice.clone(), twice], "atomic": true});
    let response = dry(&s.app, "/transfers/batch", &referenced, &s.alice, None).await;
    let refused = assert_error(response, 409, "duplicate_reference").await;
    assert_eq!(refused["error"]["index"], 1);
    let foreign = json!({"transfers": [transfer(alice, bob, 1), transfer(bob, alice, 1)]});
    let response = dry(&s.app, "/transfers/batch", &foreign, &s.alice, None).await;
    let refused = assert_error(response, 403, "forbidden").await;
    assert_eq!(refused["error"]["index"], 1);
    let invalid = json!({"transfers": [transfer(alice, bob, 1), transfer(alice, bob, -1)]});
    let response = dry(&s.app, "/transfers/batch", &invalid, &s.alice, None).await;
    let refused = assert_error(response, 400, "validation_failed").await;
    assert_eq!(refused["error"]["index"], 1);
    assert_eq!(ledger(&s.app).await, before);

    // The key stayed free: the real batch with it commits, and is no replay.
    let real = s
        .app
        .post_keyed("/transfers/batch", &body, &s.alice.token, "dry-batch")
        .await;
    assert_eq!(real.status().as_u16(), 200);
    assert!(real.headers().get("Idempotent-Replayed").is_none());
    let committed: Value = real.json().await.expect("a batch");
    assert_eq!(committed["accounts"][0]["balance"], 10);
    assert_eq!(committed["accounts"][0]["held"], 10);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_dry_run_past_the_holds_cap_is_refused_as_the_real_one() {
    let app = spawn_app_with(|settings| settings.engine.holds_open_max = 1).await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let from = app.funded_account(&alice, &banker, "USD", 100).await;
    let to = app.open_account(&bob, "USD").await;
    let mut pending = transfer(from, to, 1);
    pending["pending"] = json!(true);
    let held = app.post("/transfers", &pending, Some(&alice.token)).await;
    assert_eq!(held.status().as_u16(), 201);
    let before = ledger(&app).await;
    let response = dry(&app, "/transfers", &pending, &alice, None).await;
    assert_error(response, 409, "too_many_holds").await;
    let batch = json!({"transfers": [transfer(from, to, 1), pending]});
    let response = dry(&app, "/transfers/batch", &batch, &alice, None).await;
    let refused = assert_error(response, 409, "too_many_holds").await;
    assert_eq!(refused["error"]["index"], 1);
    assert_eq!(ledger(&app).await, before);
}
