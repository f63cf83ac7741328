//! `POST /transfers/batch`: items in request order, each on its own or all or nothing, whole
//! requests refused with the offending item's index, idempotent replays.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TestApp, TestUser};

struct Scene {
    app: TestApp,
    payer: TestUser,
    from: i64,
    payees: Vec<i64>,
}

/// The payer has 100 USD; three payees have empty USD accounts.
async fn scene() -> Scene {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let payer = app.create_depositor().await;
    let from = app.funded_account(&payer, &banker, "USD", 100).await;
    let mut payees = Vec::new();
    for _ in 0..3 {
        let payee = app.create_depositor().await;
        payees.push(app.open_account(&payee, "USD").await);
    }
    Scene {
        app,
        payer,
        from,
        payees,
    }
}

impl Scene {
    fn item(&self, to: i64, amount: i64) -> Value {
        json!({"from_account_id": self.from, "to_account_id": to, "amount": amount, "currency": "USD"})
    }

    async fn batch(&self, items: Vec<Value>, atomic: bool) -> reqwest::Response {
        self.app
            .post(
                "/transfers/batch",
                &json!({"transfers": items, "atomic": atomic}),
                Some(&self.payer.token),
            )
            .await
    }
}

fn codes(results: &Value) -> Vec<String> {
    results
        .as_array()
        .expect("results")
        .iter()
        .map(|result| match result.get("transfer") {
            Some(transfer) => transfer["status"].as_str().expect("a status").to_owned(),
            None => result["error"]["code"].as_str().expect("a code").to_owned(),
        })
        .collect()
}

#[actix_web::test]
async fn items_take_effect_in_order_and_each_commits_or_is_refused_on_its_own() {
    let s = scene().await;
    let items = vec![
        s.item(s.payees[0], 60),
        s.item(s.payees[1], 60),
        s.item(s.payees[2], 30),
        s.item(999_999, 5),
    ];
    let response = s.batch(items, false).await;
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.expect("results");
    assert_eq!(
        codes(&answer["results"]),
        ["posted", "insufficient_funds", "posted", "not_found"]
    );
    assert_eq!(answer["accounts"].as_array().expect("accounts").len(), 1);
    assert_eq!(answer["accounts"][0]["id"], s.from);
    assert_eq!(answer["accounts"][0]["balance"], 10);
    assert_eq!(s.app.balance(s.from).await, 10);
    assert_eq!(s.app.balance(s.payees[0]).await, 60);
    assert_eq!(s.app.balance(s.payees[1]).await, 0);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn an_atomic_batch_commits_all_or_nothing() {
    let s = scene().await;
    let transfers_before = s.app.count("transfers").await;
    let refused = s
        .batch(vec![s.item(s.payees[0], 60), s.item(s.payees[1], 60)], true)
        .await;
    let error = assert_error(refused, 422, "insufficient_funds").await;
    assert_eq!(error["error"]["index"], 1);
    assert_eq!(s.app.balance(s.from).await, 100, "nothing moved");
    assert_eq!(s.app.count("transfers").await, transfers_before, "no rows");
    let account: Value = s
        .app
        .get(&format!("/accounts/{}", s.from), Some(&s.payer.token))
        .await
        .json()
        .await
        .expect("the account");
    assert_eq!(
        (&account["held"], &account["available"]),
        (&json!(0), &json!(100)),
        "nothing held"
    );

    let missing = s
        .batch(vec![s.item(s.payees[0], 1), s.item(999_999, 1)], true)
        .await;
    assert_eq!(
        assert_error(missing, 404, "not_found").await["error"]["index"],
        1
    );

    let committed = s
        .batch(vec![s.item(s.payees[0], 60), s.item(s.payees[1], 40)], true)
        .await;
    assert_eq!(committed.status().as_u16(), 201);
    let answer: Value = committed.json().await.expect("results");
    assert_eq!(codes(&answer["results"]), ["posted", "posted"]);
    assert_eq!(s.app.balance(s.from).await, 0);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn an_invalid_or_foreign_item_refuses_the_whole_request_with_its_index() {
    let s = scene().await;
    let mut zero = s.item(s.payees[0], 0);
    let error = assert_error(
        s.batch(vec![s.item(s.payees[0], 1), zero.take()], false)
            .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(error["error"]["index"], 1);
    let same = s.item(s.from, 1);
    let error = assert_error(s.batch(vec![same], false).await, 400, "same_account").await;
    assert_eq!(error["error"]["index"], 0);
    let mut wrong_type = s.item(s.payees[0], 1);
    wrong_type["amount"] = json!("ten");
    let error = assert_error(
        s.batch(
            vec![s.item(s.payees[0], 1), s.item(s.payees[1], 1), wrong_type],
            false,
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(error["error"]["index"], 2);
    let foreign = json!({"from_account_id": s.payees[0], "to_account_id": s.from, "amount": 1, "currency": "USD"});
    let error = assert_error(
        s.batch(vec![s.item(s.payees[1], 1), foreign], false).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(error["error"]["index"], 1);

    assert_error(s.batch(vec![], false).await, 400, "validation_failed").await;
    let too_many: Vec<Value> = (0..1_001).map(|_| s.item(s.payees[0], 1)).collect();
    assert_error(s.batch(too_many, false).await, 400, "validation_failed").await;
    let huge = format!(
        "{{\"transfers\": [{}]}}",
        vec![s.item(s.payees[0], 1).to_string(); 80_000].join(",")
    );
    let response = s
        .app
        .post_raw("/transfers/batch", huge.into_bytes(), Some(&s.payer.token))
        .await;
    assert_error(response, 413, "payload_too_large").await;

    assert_eq!(s.app.balance(s.from).await, 100, "nothing moved");
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_batch_replayed_with_its_key_moves_money_once() {
    let s = scene().await;
    let body = json!({"transfers": [s.item(s.payees[0], 30), s.item(s.payees[1], 90)]});
    let first = s
        .app
        .post_keyed("/transfers/batch", &body, &s.payer.token, "payroll-1")
        .await;
    assert_eq!(first.status().as_u16(), 200);
    let first: Value = first.json().await.expect("results");
    let again = s
        .app
        .post_keyed("/transfers/batch", &body, &s.payer.token, "payroll-1")
        .await;
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let again: Value = again.json().await.expect("results");
    assert_eq!(again, first);
    assert_eq!(codes(&first["results"]), ["posted", "insufficient_funds"]);
    assert_eq!(s.app.balance(s.from).await, 70, "moved once");
    let other = json!({"transfers": [s.item(s.payees[0], 31)]});
    assert_error(
        s.app
            .post_keyed("/transfers/batch", &other, &s.payer.token, "payroll-1")
            .await,
        409,
        "idempotency_key_reused",
    )
    .await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn an_atomic_batch_refused_whole_replays_its_refusal_after_funding() {
    let s = scene().await;
    let body = json!({
        "atomic": true,
        "transfers": [s.item(s.payees[0], 60), s.item(s.payees[1], 41)]
    });
    let first = s
        .app
        .post_keyed("/transfers/batch", &body, &s.payer.token, "rent-atomic")
        .await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    assert_eq!(first.status().as_u16(), 422);
    let first: Value = first.json().await.expect("an error");
    assert_eq!(first["error"]["code"], "insufficient_funds");
    assert_eq!(first["error"]["index"], 1);

    let banker = s.app.create_banker().await;
    let funded = s.app.deposit(&banker, s.from, 1_000).await;
    assert_eq!(funded.status().as_u16(), 201, "funding");
    let transfers = s.app.count("transfers").await;
    let again = s
        .app
        .post_keyed("/transfers/batch", &body, &s.payer.token, "rent-atomic")
        .await;
    assert_eq!(
        again.status().as_u16(),
        422,
        "the stored refusal, not a commit"
    );
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let again: Value = again.json().await.expect("an error");
    assert_eq!(again, first);
    assert_eq!(s.app.balance(s.from).await, 1_100, "nothing moved");
    assert_eq!(s.app.balance(s.payees[0]).await, 0);
    assert_eq!(s.app.count("transfers").await, transfers);

    let other = json!({"atomic": true, "transfers": [s.item(s.payees[0], 60)]});
    assert_error(
        s.app
            .post_keyed("/transfers/batch", &other, &s.payer.token, "rent-atomic")
            .await,
        409,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(s.app.balance(s.from).await, 1_100);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_batch_refused_for_too_many_holds_replays_its_refusal_after_a_hold_ends() {
    let app = spawn_app_with(|settings| settings.engine.holds_open_max = 1).await;
    let banker = app.create_banker().await;
    let payer = app.create_depositor().await;
    let payee = app.create_depositor().await;
    let from = app.funded_account(&payer, &banker, "USD", 100).await;
    let to = app.open_account(&payee, "USD").await;
    let hold = json!({"from_account_id": from, "to_account_id": to, "amount": 10,
                      "currency": "USD", "pending": true});
    let first_hold = app.post("/transfers", &hold, Some(&payer.token)).await;
    assert_eq!(first_hold.status().as_u16(), 201, "the one hold allowed");
    let first_hold: Value = first_hold.json().await.expect("a transfer");
    let hold_id = first_hold["transfer"]["id"].as_i64().expect("an id");

    let body = json!({"transfers": [hold]});
    let refused = app
        .post_keyed("/transfers/batch", &body, &payer.token, "hold-batch")
        .await;
    assert!(refused.headers().get("idempotent-replayed").is_none());
    let refused = assert_error(refused, 409, "too_many_holds").await;
    assert_eq!(refused["error"]["index"], 0);

    let voided = app
        .post(
            &format!("/transfers/{hold_id}/void"),
            &json!({}),
            Some(&payee.token),
        )
        .await;
    assert_eq!(voided.status().as_u16(), 200, "the hold ends");
    let again = app
        .post_keyed("/transfers/batch", &body, &payer.token, "hold-batch")
        .await;
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let again = assert_error(again, 409, "too_many_holds").await;
    assert_eq!(again, refused);
    assert_eq!(app.count("transfers WHERE status = 'pending'").await, 0);
    assert_eq!(app.balance(from).await, 100, "nothing moved");
    app.assert_invariants().await;
}

#[actix_web::test]
async fn a_batch_may_hold_money_as_pending_transfers() {
    let s = scene().await;
    let mut pending = s.item(s.payees[0], 70);
    pending["pending"] = json!(true);
    let response = s.batch(vec![pending, s.item(s.payees[1], 40)], false).await;
    let answer: Value = response.json().await.expect("results");
    assert_eq!(codes(&answer["results"]), ["pending", "insufficient_funds"]);
    assert_eq!(answer["accounts"][0]["held"], 70);
    assert_eq!(answer["accounts"][0]["available"], 30);
    assert_eq!(s.app.balance(s.payees[0]).await, 0, "a hold moves nothing");
    s.app.assert_invariants().await;
}
