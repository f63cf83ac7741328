//! A client that resets its connection mid-transfer must not strand a hold: the engine's work
//! runs to its end whatever happens to the request.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn connections_reset_mid_transfer_leave_every_balance_spendable() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let from = app.funded_account(&alice, &banker, "USD", 10_000).await;
    let to = app.open_account(&bob, "USD").await;

    let body =
        json!({ "from_account_id": from, "to_account_id": to, "amount": 7, "currency": "USD" })
            .to_string();
    let request = format!(
        "POST /transfers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        alice.token,
        body.len()
    );
    for round in 0..60u64 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("a connection");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("the request is sent");
        // Reset (not a graceful close) at a different moment each round.
        tokio::time::sleep(Duration::from_micros(100 * (round % 20))).await;
        // A zero linger makes the close a reset. (Deprecated because a lingering close can block
        // the thread; a zero linger never does.)
        #[allow(deprecated)]
        stream.set_linger(Some(Duration::ZERO)).expect("linger 0");
        drop(stream);
    }
    // Requests whose connection reset may still be arriving: wait until their work has ended
    // (no in-flight permit taken) and stays ended.
    for _ in 0..3 {
        app.wait_until_no_transfer_in_flight(Duration::from_secs(10))
            .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let balance = app.balance(from).await;
    assert_eq!((10_000 - balance) % 7, 0, "only whole transfers moved");
    let account: serde_json::Value = app
        .get(&format!("/accounts/{from}"), Some(&alice.token))
        .await
        .json()
        .await
        .expect("the account");
    assert_eq!(account["held"], 0);
    assert_eq!(account["available"], balance);
    let spent = app.transfer(&alice, from, to, balance, "USD").await;
    assert_eq!(
        spent.status().as_u16(),
        201,
        "the whole balance is spendable"
    );
    assert_eq!(app.balance(from).await, 0);
    app.assert_invariants().await;
}
