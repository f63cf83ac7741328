//! Bad input found by probing the routes (the review of issue 23): each answers a clear 400 and
//! changes nothing, never a 503 or a 500.

use serde_json::{json, Value};

use crate::helpers::{assert_error, Scene};

/// PostgreSQL's text cannot hold U+0000. A NUL in a description or a metadata value reached the
/// journal's write, failed it (with every transfer of that journal batch) and answered 503; in a
/// search filter it failed the query with 503.
#[actix_web::test]
async fn a_nul_character_in_free_text_is_refused_as_bad_input() {
    let scene = Scene::funded(10_000).await;
    let (app, alice) = (&scene.app, &scene.alice);
    let transfer = json!({"from_account_id": scene.alice_usd, "to_account_id": scene.bob_usd,
        "amount": 100, "currency": "USD"});
    let with = |field: &str, value: Value| {
        let mut body = transfer.clone();
        body[field] = value;
        body
    };
    let transfers_before = app.count("transfers").await;
    let bodies = [
        with("description", json!("rent\u{0}")),
        with("metadata", json!({"order_id": "4\u{0}2"})),
    ];
    for body in &bodies {
        let response = app.post("/transfers", body, Some(&alice.token)).await;
        assert_error(response, 400, "validation_failed").await;
        let batch = json!({"transfers": [transfer, body], "atomic": true});
        let response = app
            .post("/transfers/batch", &batch, Some(&alice.token))
            .await;
        let refused = assert_error(response, 400, "validation_failed").await;
        assert_eq!(refused["error"]["index"], 1, "the item at fault: {refused}");
    }
    assert_eq!(app.balance(scene.alice_usd).await, 10_000, "nothing moved");
    assert_eq!(app.count("transfers").await, transfers_before);

    // A refund's description too, and a search's metadata filter.
    let paid = app
        .transfer(alice, scene.alice_usd, scene.bob_usd, 500, "USD")
        .await;
    assert_eq!(paid.status().as_u16(), 201);
    let paid: Value = paid.json().await.expect("a transfer");
    let id = paid["transfer"]["id"].as_i64().expect("an id");
    let refund = json!({"amount": 100, "description": "sorry\u{0}"});
    let path = format!("/transfers/{id}/reverse");
    let response = app
        .post_keyed(&path, &refund, &scene.bob.token, "refund-with-nul")
        .await;
    assert_error(response, 400, "validation_failed").await;
    assert_eq!(app.balance(scene.bob_usd).await, 500, "no refund moved");
    let response = app
        .get("/transfers?metadata.order_id=4%002", Some(&alice.token))
        .await;
    assert_error(response, 400, "validation_failed").await;

    // The same fields without NUL (tabs and newlines are text) are taken.
    let body = with("description", json!("rent\tfor\nMarch"));
    let response = app.post("/transfers", &body, Some(&alice.token)).await;
    assert_eq!(response.status().as_u16(), 201);
    app.assert_invariants().await;
}

/// Two `Idempotency-Key` headers took the first silently: which key protected the request was
/// the client library's choice. Now 400, and nothing moves.
#[actix_web::test]
async fn two_idempotency_keys_are_refused() {
    let scene = Scene::funded(10_000).await;
    let app = &scene.app;
    let transfer = json!({"from_account_id": scene.alice_usd, "to_account_id": scene.bob_usd,
        "amount": 100, "currency": "USD"});
    let response = app
        .client
        .post(format!("{}/transfers", app.address))
        .bearer_auth(&scene.alice.token)
        .header("Idempotency-Key", "first-key")
        .header("Idempotency-Key", "second-key")
        .json(&transfer)
        .send()
        .await
        .expect("the request is sent");
    assert_error(response, 400, "validation_failed").await;
    assert_eq!(app.balance(scene.alice_usd).await, 10_000, "nothing moved");
    // One key is still taken.
    let response = app
        .post_keyed("/transfers", &transfer, &scene.alice.token, "first-key")
        .await;
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(app.balance(scene.alice_usd).await, 9_900);
}
