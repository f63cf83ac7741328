//! What a transfer says: `description`, `reference` (unique per paying account) and `metadata`,
//! on single, pending and batch transfers; who reads which.

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_replica, Scene, TestApp, TestUser};

async fn scene() -> Scene {
    Scene::funded(10_000).await
}

fn transfer_body(from: i64, to: i64, amount: i64, extra: Value) -> Value {
    let mut body = json!({"from_account_id": from, "to_account_id": to, "amount": amount,
                          "currency": "USD"});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

async fn transfer_id_of(response: reqwest::Response) -> i64 {
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.expect("a transfer result");
    body["transfer"]["id"].as_i64().expect("an id")
}

#[actix_web::test]
async fn details_are_stored_on_the_row_and_come_back_to_whoever_may_read_them() {
    let Scene {
        app,
        alice,
        bob,
        banker,
        alice_usd,
        bob_usd,
    } = scene().await;
    let extra = json!({"description": "Rent for March", "reference": "INV-2026-0042",
                       "metadata": {"order_id": "42", "channel": "web"}});
    let response = app
        .post(
            "/transfers",
            &transfer_body(alice_usd, bob_usd, 300, extra),
            Some(&alice.token),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let result: Value = response.json().await.expect("a result");
    let transfer = &result["transfer"];
    assert_eq!(transfer["description"], "Rent for March");
    assert_eq!(transfer["reference"], "INV-2026-0042");
    assert_eq!(
        transfer["metadata"],
        json!({"order_id": "42", "channel": "web"})
    );
    let id = transfer["id"].as_i64().expect("an id");

    let row = app
        .db()
        .await
        .query_one(
            "SELECT description, reference, metadata FROM transfers WHERE id = $1",
            &[&id],
        )
        .await
        .expect("the row");
    assert_eq!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some("Rent for March")
    );
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("INV-2026-0042")
    );
    assert_eq!(
        row.get::<_, Option<Value>>(2),
        Some(json!({"order_id": "42", "channel": "web"}))
    );

    let path = format!("/transfers/{id}");
    for reader in [&alice, &banker] {
        let seen: Value = app
            .get(&path, Some(&reader.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["reference"], "INV-2026-0042", "{seen}");
        assert_eq!(seen["metadata"]["order_id"], "42", "{seen}");
        assert_eq!(seen["description"], "Rent for March", "{seen}");
    }
    // The payee reads the description, never the payer's reference or metadata.
    let seen: Value = app.get(&path, Some(&bob.token)).await.json().await.unwrap();
    assert_eq!(seen["description"], "Rent for March");
    assert!(seen.get("reference").is_none(), "{seen}");
    assert!(seen.get("metadata").is_none(), "{seen}");
    let listed: Value = app
        .get(&format!("/accounts/{bob_usd}/transfers"), Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["description"], "Rent for March");
    assert!(listed[0].get("reference").is_none(), "{listed}");
    let listed: Value = app
        .get(
            &format!("/accounts/{alice_usd}/transfers"),
            Some(&alice.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["reference"], "INV-2026-0042", "{listed}");
    app.assert_invariants().await;
}

#[actix_web::test]
async fn a_reference_is_unique_per_paying_account_and_a_duplicate_moves_nothing() {
    let Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let with_ref = |from, to| transfer_body(from, to, 100, json!({"reference": "R-1"}));
    let first = app
        .post(
            "/transfers",
            &with_ref(alice_usd, bob_usd),
            Some(&alice.token),
        )
        .await;
    assert_eq!(first.status().as_u16(), 201);
    let second = app
        .post(
            "/transfers",
            &with_ref(alice_usd, bob_usd),
            Some(&alice.token),
        )
        .await;
    assert_error(second, 409, "duplicate_reference").await;
    assert_eq!(app.balance(alice_usd).await, 9_900);
    assert_eq!(app.balance(bob_usd).await, 100);
    // A pending transfer's reference is taken the same way.
    let pending = transfer_body(
        alice_usd,
        bob_usd,
        50,
        json!({"reference": "R-1", "pending": true}),
    );
    let refused = app.post("/transfers", &pending, Some(&alice.token)).await;
    assert_error(refused, 409, "duplicate_reference").await;
    // Another paying account may use the same reference.
    let other = app
        .post(
            "/transfers",
            &with_ref(bob_usd, alice_usd),
            Some(&bob.token),
        )
        .await;
    assert_eq!(other.status().as_u16(), 201);
    let count: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM transfers WHERE reference = 'R-1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn details_out_of_bounds_are_400_and_move_nothing() {
    let Scene {
        app,
        alice,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let many: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    let bad = [
        json!({"description": "d".repeat(141)}),
        json!({"reference": ""}),
        json!({"reference": "has space"}),
        json!({"reference": "r".repeat(65)}),
        json!({"reference": "caf\u{e9}"}),
        json!({"metadata": many}),
        json!({"metadata": {"Upper": "v"}}),
        json!({"metadata": {"k": 7}}),
        json!({"metadata": {"k": "v".repeat(201)}}),
        json!({"metadata": ["not", "an", "object"]}),
    ];
    for extra in bad {
        let body = transfer_body(alice_usd, bob_usd, 10, extra.clone());
        let response = app.post("/transfers", &body, Some(&alice.token)).await;
        assert_error(response, 400, "validation_failed").await;
    }
    // The bounds themselves are inside.
    let sixteen: serde_json::Map<String, Value> = (0..16)
        .map(|i| (format!("k{i}"), json!("v".repeat(200))))
        .collect();
    let edge = json!({"description": "\u{e9}".repeat(140), "reference": "~".repeat(64),
                      "metadata": sixteen});
    let body = transfer_body(alice_usd, bob_usd, 10, edge);
    transfer_id_of(app.post("/transfers", &body, Some(&alice.token)).await).await;
    assert_eq!(app.balance(alice_usd).await, 9_990);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn a_pending_transfer_keeps_its_details_and_its_posting_shows_them_by_reader() {
    let Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let extra = json!({"pending": true, "description": "Deposit on keys", "reference": "KEY-9",
                       "metadata": {"unit": "4b"}});
    let body = transfer_body(alice_usd, bob_usd, 500, extra);
    let id = transfer_id_of(app.post("/transfers", &body, Some(&alice.token)).await).await;
    let posted = app
        .post(
            &format!("/transfers/{id}/post"),
            &json!({}),
            Some(&bob.token),
        )
        .await;
    assert_eq!(posted.status().as_u16(), 200);
    let posted: Value = posted.json().await.unwrap();
    assert_eq!(posted["transfer"]["status"], "posted");
    assert_eq!(posted["transfer"]["description"], "Deposit on keys");
    assert!(posted["transfer"].get("reference").is_none(), "{posted}");
    let seen: Value = app
        .get(&format!("/transfers/{id}"), Some(&alice.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["reference"], "KEY-9");
    assert_eq!(seen["metadata"]["unit"], "4b");
    assert_eq!(seen["status"], "posted");
    // The posting row carries the legs and nothing the transfer says.
    let postings: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM transfers WHERE pending_id = $1 AND reference IS NULL
               AND description IS NULL",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(postings, 1);
    assert_eq!(app.balance(bob_usd).await, 500);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn a_batch_refuses_only_its_items_whose_reference_is_taken() {
    let Scene {
        app,
        alice,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let body = transfer_body(alice_usd, bob_usd, 10, json!({"reference": "TAKEN"}));
    transfer_id_of(app.post("/transfers", &body, Some(&alice.token)).await).await;
    let item =
        |reference: &str| transfer_body(alice_usd, bob_usd, 10, json!({"reference": reference}));
    let batch = json!({"transfers": [item("TAKEN"), item("NEW"), item("NEW"), item("OTHER")]});
    let response = app
        .post("/transfers/batch", &batch, Some(&alice.token))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let result: Value = response.json().await.unwrap();
    let results = result["results"].as_array().expect("results");
    assert_eq!(
        results[0]["error"]["code"], "duplicate_reference",
        "{result}"
    );
    assert_eq!(results[1]["transfer"]["reference"], "NEW", "{result}");
    assert_eq!(
        results[2]["error"]["code"], "duplicate_reference",
        "{result}"
    );
    assert_eq!(results[3]["transfer"]["reference"], "OTHER", "{result}");
    assert_eq!(app.balance(alice_usd).await, 10_000 - 30);

    let atomic = json!({"atomic": true, "transfers": [item("FRESH"), item("OTHER")]});
    let response = app
        .post("/transfers/batch", &atomic, Some(&alice.token))
        .await;
    let refused = assert_error(response, 409, "duplicate_reference").await;
    assert_eq!(refused["error"]["index"], 1);
    assert_eq!(app.balance(alice_usd).await, 10_000 - 30);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn racing_duplicates_on_two_replicas_commit_once_and_other_callers_commit_all() {
    let Scene {
        app,
        alice,
        banker,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let replica = spawn_replica(&app).await;
    let carol = app.create_depositor().await;
    let carol_usd = app.funded_account(&carol, &banker, "USD", 10_000).await;
    // Even sends are alice's (all with one reference), odd ones carol's (each its own).
    let mut sends: Vec<(&TestApp, &TestUser, Value)> = Vec::new();
    for round in 0..20 {
        let target = if round % 2 == 0 { &app } else { &replica };
        let racing = transfer_body(alice_usd, bob_usd, 7, json!({"reference": "ONCE"}));
        sends.push((target, &alice, racing));
        let own = json!({"reference": format!("C-{round}")});
        sends.push((target, &carol, transfer_body(carol_usd, bob_usd, 3, own)));
    }
    let statuses: Vec<(usize, u16, Value)> = join_all(sends.iter().enumerate().map(
        |(index, (target, user, body))| async move {
            let response = target.post("/transfers", body, Some(&user.token)).await;
            let status = response.status().as_u16();
            (index, status, response.json().await.unwrap_or(Value::Null))
        },
    ))
    .await;
    let alice_ok = statuses
        .iter()
        .filter(|(index, status, _)| index % 2 == 0 && *status == 201)
        .count();
    for (index, status, body) in &statuses {
        if index % 2 == 1 {
            assert_eq!(*status, 201, "carol's transfers all commit: {body}");
        } else if *status != 201 {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(body["error"]["code"], "duplicate_reference");
        }
    }
    assert_eq!(
        alice_ok, 1,
        "exactly one transfer with the reference commits"
    );
    assert_eq!(app.balance(alice_usd).await, 10_000 - 7);
    assert_eq!(app.balance(carol_usd).await, 10_000 - 60);
    assert_eq!(app.balance(bob_usd).await, 7 + 60);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn details_are_part_of_the_idempotency_fingerprint() {
    let Scene {
        app,
        alice,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let body = transfer_body(
        alice_usd,
        bob_usd,
        10,
        json!({"reference": "K-1",
        "description": "first", "metadata": {"a": "1"}}),
    );
    let first = app
        .post_keyed("/transfers", &body, &alice.token, "key-1")
        .await;
    assert_eq!(first.status().as_u16(), 201);
    let replay = app
        .post_keyed("/transfers", &body, &alice.token, "key-1")
        .await;
    assert_eq!(replay.status().as_u16(), 201);
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(replayed["transfer"]["reference"], "K-1");
    assert_eq!(replayed["transfer"]["metadata"]["a"], "1");
    for changed in [
        json!({"reference": "K-2", "description": "first", "metadata": {"a": "1"}}),
        json!({"reference": "K-1", "description": "second", "metadata": {"a": "1"}}),
        json!({"reference": "K-1", "description": "first", "metadata": {"a": "2"}}),
    ] {
        let body = transfer_body(alice_usd, bob_usd, 10, changed);
        let response = app
            .post_keyed("/transfers", &body, &alice.token, "key-1")
            .await;
        assert_error(response, 409, "idempotency_key_reused").await;
    }
    assert_eq!(app.balance(alice_usd).await, 9_990);
    app.assert_invariants().await;
}

#[actix_web::test]
async fn statement_lines_name_the_counterparty_and_the_description_and_the_payer_its_reference() {
    let Scene {
        app,
        alice,
        bob,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let extra = json!({"description": "Lunch", "reference": "L-1"});
    let body = transfer_body(alice_usd, bob_usd, 40, extra);
    let plain_id = transfer_id_of(app.post("/transfers", &body, Some(&alice.token)).await).await;
    let extra = json!({"description": "Held lunch", "reference": "L-2", "pending": true});
    let body = transfer_body(alice_usd, bob_usd, 60, extra);
    let pending_id = transfer_id_of(app.post("/transfers", &body, Some(&alice.token)).await).await;
    let posted = app
        .post(
            &format!("/transfers/{pending_id}/post"),
            &json!({}),
            Some(&bob.token),
        )
        .await;
    assert_eq!(posted.status().as_u16(), 200);

    let statement = |account: i64, user: &TestUser| {
        let path = format!("/accounts/{account}/entries");
        let token = user.token.clone();
        let app = &app;
        async move {
            let response = app.get(&path, Some(&token)).await;
            assert_eq!(response.status().as_u16(), 200);
            response.json::<Value>().await.expect("a statement")
        }
    };
    let payer = statement(alice_usd, &alice).await;
    // Newest first: the posting of the pending transfer, then the plain one, then the deposit.
    assert_eq!(payer[0]["transfer_id"], pending_id, "{payer}");
    assert_eq!(payer[0]["counterparty_account_id"], bob_usd);
    assert_eq!(payer[0]["description"], "Held lunch");
    assert_eq!(payer[0]["reference"], "L-2");
    assert_eq!(payer[0]["amount"], -60);
    assert_eq!(payer[1]["transfer_id"], plain_id);
    assert_eq!(payer[1]["counterparty_account_id"], bob_usd);
    assert_eq!(payer[1]["description"], "Lunch");
    assert_eq!(payer[1]["reference"], "L-1");
    assert!(payer[2].get("description").is_none(), "{payer}");

    let payee = statement(bob_usd, &bob).await;
    assert_eq!(payee.as_array().map(Vec::len), Some(2), "{payee}");
    for (line, description) in payee
        .as_array()
        .unwrap()
        .iter()
        .zip(["Held lunch", "Lunch"])
    {
        assert_eq!(line["counterparty_account_id"], alice_usd, "{line}");
        assert_eq!(line["description"], description, "{line}");
        assert!(
            line.get("reference").is_none(),
            "the payer's reference: {line}"
        );
    }
    assert_eq!(payee[0]["amount"], 60);
    assert_eq!(payee[0]["balance_after"], 100);
    app.assert_invariants().await;
}

/// Without a reference or a key a transfer still says what it says, and its batch is the
/// journal's one round trip (the row written by WRITE_TRANSFERS).
#[actix_web::test]
async fn a_description_and_metadata_without_reference_or_key_take_one_round_trip() {
    let Scene {
        app,
        alice,
        alice_usd,
        bob_usd,
        ..
    } = scene().await;
    let (batches_before, trips_before) = app.journal_counts().await;
    let extra = json!({"description": "Coffee", "metadata": {"cup": "large"}});
    let body = transfer_body(alice_usd, bob_usd, 250, extra);
    let response = app.post("/transfers", &body, Some(&alice.token)).await;
    assert_eq!(response.status().as_u16(), 201);
    let result: Value = response.json().await.expect("a result");
    assert_eq!(result["transfer"]["description"], "Coffee");
    assert_eq!(result["transfer"]["metadata"], json!({"cup": "large"}));
    let batch = json!({"transfers": [
        transfer_body(alice_usd, bob_usd, 5, json!({"description": "Tip"})),
        transfer_body(alice_usd, bob_usd, 7, json!({"metadata": {"n": "2"}})),
    ]});
    let response = app
        .post("/transfers/batch", &batch, Some(&alice.token))
        .await;
    assert_eq!(response.status().as_u16(), 200, "a batch result");
    let (batches, trips) = app.journal_counts().await;
    assert_eq!(
        (batches - batches_before, trips - trips_before),
        (2.0, 2.0),
        "a transfer and a batch, one round trip each"
    );
    let rows = app
        .db()
        .await
        .query(
            "SELECT amount, description, metadata->>'cup', metadata->>'n', reference
             FROM transfers WHERE from_account_id = $1 AND to_account_id = $2 ORDER BY id",
            &[&alice_usd, &bob_usd],
        )
        .await
        .expect("the rows");
    type Said = (
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let said: Vec<Said> = rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(
        said,
        vec![
            (250, text("Coffee"), text("large"), None, None),
            (5, text("Tip"), None, None, None),
            (7, None, None, text("2"), None),
        ]
    );
    assert_eq!(app.balance(bob_usd).await, 262);
    app.assert_invariants().await;
}
