//! Webhooks: signed deliveries, in order, at least once, retried with backoff, and continued by
//! another process after a SIGKILL (the cursor and the lease live in PostgreSQL).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tally_test_support::{fresh_database, wait_until_every_change_is_numbered};

use crate::helpers::{assert_error, spawn_app, Scene, TestApp, TestUser};
use crate::process::{free_port, funded_account, post, user, Process};

/// What the receiver got: (signature header, event id header, body), accepted ones only.
#[derive(Default)]
struct Received {
    attempts: usize,
    accepted: Vec<(String, String, Vec<u8>)>,
}

/// A local receiver that answers 500 to its first `failures` deliveries, then 200.
fn receiver(failures: usize) -> (String, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let state = web::Data::new(received.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(state.clone()).route(
            "/hook",
            web::post().to(
                move |request: HttpRequest,
                      body: web::Bytes,
                      state: web::Data<Arc<Mutex<Received>>>| async move {
                    let mut received = state.lock().unwrap();
                    received.attempts += 1;
                    if received.attempts <= failures {
                        return HttpResponse::InternalServerError().finish();
                    }
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .unwrap()
                            .to_str()
                            .unwrap()
                            .to_owned()
                    };
                    let accepted = (
                        header("Tally-Signature"),
                        header("Tally-Event-Id"),
                        body.to_vec(),
                    );
                    received.accepted.push(accepted);
                    HttpResponse::Ok().finish()
                },
            ),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/hook"), received)
}

/// Waits (at most `within`) until what the receiver got has `missing` at 0: how many wanted
/// deliveries it still lacks.
async fn wait_for(
    received: &Arc<Mutex<Received>>,
    within: Duration,
    missing: impl Fn(&Received) -> usize,
) {
    let deadline = Instant::now() + within;
    loop {
        let missing = missing(&received.lock().unwrap());
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} wanted deliveries never accepted"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many of `accepted` deliveries the receiver still lacks (re-sends count).
fn deliveries_short_of(accepted: usize) -> impl Fn(&Received) -> usize {
    move |received| accepted.saturating_sub(received.accepted.len())
}

/// How many of the events `ids` were never accepted: re-sends by a restarted replica do not
/// stand in for them.
fn never_accepted(ids: &[String]) -> impl Fn(&Received) -> usize + '_ {
    move |received| {
        let accepted: HashSet<&String> = received.accepted.iter().map(|(_, id, _)| id).collect();
        ids.iter().filter(|id| !accepted.contains(id)).count()
    }
}

/// The first `count` events after `after`, once the stream holds that many (within 30 s).
async fn events_after(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    after: i64,
    count: usize,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page: Value = client
            .get(format!("{address}/events?after={after}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= count, "more events than made: {page}");
        if events.len() == count {
            return events.clone();
        }
        assert!(
            Instant::now() < deadline,
            "only {} events after {after}",
            events.len()
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn every_event_arrives_signed_and_in_order_despite_failures_and_a_sigkill() {
    let database = fresh_database().await;
    let db = database.connect().await;
    let client = crate::helpers::http_client();
    let mut first = Process::tally(&database, free_port()).await;
    let banker = user(&client, &first.address, &db, "hook_banker", true).await;
    // The webhook starts after the newest event: what committed before it must be numbered.
    wait_until_every_change_is_numbered(&db, Duration::from_secs(30)).await;
    let (url, received) = receiver(3);
    let (status, created) = post(
        &client,
        format!("{}/webhooks", first.address),
        json!({ "url": url }),
        Some(&banker),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let start_after = created["delivered_id"].as_i64().unwrap();

    // Two accounts opened and funded: four events. Three failures (1 s, 2 s, 4 s of backoff).
    funded_account(&client, &first.address, &db, "hook_a", &banker, 100).await;
    funded_account(&client, &first.address, &db, "hook_b", &banker, 200).await;
    wait_for(&received, Duration::from_secs(30), deliveries_short_of(2)).await;
    first.kill();

    let second = Process::tally(&database, free_port()).await;
    funded_account(&client, &second.address, &db, "hook_c", &banker, 300).await;

    // Exactly what the stream holds after the webhook's start, in order, at least once: the
    // replica started after the kill re-sends from the cursor stored last (it may trail the
    // deliveries by CURSOR_STORE_EVENTS_MAX events or CURSOR_STORE_INTERVAL), so the deliveries
    // may step back once, to resend in order what followed it; never a gap.
    let expected = events_after(&client, &second.address, &banker, start_after, 6).await;
    let ids: Vec<String> = expected
        .iter()
        .map(|event| event["id"].to_string())
        .collect();
    wait_for(&received, Duration::from_secs(40), never_accepted(&ids)).await;
    let accepted = received.lock().unwrap().accepted.clone();
    // The position in `expected` of the event delivered last, and how often a delivery went back.
    let mut last: Option<usize> = None;
    let mut steps_back = 0;
    for (signature, event_id, body) in &accepted {
        let (time, _) = signature.split_once(',').unwrap();
        let unix: i64 = time.strip_prefix("t=").unwrap().parse().unwrap();
        assert_eq!(*signature, tally::webhooks::signature(&secret, unix, body));
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["id"].to_string(), *event_id);
        let position = expected
            .iter()
            .position(|wanted| *wanted == event)
            .unwrap_or_else(|| panic!("delivered {event}, not in the stream"));
        let next = last.map_or(0, |at| at + 1);
        assert!(position <= next, "a gap: {event} after position {last:?}");
        if position < next {
            steps_back += 1;
        }
        last = Some(position);
    }
    assert_eq!(last, Some(expected.len() - 1), "every event delivered");
    assert!(
        steps_back <= 1,
        "re-sent only after the restart: {steps_back} steps back"
    );
    assert!(received.lock().unwrap().attempts >= 9);

    // The stored cursor trails the receiver by up to one run of deliveries (api.md): it is
    // written after the last delivery's answer, so it reaches the newest event a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let response = client
            .get(format!("{}/webhooks/{}", second.address, created["id"]))
            .bearer_auth(&banker)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let shown: Value = response.json().await.unwrap();
        if shown["delivered_id"] == expected[5]["id"] || Instant::now() >= deadline {
            break shown;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["delivered_id"], expected[5]["id"]);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["failures"], 0);
    assert!(shown.get("secret").is_none());
}

#[actix_web::test]
async fn only_bankers_manage_webhooks_and_bad_targets_are_refused() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let depositor = app.create_depositor().await;
    let body = json!({"url": "http://127.0.0.1:9/hook", "types": ["transfer.posted"]});
    let response = app.post("/webhooks", &body, Some(&depositor.token)).await;
    assert_error(response, 403, "forbidden").await;
    for bad in [
        json!({"url": "ftp://example.com/"}),
        json!({"url": "not a url"}),
        // PostgreSQL's text holds no NUL: refused up front, not a failed insert (500).
        json!({"url": "http://example.com/\u{0}"}),
        json!({"url": "http://example.com/a\u{7}b"}),
        json!({"url": "http://example.com/", "types": []}),
        json!({"url": "http://example.com/", "types": ["transfer.lost"]}),
        json!({"url": "http://example.com/", "extra": 1}),
    ] {
        let response = app.post("/webhooks", &bad, Some(&banker.token)).await;
        assert_error(response, 400, "validation_failed").await;
    }
    assert_eq!(app.count("webhooks").await, 0);

    let response = app.post("/webhooks", &body, Some(&banker.token)).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    assert!(created["secret"].as_str().unwrap().len() > 32);
    let listed: Value = app
        .get("/webhooks", Some(&banker.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(listed[0].get("secret").is_none());
    let path = format!("/webhooks/{}", created["id"]);
    let response = app.get(&path, Some(&depositor.token)).await;
    assert_error(response, 403, "forbidden").await;
    let deleted = app
        .request(reqwest::Method::DELETE, &path, None, Some(&banker.token))
        .await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_error(app.get(&path, Some(&banker.token)).await, 404, "not_found").await;
}

#[actix_web::test]
async fn a_webhook_gets_only_its_types_and_its_cursor_passes_the_rest_in_few_writes() {
    let Scene {
        app,
        alice,
        bob,
        banker,
        alice_usd,
        bob_usd,
    } = Scene::funded(10_000).await;
    let start: Value = app
        .get("/events?after=9007199254740991", Some(&banker.token))
        .await
        .json()
        .await
        .unwrap();

    // A backlog: 150 payments the webhook skips, a refund, a freeze and an unfreeze it gets.
    const PAYMENTS: usize = 150;
    let mut payment = 0;
    for _ in 0..PAYMENTS {
        let paid = app.transfer(&alice, alice_usd, bob_usd, 1, "USD").await;
        assert_eq!(paid.status().as_u16(), 201);
        let paid: Value = paid.json().await.unwrap();
        payment = paid["transfer"]["id"].as_i64().unwrap();
    }
    let path = format!("/transfers/{payment}/reverse");
    let refunded = app.post_keyed(&path, &json!({}), &bob.token, "w1").await;
    assert_eq!(refunded.status().as_u16(), 201);
    for action in ["freeze", "unfreeze"] {
        let path = format!("/accounts/{alice_usd}/{action}");
        let response = app.post_raw(&path, Vec::new(), Some(&banker.token)).await;
        assert_eq!(response.status().as_u16(), 200);
    }
    let newest = newest_event(&app, &banker).await;

    // The webhook starts before the backlog.
    let (url, received) = receiver(0);
    let types = json!(["transfer.reversed", "account.frozen", "account.unfrozen"]);
    let body = json!({"url": url, "types": types});
    let response = app.post("/webhooks", &body, Some(&banker.token)).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    let updates_before = webhook_row_updates(&app).await;
    app.db()
        .await
        .execute(
            "UPDATE webhooks SET delivered_id = $1 WHERE id = $2",
            &[
                &start["last_id"].as_i64().unwrap(),
                &created["id"].as_i64().unwrap(),
            ],
        )
        .await
        .unwrap();

    wait_for(&received, Duration::from_secs(30), deliveries_short_of(3)).await;
    let kinds: Vec<Value> = received.lock().unwrap().accepted[..3]
        .iter()
        .map(|(_, _, body)| serde_json::from_slice::<Value>(body).unwrap()["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        [types[0].clone(), types[1].clone(), types[2].clone()]
    );
    // The cursor reaches the newest event, past every skipped one...
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = format!("/webhooks/{}", created["id"]);
        let shown: Value = app
            .get(&path, Some(&banker.token))
            .await
            .json()
            .await
            .unwrap();
        if shown["delivered_id"] == newest {
            break;
        }
        assert!(Instant::now() < deadline, "the cursor stopped at {shown}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // ...stored once per run of events, not once per event: a run leases, stores every 100
    // events (or 500 ms) and at its end, and gives the lease back.
    let updates = webhook_row_updates(&app).await - updates_before;
    assert!(
        updates <= 20,
        "{updates} writes of the webhook row for {PAYMENTS} events"
    );
    assert_eq!(received.lock().unwrap().accepted.len(), 3);
}

/// The newest event's id, once it is the unfreeze that ends the backlog.
async fn newest_event(app: &TestApp, banker: &TestUser) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page: Value = app
            .get("/events?after=9007199254740991", Some(&banker.token))
            .await
            .json()
            .await
            .unwrap();
        let newest = page["last_id"].as_i64().unwrap();
        let path = format!("/events?after={}&limit=1", newest - 1);
        let last: Value = app
            .get(&path, Some(&banker.token))
            .await
            .json()
            .await
            .unwrap();
        if last["events"][0]["type"] == "account.unfrozen" {
            return newest;
        }
        assert!(Instant::now() < deadline, "the backlog is not numbered");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Row updates of the webhooks table so far (the statistics collector's count).
async fn webhook_row_updates(app: &TestApp) -> i64 {
    let db = app.db().await;
    db.execute("SELECT pg_stat_force_next_flush()", &[])
        .await
        .unwrap();
    db.query_one(
        "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'webhooks'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}
