//! Many replicas, for real: two `tally` processes on one PostgreSQL behind nginx running the
//! repository's nginx.conf. Each replica caches balances in its own actors, so they regularly
//! debit from stale state; PostgreSQL's constraints and the engines' stale retries must keep the
//! books whole.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::json;
use tally_test_support::{check_invariants, fresh_database};

use crate::process::{free_port, funded_account, post, user, Process};

const ACCOUNTS: usize = 8;
/// The first accounts take most of the traffic.
const HOT: usize = 3;
const SENDERS: usize = 24;
const TRANSFERS_PER_SENDER: usize = 40;

#[actix_web::test]
async fn two_replicas_behind_nginx_keep_every_invariant() {
    let database = fresh_database().await;
    let db = database.connect().await;
    let replicas = [free_port(), free_port()];
    let first = Process::tally(&database, replicas[0]).await;
    let second = Process::tally(&database, replicas[1]).await;
    let nginx_directory = std::env::temp_dir().join(format!("tally-nginx-{}", database.name));
    let nginx = Process::nginx(&nginx_directory, free_port(), &replicas).await;
    let client = crate::helpers::http_client();
    // The front door serves the API under /api/ (the web app is at /).
    let address = format!("{}/api", nginx.address);

    let banker = user(&client, &address, &db, "replica_banker", true).await;
    let mut accounts = Vec::new();
    for index in 0..ACCOUNTS {
        // Modest balances: overdraft attempts must happen, and be refused.
        let name = format!("replica_user_{index}");
        accounts.push(funded_account(&client, &address, &db, &name, &banker, 2_000).await);
    }
    let funding = ACCOUNTS as i64;
    let accounts = Arc::new(accounts);

    let senders = (0..SENDERS).map(|sender| {
        let (client, accounts, address) = (client.clone(), accounts.clone(), address.clone());
        actix_web::rt::spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..TRANSFERS_PER_SENDER {
                let from = if round % 4 == 3 { (sender + round) % ACCOUNTS } else { (sender + round) % HOT };
                // Opposite directions between the hot accounts, the rest spread out.
                let to = if round % 2 == 0 { (from + 1) % HOT } else { (from + 1 + sender % (ACCOUNTS - 1)) % ACCOUNTS };
                let to = if to == from { (from + 1) % ACCOUNTS } else { to };
                let (token, from_id) = &accounts[from];
                let body = json!({ "from_account_id": from_id, "to_account_id": accounts[to].1, "amount": 1 + (sender * 7 + round * 13) % 400, "currency": "USD" });
                let (status, answer) = post(&client, format!("{address}/transfers"), body, Some(token)).await.expect("an answer through nginx");
                outcomes.push((status, answer));
            }
            outcomes
        })
    });
    let outcomes: Vec<_> = join_all(senders)
        .await
        .into_iter()
        .flat_map(|sender| sender.expect("a sender"))
        .collect();

    let mut committed = HashSet::new();
    let mut refused = 0;
    for (status, answer) in &outcomes {
        match (status, answer["error"]["code"].as_str()) {
            (201, None) => {
                assert!(committed.insert(answer["transfer"]["id"].as_i64().expect("an id")))
            }
            (422, Some("insufficient_funds")) => refused += 1,
            // Contention the stale retries could not settle is a 503, never a wrong answer.
            (503, Some("unavailable")) => {}
            other => panic!("unexpected {other:?}: {answer}"),
        }
    }
    assert!(
        committed.len() > outcomes.len() / 2,
        "most commit: {}",
        committed.len()
    );
    assert!(refused > 0, "overdrafts were attempted and refused");

    let invariants = check_invariants(&db).await;
    assert_eq!(
        invariants.transfers,
        funding + committed.len() as i64,
        "every 201 is one transfer"
    );
    let rows: HashSet<i64> = db
        .query("SELECT t.id FROM transfers t JOIN accounts a ON a.id = t.from_account_id WHERE a.kind = 'customer'", &[])
        .await
        .expect("the transfers")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(rows, committed, "every 201 is exactly one transfer row");

    // Both replicas served transfers (nginx spread the load).
    for replica in [&first, &second] {
        let metrics = client
            .get(format!("{}/metrics", replica.address))
            .send()
            .await
            .expect("a scrape")
            .text()
            .await
            .expect("metrics");
        let served: f64 = metrics
            .lines()
            .filter(|line| {
                line.starts_with("tally_http_requests_total{")
                    && line.contains(r#"route="/transfers""#)
            })
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        assert!(served > 0.0, "{} served no transfer", replica.address);
    }
    drop(nginx);
    let _ = std::fs::remove_dir_all(nginx_directory);
}
