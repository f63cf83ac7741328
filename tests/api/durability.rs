//! Acknowledged means durable: the real `tally` binary is killed with SIGKILL in the middle of a
//! load and restarted; every transfer it answered 201 is in PostgreSQL with both entries, and no
//! transfer exists without them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use tally_test_support::{check_invariants, fresh_database};

use crate::process::{free_port, funded_account, post, user, Process};

#[actix_web::test]
async fn transfers_answered_201_survive_a_sigkill_mid_load() {
    let database = fresh_database().await;
    let port = free_port();
    let mut server = Process::tally(&database, port).await;
    let client = crate::helpers::http_client();
    let db = database.connect().await;

    let banker = user(&client, &server.address, &db, "kill_banker", true).await;
    let mut accounts = Vec::new();
    for index in 0..8 {
        let name = format!("kill_user_{index}");
        accounts
            .push(funded_account(&client, &server.address, &db, &name, &banker, 1_000_000).await);
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
    server.kill(); // SIGKILL: no shutdown hook runs
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

    let restarted = Process::tally(&database, port).await;
    let stored: HashSet<i64> = db
        .query(
            "SELECT id FROM transfers WHERE id = ANY($1)",
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
    let body = json!({ "from_account_id": from, "to_account_id": accounts[1].1, "amount": 1, "currency": "USD" });
    let (status, answer) = post(
        &client,
        format!("{}/transfers", restarted.address),
        body,
        Some(token),
    )
    .await
    .expect("a transfer after restart");
    assert_eq!(status, 201, "{answer}");
    check_invariants(&db).await;
}

/// No hold lives only in memory: holds acknowledged before a SIGKILL are still held after the
/// restart (the restarted actors load them), can still be posted, and still cannot be spent.
#[actix_web::test]
async fn holds_answered_201_survive_a_sigkill() {
    let database = fresh_database().await;
    let port = free_port();
    let mut server = Process::tally(&database, port).await;
    let client = crate::helpers::http_client();
    let db = database.connect().await;
    let banker = user(&client, &server.address, &db, "hold_banker", true).await;
    let (payer_token, payer) =
        funded_account(&client, &server.address, &db, "hold_payer", &banker, 1_000).await;
    let (payee_token, payee) =
        funded_account(&client, &server.address, &db, "hold_payee", &banker, 1).await;

    let mut held = Vec::new();
    for amount in [100, 200, 300] {
        let body = json!({ "from_account_id": payer, "to_account_id": payee, "amount": amount,
                           "currency": "USD", "pending": true });
        let (status, answer) = post(
            &client,
            format!("{}/transfers", server.address),
            body,
            Some(&payer_token),
        )
        .await
        .expect("a hold");
        assert_eq!(status, 201, "{answer}");
        held.push(answer["transfer"]["id"].as_i64().expect("an id"));
    }
    server.kill();

    let restarted = Process::tally(&database, port).await;
    let pending: i64 = db
        .query_one(
            "SELECT count(*) FROM transfers WHERE id = ANY($1) AND status = 'pending'",
            &[&held],
        )
        .await
        .expect("the holds")
        .get(0);
    assert_eq!(pending, 3, "every acknowledged hold is still pending");
    check_invariants(&db).await;

    // Held money stays unspendable after the restart: 1,000 - 600 held = 400 available.
    let spend = |amount: i64| json!({ "from_account_id": payer, "to_account_id": payee, "amount": amount, "currency": "USD" });
    let (status, answer) = post(
        &client,
        format!("{}/transfers", restarted.address),
        spend(401),
        Some(&payer_token),
    )
    .await
    .expect("an answer");
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("insufficient_funds"))
    );
    let (status, _) = post(
        &client,
        format!("{}/transfers/{}/post", restarted.address, held[1]),
        json!({}),
        Some(&payee_token),
    )
    .await
    .expect("a post");
    assert_eq!(status, 200, "a hold from before the crash can be posted");
    let (status, answer) = post(
        &client,
        format!("{}/transfers", restarted.address),
        spend(400),
        Some(&payer_token),
    )
    .await
    .expect("an answer");
    assert_eq!(status, 201, "{answer}");
    check_invariants(&db).await;
}

/// A batch answered 201 is wholly durable; an atomic batch not yet answered when the process is
/// SIGKILLed is wholly absent: never a part of one.
#[actix_web::test]
async fn an_atomic_batch_is_wholly_there_or_wholly_absent_after_a_sigkill() {
    const ITEMS: usize = 500;
    let database = fresh_database().await;
    let port = free_port();
    let mut server = Process::tally(&database, port).await;
    let client = crate::helpers::http_client();
    let db = database.connect().await;
    let banker = user(&client, &server.address, &db, "batch_banker", true).await;
    let mut accounts = Vec::new();
    for index in 0..6 {
        let name = format!("batch_user_{index}");
        accounts
            .push(funded_account(&client, &server.address, &db, &name, &banker, 10_000_000).await);
    }
    let accounts = Arc::new(accounts);
    // Batch b moves amount 1000 + b in every item, so its rows can be counted afterwards.
    let senders = (0..12usize).map(|batch| {
        let (client, accounts, address) = (client.clone(), accounts.clone(), server.address.clone());
        actix_web::rt::spawn(async move {
            let (token, from) = &accounts[batch % 6];
            let items: Vec<_> = (0..ITEMS)
                .map(|n| json!({"from_account_id": from, "to_account_id": accounts[(batch + 1 + n % 5) % 6].1,
                                "amount": 1_000 + batch, "currency": "USD"}))
                .collect();
            tokio::time::sleep(Duration::from_millis(20 * batch as u64)).await;
            let body = json!({"transfers": items, "atomic": true});
            match post(&client, format!("{address}/transfers/batch"), body, Some(token)).await {
                Ok((201, _)) => Some(batch),
                _ => None,
            }
        })
    });
    let senders = actix_web::rt::spawn(join_all(senders));
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill();
    let acknowledged: Vec<usize> = senders
        .await
        .expect("joined")
        .into_iter()
        .filter_map(|sender| sender.expect("a sender"))
        .collect();

    let _restarted = Process::tally(&database, port).await;
    let mut whole = 0;
    for batch in 0..12usize {
        let rows: i64 = db
            .query_one(
                "SELECT count(*) FROM transfers WHERE amount = $1",
                &[&(1_000 + batch as i64)],
            )
            .await
            .expect("a count")
            .get(0);
        let answered = acknowledged.contains(&batch);
        assert!(
            rows == ITEMS as i64 || (rows == 0 && !answered),
            "batch {batch} (answered: {answered}) left {rows} of {ITEMS} rows"
        );
        whole += usize::from(rows > 0);
    }
    assert!(
        whole >= acknowledged.len() && whole < 12,
        "the kill came mid-load: {whole} whole batches, {} answered",
        acknowledged.len()
    );
    check_invariants(&db).await;
}
