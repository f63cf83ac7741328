//! The `Idempotency-Key` fingerprint covers every field of every keyed route: the same key with a
//! request that differs in any one field (of the body or the path) answers 409
//! `idempotency_key_reused` and moves nothing, and the first request sent again still replays,
//! also after the process restarts.

use reqwest::Response;
use serde_json::{json, Value};
use tally_test_support::{check_invariants, fresh_database};

use crate::helpers::{assert_error, spawn_app, TestApp, TestUser};
use crate::process::{free_port, funded_account, user, Process};

/// A payer with two funded USD accounts, a payee with a USD and a EUR account, and a banker.
struct Scene {
    app: TestApp,
    banker: TestUser,
    payer: TestUser,
    payee: TestUser,
    from: i64,
    from_other: i64,
    to: i64,
    to_other: i64,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let payer = app.create_depositor().await;
    let payee = app.create_depositor().await;
    let from = app.funded_account(&payer, &banker, "USD", 100_000).await;
    let from_other = app.funded_account(&payer, &banker, "EUR", 100_000).await;
    let to = app.open_account(&payee, "USD").await;
    let to_other = app.open_account(&payee, "EUR").await;
    Scene {
        app,
        banker,
        payer,
        payee,
        from,
        from_other,
        to,
        to_other,
    }
}

/// `body` with `field` set to `value`.
fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut changed = body.clone();
    changed[field] = value;
    changed
}

fn is_replay(response: &Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|value| value == "true")
}

impl Scene {
    /// What money and rows the database holds: unchanged when nothing moved.
    async fn footprint(&self) -> Vec<i64> {
        let mut footprint = Vec::new();
        for table in ["transfers", "entries", "idempotency_keys"] {
            footprint.push(self.app.count(table).await);
        }
        for account in [self.from, self.from_other, self.to, self.to_other] {
            footprint.push(self.app.balance(account).await);
        }
        footprint
    }

    /// Sends `first` with `key` (it must succeed with `status`), then every request of
    /// `others` with the same key (each must be refused 409 and move nothing), then `first`
    /// again (it must replay the first answer).
    async fn only_the_first_request_counts(
        &self,
        token: &str,
        key: &str,
        first: (&str, &Value),
        status: u16,
        others: &[(String, Value)],
    ) {
        let (path, body) = first;
        let answer = self.app.post_keyed(path, body, token, key).await;
        assert_eq!(answer.status().as_u16(), status, "{path} {body}");
        assert!(!is_replay(&answer));
        let answer: Value = answer.json().await.expect("an answer");
        let footprint = self.footprint().await;
        for (other_path, other_body) in others {
            let refused = self
                .app
                .post_keyed(other_path, other_body, token, key)
                .await;
            let context = format!("{other_path} {other_body} after {path} {body}");
            assert_eq!(refused.status().as_u16(), 409, "{context}");
            assert_error(refused, 409, "idempotency_key_reused").await;
            assert_eq!(self.footprint().await, footprint, "{context} moved nothing");
        }
        let again = self.app.post_keyed(path, body, token, key).await;
        assert_eq!(again.status().as_u16(), status);
        assert!(is_replay(&again), "{path} {body} replays");
        assert_eq!(again.json::<Value>().await.expect("an answer"), answer);
        assert_eq!(self.footprint().await, footprint, "a replay moves nothing");
    }

    /// A pending transfer of `amount` from the payer to the payee; its id.
    async fn hold(&self, amount: i64) -> i64 {
        let body = json!({"from_account_id": self.from, "to_account_id": self.to,
                          "amount": amount, "currency": "USD", "pending": true});
        let held = self
            .app
            .post("/transfers", &body, Some(&self.payer.token))
            .await;
        assert_eq!(held.status().as_u16(), 201);
        let held: Value = held.json().await.expect("a hold");
        held["transfer"]["id"].as_i64().expect("an id")
    }
}

#[actix_web::test]
async fn a_transfer_key_with_any_one_field_changed_is_refused() {
    let s = scene().await;
    let base = json!({"from_account_id": s.from, "to_account_id": s.to,
                      "amount": 100, "currency": "USD"});
    let others: Vec<(String, Value)> = [
        with(&base, "from_account_id", json!(s.from_other)),
        with(&base, "to_account_id", json!(s.to_other)),
        with(&base, "amount", json!(101)),
        with(&base, "currency", json!("EUR")),
        with(&base, "pending", json!(true)),
    ]
    .into_iter()
    .map(|body| ("/transfers".to_owned(), body))
    .chain([(
        "/transfers/batch".to_owned(),
        json!({"transfers": [base.clone()]}),
    )])
    .collect();
    let first = ("/transfers", &base);
    s.only_the_first_request_counts(&s.payer.token, "t-1", first, 201, &others)
        .await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_pending_transfer_key_with_any_one_field_changed_is_refused() {
    let s = scene().await;
    let base = json!({"from_account_id": s.from, "to_account_id": s.to, "amount": 100,
                      "currency": "USD", "pending": true, "timeout_seconds": 3600});
    let others: Vec<(String, Value)> = [
        with(&base, "from_account_id", json!(s.from_other)),
        with(&base, "to_account_id", json!(s.to_other)),
        with(&base, "amount", json!(101)),
        with(&base, "currency", json!("EUR")),
        with(&base, "timeout_seconds", json!(7200)),
        with(&base, "timeout_seconds", Value::Null),
    ]
    .into_iter()
    .map(|body| ("/transfers".to_owned(), body))
    .collect();
    let first = ("/transfers", &base);
    s.only_the_first_request_counts(&s.payer.token, "p-1", first, 201, &others)
        .await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_batch_key_with_any_one_field_of_any_item_changed_is_refused() {
    let s = scene().await;
    let item = json!({"from_account_id": s.from, "to_account_id": s.to,
                      "amount": 100, "currency": "USD"});
    let second = with(&item, "amount", json!(200));
    let base = json!({"transfers": [item.clone(), second.clone()], "atomic": false});
    let changed_items = [
        with(&item, "from_account_id", json!(s.from_other)),
        with(&item, "to_account_id", json!(s.to_other)),
        with(&item, "amount", json!(101)),
        with(&item, "currency", json!("EUR")),
        with(&item, "pending", json!(true)),
        with(
            &with(&item, "pending", json!(true)),
            "timeout_seconds",
            json!(60),
        ),
    ];
    let mut others: Vec<Value> = changed_items
        .into_iter()
        .map(|changed| with(&base, "transfers", json!([changed, second.clone()])))
        .collect();
    others.extend([
        with(&base, "atomic", json!(true)),
        with(&base, "transfers", json!([second.clone(), item.clone()])),
        with(&base, "transfers", json!([item.clone()])),
        with(
            &base,
            "transfers",
            json!([item.clone(), second.clone(), item]),
        ),
    ]);
    let others: Vec<(String, Value)> = others
        .into_iter()
        .map(|body| ("/transfers/batch".to_owned(), body))
        .collect();
    let first = ("/transfers/batch", &base);
    s.only_the_first_request_counts(&s.payer.token, "b-1", first, 200, &others)
        .await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_post_or_void_key_with_the_amount_or_the_transfer_changed_is_refused() {
    let s = scene().await;
    let (first_hold, second_hold) = (s.hold(300).await, s.hold(300).await);
    let post_path = format!("/transfers/{first_hold}/post");
    let body = json!({"amount": 200});
    let others = [
        (post_path.clone(), json!({"amount": 201})),
        (post_path.clone(), json!({})),
        (format!("/transfers/{second_hold}/post"), body.clone()),
        (format!("/transfers/{second_hold}/void"), json!({})),
    ];
    let first = (post_path.as_str(), &body);
    s.only_the_first_request_counts(&s.payee.token, "post-1", first, 200, &others)
        .await;

    let void_path = format!("/transfers/{second_hold}/void");
    let third_hold = s.hold(100).await;
    let others = [
        (format!("/transfers/{third_hold}/void"), json!({})),
        (format!("/transfers/{third_hold}/post"), json!({})),
    ];
    let first = (void_path.as_str(), &json!({}));
    s.only_the_first_request_counts(&s.payee.token, "void-1", first, 200, &others)
        .await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_deposit_or_withdrawal_key_with_the_amount_or_the_account_changed_is_refused() {
    let s = scene().await;
    let deposit = format!("/accounts/{}/deposits", s.to);
    let body = json!({"amount": 500});
    let others = [
        (deposit.clone(), json!({"amount": 501})),
        (format!("/accounts/{}/deposits", s.to_other), body.clone()),
        (format!("/accounts/{}/withdrawals", s.to), body.clone()),
    ];
    let first = (deposit.as_str(), &body);
    s.only_the_first_request_counts(&s.banker.token, "d-1", first, 201, &others)
        .await;

    let withdrawal = format!("/accounts/{}/withdrawals", s.from);
    let others = [
        (withdrawal.clone(), json!({"amount": 501})),
        (
            format!("/accounts/{}/withdrawals", s.from_other),
            body.clone(),
        ),
    ];
    let first = (withdrawal.as_str(), &body);
    s.only_the_first_request_counts(&s.payer.token, "w-1", first, 201, &others)
        .await;
    s.app.assert_invariants().await;
}

/// The fingerprint is the same in every process: after a restart of the real binary, the same
/// key with the same body replays the first answer, and with another body is refused.
#[actix_web::test]
async fn the_same_key_and_body_replay_after_a_restart() {
    let database = fresh_database().await;
    let port = free_port();
    let mut server = Process::tally(&database, port).await;
    let client = crate::helpers::http_client();
    let db = database.connect().await;
    let banker = user(&client, &server.address, &db, "restart_banker", true).await;
    let (token, from) = funded_account(
        &client,
        &server.address,
        &db,
        "restart_payer",
        &banker,
        1_000,
    )
    .await;
    let (_, to) = funded_account(&client, &server.address, &db, "restart_payee", &banker, 1).await;
    let body = json!({"from_account_id": from, "to_account_id": to, "amount": 250,
                      "currency": "USD"});
    let send = |address: String, body: Value| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .post(format!("{address}/transfers"))
                .bearer_auth(token)
                .header("Idempotency-Key", "across-restarts")
                .json(&body)
                .send()
                .await
                .expect("an answer")
        }
    };
    let first = send(server.address.clone(), body.clone()).await;
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().await.expect("a transfer");
    server.kill();

    let restarted = Process::tally(&database, port).await;
    let again = send(restarted.address.clone(), body.clone()).await;
    assert_eq!(again.status().as_u16(), 201);
    assert!(
        is_replay(&again),
        "the same key and body replay after the restart"
    );
    assert_eq!(again.json::<Value>().await.expect("a transfer"), first);
    let other = send(restarted.address.clone(), with(&body, "amount", json!(251))).await;
    assert_error(other, 409, "idempotency_key_reused").await;
    let balance: i64 = db
        .query_one("SELECT balance FROM accounts WHERE id = $1", &[&from])
        .await
        .expect("the payer")
        .get(0);
    assert_eq!(balance, 750, "the money moved once");
    check_invariants(&db).await;
}

/// A stored outcome that no longer decodes is damage, not an outage: the replay answers 500
/// `internal` (no `Retry-After` to retry by), the corrupt-rows counter rises, and nothing moves.
#[actix_web::test]
async fn a_corrupt_stored_outcome_answers_500_and_is_counted() {
    let scene = scene().await;
    let body = json!({"from_account_id": scene.from, "to_account_id": scene.to,
                      "amount": 40, "currency": "USD"});
    let token = scene.payer.token.as_str();
    let first = scene
        .app
        .post_keyed("/transfers", &body, token, "k-corrupt")
        .await;
    assert_eq!(first.status().as_u16(), 201);
    scene
        .app
        .pool
        .get()
        .await
        .expect("a connection")
        .execute(
            "UPDATE idempotency_keys SET outcome = '{\"transfer\": 7}' WHERE key = 'k-corrupt'",
            &[],
        )
        .await
        .expect("a corrupted row");
    let series = "tally_corrupt_rows_total{what=\"idempotency_outcome\"}";
    let counted_before = scene.app.metric(series).await.unwrap_or(0.0);
    let footprint = scene.footprint().await;

    let replay = scene
        .app
        .post_keyed("/transfers", &body, token, "k-corrupt")
        .await;
    assert!(replay.headers().get("retry-after").is_none());
    assert_error(replay, 500, "internal").await;
    assert_eq!(
        scene.app.metric(series).await,
        Some(counted_before + 1.0),
        "counted as corruption"
    );
    assert_eq!(scene.footprint().await, footprint, "nothing moved");
}
