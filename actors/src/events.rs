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
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_postgres::Row;

use crate::db::describe;
use crate::model::{
    AccountId, AccountKind, AccountSnapshot, Amount, Currency, Transfer, TransferDetails,
    TransferId, TransferStatus,
};

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

/// The count and the last of the first `$3` positions in `($1, $2]`.
const COUNT_POSITIONS: &str = "SELECT count(*), max(position) FROM (
        SELECT position FROM (
            (SELECT id AS position FROM transfers WHERE id > $1 AND id <= $2
             ORDER BY id LIMIT $3)
            UNION ALL
            (SELECT ended_position FROM transfers
             WHERE ended_position > $1 AND ended_position <= $2
             ORDER BY ended_position LIMIT $3)
            UNION ALL
            (SELECT opened_position FROM accounts
             WHERE opened_position > $1 AND opened_position <= $2
             ORDER BY opened_position LIMIT $3)
        ) AS p ORDER BY position LIMIT $3
    ) AS first";

/// The first `$3` events with a position in `($1, $2]`, each as it was at that position: a
/// pending transfer's own row is its `transfer.pending` (with what it held), a posting is the
/// pending transfer's `transfer.posted`, an ended hold is its `transfer.voided`/`expired`.
const EVENTS_BETWEEN: &str = "SELECT e.*, f.owner AS from_owner, d.owner AS to_owner,
        f.kind AS account_kind
    FROM (
        (SELECT t.id AS position,
                CASE WHEN t.pending_id IS NULL AND t.expires_at IS NOT NULL
                     THEN 'pending' ELSE 'posted' END AS status,
                COALESCE(t.pending_id, t.id) AS subject_id,
                t.from_account_id AS account_id, t.to_account_id,
                CASE WHEN t.pending_id IS NULL AND t.expires_at IS NOT NULL
                     THEN COALESCE(t.pending_amount, t.amount) ELSE t.amount END AS amount,
                t.currency, COALESCE(p.created_at, t.created_at) AS created_at,
                CASE WHEN t.pending_id IS NULL AND t.expires_at IS NOT NULL
                     THEN NULL ELSE t.posted_at END AS posted_at,
                COALESCE(p.expires_at, t.expires_at) AS expires_at,
                t.from_balance_after, t.to_balance_after,
                COALESCE(t.posted_at, t.created_at) AS at
         FROM transfers t LEFT JOIN transfers p ON p.id = t.pending_id
         WHERE t.id > $1 AND t.id <= $2 ORDER BY t.id LIMIT $3)
        UNION ALL
        (SELECT t.ended_position, t.status, t.id, t.from_account_id, t.to_account_id,
                COALESCE(t.pending_amount, t.amount), t.currency, t.created_at, NULL,
                t.expires_at, NULL, NULL, t.ended_at
         FROM transfers t
         WHERE t.ended_position > $1 AND t.ended_position <= $2
         ORDER BY t.ended_position LIMIT $3)
        UNION ALL
        (SELECT a.opened_position, 'opened', a.id, a.id, NULL, NULL, a.currency, a.created_at,
                NULL, NULL, NULL, NULL, a.created_at
         FROM accounts a
         WHERE a.opened_position > $1 AND a.opened_position <= $2
         ORDER BY a.opened_position LIMIT $3)
    ) AS e
    JOIN accounts f ON f.id = e.account_id
    LEFT JOIN accounts d ON d.id = e.to_account_id
    ORDER BY e.position LIMIT $3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    TransferPosted,
    TransferPending,
    TransferVoided,
    TransferExpired,
    AccountOpened,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::TransferPosted,
        EventKind::TransferPending,
        EventKind::TransferVoided,
        EventKind::TransferExpired,
        EventKind::AccountOpened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TransferPosted => "transfer.posted",
            EventKind::TransferPending => "transfer.pending",
            EventKind::TransferVoided => "transfer.voided",
            EventKind::TransferExpired => "transfer.expired",
            EventKind::AccountOpened => "account.opened",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// One change, as it was when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub kind: EventKind,
    pub created_at: OffsetDateTime,
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    /// The transfer with its accounts' owners (who may see it) and, when it moved money, each
    /// account's balance right after it.
    Transfer {
        transfer: Transfer,
        from_owner: Option<String>,
        to_owner: Option<String>,
        from_balance_after: Option<i64>,
        to_balance_after: Option<i64>,
    },
    /// The account as opened: no money yet.
    Account(AccountSnapshot),
}

impl Event {
    /// Whether `username` owns an account this event touches.
    pub fn touches_owner(&self, username: &str) -> bool {
        let owner = Some(username);
        match &self.body {
            EventBody::Transfer {
                from_owner,
                to_owner,
                ..
            } => from_owner.as_deref() == owner || to_owner.as_deref() == owner,
            EventBody::Account(account) => account.owner.as_deref() == owner,
        }
    }
}

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

fn event(id: i64, row: &Row) -> Result<Event, String> {
    let corrupt = |what: &str| format!("event {id}: unreadable {what}");
    let status: String = row.get("status");
    let currency: String = row.get("currency");
    let currency = Currency::parse(&currency).ok_or_else(|| corrupt("currency"))?;
    let subject_id: TransferId = row.get("subject_id");
    let account_id: AccountId = row.get("account_id");
    let created_at: OffsetDateTime = row.get("created_at");
    let at: OffsetDateTime = row.get("at");
    if status == "opened" {
        let kind: String = row.get("account_kind");
        let account = AccountSnapshot {
            id: account_id,
            owner: row.get("from_owner"),
            balance: 0,
            held: 0,
            currency,
            kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("account kind"))?,
            created_at,
            status: crate::model::AccountStatus::Active,
            overdraft: 0,
        };
        return Ok(Event {
            id,
            kind: EventKind::AccountOpened,
            created_at: at,
            body: EventBody::Account(account),
        });
    }
    let status = TransferStatus::parse(&status).ok_or_else(|| corrupt("status"))?;
    let kind = match status {
        TransferStatus::Pending => EventKind::TransferPending,
        TransferStatus::Posted => EventKind::TransferPosted,
        TransferStatus::Voided => EventKind::TransferVoided,
        TransferStatus::Expired => EventKind::TransferExpired,
    };
    let transfer = Transfer {
        id: subject_id,
        from_account_id: account_id,
        to_account_id: row.get("to_account_id"),
        amount: Amount::new(row.get("amount")).map_err(|_| corrupt("amount"))?,
        currency,
        status,
        created_at,
        posted_at: row.get("posted_at"),
        expires_at: row.get("expires_at"),
        // Events reach both parties: what only the payer may read stays out of them.
        details: TransferDetails::default(),
        reversed_amount: 0,
    };
    Ok(Event {
        id,
        kind,
        created_at: at,
        body: EventBody::Transfer {
            transfer,
            from_owner: row.get("from_owner"),
            to_owner: row.get("to_owner"),
            from_balance_after: row.get("from_balance_after"),
            to_balance_after: row.get("to_balance_after"),
        },
    })
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
            if !self.mark_once(&mut client).await? {
                break;
            }
        }
        Ok(query_one(&client, LAST_MARK, &[]).await?.get(0))
    }

    /// Numbers up to EVENT_MARK_EVENTS_MAX events below the watermark; true if it wrote a full
    /// mark (more may wait).
    async fn mark_once(&self, client: &mut deadpool_postgres::Client) -> Result<bool, String> {
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
