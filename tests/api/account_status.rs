//! Account status over HTTP: bankers freeze and unfreeze; an owner or a banker closes an empty
//! account for good. A frozen account pays nothing (its own holds still finish) and still
//! receives; a closed one neither pays nor receives. A freeze on one replica holds on every
//! other, and no debit commits after the freeze is answered.

use std::sync::Arc;

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::helpers::{assert_error, spawn_app, spawn_replica, TestApp, TestUser};

struct Scene {
    app: TestApp,
    banker: TestUser,
    payer: TestUser,
    payee: TestUser,
    from: i64,
    to: i64,
}

/// The payer has 1,000 USD; the payee an empty USD account.
async fn scene() -> Scene {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let payer = app.create_depositor().await;
    let payee = app.create_depositor().await;
    let from = app.funded_account(&payer, &banker, "USD", 1_000).await;
    let to = app.open_account(&payee, "USD").await;
    Scene {
        app,
        banker,
        payer,
        payee,
        from,
        to,
    }
}

async fn act(app: &TestApp, account: i64, action: &str, user: &TestUser) -> reqwest::Response {
    app.post_raw(
        &format!("/accounts/{account}/{action}"),
        Vec::new(),
        Some(&user.token),
    )
    .await
}

/// The action's answer, which must be 200 with the account in `status`.
async fn act_ok(app: &TestApp, account: i64, action: &str, user: &TestUser, status: &str) -> Value {
    let response = act(app, account, action, user).await;
    assert_eq!(response.status().as_u16(), 200, "{action} of {account}");
    let body: Value = response.json().await.expect("an account");
    assert_eq!(
        (&body["id"], &body["status"]),
        (&json!(account), &json!(status))
    );
    body
}

async fn status_of(app: &TestApp, account: i64, user: &TestUser) -> Value {
    let body: Value = app
        .get(&format!("/accounts/{account}"), Some(&user.token))
        .await
        .json()
        .await
        .expect("an account");
    body["status"].clone()
}

fn item(from: i64, to: i64, amount: i64) -> Value {
    json!({"from_account_id": from, "to_account_id": to, "amount": amount, "currency": "USD"})
}

#[actix_web::test]
async fn a_frozen_account_refuses_every_debit_and_still_receives() {
    let s = scene().await;
    assert_eq!(status_of(&s.app, s.from, &s.payer).await, "active");
    act_ok(&s.app, s.from, "freeze", &s.banker, "frozen").await;
    assert_eq!(status_of(&s.app, s.from, &s.payer).await, "frozen");
    let transfers_before = s.app.count("transfers").await;

    let transfer = s.app.transfer(&s.payer, s.from, s.to, 10, "USD").await;
    assert_error(transfer, 409, "account_frozen").await;
    let withdrawal = s
        .app
        .post(
            &format!("/accounts/{}/withdrawals", s.from),
            &json!({"amount": 10}),
            Some(&s.payer.token),
        )
        .await;
    assert_error(withdrawal, 409, "account_frozen").await;
    let mut hold = item(s.from, s.to, 10);
    hold["pending"] = json!(true);
    let hold = s.app.post("/transfers", &hold, Some(&s.payer.token)).await;
    assert_error(hold, 409, "account_frozen").await;
    let batch = json!({"transfers": [item(s.from, s.to, 10)], "atomic": true});
    let batch = s
        .app
        .post("/transfers/batch", &batch, Some(&s.payer.token))
        .await;
    let error = assert_error(batch, 409, "account_frozen").await;
    assert_eq!(error["error"]["index"], 0);
    assert_eq!(
        s.app.count("transfers").await,
        transfers_before,
        "nothing written"
    );
    assert_eq!(s.app.balance(s.from).await, 1_000);

    // Credits still land: a deposit and a transfer in.
    let deposit = s.app.deposit(&s.banker, s.from, 5).await;
    assert_eq!(deposit.status().as_u16(), 201);
    let payee_usd = s.to;
    s.app.deposit(&s.banker, payee_usd, 7).await;
    let back = s.app.transfer(&s.payee, payee_usd, s.from, 7, "USD").await;
    assert_eq!(back.status().as_u16(), 201);
    assert_eq!(s.app.balance(s.from).await, 1_012);

    // Freezing again is the same; unfreezing lets it pay again.
    act_ok(&s.app, s.from, "freeze", &s.banker, "frozen").await;
    act_ok(&s.app, s.from, "unfreeze", &s.banker, "active").await;
    act_ok(&s.app, s.from, "unfreeze", &s.banker, "active").await;
    let transfer = s.app.transfer(&s.payer, s.from, s.to, 12, "USD").await;
    assert_eq!(transfer.status().as_u16(), 201);
    assert_eq!(s.app.balance(s.from).await, 1_000);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn only_bankers_freeze_and_unfreeze_and_only_customer_accounts() {
    let s = scene().await;
    assert_error(
        act(&s.app, s.from, "freeze", &s.payer).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        act(&s.app, s.from, "unfreeze", &s.payer).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        act(&s.app, 999_999, "freeze", &s.banker).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        act(&s.app, 0, "freeze", &s.banker).await,
        400,
        "validation_failed",
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
        .expect("the USD reserve")
        .get(0);
    assert_error(
        act(&s.app, reserve, "freeze", &s.banker).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        act(&s.app, reserve, "close", &s.banker).await,
        404,
        "not_found",
    )
    .await;
    let unauthenticated = s
        .app
        .post_raw(&format!("/accounts/{}/freeze", s.from), Vec::new(), None)
        .await;
    assert_eq!(unauthenticated.status().as_u16(), 401);
    assert_eq!(status_of(&s.app, s.from, &s.payer).await, "active");
}

#[actix_web::test]
async fn a_frozen_payer_s_own_holds_can_still_be_posted_or_voided() {
    let s = scene().await;
    let mut hold = item(s.from, s.to, 300);
    hold["pending"] = json!(true);
    let first: Value = s
        .app
        .post("/transfers", &hold, Some(&s.payer.token))
        .await
        .json()
        .await
        .expect("a hold");
    let second: Value = s
        .app
        .post("/transfers", &hold, Some(&s.payer.token))
        .await
        .json()
        .await
        .expect("a hold");
    act_ok(&s.app, s.from, "freeze", &s.banker, "frozen").await;
    let post = s
        .app
        .post(
            &format!("/transfers/{}/post", first["transfer"]["id"]),
            &json!({}),
            Some(&s.payee.token),
        )
        .await;
    assert_eq!(
        post.status().as_u16(),
        200,
        "the payee posts the frozen payer's hold"
    );
    let void = s
        .app
        .post_raw(
            &format!("/transfers/{}/void", second["transfer"]["id"]),
            Vec::new(),
            Some(&s.payee.token),
        )
        .await;
    assert_eq!(void.status().as_u16(), 200);
    assert_eq!(s.app.balance(s.from).await, 700);
    assert_eq!(s.app.balance(s.to).await, 300);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn only_an_empty_account_closes_and_a_closed_one_neither_pays_nor_receives() {
    let s = scene().await;
    let stranger = s.app.create_depositor().await;
    assert_error(
        act(&s.app, s.from, "close", &stranger).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        act(&s.app, s.from, "close", &s.payer).await,
        409,
        "account_not_empty",
    )
    .await;
    let withdrawal = s
        .app
        .post(
            &format!("/accounts/{}/withdrawals", s.from),
            &json!({"amount": 1_000}),
            Some(&s.payer.token),
        )
        .await;
    assert_eq!(withdrawal.status().as_u16(), 201);
    act_ok(&s.app, s.from, "close", &s.payer, "closed").await;
    act_ok(&s.app, s.to, "close", &s.banker, "closed").await;
    act_ok(&s.app, s.to, "close", &s.payee, "closed").await;
    assert_eq!(status_of(&s.app, s.to, &s.payee).await, "closed");

    let other = s.app.create_depositor().await;
    let funded = s.app.funded_account(&other, &s.banker, "USD", 50).await;
    let transfers_before = s.app.count("transfers").await;
    let into_closed = s.app.transfer(&other, funded, s.to, 10, "USD").await;
    assert_error(into_closed, 409, "account_closed").await;
    assert_error(
        s.app.deposit(&s.banker, s.to, 10).await,
        409,
        "account_closed",
    )
    .await;
    let mut hold = item(funded, s.to, 10);
    hold["pending"] = json!(true);
    let hold = s.app.post("/transfers", &hold, Some(&other.token)).await;
    assert_error(hold, 409, "account_closed").await;
    let batch = json!({"transfers": [item(funded, s.to, 10), item(funded, s.from, 5)]});
    let batch: Value = s
        .app
        .post("/transfers/batch", &batch, Some(&other.token))
        .await
        .json()
        .await
        .expect("results");
    assert_eq!(batch["results"][0]["error"]["code"], "account_closed");
    assert_eq!(batch["results"][1]["error"]["code"], "account_closed");
    let out_of_closed = s.app.transfer(&s.payer, s.from, funded, 1, "USD").await;
    assert_error(out_of_closed, 409, "account_closed").await;
    assert_error(
        act(&s.app, s.to, "freeze", &s.banker).await,
        409,
        "account_closed",
    )
    .await;
    assert_error(
        act(&s.app, s.to, "unfreeze", &s.banker).await,
        409,
        "account_closed",
    )
    .await;
    assert_eq!(
        s.app.count("transfers").await,
        transfers_before,
        "nothing written"
    );
    assert_eq!(
        (s.app.balance(s.to).await, s.app.balance(funded).await),
        (0, 50)
    );
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_freeze_on_one_replica_is_seen_by_the_next_debit_on_another() {
    let s = scene().await;
    let other = spawn_replica(&s.app).await;
    // The second replica caches the payer's account as active.
    let warm = other.transfer(&s.payer, s.from, s.to, 1, "USD").await;
    assert_eq!(warm.status().as_u16(), 201);
    act_ok(&s.app, s.from, "freeze", &s.banker, "frozen").await;
    let transfers_before = s.app.count("transfers").await;
    let (batches_before, trips_before) = other.journal_counts().await;
    let refused = other.transfer(&s.payer, s.from, s.to, 1, "USD").await;
    assert_error(refused, 409, "account_frozen").await;
    // PostgreSQL refused it inside the journal's one round trip (no key, no reference).
    let (batches, trips) = other.journal_counts().await;
    assert_eq!((batches - batches_before, trips - trips_before), (0.0, 1.0));
    let batch = json!({"transfers": [item(s.from, s.to, 1)], "atomic": true});
    let batch = other
        .post("/transfers/batch", &batch, Some(&s.payer.token))
        .await;
    assert_error(batch, 409, "account_frozen").await;
    assert_eq!(s.app.count("transfers").await, transfers_before);
    // And an unfreeze there is seen here: the refusal is checked against PostgreSQL.
    act_ok(&s.app, s.from, "unfreeze", &s.banker, "active").await;
    let (batches_before, trips_before) = other.journal_counts().await;
    let paid = other.transfer(&s.payer, s.from, s.to, 1, "USD").await;
    assert_eq!(paid.status().as_u16(), 201);
    let (batches, trips) = other.journal_counts().await;
    assert_eq!((batches - batches_before, trips - trips_before), (1.0, 1.0));
    assert_eq!(s.app.balance(s.from).await, 998);
    s.app.assert_invariants().await;
}

const RACERS: usize = 64;
/// Each client pays until refused; bounded, and funded for all of it, so no client runs short.
const ATTEMPTS_PER_RACER_MAX: usize = 500;
const RACE_FUNDS: i64 = (RACERS * ATTEMPTS_PER_RACER_MAX) as i64;

/// 64 clients pay out of one account, one unit at a time, while a banker freezes it: no debit
/// commits after the freeze was answered, and every answer is a commit or `account_frozen`.
#[actix_web::test]
async fn a_freeze_racing_64_clients_lets_no_debit_commit_after_it() {
    let s = scene().await;
    let funded = s.app.deposit(&s.banker, s.from, RACE_FUNDS).await;
    assert_eq!(funded.status().as_u16(), 201);
    let s = Arc::new(s);
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut committed = Vec::new();
                for _ in 0..ATTEMPTS_PER_RACER_MAX {
                    let response = s.app.transfer(&s.payer, s.from, s.to, 1, "USD").await;
                    match response.status().as_u16() {
                        201 => {
                            let body: Value = response.json().await.expect("a transfer");
                            committed.push(body["transfer"]["id"].as_i64().expect("an id"));
                        }
                        status => {
                            let body: Value = response.json().await.unwrap_or(Value::Null);
                            assert!(
                                status == 409 && body["error"]["code"] == "account_frozen",
                                "a racer was answered {status} {body}"
                            );
                            return (committed, true);
                        }
                    }
                }
                (committed, false)
            })
        })
        .collect();
    // Freeze once transfers are flowing.
    let client = s.app.db().await;
    let count_sql =
        "SELECT count(*), coalesce(max(id), 0) FROM transfers WHERE from_account_id = $1";
    loop {
        let row = client
            .query_one(count_sql, &[&s.from])
            .await
            .expect("a count");
        if row.get::<_, i64>(0) >= 50 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    act_ok(&s.app, s.from, "freeze", &s.banker, "frozen").await;
    let at_freeze = client
        .query_one(count_sql, &[&s.from])
        .await
        .expect("a count");
    let (count_at_freeze, max_id_at_freeze): (i64, i64) = (at_freeze.get(0), at_freeze.get(1));

    let mut committed = Vec::new();
    let mut refused = 0;
    for racer in racers {
        let (ids, was_refused) = racer.await.expect("a racer");
        committed.extend(ids);
        refused += usize::from(was_refused);
    }
    assert_eq!(refused, RACERS, "every client met the freeze");
    let after = client
        .query_one(count_sql, &[&s.from])
        .await
        .expect("a count");
    assert_eq!(
        (after.get::<_, i64>(0), after.get::<_, i64>(1)),
        (count_at_freeze, max_id_at_freeze),
        "no debit committed after the freeze was answered"
    );
    assert!(committed.iter().all(|id| *id <= max_id_at_freeze));
    assert_eq!(
        committed.len() as i64,
        count_at_freeze,
        "every commit was answered"
    );
    // In the database's own clock: every debit was posted before the freeze took effect.
    let frozen_at: OffsetDateTime = client
        .query_one(
            "SELECT status_changed_at FROM accounts WHERE id = $1",
            &[&s.from],
        )
        .await
        .expect("the account")
        .get(0);
    let last_posted: OffsetDateTime = client
        .query_one(
            "SELECT max(posted_at) FROM transfers WHERE from_account_id = $1",
            &[&s.from],
        )
        .await
        .expect("a transfer")
        .get(0);
    assert!(last_posted < frozen_at, "{last_posted} < {frozen_at}");
    assert_eq!(
        s.app.balance(s.from).await,
        1_000 + RACE_FUNDS - count_at_freeze
    );
    s.app.assert_invariants().await;
}
