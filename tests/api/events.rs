//! The change stream (design.md "Events"): every committed change once, in commit order, with
//! gap-free ids, from any replica; the API's privacy rules; long polling and Server-Sent Events.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_replica, TestApp, TestUser};

/// Reads `/events` as `user` from `after` until `done` holds of everything read, or 30 s pass.
pub(crate) async fn read_until(
    app: &TestApp,
    user: &TestUser,
    mut after: i64,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    while !done(&events) {
        assert!(Instant::now() < deadline, "events still missing after 30 s");
        let path = format!("/events?after={after}&limit=1000&wait=2");
        let response = app.get(&path, Some(&user.token)).await;
        assert_eq!(response.status().as_u16(), 200);
        let page: Value = response.json().await.expect("an events page");
        let read = page["events"].as_array().expect("events").clone();
        let last_id = page["last_id"].as_i64().expect("last_id");
        assert!(last_id >= after, "the cursor never goes back");
        after = last_id;
        events.extend(read);
    }
    events
}

fn transfer_events(events: &[Value], kind: &str) -> Vec<i64> {
    events
        .iter()
        .filter(|event| event["type"] == kind)
        .map(|event| event["data"]["id"].as_i64().expect("a transfer id"))
        .collect()
}

const CLIENTS: usize = 16;
const TRANSFERS_PER_CLIENT: usize = 25;

#[actix_web::test]
async fn a_consumer_sees_every_committed_transfer_once_in_commit_order_across_two_replicas() {
    let first = spawn_app().await;
    let second = spawn_replica(&first).await;
    let banker = first.create_banker().await;
    let mut accounts = Vec::new();
    for _ in 0..CLIENTS {
        let user = first.create_depositor().await;
        let account = first.funded_account(&user, &banker, "USD", 5_000).await;
        accounts.push((user, account));
    }
    // A consumer follows the stream on the second replica while both replicas write.
    let expected = CLIENTS * TRANSFERS_PER_CLIENT + CLIENTS;
    let consumer = read_until(&second, &banker, 0, |events| {
        transfer_events(events, "transfer.posted").len() >= expected
    });
    let senders = (0..CLIENTS).map(|client| {
        let app = if client % 2 == 0 { &first } else { &second };
        let accounts = &accounts;
        async move {
            let (user, from) = &accounts[client];
            for round in 0..TRANSFERS_PER_CLIENT {
                let to = accounts[(client + 1 + round % (CLIENTS - 1)) % CLIENTS].1;
                let response = app.transfer(user, *from, to, 1 + round as i64, "USD").await;
                assert_eq!(response.status().as_u16(), 201);
            }
        }
    });
    let (live, _) = futures_util::join!(consumer, join_all(senders));

    // Ids are 1, 2, 3, … with no gap and no repeat.
    let ids: Vec<i64> = live
        .iter()
        .map(|event| event["id"].as_i64().unwrap())
        .collect();
    let expected_ids: Vec<i64> = (1..=ids.len() as i64).collect();
    assert_eq!(ids, expected_ids);
    // Every committed transfer exactly once (the deposits included), and nothing else posted.
    let posted = transfer_events(&live, "transfer.posted");
    let unique: HashSet<i64> = posted.iter().copied().collect();
    assert_eq!(unique.len(), posted.len(), "a transfer seen twice");
    let committed: HashSet<i64> = first
        .db()
        .await
        .query("SELECT id FROM transfers", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(unique, committed);
    // In commit order per account: each balance follows from the one before it.
    let mut balances: HashMap<i64, i64> = HashMap::new();
    for event in live
        .iter()
        .filter(|event| event["type"] == "transfer.posted")
    {
        let data = &event["data"];
        let amount = data["amount"].as_i64().unwrap();
        for (side, sign) in [("from", -1), ("to", 1)] {
            let account = data[format!("{side}_account_id")].as_i64().unwrap();
            let after = data[format!("{side}_balance_after")].as_i64().unwrap();
            if let Some(before) = balances.insert(account, after) {
                assert_eq!(
                    after,
                    before + sign * amount,
                    "account {account} out of order"
                );
            }
        }
    }
    for (_, account) in &accounts {
        assert_eq!(balances[account], first.balance(*account).await);
    }
    // Read again once everything is quiet: the same ids name the same changes.
    let again = read_until(&first, &banker, 0, |events| events.len() >= live.len()).await;
    assert_eq!(again[..live.len()], live[..]);
    first.assert_invariants().await;
}

#[actix_web::test]
async fn a_depositor_sees_only_events_of_their_accounts_and_only_their_balances() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let (alice, bob, carol) = (
        app.create_depositor().await,
        app.create_depositor().await,
        app.create_depositor().await,
    );
    let alice_account = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let bob_account = app.funded_account(&bob, &banker, "USD", 1_000).await;
    let carol_account = app.funded_account(&carol, &banker, "USD", 1_000).await;
    for (user, from, to, amount) in [
        (&alice, alice_account, bob_account, 100),
        (&carol, carol_account, bob_account, 200),
        (&bob, bob_account, carol_account, 300),
        (&bob, bob_account, alice_account, 50),
    ] {
        assert_eq!(
            app.transfer(user, from, to, amount, "USD")
                .await
                .status()
                .as_u16(),
            201
        );
    }
    // Alice: her account opened, her deposit, her payment to Bob and Bob's to her.
    let events = read_until(&app, &alice, 0, |events| events.len() >= 4).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "account.opened",
            "transfer.posted",
            "transfer.posted",
            "transfer.posted"
        ]
    );
    assert_eq!(events[0]["data"]["id"], alice_account);
    for event in &events[1..] {
        let data = &event["data"];
        let (from, to) = (
            data["from_account_id"].as_i64().unwrap(),
            data["to_account_id"].as_i64().unwrap(),
        );
        assert!(from == alice_account || to == alice_account, "{event}");
        // Only Alice's own balance is shown.
        assert_eq!(
            data.get("from_balance_after").is_some(),
            from == alice_account,
            "{event}"
        );
        assert_eq!(
            data.get("to_balance_after").is_some(),
            to == alice_account,
            "{event}"
        );
    }
    assert_eq!(events[2]["data"]["from_balance_after"], 900);
    assert_eq!(events[3]["data"]["to_balance_after"], 950);
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains(&carol.username) && !text.contains(&bob.username),
        "{text}"
    );
    // Nothing more for her, even though the stream goes on (Bob paid Carol).
    let page: Value = app
        .get(
            &format!("/events?after={}", events[3]["id"]),
            Some(&alice.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"], json!([]));
    // A banker sees every change: 6 accounts opened by the schema's reserves + 3, 3 deposits,
    // 4 transfers.
    let all = read_until(&app, &banker, 0, |events| events.len() >= 16).await;
    assert_eq!(all.len(), 16);
    assert!(all
        .iter()
        .all(|event| event["type"] != "transfer.posted"
            || event["data"]["from_balance_after"].is_i64()));
}

#[actix_web::test]
async fn holds_appear_as_pending_then_posted_voided_with_what_they_held() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let (payer, payee) = (app.create_depositor().await, app.create_depositor().await);
    let from = app.funded_account(&payer, &banker, "USD", 1_000).await;
    let to = app.open_account(&payee, "USD").await;
    let hold = |amount: i64| {
        let body = json!({"from_account_id": from, "to_account_id": to, "amount": amount,
                          "currency": "USD", "pending": true});
        let (app, payer) = (&app, &payer);
        async move {
            let response = app.post("/transfers", &body, Some(&payer.token)).await;
            assert_eq!(response.status().as_u16(), 201);
            let body: Value = response.json().await.unwrap();
            body["transfer"]["id"].as_i64().unwrap()
        }
    };
    let posted = hold(300).await;
    let voided = hold(200).await;
    let path = format!("/transfers/{posted}/post");
    let response = app
        .post(&path, &json!({"amount": 120}), Some(&payee.token))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let path = format!("/transfers/{voided}/void");
    let response = app.post_raw(&path, Vec::new(), Some(&payee.token)).await;
    assert_eq!(response.status().as_u16(), 200);

    let events = read_until(&app, &payer, 0, |events| events.len() >= 6).await;
    let summary: Vec<(&str, i64, i64)> = events
        .iter()
        .map(|event| {
            let data = &event["data"];
            (
                event["type"].as_str().unwrap(),
                data["id"].as_i64().unwrap(),
                data["amount"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        summary[2..],
        [
            ("transfer.pending", posted, 300),
            ("transfer.pending", voided, 200),
            ("transfer.posted", posted, 120),
            ("transfer.voided", voided, 200),
        ]
    );
    assert_eq!(events[2]["data"]["status"], "pending");
    assert_eq!(events[4]["data"]["from_balance_after"], 880);
    assert!(events[4]["data"].get("to_balance_after").is_none());
}

#[actix_web::test]
async fn a_long_poll_waits_for_the_next_event_and_bad_parameters_are_refused() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let (alice, bob) = (app.create_depositor().await, app.create_depositor().await);
    let alice_account = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let bob_account = app.open_account(&bob, "USD").await;
    let seen = read_until(&app, &bob, 0, |events| !events.is_empty()).await;
    let after = seen[0]["id"].as_i64().unwrap();

    let poll_path = format!("/events?after={after}&wait=20");
    let poll = app.get(&poll_path, Some(&bob.token));
    let pay = async {
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        app.transfer(&alice, alice_account, bob_account, 42, "USD")
            .await
    };
    let started = Instant::now();
    let (poll, paid) = futures_util::join!(poll, pay);
    assert_eq!(paid.status().as_u16(), 201);
    let page: Value = poll.json().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered on the event, not the timeout"
    );
    assert_eq!(page["events"][0]["type"], "transfer.posted");
    assert_eq!(page["events"][0]["data"]["to_balance_after"], 42);

    for query in [
        "wait=31",
        "limit=0",
        "limit=1001",
        "after=-1",
        "after=x",
        "other=1",
    ] {
        let response = app.get(&format!("/events?{query}"), Some(&bob.token)).await;
        assert_error(response, 400, "validation_failed").await;
    }
    let response = app.get("/events", None).await;
    assert_eq!(response.status().as_u16(), 401);
}

/// Reads Server-Sent Events frames until one carries an event, or 10 s pass.
pub(crate) async fn next_event(response: &mut reqwest::Response, buffer: &mut String) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(data) = frame.lines().find_map(|line| line.strip_prefix("data: ")) {
                let event: Value = serde_json::from_str(data).expect("an event as JSON");
                let id = frame
                    .lines()
                    .find_map(|line| line.strip_prefix("id: "))
                    .unwrap();
                assert_eq!(id, event["id"].to_string());
                return event;
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let chunk = actix_web::rt::time::timeout(remaining, response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .expect("the stream goes on");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[actix_web::test]
async fn the_stream_pushes_new_events_and_resumes_after_last_event_id() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let (alice, bob) = (app.create_depositor().await, app.create_depositor().await);
    let alice_account = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let bob_account = app.open_account(&bob, "USD").await;

    let open = |last_event_id: Option<i64>| {
        let mut request = app
            .client
            .get(format!("{}/events/stream", app.address))
            .bearer_auth(&bob.token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        request.send()
    };
    let mut stream = open(None).await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let opened = next_event(&mut stream, &mut buffer).await;
    assert_eq!(opened["type"], "account.opened");
    assert_eq!(opened["data"]["id"], bob_account);

    let paid = app
        .transfer(&alice, alice_account, bob_account, 7, "USD")
        .await;
    assert_eq!(paid.status().as_u16(), 201);
    let pushed = next_event(&mut stream, &mut buffer).await;
    assert_eq!(pushed["type"], "transfer.posted");
    assert_eq!(pushed["data"]["to_balance_after"], 7);
    drop(stream);

    // Resumed after the payment: the next event is the one after it.
    app.transfer(&alice, alice_account, bob_account, 8, "USD")
        .await;
    let mut resumed = open(Some(pushed["id"].as_i64().unwrap())).await.unwrap();
    let mut buffer = String::new();
    let next = next_event(&mut resumed, &mut buffer).await;
    assert_eq!(next["data"]["amount"], 8);
    assert!(next["id"].as_i64() > pushed["id"].as_i64());

    let refused = app
        .client
        .get(format!("{}/events/stream", app.address))
        .bearer_auth(&bob.token)
        .header("Last-Event-ID", "soon")
        .send()
        .await
        .unwrap();
    assert_error(refused, 400, "validation_failed").await;
}

#[actix_web::test]
async fn an_event_gets_its_id_only_once_every_change_before_it_has_ended() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let account = app.funded_account(&alice, &banker, "USD", 1_000).await;
    // The schema's 6 reserves, Alice's account, her deposit.
    let before = read_until(&app, &banker, 0, |events| events.len() >= 8).await;
    let head = before.last().unwrap()["id"].as_i64().unwrap();

    // A transaction draws a position (an account opened) and stays open...
    let mut blocker = app.db().await;
    let open = blocker.transaction().await.unwrap();
    open.execute(
        "INSERT INTO accounts (owner, currency) VALUES ($1, 'EUR')",
        &[&alice.username],
    )
    .await
    .unwrap();
    // ...while a deposit with a later position commits.
    assert_eq!(
        app.deposit(&banker, account, 5).await.status().as_u16(),
        201
    );
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let page: Value = app
        .get(&format!("/events?after={head}"), Some(&banker.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["events"],
        json!([]),
        "published past an open transaction"
    );

    // Once it commits, both are numbered, in position order.
    open.commit().await.unwrap();
    let after = read_until(&app, &banker, head, |events| events.len() >= 2).await;
    let kinds: Vec<&str> = after
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["account.opened", "transfer.posted"]);
    assert_eq!(after[0]["id"].as_i64().unwrap(), head + 1);
    assert_eq!(after[1]["id"].as_i64().unwrap(), head + 2);
}

#[actix_web::test]
async fn a_hold_that_expires_is_a_transfer_expired_event() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let (payer, payee) = (app.create_depositor().await, app.create_depositor().await);
    let from = app.funded_account(&payer, &banker, "USD", 1_000).await;
    let to = app.open_account(&payee, "USD").await;
    let body = json!({"from_account_id": from, "to_account_id": to, "amount": 250,
                      "currency": "USD", "pending": true, "timeout_seconds": 1});
    let response = app.post("/transfers", &body, Some(&payer.token)).await;
    assert_eq!(response.status().as_u16(), 201);
    let events = read_until(&app, &payee, 0, |events| events.len() >= 3).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["account.opened", "transfer.pending", "transfer.expired"]
    );
    assert_eq!(events[2]["data"]["amount"], 250);
    assert_eq!(events[2]["data"]["status"], "expired");
    assert_eq!(events[1]["data"]["id"], events[2]["data"]["id"]);
}
