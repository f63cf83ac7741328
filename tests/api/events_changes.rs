//! The change stream's account status and refund events (design.md "Events"): a freeze, an
//! unfreeze, a close and a refund each yield their event, in order, with the account or the
//! reversing transfer as it was; account events only to the owner and bankers, a refund to both
//! parties with only their own balances; a stranger sees none of them.

use serde_json::{json, Value};

use crate::events::{next_event, read_until};
use crate::helpers::{Scene, TestApp, TestUser};

/// The id of the event that opened `account` (numbering trails commits by a tick or two).
async fn opened_event(app: &TestApp, banker: &TestUser, account: i64) -> i64 {
    let opened =
        |event: &Value| event["type"] == "account.opened" && event["data"]["id"] == account;
    let events = read_until(app, banker, 0, |events| events.iter().any(opened)).await;
    let event = events.iter().find(|event| opened(event)).expect("seen");
    event["id"].as_i64().expect("an id")
}

async fn act(app: &TestApp, account: i64, action: &str, user: &TestUser) {
    let response = app
        .post_raw(
            &format!("/accounts/{account}/{action}"),
            Vec::new(),
            Some(&user.token),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200, "{action} of {account}");
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().expect("a type"))
        .collect()
}

fn has_closed(events: &[Value]) -> bool {
    events.iter().any(|event| event["type"] == "account.closed")
}

/// Alice pays Bob 100, Bob refunds 40, a banker gives Alice an overdraft of 500 and freezes and unfreezes Alice's account, Alice
/// closes an empty second account. Answers (start, payment id, refund id, empty account).
async fn changes(scene: &Scene) -> (i64, i64, i64, i64) {
    let Scene {
        app,
        alice,
        bob,
        banker,
        alice_usd,
        bob_usd,
    } = scene;
    let empty = app.open_account(alice, "EUR").await;
    // Every event after it is the test's own.
    let start = opened_event(app, banker, empty).await;
    let paid = app.transfer(alice, *alice_usd, *bob_usd, 100, "USD").await;
    assert_eq!(paid.status().as_u16(), 201);
    let paid: Value = paid.json().await.expect("a result");
    let payment = paid["transfer"]["id"].as_i64().expect("an id");
    let body = json!({"amount": 40, "description": "Broken cup"});
    let refunded = app
        .post_keyed(
            &format!("/transfers/{payment}/reverse"),
            &body,
            &bob.token,
            "r1",
        )
        .await;
    assert_eq!(refunded.status().as_u16(), 201);
    let refunded: Value = refunded.json().await.expect("a result");
    let refund = refunded["transfer"]["id"].as_i64().expect("an id");
    // A limit is no event of its own; the status changes after it carry it.
    let limited = app
        .request(
            reqwest::Method::PUT,
            &format!("/accounts/{alice_usd}/limits"),
            Some(&json!({"overdraft": 500})),
            Some(&banker.token),
        )
        .await;
    assert_eq!(limited.status().as_u16(), 200);
    act(app, *alice_usd, "freeze", banker).await;
    act(app, *alice_usd, "unfreeze", banker).await;
    act(app, empty, "close", alice).await;
    (start, payment, refund, empty)
}

#[actix_web::test]
async fn freeze_unfreeze_close_and_a_refund_each_yield_their_event_in_order() {
    let scene = Scene::funded(1_000).await;
    let (start, payment, refund, empty) = changes(&scene).await;
    let Scene {
        app,
        banker,
        alice_usd,
        bob_usd,
        ..
    } = &scene;
    let events = read_until(app, banker, start, has_closed).await;
    assert_eq!(
        types(&events),
        [
            "transfer.posted",
            "transfer.reversed",
            "account.frozen",
            "account.unfrozen",
            "account.closed"
        ]
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (start + 1..=start + 5).collect::<Vec<_>>());

    // The refund: the reversing transfer, posted, in place of a transfer.posted of its own.
    assert_eq!(events[0]["data"]["id"], payment);
    let reversed = &events[1]["data"];
    assert_eq!(reversed["id"], refund);
    assert_eq!(reversed["reversal_of"], payment);
    assert_eq!(
        (&reversed["from_account_id"], &reversed["to_account_id"]),
        (&json!(bob_usd), &json!(alice_usd))
    );
    assert_eq!(reversed["amount"], 40);
    assert_eq!(reversed["status"], "posted");
    assert_eq!(reversed["description"], "Broken cup");
    assert_eq!(reversed["from_balance_after"], 60);
    assert_eq!(reversed["to_balance_after"], 940);

    // Each status change with the account as it stood then.
    for (event, id, status, balance, overdraft) in [
        (&events[2], *alice_usd, "frozen", 940, 500),
        (&events[3], *alice_usd, "active", 940, 500),
        (&events[4], empty, "closed", 0, 0),
    ] {
        let account = &event["data"];
        assert_eq!(account["id"], id);
        assert_eq!(account["status"], status);
        assert_eq!(account["balance"], balance);
        assert_eq!(account["overdraft"], overdraft);
        assert_eq!(account["available"], balance + overdraft);
    }
    // The log holds one row per change, in the order they committed.
    let logged: Vec<(i64, String)> = app
        .db()
        .await
        .query(
            "SELECT account_id, status FROM account_status_changes ORDER BY position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        logged,
        [
            (*alice_usd, "frozen".to_owned()),
            (*alice_usd, "active".to_owned()),
            (empty, "closed".to_owned())
        ]
    );
    app.assert_invariants().await;
}

#[actix_web::test]
async fn account_events_reach_their_owner_a_refund_both_parties_and_a_stranger_nothing() {
    let scene = Scene::funded(1_000).await;
    let stranger = scene.app.create_depositor().await;
    let Scene {
        app, alice, bob, ..
    } = &scene;
    // Alice follows her stream while the changes happen.
    let mut stream = app
        .client
        .get(format!("{}/events/stream", app.address))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let (start, _, refund, _) = changes(&scene).await;

    let mut buffer = String::new();
    let mut pushed = Vec::new();
    while !has_closed(&pushed) {
        let event = next_event(&mut stream, &mut buffer).await;
        // What came before `start` (her accounts' openings, her deposit) is not the test's.
        if event["id"].as_i64() > Some(start) {
            pushed.push(event);
        }
    }
    assert_eq!(
        types(&pushed),
        [
            "transfer.posted",
            "transfer.reversed",
            "account.frozen",
            "account.unfrozen",
            "account.closed"
        ]
    );
    // Alice is the refund's payee: her balance, not Bob's.
    assert_eq!(pushed[1]["data"]["to_balance_after"], 940);
    assert!(pushed[1]["data"].get("from_balance_after").is_none());

    // Bob sees the payment and his refund, with only his own balance; none of Alice's
    // account events.
    let seen = read_until(app, bob, start, |events| {
        events.iter().any(|event| event["data"]["id"] == refund)
    })
    .await;
    assert_eq!(types(&seen), ["transfer.posted", "transfer.reversed"]);
    assert_eq!(seen[1]["data"]["from_balance_after"], 60);
    assert!(seen[1]["data"].get("to_balance_after").is_none());
    let later = app
        .get(
            &format!("/events?after={}&limit=1000", seen[1]["id"]),
            Some(&bob.token),
        )
        .await;
    let later: Value = later.json().await.expect("an events page");
    assert_eq!(later["events"], json!([]));
    assert!(later["last_id"].as_i64() >= Some(start + 5));

    // A stranger reads past all of it and sees nothing.
    let response = app
        .get(
            &format!("/events?after={start}&limit=1000"),
            Some(&stranger.token),
        )
        .await;
    let page: Value = response.json().await.expect("an events page");
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["last_id"], start + 5);
}
