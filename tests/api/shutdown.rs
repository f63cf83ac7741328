//! Stopping the real binary while clients hold answers open (src/shutdown.rs).

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;
use tally_test_support::fresh_database;

use crate::process::{free_port, user, Process};

/// What a stop waits for an open request at most (`http.shutdown_timeout`, defaults.toml).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A browser keeps `/events/stream` open and a client long-polls `/events?wait=30`: SIGTERM
/// ends both at once (the stream's answer ends, the poll answers its empty page), so the server exits
/// cleanly instead of waiting out the shutdown timeout with them.
#[actix_web::test]
async fn a_stop_ends_open_event_streams_and_long_polls_at_once() {
    let database = fresh_database().await;
    let port = free_port();
    let mut server = Process::tally(&database, port).await;
    let client = crate::helpers::http_client();
    let db = database.connect().await;
    let token = user(&client, &server.address, &db, "stop_watcher", true).await;

    let mut stream = client
        .get(format!("{}/events/stream", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a stream");
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.expect("a first chunk");
    assert!(first.is_some_and(|chunk| chunk.starts_with(b"retry:")));
    let poll = actix_web::rt::spawn({
        let (client, address, token) = (client.clone(), server.address.clone(), token.clone());
        async move {
            let response = client
                .get(format!("{address}/events?after=9007199254740991&wait=30"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("a long poll");
            (
                response.status(),
                response.json::<Value>().await.expect("a page"),
            )
        }
    });
    // The poll is waiting once the server holds it; a quarter second is plenty on loopback.
    actix_web::rt::time::sleep(Duration::from_millis(250)).await;

    let asked = Instant::now();
    let signalled = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let exit = wait_for_exit(&mut server, SHUTDOWN_TIMEOUT + Duration::from_secs(10)).await;
    let stopped_after = asked.elapsed();

    assert!(exit.success(), "a graceful stop exits 0, got {exit}");
    assert!(
        stopped_after < SHUTDOWN_TIMEOUT / 2,
        "the stop waited {stopped_after:?}, as if for the open stream and poll"
    );
    let (status, page) = poll.await.expect("the poll's task");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"], Value::Array(Vec::new()), "{page}");
    // The stream was ended by the server, as a complete answer, not cut off.
    loop {
        match stream.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(error) => panic!("the stream was cut off, not ended: {error}"),
        }
    }
}

/// Polls the child until it exits, or panics after `limit`.
async fn wait_for_exit(server: &mut Process, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = server.child.try_wait().expect("the child's status") {
            return status;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tally serve still running {limit:?} after SIGTERM");
}
