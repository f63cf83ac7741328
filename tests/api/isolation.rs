//! One user's requests never fail or stall another's (issue 20): bodies that are not objects,
//! reads from PostgreSQL, batches' payer checks, login lock-outs, hold floods, slow bodies.

use serde_json::{json, Value};

use crate::helpers::{
    assert_error, spawn_app, spawn_app_with, spawn_replica, unique_username, TestApp, TestUser,
};

/// Rows the refused requests could have written.
async fn footprint(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "users",
        "sessions",
        "accounts",
        "transfers",
        "idempotency_keys",
    ] {
        counts.push(app.count(table).await);
    }
    counts
}

#[actix_web::test]
async fn every_body_must_be_a_json_object() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let from = app.funded_account(&alice, &banker, "EUR", 1_000).await;
    let to = app.open_account(&bob, "EUR").await;
    let pending: Value = app
        .post(
            "/transfers",
            &json!({ "from_account_id": from, "to_account_id": to, "amount": 5,
                     "currency": "EUR", "pending": true, "timeout_seconds": 600 }),
            Some(&alice.token),
        )
        .await
        .json()
        .await
        .expect("a pending transfer");
    let pending_id = pending["transfer"]["id"].as_i64().expect("a transfer id");
    let before = footprint(&app).await;
    let routes = [
        ("/users".to_owned(), None),
        ("/users/login".to_owned(), None),
        ("/tokens/renew_access".to_owned(), None),
        ("/accounts".to_owned(), Some(&bob.token)),
        (format!("/accounts/{from}/deposits"), Some(&banker.token)),
        (format!("/accounts/{from}/withdrawals"), Some(&alice.token)),
        ("/transfers".to_owned(), Some(&alice.token)),
        ("/transfers/batch".to_owned(), Some(&alice.token)),
        (format!("/transfers/{pending_id}/post"), Some(&bob.token)),
    ];
    let sequences = [
        json!([7]),
        json!(["USD"]),
        json!([from, to, 7, "EUR"]),
        json!([[{ "from_account_id": from, "to_account_id": to, "amount": 7, "currency": "EUR" }]]),
        json!(7),
        json!("EUR"),
        json!(null),
    ];
    for (path, token) in &routes {
        for body in &sequences {
            // An optional body (a post's) takes JSON `null` as no body, as the document says.
            if body.is_null() && path.ends_with("/post") {
                continue;
            }
            let response = app.post(path, body, token.map(String::as_str)).await;
            let error = assert_error(response, 400, "invalid_json").await;
            assert!(error["error"]["index"].is_null(), "{path} {body}: {error}");
        }
    }
    // Inside a batch, every item is an object too.
    let batch = json!({ "transfers": [
        { "from_account_id": from, "to_account_id": to, "amount": 1, "currency": "EUR" },
        [from, to, 7, "EUR"],
    ] });
    let response = app
        .post("/transfers/batch", &batch, Some(&alice.token))
        .await;
    let error = assert_error(response, 400, "invalid_json").await;
    assert_eq!(error["error"]["index"], 1);

    assert_eq!(
        footprint(&app).await,
        before,
        "a refused body changes nothing"
    );
    assert_eq!(app.balance(from).await, 1_000, "only the hold of 5 is held");
    assert_eq!(app.balance(to).await, 0);
}

#[actix_web::test]
async fn numbers_too_big_for_i64_or_not_written_as_integers_are_validation_failures() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let account = app.open_account(&alice, "EUR").await;
    let path = format!("/accounts/{account}/deposits");
    for amount in [
        "1e400",
        "-1e400",
        "99999999999999999999",
        "9223372036854775808",
        // Integral, but not written as integers (api.md).
        "1250.0",
        "1.25e3",
    ] {
        let body = format!("{{\"amount\": {amount}}}").into_bytes();
        let response = app.post_raw(&path, body, Some(&banker.token)).await;
        assert_error(response, 400, "validation_failed").await;
    }
    let body = br#"{"from_account_id": 1e400, "to_account_id": 2, "amount": 1, "currency": "EUR"}"#;
    let response = app
        .post_raw("/transfers", body.to_vec(), Some(&alice.token))
        .await;
    assert_error(response, 400, "validation_failed").await;
    assert_eq!(app.balance(account).await, 0);
}

#[actix_web::test]
async fn an_account_read_through_one_replica_shows_a_transfer_through_another_at_once() {
    let first = spawn_app().await;
    let second = spawn_replica(&first).await;
    let banker = first.create_banker().await;
    let alice = first.create_depositor().await;
    let bob = first.create_depositor().await;
    let from = first.funded_account(&alice, &banker, "EUR", 1_000).await;
    let to = first.open_account(&bob, "EUR").await;
    let path = format!("/accounts/{from}");
    let read = first.get(&path, Some(&alice.token)).await;
    assert_eq!(read.status().as_u16(), 200);
    let read: Value = read.json().await.expect("an account");
    assert_eq!(read["balance"], 1_000);
    let actors = first
        .metric("tally_account_actors_active")
        .await
        .expect("tally_account_actors_active in /metrics");

    for round in 1..=3 {
        let response = second.transfer(&alice, from, to, 100, "EUR").await;
        assert_eq!(
            response.status().as_u16(),
            201,
            "transfer {round} via the second"
        );
        let read: Value = first
            .get(&path, Some(&alice.token))
            .await
            .json()
            .await
            .expect("an account");
        assert_eq!(
            read["balance"],
            1_000 - 100 * round,
            "round {round}: {read}"
        );
        let payee: Value = first
            .get(&format!("/accounts/{to}"), Some(&bob.token))
            .await
            .json()
            .await
            .expect("an account");
        assert_eq!(payee["balance"], 100 * round);
    }
    assert_eq!(
        first
            .metric("tally_account_actors_active")
            .await
            .expect("tally_account_actors_active in /metrics"),
        actors,
        "reads activate no actor"
    );
}

#[actix_web::test]
async fn a_batch_of_missing_payers_costs_one_lookup() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let to = app.open_account(&alice, "EUR").await;
    let before = app
        .metric("tally_account_lookup_queries_total")
        .await
        .expect("tally_account_lookup_queries_total in /metrics");
    let items: Vec<Value> = (0..1_000_i64)
        .map(|index| {
            json!({ "from_account_id": 900_000_000 + index, "to_account_id": to,
                    "amount": 1, "currency": "EUR" })
        })
        .collect();
    let response = app
        .post(
            "/transfers/batch",
            &json!({ "transfers": items }),
            Some(&alice.token),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("a batch result");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 1_000);
    assert!(results
        .iter()
        .all(|result| result["error"]["code"] == "not_found"));
    let lookups = app
        .metric("tally_account_lookup_queries_total")
        .await
        .expect("tally_account_lookup_queries_total in /metrics")
        - before;
    // The payer check, then the batch's accounts: one query each.
    assert!(lookups <= 2.0, "{lookups} account lookups for one batch");
    assert_eq!(app.count("transfers").await, 0);
}

#[actix_web::test]
async fn a_reserve_named_as_a_batch_payer_is_not_found() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let mine = app.funded_account(&alice, &banker, "EUR", 100).await;
    let reserve: i64 = app
        .db()
        .await
        .query_one(
            "SELECT id FROM accounts WHERE kind = 'reserve' AND currency = 'EUR'",
            &[],
        )
        .await
        .expect("the EUR reserve")
        .get(0);
    let single = app.transfer(&alice, reserve, mine, 5, "EUR").await;
    assert_error(single, 404, "not_found").await;
    let bankers = app.open_account(&banker, "EUR").await;
    for (user, own) in [(&alice, mine), (&banker, bankers)] {
        for atomic in [false, true] {
            let batch = json!({ "atomic": atomic, "transfers": [
                { "from_account_id": own, "to_account_id": mine + 1_000_000, "amount": 1,
                  "currency": "EUR" },
                { "from_account_id": reserve, "to_account_id": mine, "amount": 5,
                  "currency": "EUR" },
            ] });
            let response = app
                .post("/transfers/batch", &batch, Some(&user.token))
                .await;
            let error = assert_error(response, 404, "not_found").await;
            assert_eq!(error["error"]["index"], 1, "{}", user.username);
        }
    }
    assert_eq!(app.balance(mine).await, 100);
}

/// `POST /users/login` from `address` (through a trusted proxy's `X-Forwarded-For`).
async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> u16 {
    app.client
        .post(format!("{}/users/login", app.address))
        .header("X-Forwarded-For", address)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("the request is sent")
        .status()
        .as_u16()
}

#[actix_web::test]
async fn an_attacker_cannot_lock_a_user_out_and_is_locked_out_alone() {
    let app = spawn_app_with(|settings| {
        settings.http.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
    })
    .await;
    let victim = app.create_depositor().await;
    let attacker = "198.51.100.7";
    let mut statuses = Vec::new();
    for _ in 0..50 {
        statuses.push(login_from(&app, attacker, &victim.username, "not the password").await);
    }
    assert!(
        statuses[..10].iter().all(|status| *status == 401),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], 429, "the attacker's 11th try is refused");
    assert!(
        statuses[10..].iter().all(|status| *status == 429),
        "{statuses:?}"
    );
    // Refused even with the right password: the pair is locked.
    let locked = login_from(&app, attacker, &victim.username, &victim.password).await;
    assert_eq!(locked, 429);

    let started = std::time::Instant::now();
    let victims = login_from(&app, "203.0.113.9", &victim.username, &victim.password).await;
    assert_eq!(victims, 200, "the victim logs in from another address");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "at once, not slowed down: {:?}",
        started.elapsed()
    );
    // The attacker's address stays locked for that username.
    let again = login_from(&app, attacker, &victim.username, "not the password").await;
    assert_eq!(again, 429);
}

#[actix_web::test]
async fn an_address_failing_on_many_usernames_is_refused_past_its_limit() {
    let app = spawn_app_with(|settings| {
        settings.http.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
        settings.auth.address_failures_max = 5;
    })
    .await;
    let user = app.create_depositor().await;
    let sprayer = "198.51.100.8";
    for _ in 0..5 {
        let status = login_from(&app, sprayer, &unique_username(), "not the password").await;
        assert_eq!(status, 401);
    }
    let sixth = login_from(&app, sprayer, &unique_username(), "not the password").await;
    assert_eq!(sixth, 429);
    assert_eq!(
        login_from(&app, sprayer, &user.username, &user.password).await,
        429
    );
    assert_eq!(
        login_from(&app, "203.0.113.10", &user.username, &user.password).await,
        200
    );
}

/// A pending transfer of `amount` for `timeout_seconds`; its id.
async fn hold(app: &TestApp, user: &TestUser, from: i64, to: i64, timeout_seconds: i64) -> Value {
    app.post(
        "/transfers",
        &json!({ "from_account_id": from, "to_account_id": to, "amount": 1, "currency": "EUR",
                 "pending": true, "timeout_seconds": timeout_seconds }),
        Some(&user.token),
    )
    .await
    .json()
    .await
    .expect("a JSON answer")
}

#[actix_web::test]
async fn a_flood_of_holds_is_capped_and_delays_no_one_elses_expiry() {
    const CAP: usize = 200;
    let app = spawn_app_with(|settings| {
        settings.engine.holds_open_max = CAP;
        settings.engine.expiry_sweep_batch_max = 10;
    })
    .await;
    let banker = app.create_banker().await;
    let attacker = app.create_depositor().await;
    let victim = app.create_depositor().await;
    let payee = app.create_depositor().await;
    let flooding = app.funded_account(&attacker, &banker, "EUR", 10_000).await;
    let victims = app.funded_account(&victim, &banker, "EUR", 100).await;
    let to = app.open_account(&payee, "EUR").await;

    let item = json!({ "from_account_id": flooding, "to_account_id": to, "amount": 1,
                       "currency": "EUR", "pending": true, "timeout_seconds": 1 });
    let flood = json!({ "transfers": vec![item.clone(); CAP] });
    let response = app
        .post("/transfers/batch", &flood, Some(&attacker.token))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("a batch result");
    let created = body["results"].as_array().expect("results");
    assert!(created
        .iter()
        .all(|result| result["transfer"]["status"] == "pending"));
    // The cap: one more, alone or in a batch, is refused and holds nothing.
    let refused = app
        .post(
            "/transfers/batch",
            &json!({ "transfers": [item.clone(), item] }),
            Some(&attacker.token),
        )
        .await;
    let error = assert_error(refused, 409, "too_many_holds").await;
    assert_eq!(error["error"]["index"], 0);
    let one_more = hold(&app, &attacker, flooding, to, 1).await;
    assert_eq!(one_more["error"]["code"], "too_many_holds", "{one_more}");
    let held: i64 = app
        .db()
        .await
        .query_one("SELECT held FROM accounts WHERE id = $1", &[&flooding])
        .await
        .expect("the account")
        .get(0);
    assert_eq!(held, CAP as i64);

    let victims_hold = hold(&app, &victim, victims, to, 1).await;
    let id = victims_hold["transfer"]["id"]
        .as_i64()
        .expect("a pending transfer");
    let started = std::time::Instant::now();
    let released = loop {
        let transfer: Value = app
            .get(&format!("/transfers/{id}"), Some(&victim.token))
            .await
            .json()
            .await
            .expect("a transfer");
        if transfer["status"] == "expired" {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(6),
            "the victim's 1 s hold is still {} after 6 s",
            transfer["status"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        released >= std::time::Duration::from_millis(900),
        "{released:?}"
    );
    let account: Value = app
        .get(&format!("/accounts/{victims}"), Some(&victim.token))
        .await
        .json()
        .await
        .expect("an account");
    assert_eq!(
        (account["balance"].as_i64(), account["held"].as_i64()),
        (Some(100), Some(0))
    );
    app.assert_invariants().await;
}

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

/// Reads one small JSON answer (up to its closing brace) off a kept-alive connection.
async fn read_one_answer(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let reading = async {
        let mut buffer = [0_u8; 1024];
        while !answer.ends_with(b"}") {
            let read = stream.read(&mut buffer).await.expect("an answer");
            assert!(read > 0, "the connection was closed");
            answer.extend_from_slice(&buffer[..read]);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), reading)
        .await
        .expect("an answer within 5 s");
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_web::test]
async fn slow_bodies_are_cut_off_and_healthz_keeps_answering() {
    use tokio::io::AsyncWriteExt;
    const CONNECTIONS: usize = 500;
    let app = spawn_app_with(|settings| {
        settings.http.body_read_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    let started = std::time::Instant::now();
    let slow = (0..CONNECTIONS).map(|_| {
        let port = app.port;
        tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("a connection");
            let head = "POST /users HTTP/1.1\r\nHost: localhost\r\n\
                        Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
            stream
                .write_all(head.as_bytes())
                .await
                .expect("the head is sent");
            // A byte a second, never the whole body; the server must not wait for ever.
            let dripping = async {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), dripping).await;
            read_until_closed(&mut stream, std::time::Duration::from_secs(5)).await
        })
    });
    let slow: Vec<_> = slow.collect();
    // Meanwhile, everyone else is served.
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let health = app.get("/healthz", None).await;
        assert_eq!(health.status().as_u16(), 200);
    }
    let mut closed = 0;
    for connection in slow {
        let answer = connection.await.expect("the client task");
        let answer = answer.expect("the server closed the connection");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
        closed += 1;
    }
    assert_eq!(closed, CONNECTIONS);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.count("users").await, 0, "no slow body signed anyone up");
}

#[actix_web::test]
async fn connections_past_the_per_address_limit_are_refused_and_closed() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|settings| {
        settings.http.connections_per_address_max = 5;
    })
    .await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    // Five kept-alive connections, each answered once: surely counted by the server.
    let mut idle = Vec::new();
    for _ in 0..5 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("a connection");
        stream.write_all(request).await.expect("sent");
        let answer = read_one_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        idle.push(stream);
    }
    let mut sixth = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("a connection");
    sixth.write_all(request).await.expect("sent");
    let answer = read_until_closed(&mut sixth, std::time::Duration::from_secs(5))
        .await
        .expect("the sixth connection is closed");
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("rate_limited"), "{answer}");

    // Closed connections give their slots back.
    drop(idle);
    drop(sixth);
    let started = std::time::Instant::now();
    loop {
        let health = app.get("/healthz", None).await.status().as_u16();
        if health == 200 {
            break;
        }
        assert_eq!(health, 429);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "slots never given back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
