//! `GET /transfers`: what each caller may find, the filters, and the pages.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp, TestUser};

async fn send(
    app: &TestApp,
    user: &TestUser,
    from: i64,
    to: i64,
    amount: i64,
    extra: Value,
) -> i64 {
    let mut body = json!({"from_account_id": from, "to_account_id": to, "amount": amount,
                          "currency": "USD"});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    let response = app.post("/transfers", &body, Some(&user.token)).await;
    assert_eq!(response.status().as_u16(), 201);
    let result: Value = response.json().await.expect("a result");
    result["transfer"]["id"].as_i64().expect("an id")
}

async fn search(app: &TestApp, user: &TestUser, query: &str) -> Value {
    let response = app
        .get(&format!("/transfers?{query}"), Some(&user.token))
        .await;
    assert_eq!(response.status().as_u16(), 200, "{query}");
    response.json().await.expect("a page")
}

fn ids(page: &Value) -> Vec<i64> {
    page["transfers"]
        .as_array()
        .expect("transfers")
        .iter()
        .map(|transfer| transfer["id"].as_i64().expect("an id"))
        .collect()
}

#[actix_web::test]
async fn each_caller_finds_only_what_it_may_see_with_every_filter() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let (alice, bob, carol) = (
        app.create_depositor().await,
        app.create_depositor().await,
        app.create_depositor().await,
    );
    let alice_usd = app.funded_account(&alice, &banker, "USD", 10_000).await;
    let bob_usd = app.funded_account(&bob, &banker, "USD", 10_000).await;
    let carol_usd = app.funded_account(&carol, &banker, "USD", 10_000).await;
    let a1 = send(
        &app,
        &alice,
        alice_usd,
        bob_usd,
        10,
        json!({"reference": "A-1", "metadata": {"order": "7", "channel": "web"}}),
    )
    .await;
    let a2 = send(
        &app,
        &alice,
        alice_usd,
        carol_usd,
        20,
        json!({"reference": "A-2", "metadata": {"order": "8", "channel": "web"}}),
    )
    .await;
    let b1 = send(
        &app,
        &bob,
        bob_usd,
        alice_usd,
        30,
        json!({"reference": "B-1"}),
    )
    .await;
    let c1 = send(
        &app,
        &carol,
        carol_usd,
        bob_usd,
        40,
        json!({"metadata": {"order": "7"}}),
    )
    .await;
    let held = send(
        &app,
        &alice,
        alice_usd,
        bob_usd,
        5,
        json!({"pending": true}),
    )
    .await;

    // Alice: her transfers either way (and her deposit), newest first; never carol's to bob.
    let page = search(&app, &alice, "").await;
    let found = ids(&page);
    assert_eq!(&found[..4], &[held, b1, a2, a1], "{page}");
    assert!(!found.contains(&c1));
    assert_eq!(page["next_before_id"], Value::Null);
    // Bob's transfer to her shows no reference of his.
    let from_bob = &page["transfers"][1];
    assert!(from_bob.get("reference").is_none(), "{from_bob}");
    assert_eq!(page["transfers"][2]["reference"], "A-2");

    assert_eq!(
        ids(&search(&app, &alice, &format!("account_id={carol_usd}")).await),
        vec![a2]
    );
    assert_eq!(ids(&search(&app, &alice, "reference=A-1").await), vec![a1]);
    // A reference is the payer's: bob cannot find alice's transfer to him by it.
    assert_eq!(
        ids(&search(&app, &bob, "reference=A-1").await),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&search(&app, &bob, "reference=B-1").await), vec![b1]);
    assert_eq!(
        ids(&search(&app, &alice, "metadata.order=7").await),
        vec![a1]
    );
    assert_eq!(
        ids(&search(&app, &alice, "metadata.channel=web&metadata.order=8").await),
        vec![a2]
    );
    // Carol's metadata is hers: bob, her payee, finds nothing by it.
    assert_eq!(
        ids(&search(&app, &bob, "metadata.order=7").await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&search(&app, &alice, "status=pending").await),
        vec![held]
    );
    assert_eq!(
        ids(&search(&app, &alice, "until=2000-01-01T00:00:00Z").await),
        Vec::<i64>::new()
    );
    let since_all = search(&app, &alice, "since=2000-01-01T00:00:00Z&limit=100").await;
    assert_eq!(
        ids(&since_all).len(),
        5,
        "4 transfers and a deposit: {since_all}"
    );

    // A banker finds everyone's, with every payer's details.
    assert_eq!(
        ids(&search(&app, &banker, "metadata.order=7").await),
        vec![c1, a1]
    );
    let by_reference = search(&app, &banker, "reference=B-1").await;
    assert_eq!(ids(&by_reference), vec![b1]);
    assert_eq!(by_reference["transfers"][0]["reference"], "B-1");
    let carols = search(&app, &banker, &format!("account_id={carol_usd}")).await;
    assert_eq!(&ids(&carols)[..2], &[c1, a2]);
}

#[actix_web::test]
async fn pages_follow_next_before_id_to_the_end_without_gaps() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let alice_usd = app.funded_account(&alice, &banker, "USD", 10_000).await;
    let bob_usd = app.open_account(&bob, "USD").await;
    let mut sent = Vec::new();
    for amount in 1..=7 {
        sent.push(send(&app, &alice, alice_usd, bob_usd, amount, json!({})).await);
    }
    sent.reverse();
    let mut seen = Vec::new();
    let mut query = format!("account_id={bob_usd}&limit=3");
    let mut pages = 0;
    loop {
        let page = search(&app, &bob, &query).await;
        pages += 1;
        seen.extend(ids(&page));
        match page["next_before_id"].as_i64() {
            Some(next) => query = format!("account_id={bob_usd}&limit=3&before_id={next}"),
            None => break,
        }
        assert!(pages < 10, "the pages end");
    }
    assert_eq!(seen, sent);
    assert_eq!(pages, 3);
}

#[actix_web::test]
async fn bad_filters_are_400() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    for query in [
        "limit=0",
        "limit=101",
        "before_id=0",
        "account_id=0",
        "account_id=x",
        "status=done",
        "since=yesterday",
        "reference=has%20space",
        "metadata.Bad=1",
        "metadata.k=1&metadata.k=2",
        "limit=1&limit=2",
        "colour=red",
    ] {
        let response = app
            .get(&format!("/transfers?{query}"), Some(&alice.token))
            .await;
        assert_error(response, 400, "validation_failed").await;
    }
    let many: Vec<String> = (0..17).map(|i| format!("metadata.k{i}=v")).collect();
    let response = app
        .get(
            &format!("/transfers?{}", many.join("&")),
            Some(&alice.token),
        )
        .await;
    assert_error(response, 400, "validation_failed").await;
    let response = app.get("/transfers", None).await;
    assert_error(response, 401, "unauthenticated").await;
}
