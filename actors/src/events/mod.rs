//! The change stream, read from the journal itself (design.md, "Events"). Every change has a
//! *position* drawn from the transfer id sequence in the transaction that made it; positions
//! have gaps and commit out of order across writers and replicas. The numbering task makes them
//! a gap-free sequence of event ids in three steps, each tick:
//!
//! 1. **Candidate**: read the sequence's last value `V`, then (a later statement) take a fresh
//!    transaction id `N`. Any position ≤ `V` was drawn by a transaction whose xid is below `N`
//!    (positions are drawn only once the drawing transaction has an xid).
//! 2. **Watermark**: once every xid up to `N` has ended (the oldest running xid of a snapshot
//!    taken now is above `N`), every position ≤ `V` is committed or never will be: `V` is the
//!    watermark. (A snapshot's running list alone is not enough: it leaves out transactions with
//!    an xid above the last completed one.)
//! 3. **Marks**: under an advisory lock (one replica numbers at a time), the positions between
//!    the last mark and the watermark are counted, in order, and the last one is stored as
//!    `event_marks (event_id, position)`, at most [`EVENT_MARK_EVENTS_MAX`] events per mark.
//!
//! A reader turns an event id back into a position from the mark below it, counting at most
//! [`EVENT_MARK_EVENTS_MAX`] rows forward.

use std::collections::VecDeque;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio_postgres::Row;

use crate::db::describe;

mod read;

use read::{event, COUNT_POSITIONS, EVENTS_BETWEEN};
pub use read::{Event, EventBody, EventKind};

/// How often each replica looks for a new watermark and newly numbered events.
pub const EVENTS_TICK: Duration = Duration::from_millis(50);
/// Events one mark covers at most, so an id is at most this many rows from its mark.
pub const EVENT_MARK_EVENTS_MAX: i64 = 1_000;
/// Marks one tick writes at most; the rest waits for the next tick.
const MARKS_PER_TICK_MAX: usize = 16;
/// Candidates waiting for their snapshot's transactions to end; beyond it no new candidate is
/// taken until the oldest resolves.
const CANDIDATES_MAX: usize = 64;
/// Events one read scans at most (visible to the caller or not).
pub const EVENTS_SCAN_MAX: i64 = 1_000;
/// Only one replica numbers at a time: `pg_try_advisory_xact_lock` on this key ("tallyev1").
const NUMBERING_LOCK_KEY: i64 = 0x7461_6c6c_7965_7631;

const SEQUENCE_LAST: &str = "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
    FROM transfers_id_seq";
/// A fresh xid, above every xid assigned before it (one per candidate, only when the sequence
/// moved).
const TAKE_XID: &str = "SELECT pg_current_xact_id()::text::bigint";
/// True once every xid up to `$1` has ended.
const XIDS_ENDED: &str =
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint > $1::bigint";
const LAST_MARK: &str = "SELECT event_id, position FROM event_marks ORDER BY event_id DESC LIMIT 1";
const MARK_AT_OR_BELOW: &str = "SELECT event_id, position FROM event_marks
    WHERE event_id <= $1 ORDER BY event_id DESC LIMIT 1";
const INSERT_MARK: &str = "INSERT INTO event_marks (event_id, position) VALUES ($1, $2)";
const TRY_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1)";

/// A read of the stream: the events after `after`, and how far it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The id of the last event read (or `after`): the next read starts after it.
    pub last_id: i64,
    /// The newest numbered event when the read was made.
    pub head_id: i64,
}

/// Reads up to `limit` (at most [`EVENTS_SCAN_MAX`]) numbered events after event id `after`.
pub async fn read(pool: &Pool, after: i64, limit: i64) -> Result<EventPage, String> {
    assert!(after >= 0);
    let limit = limit.clamp(1, EVENTS_SCAN_MAX);
    let client = pool.get().await.map_err(|error| error.to_string())?;
    let (head_id, head_position) = mark(&client, LAST_MARK, &[]).await?;
    let empty = EventPage {
        events: Vec::new(),
        last_id: after.min(head_id),
        head_id,
    };
    if after >= head_id {
        return Ok(empty);
    }
    let (base_id, base_position) = mark(&client, MARK_AT_OR_BELOW, &[&after]).await?;
    let skip = after - base_id;
    assert!((0..EVENT_MARK_EVENTS_MAX).contains(&skip));
    let statement = client
        .prepare_cached(EVENTS_BETWEEN)
        .await
        .map_err(|error| describe(&error))?;
    let rows = client
        .query(
            &statement,
            &[&base_position, &head_position, &(skip + limit)],
        )
        .await
        .map_err(|error| describe(&error))?;
    let mut events = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate().skip(skip as usize) {
        let id = base_id + 1 + index as i64;
        assert!(id <= head_id, "an event beyond the numbered head");
        events.push(event(id, row)?);
    }
    let last_id = events.last().map_or(empty.last_id, |event| event.id);
    Ok(EventPage {
        events,
        last_id,
        head_id,
    })
}

async fn mark(
    client: &deadpool_postgres::Client,
    sql: &str,
    parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<(i64, i64), String> {
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(|error| describe(&error))?;
    let row = client
        .query_one(&statement, parameters)
        .await
        .map_err(|error| describe(&error))?;
    Ok((row.get(0), row.get(1)))
}

/// The newest numbered event id, as this replica last saw it; readers wait on it.
#[derive(Debug, Clone)]
pub struct EventHead(watch::Receiver<i64>);

impl EventHead {
    pub fn current(&self) -> i64 {
        *self.0.borrow()
    }

    /// Waits until an event after `after` is numbered, or `timeout` passes; true if one is.
    pub async fn wait_beyond(&mut self, after: i64, timeout: Duration) -> bool {
        let beyond = self.0.wait_for(|head| *head > after);
        matches!(tokio::time::timeout(timeout, beyond).await, Ok(Ok(_)))
    }
}

/// Starts this replica's numbering task on the current runtime; it runs until the runtime
/// stops. Every replica runs one; the advisory lock lets one number at a time, and all of them
/// follow the newest mark.
pub fn start_numbering(pool: Pool) -> EventHead {
    let (sender, receiver) = watch::channel(0);
    tokio::spawn(async move {
        let mut numbering = Numbering {
            pool,
            candidates: VecDeque::new(),
            watermark: 0,
            marked_to: 0,
        };
        let mut ticks = tokio::time::interval(EVENTS_TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match numbering.tick().await {
                Ok(head) => {
                    sender.send_if_modified(|seen| {
                        let newer = head > *seen;
                        *seen = (*seen).max(head);
                        newer
                    });
                }
                Err(error) => tracing::warn!(%error, "event numbering failed; retrying"),
            }
            if sender.is_closed() && sender.receiver_count() == 0 {
                return;
            }
        }
    });
    EventHead(receiver)
}

struct Numbering {
    pool: Pool,
    /// (sequence value, xid taken after it) pairs, oldest first.
    candidates: VecDeque<(i64, i64)>,
    watermark: i64,
    /// A watermark every position up to which is known marked: until the watermark passes it
    /// there is nothing to number, and an idle tick takes no lock and opens no transaction.
    marked_to: i64,
}

impl Numbering {
    /// One round: a new candidate, the watermark advanced past every resolved one, new marks.
    /// Answers the newest mark's event id.
    async fn tick(&mut self) -> Result<i64, String> {
        let mut client = self.pool.get().await.map_err(|error| error.to_string())?;
        if self.candidates.len() < CANDIDATES_MAX {
            // Two statements, in this order: the sequence first, then the xid.
            let last = query_one(&client, SEQUENCE_LAST, &[])
                .await?
                .get::<_, i64>(0);
            let newest = self
                .candidates
                .back()
                .map_or(self.watermark, |(value, _)| *value);
            if last > newest {
                let xid: i64 = query_one(&client, TAKE_XID, &[]).await?.get(0);
                self.candidates.push_back((last, xid));
            }
        }
        while let Some((last, xid)) = self.candidates.front() {
            let ended: bool = query_one(&client, XIDS_ENDED, &[xid]).await?.get(0);
            if !ended {
                break;
            }
            self.watermark = self.watermark.max(*last);
            self.candidates.pop_front();
        }
        for _ in 0..MARKS_PER_TICK_MAX {
            if self.watermark <= self.marked_to || !self.mark_once(&mut client).await? {
                break;
            }
        }
        Ok(query_one(&client, LAST_MARK, &[]).await?.get(0))
    }

    /// Numbers up to EVENT_MARK_EVENTS_MAX events below the watermark; true if it wrote a full
    /// mark (more may wait).
    async fn mark_once(&mut self, client: &mut deadpool_postgres::Client) -> Result<bool, String> {
        let transaction = client
            .transaction()
            .await
            .map_err(|error| describe(&error))?;
        let locked: bool = query_one(&transaction, TRY_LOCK, &[&NUMBERING_LOCK_KEY])
            .await?
            .get(0);
        if !locked {
            return Ok(false);
        }
        let last = query_one(&transaction, LAST_MARK, &[]).await?;
        let (last_id, last_position): (i64, i64) = (last.get(0), last.get(1));
        if last_position >= self.watermark {
            self.marked_to = self.watermark;
            return Ok(false);
        }
        let counted = query_one(
            &transaction,
            COUNT_POSITIONS,
            &[&last_position, &self.watermark, &EVENT_MARK_EVENTS_MAX],
        )
        .await?;
        let count: i64 = counted.get(0);
        if count == 0 {
            self.marked_to = self.watermark;
            return Ok(false);
        }
        let position: i64 = counted.get(1);
        assert!(position > last_position && position <= self.watermark);
        let statement = transaction
            .prepare_cached(INSERT_MARK)
            .await
            .map_err(|error| describe(&error))?;
        transaction
            .execute(&statement, &[&(last_id + count), &position])
            .await
            .map_err(|error| describe(&error))?;
        transaction
            .commit()
            .await
            .map_err(|error| describe(&error))?;
        if count < EVENT_MARK_EVENTS_MAX {
            self.marked_to = self.watermark;
        }
        Ok(count == EVENT_MARK_EVENTS_MAX)
    }
}

async fn query_one<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    sql: &str,
    parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Row, String> {
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(|error| describe(&error))?;
    client
        .query_one(&statement, parameters)
        .await
        .map_err(|error| describe(&error))
}
