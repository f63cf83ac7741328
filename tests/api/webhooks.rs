//! Webhooks: signed deliveries, in order, at least once, retried with backoff, and continued by
//! another process after a SIGKILL (the cursor and the lease live in PostgreSQL).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tally_test_support::fresh_database;

use crate::helpers::{assert_error, spawn_app};
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

async fn wait_for(received: &Arc<Mutex<Received>>, accepted: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while received.lock().unwrap().accepted.len() < accepted {
        assert!(
            Instant::now() < deadline,
            "fewer than {accepted} deliveries accepted"
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
    wait_for(&received, 2, Duration::from_secs(30)).await;
    first.kill();

    let second = Process::tally(&database, free_port()).await;
    funded_account(&client, &second.address, &db, "hook_c", &banker, 300).await;
    wait_for(&received, 6, Duration::from_secs(40)).await;

    // Exactly what the stream holds after the webhook's start, in order (at least once: a
    // repeat of the event just before is allowed, never a gap or a step back).
    let page: Value = client
        .get(format!("{}/events?after={start_after}", second.address))
        .bearer_auth(&banker)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected: Vec<Value> = page["events"].as_array().unwrap().clone();
    assert_eq!(expected.len(), 6);
    let accepted = received.lock().unwrap().accepted.clone();
    let mut delivered: Vec<Value> = Vec::new();
    for (signature, event_id, body) in &accepted {
        let (time, _) = signature.split_once(',').unwrap();
        let unix: i64 = time.strip_prefix("t=").unwrap().parse().unwrap();
        assert_eq!(*signature, tally::webhooks::signature(&secret, unix, body));
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["id"].to_string(), *event_id);
        if delivered
            .last()
            .is_some_and(|last| last["id"] == event["id"])
        {
            continue;
        }
        delivered.push(event);
    }
    assert_eq!(delivered, expected);
    assert!(received.lock().unwrap().attempts >= 9);

    let response = client
        .get(format!("{}/webhooks/{}", second.address, created["id"]))
        .bearer_auth(&banker)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let shown: Value = response.json().await.unwrap();
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
