//! 50 users, 2,000 transfers at once over HTTP, opposite directions included, some refused:
//! afterwards the money rules hold in PostgreSQL and every 201 is exactly one transfer row.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::Value;

use crate::helpers::{spawn_app, TestUser};

const USERS: usize = 50;
const TRANSFERS: usize = 2_000;
const SENDERS: usize = 40;

#[actix_web::test]
async fn two_thousand_concurrent_transfers_keep_every_invariant() {
    let app = Arc::new(spawn_app().await);
    let banker = app.create_banker().await;
    let mut users: Vec<(TestUser, i64)> = Vec::with_capacity(USERS);
    for _ in 0..USERS {
        let user = app.create_depositor().await;
        let account = app.funded_account(&user, &banker, "USD", 500).await;
        users.push((user, account));
    }
    let users = Arc::new(users);
    let deposits = app.count("transfers").await;

    let senders = (0..SENDERS).map(|sender| {
        let app = app.clone();
        let users = users.clone();
        actix_web::rt::spawn(async move {
            let mut outcomes = Vec::new();
            for index in (sender..TRANSFERS).step_by(SENDERS) {
                // Neighbours pay each other both ways; every 10th names the sender's own account.
                let (user, from) = &users[index % USERS];
                let to = match index % 10 {
                    0 => *from,
                    _ if index % 2 == 0 => users[(index + 1) % USERS].1,
                    _ => users[(index + USERS - 1) % USERS].1,
                };
                let amount = 1 + (index * 37 % 300) as i64;
                let response = app.transfer(user, *from, to, amount, "USD").await;
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("a JSON answer");
                outcomes.push((status, body));
            }
            outcomes
        })
    });
    let outcomes: Vec<(u16, Value)> = join_all(senders)
        .await
        .into_iter()
        .flat_map(|sender| sender.expect("the sender finished"))
        .collect();
    assert_eq!(outcomes.len(), TRANSFERS, "every request answered");

    let mut committed = HashSet::new();
    let (mut same_account, mut insufficient) = (0, 0);
    for (status, body) in &outcomes {
        match (status, body["error"]["code"].as_str()) {
            (201, None) => {
                assert!(
                    committed.insert(body["transfer"]["id"].as_i64().expect("an id")),
                    "ids are unique"
                );
            }
            (400, Some("same_account")) => same_account += 1,
            (422, Some("insufficient_funds")) => insufficient += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!(same_account, TRANSFERS / 10);
    assert!(insufficient > 0, "some transfers had to be refused");
    assert!(
        committed.len() > TRANSFERS / 2,
        "most commit: {}",
        committed.len()
    );

    let invariants = app.assert_invariants().await;
    assert_eq!(invariants.transfers, deposits + committed.len() as i64);
    let rows: HashSet<i64> = app
        .db()
        .await
        .query("SELECT id FROM transfers WHERE from_account_id IN (SELECT id FROM accounts WHERE kind = 'customer')", &[])
        .await
        .expect("the transfers")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(rows, committed, "every 201 is exactly one transfer row");
    // The accounts read back through the API match what the engine committed.
    let (user, account) = &users[0];
    let shown: Value = app
        .get(&format!("/accounts/{account}"), Some(&user.token))
        .await
        .json()
        .await
        .expect("an account");
    assert_eq!(shown["balance"].as_i64(), Some(app.balance(*account).await));
}
