//! `POST /transfers/{id}/reverse`: refunds by the payee or a banker, within the original's
//! amount, through the ordinary transfer path.

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_replica, Scene, TestApp, TestUser};

async fn scene() -> Scene {
    Scene::funded(1_000).await
}

async fn paid(app: &TestApp, user: &TestUser, from: i64, to: i64, amount: i64) -> i64 {
    let response = app.transfer(user, from, to, amount, "USD").await;
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.expect("a result");
    body["transfer"]["id"].as_i64().expect("an id")
}

async fn reverse(
    app: &TestApp,
    user: &TestUser,
    id: i64,
    body: Value,
    key: &str,
) -> reqwest::Response {
    app.post_keyed(&format!("/transfers/{id}/reverse"), &body, &user.token, key)
        .await
}

async fn reversed_amount(app: &TestApp, user: &TestUser, id: i64) -> i64 {
    let seen: Value = app
        .get(&format!("/transfers/{id}"), Some(&user.token))
        .await
        .json()
        .await
        .expect("a transfer");
    seen["reversed_amount"].as_i64().expect("reversed_amount")
}

#[actix_web::test]
async fn the_payee_refunds_what_is_left_and_no_more() {
    let Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let id = paid(&app, &alice, alice_usd, bob_usd, 100).await;
    let response = reverse(
        &app,
        &bob,
        id,
        json!({"amount": 30, "description": "Broken cup"}),
        "r1",
    )
    .await;
    assert_eq!(response.status().as_u16(), 201);
    let refund: Value = response.json().await.unwrap();
    let transfer = &refund["transfer"];
    assert_eq!(transfer["reversal_of"], id);
    assert_eq!(transfer["from_account_id"], bob_usd);
    assert_eq!(transfer["to_account_id"], alice_usd);
    assert_eq!(transfer["amount"], 30);
    assert_eq!(transfer["status"], "posted");
    assert_eq!(transfer["description"], "Broken cup");
    assert_eq!(reversed_amount(&app, &alice, id).await, 30);
    // Without an amount: all that is left. A field sent as `null` is one left out (api.md).
    let rest = reverse(
        &app,
        &bob,
        id,
        json!({"amount": null, "description": null}),
        "r2",
    )
    .await;
    assert_eq!(rest.status().as_u16(), 201);
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["transfer"]["amount"], 70);
    assert_eq!(reversed_amount(&app, &bob, id).await, 100);
    assert_eq!(app.balance(alice_usd).await, 1_000);
    assert_eq!(app.balance(bob_usd).await, 0);
    for (body, key) in [(json!({"amount": 1}), "r3"), (json!({}), "r4")] {
        let response = reverse(&app, &bob, id, body, key).await;
        assert_error(response, 409, "reversal_exceeds_original").await;
    }
    // Above what is left, from the start.
    let other = paid(&app, &alice, alice_usd, bob_usd, 50).await;
    let response = reverse(&app, &bob, other, json!({"amount": 51}), "r5").await;
    assert_error(response, 409, "reversal_exceeds_original").await;
    assert_eq!(app.balance(bob_usd).await, 50);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn only_the_payee_and_bankers_may_refund() {
    let Scene {
        app,
        alice,
        bob,
        banker,
        alice_usd,
        bob_usd,
    } = scene().await;
    let id = paid(&app, &alice, alice_usd, bob_usd, 100).await;
    let stranger = app.create_depositor().await;
    assert_error(
        reverse(&app, &alice, id, json!({}), "p1").await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        reverse(&app, &stranger, id, json!({}), "p2").await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        reverse(&app, &bob, 987_654, json!({}), "p3").await,
        404,
        "not_found",
    )
    .await;
    let by_banker = reverse(&app, &banker, id, json!({"amount": 40}), "p4").await;
    assert_eq!(by_banker.status().as_u16(), 201);
    assert_eq!(app.balance(bob_usd).await, 60);
    assert_eq!(app.balance(alice_usd).await, 940);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn a_refund_needs_a_posted_transfer_funds_a_key_and_a_valid_body() {
    let Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let body = json!({"from_account_id": alice_usd, "to_account_id": bob_usd, "amount": 100,
                      "currency": "USD", "pending": true});
    let response = app.post("/transfers", &body, Some(&alice.token)).await;
    let pending: Value = response.json().await.unwrap();
    let pending = pending["transfer"]["id"].as_i64().unwrap();
    let response = reverse(&app, &bob, pending, json!({}), "n1").await;
    assert_error(response, 409, "transfer_not_posted").await;
    let voided = app
        .post_keyed(
            &format!("/transfers/{pending}/void"),
            &json!({}),
            &bob.token,
            "n2",
        )
        .await;
    assert_eq!(voided.status().as_u16(), 200);
    assert_error(
        reverse(&app, &bob, pending, json!({}), "n3").await,
        409,
        "transfer_not_posted",
    )
    .await;

    let id = paid(&app, &alice, alice_usd, bob_usd, 100).await;
    let no_key = app
        .post(
            &format!("/transfers/{id}/reverse"),
            &json!({}),
            Some(&bob.token),
        )
        .await;
    assert_error(no_key, 400, "validation_failed").await;
    for bad in [
        json!({"amount": 0}),
        json!({"description": "d".repeat(141)}),
        json!({"x": 1}),
    ] {
        assert_error(
            reverse(&app, &bob, id, bad, "n4").await,
            400,
            "validation_failed",
        )
        .await;
    }
    // Bob spends most of it: a full refund no longer fits his available balance.
    let carol = app.create_depositor().await;
    let carol_usd = app.open_account(&carol, "USD").await;
    paid(&app, &bob, bob_usd, carol_usd, 80).await;
    let response = reverse(&app, &bob, id, json!({}), "n5").await;
    assert_error(response, 422, "insufficient_funds").await;
    assert_eq!(reversed_amount(&app, &alice, id).await, 0);

    // A replay answers the first refund again and moves nothing more.
    let first = reverse(&app, &bob, id, json!({"amount": 20}), "n6").await;
    assert_eq!(first.status().as_u16(), 201);
    let replay = reverse(&app, &bob, id, json!({"amount": 20}), "n6").await;
    assert_eq!(replay.status().as_u16(), 201);
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let other = reverse(&app, &bob, id, json!({"amount": 10}), "n6").await;
    assert_error(other, 409, "idempotency_key_reused").await;
    assert_eq!(app.balance(bob_usd).await, 0);
    assert_eq!(reversed_amount(&app, &alice, id).await, 20);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn fifty_refunds_racing_the_payees_spending_never_overdraw_or_over_refund() {
    let Scene {
        app,
        alice,
        bob,
        banker,
        alice_usd,
        bob_usd,
    } = scene().await;
    let replica = spawn_replica(&app).await;
    let carol = app.create_depositor().await;
    let carol_usd = app.open_account(&carol, "USD").await;
    let id = paid(&app, &alice, alice_usd, bob_usd, 1_000).await;
    // Bob also holds money of his own, so his spending and the refunds compete for it.
    app.deposit(&banker, bob_usd, 300).await;
    let refunds = (0..50).map(|i| {
        let target = if i % 2 == 0 { &app } else { &replica };
        let (bob, key) = (&bob, format!("race-{i}"));
        async move {
            let response = reverse(target, bob, id, json!({"amount": 30}), &key).await;
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    });
    let spends = (0..50).map(|i| {
        let target = if i % 2 == 1 { &app } else { &replica };
        let bob = &bob;
        async move {
            let response = target.transfer(bob, bob_usd, carol_usd, 30, "USD").await;
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    });
    let (refunded, spent) = futures_util::join!(join_all(refunds), join_all(spends));
    let ok = |answers: &[(u16, Value)]| answers.iter().filter(|(s, _)| *s == 201).count() as i64;
    for (status, body) in refunded.iter().chain(&spent) {
        let code = body["error"]["code"].as_str().unwrap_or_default();
        let allowed = matches!(
            (status, code),
            (201, _)
                | (409, "reversal_exceeds_original")
                | (422, "insufficient_funds")
                | (503, "unavailable")
        );
        assert!(allowed, "{status} {body}");
    }
    let (refunds_ok, spends_ok) = (ok(&refunded), ok(&spent));
    assert!(
        refunds_ok > 0 && spends_ok > 0,
        "{refunds_ok} refunds, {spends_ok} spends"
    );
    assert!(
        30 * refunds_ok <= 1_000,
        "never over-refunded: {refunds_ok}"
    );
    assert_eq!(reversed_amount(&app, &alice, id).await, 30 * refunds_ok);
    let bob_balance = app.balance(bob_usd).await;
    assert!(bob_balance >= 0);
    assert_eq!(bob_balance, 1_300 - 30 * (refunds_ok + spends_ok));
    assert_eq!(app.balance(alice_usd).await, 30 * refunds_ok);
    assert_eq!(app.balance(carol_usd).await, 30 * spends_ok);
    app.assert_invariants().await;
}
