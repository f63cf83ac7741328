//! Statements read like a bank statement: running balances, date ranges, the balance at an
//! instant, and an account's transfers, each only to whoever may read the account.

use serde_json::Value;

use crate::helpers::{assert_error, spawn_app, TestApp, TestUser};

async fn json(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    response.json().await.expect("a JSON body")
}

struct Scene {
    app: TestApp,
    alice: TestUser,
    bob: TestUser,
    alice_usd: i64,
    bob_usd: i64,
}

/// Alice gets 1,000 from the banker, pays bob 300, then bob pays 100 back.
async fn scene() -> Scene {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let alice_usd = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let bob_usd = app.open_account(&bob, "USD").await;
    json(
        app.transfer(&alice, alice_usd, bob_usd, 300, "USD").await,
        201,
    )
    .await;
    json(
        app.transfer(&bob, bob_usd, alice_usd, 100, "USD").await,
        201,
    )
    .await;
    Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
    }
}

fn column(entries: &Value, key: &str) -> Vec<i64> {
    entries
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| entry[key].as_i64().expect(key))
        .collect()
}

#[actix_web::test]
async fn a_statement_carries_the_running_balance_newest_first() {
    let s = scene().await;
    let entries = json(
        s.app
            .get(
                &format!("/accounts/{}/entries", s.alice_usd),
                Some(&s.alice.token),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(column(&entries, "amount"), [100, -300, 1_000]);
    assert_eq!(column(&entries, "balance_after"), [800, 700, 1_000]);
    let ids = column(&entries, "id");
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");

    // The cursor pages on: the two older entries after the newest.
    let older = json(
        s.app
            .get(
                &format!(
                    "/accounts/{}/entries?limit=5&before_id={}",
                    s.alice_usd, ids[0]
                ),
                Some(&s.alice.token),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(column(&older, "balance_after"), [700, 1_000]);
    s.app.assert_invariants().await;
}

#[actix_web::test]
async fn a_statement_can_be_limited_to_a_date_range() {
    let s = scene().await;
    let path = format!("/accounts/{}/entries", s.alice_usd);
    let all = json(s.app.get(&path, Some(&s.alice.token)).await, 200).await;
    let newest = all[0]["created_at"].as_str().expect("a time").to_owned();
    let oldest = all[2]["created_at"].as_str().expect("a time").to_owned();

    let until_newest = json(
        s.app
            .get(&format!("{path}?until={newest}"), Some(&s.alice.token))
            .await,
        200,
    )
    .await;
    assert!(
        column(&until_newest, "amount")
            .iter()
            .all(|amount| *amount != 100),
        "until is exclusive: {until_newest}"
    );
    let since_oldest = json(
        s.app
            .get(&format!("{path}?since={oldest}"), Some(&s.alice.token))
            .await,
        200,
    )
    .await;
    assert_eq!(since_oldest.as_array().expect("a list").len(), 3);
    let future = json(
        s.app
            .get(
                &format!("{path}?since=2999-01-01T00:00:00Z"),
                Some(&s.alice.token),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(future, serde_json::json!([]));
    assert_error(
        s.app
            .get(&format!("{path}?since=yesterday"), Some(&s.alice.token))
            .await,
        400,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn the_balance_at_an_instant_is_the_running_balance_then() {
    let s = scene().await;
    let path = format!("/accounts/{}/balance", s.alice_usd);
    let before = json(
        s.app
            .get(
                &format!("{path}?at=2000-01-01T00:00:00Z"),
                Some(&s.alice.token),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(before["balance"], 0);
    assert_eq!(before["currency"], "USD");
    assert_eq!(before["account_id"], s.alice_usd);
    let now = json(
        s.app
            .get(
                &format!("{path}?at=2999-01-01T00:00:00Z"),
                Some(&s.alice.token),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(now["balance"], 800);

    let entries = json(
        s.app
            .get(
                &format!("/accounts/{}/entries", s.alice_usd),
                Some(&s.alice.token),
            )
            .await,
        200,
    )
    .await;
    let deposit_time = entries[2]["created_at"].as_str().expect("a time");
    let then = json(
        s.app
            .get(&format!("{path}?at={deposit_time}"), Some(&s.alice.token))
            .await,
        200,
    )
    .await;
    assert!(
        [1_000, 700, 800].contains(&then["balance"].as_i64().expect("a balance")),
        "{then}"
    );

    assert_error(
        s.app.get(&path, Some(&s.alice.token)).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        s.app
            .get(&format!("{path}?at=not-a-time"), Some(&s.alice.token))
            .await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        s.app
            .get(
                &format!("{path}?at=2999-01-01T00:00:00Z"),
                Some(&s.bob.token),
            )
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        s.app
            .get(
                "/accounts/999999/balance?at=2999-01-01T00:00:00Z",
                Some(&s.bob.token),
            )
            .await,
        404,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn an_accounts_transfers_list_both_sides_newest_first() {
    let s = scene().await;
    let path = format!("/accounts/{}/transfers", s.bob_usd);
    let transfers = json(s.app.get(&path, Some(&s.bob.token)).await, 200).await;
    assert_eq!(column(&transfers, "amount"), [100, 300]);
    assert!(transfers
        .as_array()
        .expect("a list")
        .iter()
        .all(|t| t["status"] == "posted"
            && t["posted_at"].is_string()
            && t["expires_at"].is_null()));
    let ids = column(&transfers, "id");
    let page = json(
        s.app
            .get(
                &format!("{path}?limit=1&before_id={}", ids[0]),
                Some(&s.bob.token),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(column(&page, "id"), [ids[1]]);
    let pending = json(
        s.app
            .get(&format!("{path}?status=pending"), Some(&s.bob.token))
            .await,
        200,
    )
    .await;
    assert_eq!(pending, serde_json::json!([]));
    assert_error(
        s.app
            .get(&format!("{path}?status=lost"), Some(&s.bob.token))
            .await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        s.app.get(&path, Some(&s.alice.token)).await,
        403,
        "forbidden",
    )
    .await;
}

#[actix_web::test]
async fn accounts_show_held_and_available_and_a_sender_never_sees_the_recipients_balance() {
    let s = scene().await;
    let account = json(
        s.app
            .get(&format!("/accounts/{}", s.alice_usd), Some(&s.alice.token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (&account["balance"], &account["held"], &account["available"]),
        (&800.into(), &0.into(), &800.into())
    );
    let sent = json(
        s.app
            .transfer(&s.alice, s.alice_usd, s.bob_usd, 5, "USD")
            .await,
        201,
    )
    .await;
    assert_eq!(sent["from_entry"]["balance_after"], 795);
    assert!(
        sent["to_entry"].get("balance_after").is_none(),
        "privacy_of_state: {sent}"
    );
    assert!(sent.get("to_account").is_none());
    assert_eq!(sent["transfer"]["status"], "posted");
}

/// The line of `statement` that is the leg of `amount` of transfer `transfer_id`.
fn line_of(statement: &Value, transfer_id: i64, amount: i64) -> &Value {
    statement
        .as_array()
        .expect("a list")
        .iter()
        .find(|line| line["transfer_id"] == transfer_id && line["amount"] == amount)
        .unwrap_or_else(|| panic!("transfer {transfer_id} ({amount}) in {statement}"))
}

#[actix_web::test]
async fn statement_lines_say_what_was_refunded_and_which_come_from_the_reserve() {
    let s = scene().await;
    let entries = |account: i64, user: &TestUser| {
        let (app, token) = (&s.app, user.token.clone());
        async move {
            let path = format!("/accounts/{account}/entries?limit=100");
            json(app.get(&path, Some(&token)).await, 200).await
        }
    };
    let bobs = entries(s.bob_usd, &s.bob).await;
    let paid = bobs[1]["transfer_id"].as_i64().expect("alice's 300 to bob");
    assert_eq!(bobs[1]["amount"], 300, "{bobs}");
    let refund = s
        .app
        .post_keyed(
            &format!("/transfers/{paid}/reverse"),
            &serde_json::json!({"amount": 50}),
            &s.bob.token,
            "refund-50",
        )
        .await;
    let refund = json(refund, 201).await["transfer"]["id"].as_i64().unwrap();
    let withdrawal = s
        .app
        .post(
            &format!("/accounts/{}/withdrawals", s.alice_usd),
            &serde_json::json!({"amount": 10}),
            Some(&s.alice.token),
        )
        .await;
    let withdrawal = json(withdrawal, 201).await["transfer"]["id"]
        .as_i64()
        .unwrap();

    let bobs = entries(s.bob_usd, &s.bob).await;
    let received = line_of(&bobs, paid, 300);
    assert_eq!(received["reversed_amount"], 50, "{received}");
    assert_eq!(received["counterparty_kind"], "customer", "{received}");
    let refunded = line_of(&bobs, refund, -50);
    assert_eq!(refunded["reversed_amount"], 0, "{refunded}");
    assert_eq!(refunded["counterparty_account_id"], s.alice_usd);

    let alices = entries(s.alice_usd, &s.alice).await;
    assert_eq!(line_of(&alices, paid, -300)["reversed_amount"], 50);
    assert_eq!(
        line_of(&alices, paid, -300)["counterparty_kind"],
        "customer"
    );
    assert_eq!(
        line_of(&alices, refund, 50)["counterparty_kind"],
        "customer"
    );
    let out = line_of(&alices, withdrawal, -10);
    assert_eq!(out["counterparty_kind"], "reserve", "{out}");
    assert_eq!(out["reversed_amount"], 0, "{out}");
    // The oldest line is the banker's deposit, from the reserve.
    let deposit = alices.as_array().unwrap().last().expect("the deposit");
    assert_eq!(deposit["amount"], 1_000, "{alices}");
    assert_eq!(deposit["counterparty_kind"], "reserve", "{deposit}");
    assert_eq!(deposit["reversed_amount"], 0, "{deposit}");
    s.app.assert_invariants().await;
}
