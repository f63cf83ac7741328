//! Pending (two-phase) transfers over HTTP: a hold on the payer's money that the payee (or a
//! banker) posts, partly or wholly, or voids, and that expires by itself.

use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::helpers::{assert_error, spawn_app, TestApp, TestUser};

struct Scene {
    app: TestApp,
    banker: TestUser,
    payer: TestUser,
    payee: TestUser,
    stranger: TestUser,
    from: i64,
    to: i64,
}

/// The payer has 1,000 USD; the payee an empty USD account.
async fn scene() -> Scene {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let payer = app.create_depositor().await;
    let payee = app.create_depositor().await;
    let stranger = app.create_depositor().await;
    let from = app.funded_account(&payer, &banker, "USD", 1_000).await;
    let to = app.open_account(&payee, "USD").await;
    Scene {
        app,
        banker,
        payer,
        payee,
        stranger,
        from,
        to,
    }
}

impl Scene {
    async fn hold(&self, amount: i64, timeout_seconds: Option<i64>) -> Value {
        let mut body = json!({
            "from_account_id": self.from, "to_account_id": self.to, "amount": amount,
            "currency": "USD", "pending": true,
        });
        if let Some(seconds) = timeout_seconds {
            body["timeout_seconds"] = json!(seconds);
        }
        let response = self
            .app
            .post("/transfers", &body, Some(&self.payer.token))
            .await;
        assert_eq!(response.status().as_u16(), 201);
        response.json().await.expect("a held transfer")
    }

    async fn end(
        &self,
        id: &Value,
        action: &str,
        body: Option<Value>,
        user: &TestUser,
    ) -> reqwest::Response {
        let path = format!("/transfers/{id}/{action}");
        match body {
            Some(body) => self.app.post(&path, &body, Some(&user.token)).await,
            None => {
                self.app
                    .post_raw(&path, Vec::new(), Some(&user.token))
                    .await
            }
        }
    }

    async fn account(&self, id: i64, user: &TestUser) -> Value {
        self.app
            .get(&format!("/accounts/{id}"), Some(&user.token))
            .await
            .json()
            .await
            .expect("an account")
    }
}

#[actix_web::test]
async fn a_hold_keeps_the_money_in_the_account_but_not_spendable() {
    let s = scene().await;
    let held = s.hold(300, Some(3600)).await;
    assert_eq!(held["transfer"]["status"], "pending");
    assert!(held["transfer"]["posted_at"].is_null());
    assert!(held["transfer"]["expires_at"].is_string());
    assert!(held.get("from_entry").is_none(), "no entries until posted");
    assert_eq!(
        (
            &held["from_account"]["balance"],
            &held["from_account"]["held"],
            &held["from_account"]["available"]
        ),
        (&json!(1_000), &json!(300), &json!(700))
    );
    assert!(held.get("to_account").is_none(), "privacy_of_state");

    // Held money cannot be spent: not by a transfer, not by a withdrawal.
    assert_error(
        s.app.transfer(&s.payer, s.from, s.to, 701, "USD").await,
        422,
        "insufficient_funds",
    )
    .await;
    let withdrawal = s
        .app
        .post(
            &format!("/accounts/{}/withdrawals", s.from),
            &json!({"amount": 701}),
            Some(&s.payer.token),
        )
        .await;
    assert_error(withdrawal, 422, "insufficient_funds").await;
    assert_eq!(
        s.app
            .transfer(&s.payer, s.from, s.to, 700, "USD")
            .await
            .status()
            .as_u16(),
        201
    );

    let pending = s
        .app
        .get(
            &format!("/accounts/{}/transfers?status=pending", s.from),
            Some(&s.payer.token),
        )
        .await
        .json::<Value>()
        .await
        .expect("a list");
    assert_eq!(pending.as_array().expect("a list").len(), 1);
    assert_eq!(pending[0]["id"], held["transfer"]["id"]);

    let metrics = s
        .app
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("tally_holds_total{event=\"created\"} 1"),
        "{metrics}"
    );
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn the_payee_posts_part_of_a_hold_and_the_rest_is_released() {
    let s = scene().await;
    let held = s.hold(300, None).await;
    let id = &held["transfer"]["id"];
    let expires = held["transfer"]["expires_at"]
        .as_str()
        .expect("an expiry")
        .to_owned();

    assert_error(
        s.end(id, "post", Some(json!({"amount": 301})), &s.payee)
            .await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        s.end(id, "post", Some(json!({"amount": 0})), &s.payee)
            .await,
        400,
        "validation_failed",
    )
    .await;
    let response = s
        .end(id, "post", Some(json!({"amount": 120})), &s.payee)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let posted: Value = response.json().await.expect("a posted transfer");
    assert_eq!(posted["transfer"]["status"], "posted");
    assert_eq!(posted["transfer"]["amount"], 120);
    assert_eq!(posted["transfer"]["expires_at"], expires.as_str());
    assert!(posted["transfer"]["posted_at"].is_string());
    assert_eq!(posted["to_entry"]["amount"], 120);
    assert_eq!(posted["to_entry"]["balance_after"], 120);
    assert_eq!(posted["to_entry"]["transfer_id"], *id);
    assert!(
        posted["from_entry"].get("balance_after").is_none(),
        "the payer's balance is not the payee's to see"
    );
    assert!(posted.get("from_account").is_none());
    assert_eq!(posted["to_account"]["balance"], 120);

    let payer = s.account(s.from, &s.payer).await;
    assert_eq!(
        (&payer["balance"], &payer["held"], &payer["available"]),
        (&json!(880), &json!(0), &json!(880))
    );
    let statement: Value = s
        .app
        .get(
            &format!("/accounts/{}/entries", s.from),
            Some(&s.payer.token),
        )
        .await
        .json()
        .await
        .expect("a statement");
    assert_eq!(statement[0]["amount"], -120);
    assert_eq!(statement[0]["balance_after"], 880);
    let fetched: Value = s
        .app
        .get(&format!("/transfers/{id}"), Some(&s.payer.token))
        .await
        .json()
        .await
        .expect("the transfer");
    assert_eq!(
        (&fetched["status"], &fetched["amount"]),
        (&json!("posted"), &json!(120))
    );

    // Once posted, it is over: a second post or a void is refused.
    assert_error(
        s.end(id, "post", None, &s.payee).await,
        409,
        "transfer_not_pending",
    )
    .await;
    assert_error(
        s.end(id, "void", None, &s.payee).await,
        409,
        "transfer_not_pending",
    )
    .await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn only_the_payee_or_a_banker_may_end_a_hold() {
    let s = scene().await;
    let held = s.hold(100, None).await;
    let id = &held["transfer"]["id"];
    assert_error(s.end(id, "post", None, &s.payer).await, 403, "forbidden").await;
    assert_error(s.end(id, "void", None, &s.payer).await, 403, "forbidden").await;
    assert_error(s.end(id, "post", None, &s.stranger).await, 404, "not_found").await;
    assert_error(s.end(id, "void", None, &s.stranger).await, 404, "not_found").await;
    assert_error(
        s.end(&json!(999_999), "void", None, &s.payee).await,
        404,
        "not_found",
    )
    .await;

    let response = s.end(id, "post", None, &s.banker).await;
    assert_eq!(response.status().as_u16(), 200);
    let posted: Value = response.json().await.expect("posted");
    assert_eq!(posted["transfer"]["amount"], 100, "all of it by default");
    assert_eq!(
        posted["from_account"]["balance"], 900,
        "a banker sees both accounts"
    );
    assert_eq!(posted["to_account"]["balance"], 100);
    assert_eq!(posted["from_entry"]["balance_after"], 900);
    s.app.assert_invariants().await;
}

/// The document gives post's optional body as `null` or an object: a JSON `null` is no body.
#[actix_web::test]
async fn a_null_body_posts_the_whole_hold() {
    let s = scene().await;
    let held = s.hold(300, None).await;
    let response = s
        .end(&held["transfer"]["id"], "post", Some(Value::Null), &s.payee)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let posted: Value = response.json().await.expect("posted");
    assert_eq!(posted["transfer"]["amount"], 300, "all of it");
    assert_eq!(s.app.balance(s.to).await, 300);
    assert_eq!(s.app.balance(s.from).await, 700);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_void_releases_the_hold_and_moves_nothing() {
    let s = scene().await;
    let held = s.hold(250, None).await;
    let id = &held["transfer"]["id"];
    let response = s.end(id, "void", None, &s.payee).await;
    assert_eq!(response.status().as_u16(), 200);
    let voided: Value = response.json().await.expect("voided");
    assert_eq!(voided["transfer"]["status"], "voided");
    assert!(voided.get("from_entry").is_none());
    let payer = s.account(s.from, &s.payer).await;
    assert_eq!(
        (&payer["balance"], &payer["held"]),
        (&json!(1_000), &json!(0))
    );
    assert_eq!(s.app.balance(s.to).await, 0);
    assert_error(
        s.end(id, "post", None, &s.payee).await,
        409,
        "transfer_not_pending",
    )
    .await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_hold_expires_by_itself_within_five_seconds() {
    let s = scene().await;
    let held = s.hold(400, Some(1)).await;
    let id = held["transfer"]["id"].clone();
    // Past expires_at a post is refused at once, whether or not the sweeper has run: wait
    // until the clock (the engine's judge of expiry) has passed it.
    let expires_at = held["transfer"]["expires_at"].as_str().expect("an expiry");
    let expires_at = time::OffsetDateTime::parse(expires_at, &Rfc3339).expect("RFC 3339");
    let wait = expires_at - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1);
    assert!(
        wait < time::Duration::seconds(2),
        "a one-second hold: {wait}"
    );
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    assert_error(
        s.end(&id, "post", None, &s.payee).await,
        409,
        "transfer_not_pending",
    )
    .await;
    let mut status = Value::Null;
    for _ in 0..50 {
        let fetched: Value = s
            .app
            .get(&format!("/transfers/{id}"), Some(&s.payee.token))
            .await
            .json()
            .await
            .expect("the transfer");
        status = fetched["status"].clone();
        if status == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "expired", "released within 5 s of expires_at");
    let payer = s.account(s.from, &s.payer).await;
    assert_eq!(
        (&payer["held"], &payer["available"]),
        (&json!(0), &json!(1_000))
    );
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_post_with_the_same_idempotency_key_moves_money_once() {
    let s = scene().await;
    let held = s.hold(300, None).await;
    let path = format!("/transfers/{}/post", held["transfer"]["id"]);
    let body = json!({"amount": 200});
    let first = s
        .app
        .post_keyed(&path, &body, &s.payee.token, "post-1")
        .await;
    assert_eq!(first.status().as_u16(), 200);
    let first: Value = first.json().await.expect("posted");
    let again = s
        .app
        .post_keyed(&path, &body, &s.payee.token, "post-1")
        .await;
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let again: Value = again.json().await.expect("replayed");
    assert_eq!(again, first);
    assert_eq!(s.app.balance(s.to).await, 200, "moved once");
    let other = s
        .app
        .post_keyed(&path, &json!({"amount": 100}), &s.payee.token, "post-1")
        .await;
    assert_error(other, 409, "idempotency_key_reused").await;
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn bad_pending_requests_are_refused_and_change_nothing() {
    let s = scene().await;
    let plain_with_timeout = json!({
        "from_account_id": s.from, "to_account_id": s.to, "amount": 5, "currency": "USD",
        "timeout_seconds": 60,
    });
    assert_error(
        s.app
            .post("/transfers", &plain_with_timeout, Some(&s.payer.token))
            .await,
        400,
        "validation_failed",
    )
    .await;
    for seconds in [0, 604_801] {
        let body = json!({
            "from_account_id": s.from, "to_account_id": s.to, "amount": 5, "currency": "USD",
            "pending": true, "timeout_seconds": seconds,
        });
        assert_error(
            s.app.post("/transfers", &body, Some(&s.payer.token)).await,
            400,
            "validation_failed",
        )
        .await;
    }
    let held = s.hold(5, None).await;
    let id = &held["transfer"]["id"];
    assert_error(
        s.end(id, "post", Some(json!({"amount": "all"})), &s.payee)
            .await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        s.end(
            id,
            "post",
            Some(json!({"amount": 1, "extra": true})),
            &s.payee,
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let broken = s
        .app
        .post_raw(
            &format!("/transfers/{id}/post"),
            b"{not json".to_vec(),
            Some(&s.payee.token),
        )
        .await;
    assert_error(broken, 400, "invalid_json").await;
    assert_eq!(s.account(s.from, &s.payer).await["held"], 5, "still held");
    s.app.assert_invariants().await;
}
