use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

#[actix_web::test]
async fn opening_an_account_answers_201_with_a_zero_balance() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let response = app
        .post(
            "/accounts",
            &json!({ "currency": "EUR" }),
            Some(&alice.token),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let account: Value = response.json().await.expect("an account");
    assert_eq!(account["owner"], alice.username.as_str());
    assert_eq!(account["balance"], 0);
    assert_eq!(account["currency"], "EUR");
    assert!(account["id"].as_i64().is_some_and(|id| id > 0));
    assert!(
        account["created_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "RFC 3339 UTC: {account}"
    );
    let stored: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM accounts WHERE owner = $1 AND currency = 'EUR'",
            &[&alice.username],
        )
        .await
        .expect("a count")
        .get(0);
    assert_eq!(stored, 1);
}

#[actix_web::test]
async fn account_creation_refusals() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    app.open_account(&alice, "USD").await;
    let second = app
        .post(
            "/accounts",
            &json!({ "currency": "USD" }),
            Some(&alice.token),
        )
        .await;
    assert_error(second, 409, "conflict").await;
    let unsupported = app
        .post(
            "/accounts",
            &json!({ "currency": "BTC" }),
            Some(&alice.token),
        )
        .await;
    assert_error(unsupported, 400, "validation_failed").await;
    let lowercase = app
        .post(
            "/accounts",
            &json!({ "currency": "usd" }),
            Some(&alice.token),
        )
        .await;
    assert_error(lowercase, 400, "validation_failed").await;
    let unknown_field = app
        .post(
            "/accounts",
            &json!({ "currency": "EUR", "balance": 1000000 }),
            Some(&alice.token),
        )
        .await;
    assert_error(unknown_field, 400, "validation_failed").await;
    let anonymous = app
        .post("/accounts", &json!({ "currency": "EUR" }), None)
        .await;
    assert_error(anonymous, 401, "unauthenticated").await;
    assert_eq!(
        app.count("accounts WHERE kind = 'customer'").await,
        1,
        "nothing else was created"
    );
}

#[actix_web::test]
async fn an_account_is_visible_to_its_owner_and_bankers_only() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let banker = app.create_banker().await;
    let account = app.funded_account(&alice, &banker, "USD", 1_500).await;

    for user in [&alice, &banker] {
        let response = app
            .get(&format!("/accounts/{account}"), Some(&user.token))
            .await;
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.expect("an account");
        assert_eq!(
            (body["id"].as_i64(), body["balance"].as_i64()),
            (Some(account), Some(1_500))
        );
    }
    assert_error(
        app.get(&format!("/accounts/{account}"), Some(&bob.token))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/accounts/999999", Some(&alice.token)).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/accounts/0", Some(&alice.token)).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get("/accounts/-4", Some(&alice.token)).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get("/accounts/abc", Some(&alice.token)).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get("/accounts/99999999999999999999", Some(&alice.token))
            .await,
        400,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn listing_accounts_pages_through_the_callers_own_by_id() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let mut mine = Vec::new();
    for currency in ["USD", "EUR", "CAD", "KRW", "JPY"] {
        mine.push(app.open_account(&alice, currency).await);
    }
    app.open_account(&bob, "USD").await;

    let page = |query: &'static str| {
        let app = &app;
        let token = alice.token.clone();
        async move {
            let response = app.get(&format!("/accounts{query}"), Some(&token)).await;
            assert_eq!(response.status().as_u16(), 200, "{query}");
            let body: Vec<Value> = response.json().await.expect("a list");
            body.iter()
                .map(|a| a["id"].as_i64().expect("an id"))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page("").await, mine, "default page: all five, by id");
    assert_eq!(page("?page_id=1&page_size=2").await, mine[..2]);
    assert_eq!(page("?page_id=3&page_size=2").await, mine[4..]);
    assert_eq!(page("?page_id=4&page_size=2").await, Vec::<i64>::new());

    for query in [
        "?page_id=0",
        "?page_size=0",
        "?page_size=101",
        "?page_id=x",
        "?page_size=2&extra=1",
    ] {
        let response = app
            .get(&format!("/accounts{query}"), Some(&alice.token))
            .await;
        assert_error(response, 400, "validation_failed").await;
    }
}

#[actix_web::test]
async fn deposits_are_for_bankers_and_withdrawals_for_owners_and_bankers() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let banker = app.create_banker().await;
    let account = app.open_account(&alice, "USD").await;

    assert_error(app.deposit(&alice, account, 100).await, 403, "forbidden").await;
    let deposit = app.deposit(&banker, account, 1_000).await;
    assert_eq!(deposit.status().as_u16(), 201);
    let body: Value = deposit.json().await.expect("a deposit");
    assert_eq!(body["account"]["balance"], 1_000);
    assert_eq!(body["transfer"]["to_account_id"], account);
    assert_eq!(body["transfer"]["amount"], 1_000);
    assert_eq!(body["transfer"]["currency"], "USD");

    let path = format!("/accounts/{account}/withdrawals");
    let amount = json!({ "amount": 300 });
    let withdraw = |user| app.post(&path, &amount, Some(user));
    assert_error(withdraw(&bob.token).await, 403, "forbidden").await;
    let own = withdraw(&alice.token).await;
    assert_eq!(own.status().as_u16(), 201);
    let body: Value = own.json().await.expect("a withdrawal");
    assert_eq!(body["account"]["balance"], 700);
    assert_eq!(withdraw(&banker.token).await.status().as_u16(), 201);
    let too_much = app
        .post(
            &format!("/accounts/{account}/withdrawals"),
            &json!({ "amount": 401 }),
            Some(&alice.token),
        )
        .await;
    assert_error(too_much, 422, "insufficient_funds").await;
    assert_error(
        app.deposit(&banker, account, 0).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(app.deposit(&banker, 999_999, 10).await, 404, "not_found").await;
    assert_eq!(app.balance(account).await, 400);
    let reserve: i64 = app
        .db()
        .await
        .query_one(
            "SELECT id FROM accounts WHERE kind = 'reserve' AND currency = 'USD'",
            &[],
        )
        .await
        .expect("the reserve")
        .get(0);
    assert_error(app.deposit(&banker, reserve, 10).await, 404, "not_found").await;
    app.assert_invariants().await;
}

#[actix_web::test]
async fn a_statement_lists_entries_newest_first_with_a_cursor() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let banker = app.create_banker().await;
    let from = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let to = app.open_account(&bob, "USD").await;
    for amount in 1..=5 {
        assert_eq!(
            app.transfer(&alice, from, to, amount, "USD")
                .await
                .status()
                .as_u16(),
            201
        );
    }

    let response = app
        .get(
            &format!("/accounts/{from}/entries?limit=3"),
            Some(&alice.token),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let first: Vec<Value> = response.json().await.expect("entries");
    let amounts: Vec<i64> = first
        .iter()
        .map(|e| e["amount"].as_i64().expect("an amount"))
        .collect();
    assert_eq!(amounts, [-5, -4, -3], "newest first, debits negative");
    assert!(first
        .iter()
        .all(|e| e["account_id"] == from && e["transfer_id"].as_i64().is_some()));

    let cursor = first[2]["id"].as_i64().expect("an id");
    let response = app
        .get(
            &format!("/accounts/{from}/entries?limit=3&before_id={cursor}"),
            Some(&alice.token),
        )
        .await;
    let rest: Vec<Value> = response.json().await.expect("entries");
    let amounts: Vec<i64> = rest
        .iter()
        .map(|e| e["amount"].as_i64().expect("an amount"))
        .collect();
    assert_eq!(
        amounts,
        [-2, -1, 1_000],
        "then the older ones, down to the deposit"
    );

    let default: Vec<Value> = app
        .get(&format!("/accounts/{to}/entries"), Some(&bob.token))
        .await
        .json()
        .await
        .expect("entries");
    assert_eq!(default.len(), 5);
    assert_error(
        app.get(&format!("/accounts/{from}/entries"), Some(&bob.token))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.get(&format!("/accounts/{from}/entries"), Some(&banker.token))
            .await
            .status()
            .as_u16(),
        200
    );
    for query in ["limit=0", "limit=101", "before_id=0", "before_id=x"] {
        let response = app
            .get(
                &format!("/accounts/{from}/entries?{query}"),
                Some(&alice.token),
            )
            .await;
        assert_error(response, 400, "validation_failed").await;
    }
    assert_error(
        app.get("/accounts/999999/entries", Some(&alice.token))
            .await,
        404,
        "not_found",
    )
    .await;
}
