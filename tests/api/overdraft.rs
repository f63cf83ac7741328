//! Overdraft limits over HTTP: bankers set `PUT /accounts/{id}/limits`; a debit may take the
//! balance down to `-overdraft` and no further; a limit lowered below the debt blocks debits,
//! not credits; holds count against `available`; a limit set on one replica holds on another.

use std::sync::Arc;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_replica, Scene, TestApp, TestUser};

fn limits_path(account: i64) -> String {
    format!("/accounts/{account}/limits")
}

async fn put_limit(
    app: &TestApp,
    account: i64,
    body: &Value,
    user: &TestUser,
) -> reqwest::Response {
    app.request(
        Method::PUT,
        &limits_path(account),
        Some(body),
        Some(&user.token),
    )
    .await
}

/// Sets the limit, which must answer 200 with the account; returns it.
async fn set_limit(app: &TestApp, account: i64, overdraft: i64, banker: &TestUser) -> Value {
    let response = put_limit(app, account, &json!({"overdraft": overdraft}), banker).await;
    assert_eq!(response.status().as_u16(), 200, "limit of {account}");
    let body: Value = response.json().await.expect("an account");
    assert_eq!(
        (&body["id"], &body["overdraft"]),
        (&json!(account), &json!(overdraft))
    );
    body
}

/// (balance, held, overdraft, floor) in the database.
async fn row(app: &TestApp, account: i64) -> (i64, i64, i64, i64) {
    let row = app
        .db()
        .await
        .query_one(
            "SELECT balance, held, overdraft, floor FROM accounts WHERE id = $1",
            &[&account],
        )
        .await
        .expect("an account");
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

async fn account(app: &TestApp, account: i64, user: &TestUser) -> Value {
    app.get(&format!("/accounts/{account}"), Some(&user.token))
        .await
        .json()
        .await
        .expect("an account")
}

async fn pay(app: &TestApp, user: &TestUser, from: i64, to: i64, amount: i64) -> u16 {
    app.transfer(user, from, to, amount, "USD")
        .await
        .status()
        .as_u16()
}

#[actix_web::test]
async fn only_bankers_set_limits_on_customer_accounts_they_may_read() {
    let s = Scene::funded(100).await;
    let before = row(&s.app, s.alice_usd).await;
    let body = json!({"overdraft": 500});
    // A depositor: 403 on their own account, 404 on another's (as if it did not exist).
    assert_error(
        put_limit(&s.app, s.alice_usd, &body, &s.alice).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        put_limit(&s.app, s.bob_usd, &body, &s.alice).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        put_limit(&s.app, 999_999, &body, &s.alice).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        put_limit(&s.app, 999_999, &body, &s.banker).await,
        404,
        "not_found",
    )
    .await;
    let reserve: i64 = s
        .app
        .db()
        .await
        .query_one(
            "SELECT id FROM accounts WHERE kind = 'reserve' AND currency = 'USD'",
            &[],
        )
        .await
        .expect("the reserve")
        .get(0);
    assert_error(
        put_limit(&s.app, reserve, &body, &s.banker).await,
        404,
        "not_found",
    )
    .await;
    for bad in [
        json!({"overdraft": -1}),
        json!({"overdraft": 1_000_000_000_001_i64}),
        json!({"overdraft": "500"}),
        json!({"overdraft": 1.5}),
        json!({}),
        json!({"overdraft": 5, "floor": 0}),
    ] {
        let response = put_limit(&s.app, s.alice_usd, &bad, &s.banker).await;
        assert_error(response, 400, "validation_failed").await;
    }
    assert_error(
        put_limit(&s.app, 0, &body, &s.banker).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(row(&s.app, s.alice_usd).await, before, "nothing changed");
    assert_eq!(row(&s.app, reserve).await.2, 0);

    // The banker's answer is the account with its limit; the owner reads it too.
    let changed = set_limit(&s.app, s.alice_usd, 500, &s.banker).await;
    assert_eq!(
        (&changed["balance"], &changed["held"], &changed["available"]),
        (&json!(100), &json!(0), &json!(600))
    );
    let seen = account(&s.app, s.alice_usd, &s.alice).await;
    assert_eq!(
        (&seen["overdraft"], &seen["available"]),
        (&json!(500), &json!(600))
    );
    assert_eq!(row(&s.app, s.alice_usd).await, (100, 0, 500, -500));
    // The largest limit is accepted; 0 takes it away again.
    set_limit(&s.app, s.alice_usd, 1_000_000_000_000, &s.banker).await;
    set_limit(&s.app, s.alice_usd, 0, &s.banker).await;
    assert_eq!(row(&s.app, s.alice_usd).await, (100, 0, 0, 0));

    // A closed account has no limit to change.
    let closable = s.app.open_account(&s.bob, "EUR").await;
    let closed = s
        .app
        .post(
            &format!("/accounts/{closable}/close"),
            &json!({}),
            Some(&s.bob.token),
        )
        .await;
    assert_eq!(closed.status().as_u16(), 200);
    let response = put_limit(&s.app, closable, &body, &s.banker).await;
    assert_error(response, 409, "account_closed").await;
    assert_eq!(row(&s.app, closable).await, (0, 0, 0, 0));
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let s = Scene::funded(100).await;
    let path = limits_path(s.alice_usd);
    let put = |body: Value, key: &'static str| {
        let s = &s;
        let path = path.clone();
        async move {
            s.app
                .client
                .put(format!("{}{}", s.app.address, path))
                .bearer_auth(&s.banker.token)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .expect("the request is sent")
        }
    };
    let first = put(json!({"overdraft": 300}), "limit-1").await;
    assert_eq!(first.status().as_u16(), 200);
    assert!(first.headers().get("Idempotent-Replayed").is_none());
    let first: Value = first.json().await.expect("an account");
    assert_eq!(first["overdraft"], 300);
    // Another limit set since: the same key still answers the first answer, and changes nothing.
    set_limit(&s.app, s.alice_usd, 50, &s.banker).await;
    let again = put(json!({"overdraft": 300}), "limit-1").await;
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(
        again
            .headers()
            .get("Idempotent-Replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let again: Value = again.json().await.expect("an account");
    assert_eq!(again, first);
    assert_eq!(row(&s.app, s.alice_usd).await, (100, 0, 50, -50));
    // The same key with another body is a conflict and changes nothing.
    let other = put(json!({"overdraft": 400}), "limit-1").await;
    assert_error(other, 409, "idempotency_key_reused").await;
    assert_eq!(row(&s.app, s.alice_usd).await, (100, 0, 50, -50));
    let keys: i64 = s
        .app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM idempotency_keys WHERE key = 'limit-1' AND operation = 'limits'",
            &[],
        )
        .await
        .expect("a count")
        .get(0);
    assert_eq!(keys, 1);
    // A refused change stores nothing: the key is free once the request is right.
    let closed_key = put(json!({"overdraft": -5}), "limit-2").await;
    assert_error(closed_key, 400, "validation_failed").await;
    let fixed = put(json!({"overdraft": 5}), "limit-2").await;
    assert_eq!(fixed.status().as_u16(), 200);
    assert!(fixed.headers().get("Idempotent-Replayed").is_none());
}

#[actix_web::test]
async fn a_debit_goes_down_to_minus_the_overdraft_and_no_further() {
    let s = Scene::funded(100).await;
    set_limit(&s.app, s.alice_usd, 50, &s.banker).await;
    let refused = s
        .app
        .transfer(&s.alice, s.alice_usd, s.bob_usd, 151, "USD")
        .await;
    assert_error(refused, 422, "insufficient_funds").await;
    assert_eq!(
        pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 150).await,
        201
    );
    assert_eq!(row(&s.app, s.alice_usd).await, (-50, 0, 50, -50));
    let seen = account(&s.app, s.alice_usd, &s.alice).await;
    assert_eq!(
        (&seen["balance"], &seen["available"]),
        (&json!(-50), &json!(0))
    );
    // One minor unit more is refused, whichever way it leaves.
    let refused = s
        .app
        .transfer(&s.alice, s.alice_usd, s.bob_usd, 1, "USD")
        .await;
    assert_error(refused, 422, "insufficient_funds").await;
    let withdrawal = s
        .app
        .post(
            &format!("/accounts/{}/withdrawals", s.alice_usd),
            &json!({"amount": 1}),
            Some(&s.alice.token),
        )
        .await;
    assert_error(withdrawal, 422, "insufficient_funds").await;
    let batch = json!({"atomic": true, "transfers": [
        {"from_account_id": s.alice_usd, "to_account_id": s.bob_usd, "amount": 1, "currency": "USD"}]});
    let batch = s
        .app
        .post("/transfers/batch", &batch, Some(&s.alice.token))
        .await;
    assert_error(batch, 422, "insufficient_funds").await;
    assert_eq!(row(&s.app, s.alice_usd).await, (-50, 0, 50, -50));
    // A deposit pays the debt back.
    assert_eq!(
        s.app.deposit(&s.banker, s.alice_usd, 60).await.status(),
        201
    );
    assert_eq!(row(&s.app, s.alice_usd).await, (10, 0, 50, -50));
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_limit_lowered_below_the_debt_blocks_debits_but_not_credits() {
    let s = Scene::funded(0).await;
    set_limit(&s.app, s.alice_usd, 100, &s.banker).await;
    assert_eq!(pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 80).await, 201);
    let lowered = set_limit(&s.app, s.alice_usd, 10, &s.banker).await;
    assert_eq!(
        (&lowered["balance"], &lowered["available"]),
        (&json!(-80), &json!(-70))
    );
    assert_eq!(row(&s.app, s.alice_usd).await, (-80, 0, 10, -80));
    assert_eq!(pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 1).await, 422);
    // Credits land, and the floor follows the debt up: still no debit beyond the limit. The
    // credit is the journal's one round trip (no key, no reference): WRITE_TRANSFERS raises the
    // floor as APPLY_DELTAS does.
    let (batches_before, trips_before) = s.app.journal_counts().await;
    assert_eq!(pay(&s.app, &s.bob, s.bob_usd, s.alice_usd, 30).await, 201);
    let (batches, trips) = s.app.journal_counts().await;
    assert_eq!((batches - batches_before, trips - trips_before), (1.0, 1.0));
    assert_eq!(row(&s.app, s.alice_usd).await, (-50, 0, 10, -50));
    assert_eq!(pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 1).await, 422);
    assert_eq!(pay(&s.app, &s.bob, s.bob_usd, s.alice_usd, 45).await, 201);
    // Back within the limit: debits within it work again, and no further.
    assert_eq!(row(&s.app, s.alice_usd).await, (-5, 0, 10, -10));
    assert_eq!(pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 6).await, 422);
    assert_eq!(pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 5).await, 201);
    assert_eq!(row(&s.app, s.alice_usd).await, (-10, 0, 10, -10));
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn holds_count_against_available() {
    let s = Scene::funded(0).await;
    set_limit(&s.app, s.alice_usd, 100, &s.banker).await;
    let hold = json!({"from_account_id": s.alice_usd, "to_account_id": s.bob_usd, "amount": 70,
        "currency": "USD", "pending": true});
    let held = s.app.post("/transfers", &hold, Some(&s.alice.token)).await;
    assert_eq!(held.status().as_u16(), 201);
    let seen = account(&s.app, s.alice_usd, &s.alice).await;
    assert_eq!(
        (&seen["held"], &seen["available"]),
        (&json!(70), &json!(30))
    );
    assert_eq!(pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 31).await, 422);
    assert_eq!(pay(&s.app, &s.alice, s.alice_usd, s.bob_usd, 30).await, 201);
    assert_eq!(row(&s.app, s.alice_usd).await, (-30, 70, 100, -100));
    let seen = account(&s.app, s.alice_usd, &s.alice).await;
    assert_eq!(seen["available"], 0);
    s.app.assert_invariants().await;
}

const RACERS: usize = 50;

/// Bob received 50 payments of 10 and may owe 100: 50 refunds of them race 50 payments of his
/// own, 1,000 asked of the 600 he can give. No answer takes him below his floor.
#[actix_web::test]
async fn refunds_racing_the_payee_s_own_spending_never_take_it_below_its_floor() {
    let s = Scene::funded(500).await;
    let carol = s.app.create_depositor().await;
    let carol_usd = s.app.open_account(&carol, "USD").await;
    let mut payments = Vec::new();
    for _ in 0..RACERS {
        let response = s
            .app
            .transfer(&s.alice, s.alice_usd, s.bob_usd, 10, "USD")
            .await;
        assert_eq!(response.status().as_u16(), 201);
        let body: Value = response.json().await.expect("a transfer");
        payments.push(body["transfer"]["id"].as_i64().expect("an id"));
    }
    set_limit(&s.app, s.bob_usd, 100, &s.banker).await;
    let s = Arc::new(s);
    let refunds = payments.iter().enumerate().map(|(index, id)| {
        let s = s.clone();
        let path = format!("/transfers/{id}/reverse");
        async move {
            let key = format!("race-refund-{index}");
            let response = s
                .app
                .post_keyed(&path, &json!({}), &s.bob.token, &key)
                .await;
            response.status().as_u16()
        }
    });
    let spends = (0..RACERS).map(|_| {
        let s = s.clone();
        async move { pay(&s.app, &s.bob, s.bob_usd, carol_usd, 10).await }
    });
    let (refunded, spent) = tokio::join!(join_all(refunds), join_all(spends));
    let answered: Vec<u16> = refunded.iter().chain(&spent).copied().collect();
    assert!(
        answered.iter().all(|status| [201, 422].contains(status)),
        "{answered:?}"
    );
    let committed = answered.iter().filter(|status| **status == 201).count() as i64;
    assert_eq!(
        committed, 60,
        "exactly what the balance and the limit allow"
    );
    assert_eq!(row(&s.app, s.bob_usd).await, (-100, 0, 100, -100));
    let back = s.app.balance(s.alice_usd).await + s.app.balance(carol_usd).await;
    assert_eq!(back, 600);
    s.app.assert_invariants().await;
    let report = tally_actors::audit::audit(&s.app.engine)
        .await
        .expect("an audit");
    assert_eq!(
        (
            report.violations["floor"],
            report.violations["conservation"]
        ),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(report.total(), 0, "{report:?}");
}

#[actix_web::test]
async fn a_limit_set_on_one_replica_is_seen_by_the_next_debit_on_another() {
    let s = Scene::funded(10).await;
    let other = spawn_replica(&s.app).await;
    set_limit(&s.app, s.alice_usd, 100, &s.banker).await;
    // The second replica caches Alice's account with its limit of 100.
    assert_eq!(pay(&other, &s.alice, s.alice_usd, s.bob_usd, 1).await, 201);
    set_limit(&s.app, s.alice_usd, 0, &s.banker).await;
    let transfers_before = s.app.count("transfers").await;
    let (batches_before, trips_before) = other.journal_counts().await;
    let refused = other
        .transfer(&s.alice, s.alice_usd, s.bob_usd, 20, "USD")
        .await;
    assert_error(refused, 422, "insufficient_funds").await;
    // PostgreSQL refused it below the floor inside the journal's one round trip.
    let (batches, trips) = other.journal_counts().await;
    assert_eq!((batches - batches_before, trips - trips_before), (0.0, 1.0));
    let batch = json!({"atomic": true, "transfers": [
        {"from_account_id": s.alice_usd, "to_account_id": s.bob_usd, "amount": 20, "currency": "USD"}]});
    let batch = other
        .post("/transfers/batch", &batch, Some(&s.alice.token))
        .await;
    assert_error(batch, 422, "insufficient_funds").await;
    assert_eq!(s.app.count("transfers").await, transfers_before);
    assert_eq!(row(&s.app, s.alice_usd).await, (9, 0, 0, 0));
    // And a limit raised there is seen here: the refusal is checked against PostgreSQL.
    set_limit(&s.app, s.alice_usd, 50, &s.banker).await;
    assert_eq!(pay(&other, &s.alice, s.alice_usd, s.bob_usd, 20).await, 201);
    assert_eq!(row(&s.app, s.alice_usd).await, (-11, 0, 50, -50));
    s.app.assert_invariants().await;
}
