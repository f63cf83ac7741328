//! Acknowledged means durable: the real `tally` binary is killed with SIGKILL in the middle of a
//! load and restarted; every transfer it answered 201 is in PostgreSQL with both entries, and no
//! transfer exists without them.

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use tally_test_support::{check_invariants, fresh_database, TestDatabase};

struct Server {
    child: Child,
    address: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

async fn start(database: &TestDatabase, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--no-migrate"])
        .env("TALLY_DATABASE__URL", database.url())
        .env("TALLY_HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("TALLY_AUTH__BCRYPT_COST", "4")
        .env("TALLY_LOG__LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tally binary starts");
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{address}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return Server { child, address };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tally did not start on {address}");
}

async fn post(
    client: &reqwest::Client,
    url: String,
    body: Value,
    token: Option<&str>,
) -> reqwest::Result<(u16, Value)> {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// Signs up and logs in; returns the access token.
async fn user(client: &reqwest::Client, server: &Server, name: &str) -> String {
    let (status, _) = post(
        client,
        format!("{}/users", server.address),
        json!({ "username": name, "password": "a good password", "full_name": "Kill Test", "email": format!("{name}@example.com") }),
        None,
    )
    .await
    .expect("sign-up");
    assert_eq!(status, 201);
    let (_, login) = post(
        client,
        format!("{}/users/login", server.address),
        json!({ "username": name, "password": "a good password" }),
        None,
    )
    .await
    .expect("login");
    login["access_token"].as_str().expect("a token").to_owned()
}

#[actix_web::test]
async fn transfers_answered_201_survive_a_sigkill_mid_load() {
    let database = fresh_database().await;
    let port = free_port();
    let mut server = start(&database, port).await;
    let client = reqwest::Client::new();
    let db = database.connect().await;

    let banker_token = user(&client, &server, "kill_banker").await;
    db.execute(
        "UPDATE users SET role = 'banker' WHERE username = 'kill_banker'",
        &[],
    )
    .await
    .expect("a banker");
    let (_, login) = post(
        &client,
        format!("{}/users/login", server.address),
        json!({ "username": "kill_banker", "password": "a good password" }),
        None,
    )
    .await
    .expect("login");
    let banker_token = login["access_token"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or(banker_token);
    let mut accounts = Vec::new();
    for index in 0..8 {
        let token = user(&client, &server, &format!("kill_user_{index}")).await;
        let (_, account) = post(
            &client,
            format!("{}/accounts", server.address),
            json!({ "currency": "USD" }),
            Some(&token),
        )
        .await
        .expect("an account");
        let id = account["id"].as_i64().expect("an id");
        let (status, _) = post(
            &client,
            format!("{}/accounts/{id}/deposits", server.address),
            json!({ "amount": 1_000_000 }),
            Some(&banker_token),
        )
        .await
        .expect("a deposit");
        assert_eq!(status, 201);
        accounts.push((token, id));
    }
    let accounts = Arc::new(accounts);
    let stop = Arc::new(AtomicBool::new(false));
    let senders = (0..16).map(|sender| {
        let (client, accounts, stop, address) = (client.clone(), accounts.clone(), stop.clone(), server.address.clone());
        actix_web::rt::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let (token, from) = &accounts[(sender + round) % 8];
                let to = accounts[(sender + round + 1 + round % 3) % 8].1;
                round += 1;
                let body = json!({ "from_account_id": from, "to_account_id": to, "amount": 1 + round % 50, "currency": "USD" });
                match post(&client, format!("{address}/transfers"), body, Some(token)).await {
                    Ok((201, answer)) => acknowledged.push(answer["transfer"]["id"].as_i64().expect("an id")),
                    Ok((status, answer)) => panic!("unexpected {status}: {answer}"),
                    Err(_) => break, // the server died under us
                }
            }
            acknowledged
        })
    });
    let senders = actix_web::rt::spawn(join_all(senders));
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    stop.store(true, Ordering::Relaxed);
    let acknowledged: HashSet<i64> = senders
        .await
        .expect("joined")
        .into_iter()
        .flat_map(|sender| sender.expect("a sender"))
        .collect();
    assert!(
        acknowledged.len() > 20,
        "the load was under way: {}",
        acknowledged.len()
    );

    let mut restarted = start(&database, port).await;
    let stored: HashSet<i64> = db
        .query(
            "SELECT t.id FROM transfers t WHERE t.id = ANY($1)",
            &[&acknowledged.iter().copied().collect::<Vec<_>>()],
        )
        .await
        .expect("the transfers")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged transfers lost by the crash: {lost:?}"
    );
    // No half-transfer: check_invariants asserts both entries of every transfer, and balances.
    check_invariants(&db).await;

    // The restarted process serves from the committed state.
    let (token, from) = &accounts[0];
    let (status, answer) = post(&client, format!("{}/transfers", restarted.address), json!({ "from_account_id": from, "to_account_id": accounts[1].1, "amount": 1, "currency": "USD" }), Some(token))
        .await
        .expect("a transfer after restart");
    assert_eq!(status, 201, "{answer}");
    check_invariants(&db).await;
    restarted.child.kill().expect("stopped");
    let _ = restarted.child.wait();
}
