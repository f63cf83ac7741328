//! Waiting for the change stream to number what has committed.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

/// Every change with a position (design.md, "Events"), counted as the events reader counts
/// them (`COUNT_POSITIONS` in actors/src/events/read.rs: a new kind of event goes in both),
/// against the events numbered so far (event ids are gap-free, so the newest mark's id is their
/// count).
const UNNUMBERED: &str = "
    SELECT (SELECT count(*) FROM transfers)
         + (SELECT count(ended_position) FROM transfers)
         + (SELECT count(opened_position) FROM accounts)
         + (SELECT count(*) FROM account_status_changes)
         - (SELECT COALESCE(max(event_id), 0) FROM event_marks)";

/// Waits (at most `within`) until every change committed so far has its event id. A webhook
/// starts after the newest event when it is created, and the numbering trails commits by a tick
/// or more on a loaded machine, so a test that means "events after this moment" waits for it
/// first.
pub async fn wait_until_every_change_is_numbered(client: &Client, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let unnumbered: i64 = client
            .query_one(UNNUMBERED, &[])
            .await
            .expect("the count of unnumbered changes")
            .get(0);
        if unnumbered == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{unnumbered} changes still without an event id after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
