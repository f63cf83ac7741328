use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp, TestUser};

struct Scene {
    app: TestApp,
    alice: TestUser,
    bob: TestUser,
    alice_usd: i64,
    bob_usd: i64,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let banker = app.create_banker().await;
    let alice_usd = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let bob_usd = app.open_account(&bob, "USD").await;
    Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
    }
}

fn body(from: i64, to: i64, amount: Value, currency: &str) -> Value {
    json!({ "from_account_id": from, "to_account_id": to, "amount": amount, "currency": currency })
}

#[actix_web::test]
async fn a_transfer_answers_201_with_both_entries_and_moves_the_money() {
    let Scene {
        app,
        alice,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let response = app.transfer(&alice, alice_usd, bob_usd, 250, "USD").await;
    assert_eq!(response.status().as_u16(), 201);
    assert!(response.headers().get("idempotent-replayed").is_none());
    let result: Value = response.json().await.expect("a transfer result");
    let transfer = &result["transfer"];
    assert_eq!(
        (
            transfer["from_account_id"].as_i64(),
            transfer["to_account_id"].as_i64()
        ),
        (Some(alice_usd), Some(bob_usd))
    );
    assert_eq!(
        (transfer["amount"].as_i64(), transfer["currency"].as_str()),
        (Some(250), Some("USD"))
    );
    assert_eq!(result["from_account"]["balance"], 750);
    assert_eq!(
        (
            result["from_entry"]["amount"].as_i64(),
            result["from_entry"]["account_id"].as_i64()
        ),
        (Some(-250), Some(alice_usd))
    );
    assert_eq!(
        (
            result["to_entry"]["amount"].as_i64(),
            result["to_entry"]["account_id"].as_i64()
        ),
        (Some(250), Some(bob_usd))
    );
    assert!(
        result.get("to_account").is_none(),
        "the recipient's balance is never shown to the sender: {result}"
    );

    assert_eq!(app.balance(alice_usd).await, 750);
    assert_eq!(app.balance(bob_usd).await, 250);
    // Read-your-writes: the account read right after includes the transfer.
    let account: Value = app
        .get(&format!("/accounts/{alice_usd}"), Some(&alice.token))
        .await
        .json()
        .await
        .expect("an account");
    assert_eq!(account["balance"], 750);
    let id = transfer["id"].as_i64().expect("an id");
    let fetched: Value = app
        .get(&format!("/transfers/{id}"), Some(&alice.token))
        .await
        .json()
        .await
        .expect("a transfer");
    assert_eq!(&fetched, transfer);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn every_refusal_answers_its_code_and_moves_nothing() {
    let Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
    } = scene().await;
    let banker = app.create_banker().await;
    let bob_eur = app.funded_account(&bob, &banker, "EUR", 50).await;
    let alice_eur = app.open_account(&alice, "EUR").await;
    let transfers_before = app.count("transfers").await;
    let post = |body: Value, token: &str| {
        let token = token.to_owned();
        let app = &app;
        async move { app.post("/transfers", &body, Some(&token)).await }
    };
    let a = &alice.token;

    let cases: Vec<(Value, &str, u16, &str)> = vec![
        (
            body(alice_usd, bob_usd, json!(0), "USD"),
            a,
            400,
            "validation_failed",
        ),
        (
            body(alice_usd, bob_usd, json!(-5), "USD"),
            a,
            400,
            "validation_failed",
        ),
        (
            body(alice_usd, bob_usd, json!(9223372036854775808u64), "USD"),
            a,
            400,
            "validation_failed",
        ),
        (
            body(alice_usd, bob_usd, json!(1e30), "USD"),
            a,
            400,
            "validation_failed",
        ),
        (
            body(alice_usd, bob_usd, json!(1.5), "USD"),
            a,
            400,
            "validation_failed",
        ),
        (
            body(alice_usd, bob_usd, json!("10"), "USD"),
            a,
            400,
            "validation_failed",
        ),
        (
            body(alice_usd, bob_usd, json!(10), "XYZ"),
            a,
            400,
            "validation_failed",
        ),
        (
            body(alice_usd, alice_usd, json!(10), "USD"),
            a,
            400,
            "same_account",
        ),
        (
            body(alice_usd, 999_999, json!(10), "USD"),
            a,
            404,
            "not_found",
        ),
        (
            body(999_999, bob_usd, json!(10), "USD"),
            a,
            404,
            "not_found",
        ),
        (
            body(bob_usd, alice_usd, json!(10), "USD"),
            a,
            403,
            "forbidden",
        ),
        (
            body(alice_usd, bob_eur, json!(10), "USD"),
            a,
            422,
            "currency_mismatch",
        ),
        (
            body(alice_eur, bob_usd, json!(10), "USD"),
            a,
            422,
            "currency_mismatch",
        ),
        (
            body(alice_usd, bob_usd, json!(10), "EUR"),
            a,
            422,
            "currency_mismatch",
        ),
        (
            body(alice_usd, bob_usd, json!(1_001), "USD"),
            a,
            422,
            "insufficient_funds",
        ),
        (
            body(0, bob_usd, json!(10), "USD"),
            a,
            400,
            "validation_failed",
        ),
        (
            json!({ "from_account_id": alice_usd, "to_account_id": bob_usd, "amount": 10 }),
            a,
            400,
            "validation_failed",
        ),
        (
            json!({ "from_account_id": alice_usd, "to_account_id": bob_usd, "amount": 10, "currency": "USD", "note": "x" }),
            a,
            400,
            "validation_failed",
        ),
    ];
    for (request, token, status, code) in cases {
        assert_error(post(request.clone(), token).await, status, code).await;
    }
    assert_error(
        app.post_raw("/transfers", b"{\"from_account_id\": 1,".to_vec(), Some(a))
            .await,
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        app.post_raw("/transfers", b"not json".to_vec(), Some(a))
            .await,
        400,
        "invalid_json",
    )
    .await;
    let oversized = format!("{{\"padding\": \"{}\"}}", "x".repeat(70 * 1024));
    assert_error(
        app.post_raw("/transfers", oversized.into_bytes(), Some(a))
            .await,
        413,
        "payload_too_large",
    )
    .await;
    assert_error(
        app.post(
            "/transfers",
            &body(alice_usd, bob_usd, json!(1), "USD"),
            None,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;

    assert_eq!(
        app.count("transfers").await,
        transfers_before,
        "no refusal moved money"
    );
    assert_eq!(app.balance(alice_usd).await, 1_000);
    assert_eq!(app.balance(bob_usd).await, 0);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn a_replay_with_the_same_key_returns_the_first_answer_and_moves_money_once() {
    let Scene {
        app,
        alice,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let send = |amount: i64, key: &'static str| {
        let (app, token) = (&app, alice.token.clone());
        async move {
            app.post_keyed(
                "/transfers",
                &body(alice_usd, bob_usd, json!(amount), "USD"),
                &token,
                key,
            )
            .await
        }
    };
    let first = send(100, "order-42").await;
    assert_eq!(first.status().as_u16(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("a result");

    let again = send(100, "order-42").await;
    assert_eq!(again.status().as_u16(), 201);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let again: Value = again.json().await.expect("a result");
    assert_eq!(again, first, "the first answer, byte for byte");

    assert_error(send(101, "order-42").await, 409, "idempotency_key_reused").await;
    assert_eq!(app.balance(alice_usd).await, 900, "money moved once");
    let transfers: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM transfers WHERE from_account_id = $1",
            &[&alice_usd],
        )
        .await
        .expect("a count")
        .get(0);
    assert_eq!(transfers, 1);
    let one = body(alice_usd, bob_usd, json!(1), "USD");
    let bad_key = app
        .post_keyed("/transfers", &one, &alice.token, "has space")
        .await;
    assert_error(bad_key, 400, "validation_failed").await;
    let too_long = app
        .post_keyed("/transfers", &one, &alice.token, &"k".repeat(256))
        .await;
    assert_error(too_long, 400, "validation_failed").await;
    assert_eq!(app.balance(alice_usd).await, 900);
}

#[actix_web::test]
async fn a_transfer_is_visible_to_either_side_and_bankers_only() {
    let Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
    } = scene().await;
    let stranger = app.create_depositor().await;
    let banker = app.create_banker().await;
    let result: Value = app
        .transfer(&alice, alice_usd, bob_usd, 5, "USD")
        .await
        .json()
        .await
        .expect("a result");
    let id = result["transfer"]["id"].as_i64().expect("an id");
    for user in [&alice, &bob, &banker] {
        assert_eq!(
            app.get(&format!("/transfers/{id}"), Some(&user.token))
                .await
                .status()
                .as_u16(),
            200
        );
    }
    assert_error(
        app.get(&format!("/transfers/{id}"), Some(&stranger.token))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/transfers/999999", Some(&alice.token)).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/transfers/0", Some(&alice.token)).await,
        400,
        "validation_failed",
    )
    .await;
}
