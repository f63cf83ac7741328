//! The writer's statements and their round trips: each takes plain data from the plan and
//! returns what PostgreSQL answered, as data.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use super::answers::KeyRow;
use super::plan::{AccountAfter, Claimed, Deltas};
use super::{JournalItem, Operation};
use crate::journal_sql::{
    ALLOCATE_IDS, APPLY_DELTAS, APPLY_HELD_DELTAS, CLAIM_PENDING, INSERT_HOLD_ROWS,
    INSERT_IDEMPOTENCY_KEYS, INSERT_TRANSFERS, LOCK_ACCOUNTS, LOCK_PENDING, WRITE_TRANSFERS,
};
use crate::model::{AccountId, Entry, TransferId, TransferStatus, Transferred};

/// The journal's statements, prepared once per connection.
pub(crate) struct Statements {
    allocate_ids: Statement,
    lock_accounts: Statement,
    apply_deltas: Statement,
    apply_held_deltas: Statement,
    lock_pending: Statement,
    claim_pending: Statement,
    insert_transfers: Statement,
    insert_hold_rows: Statement,
    insert_idempotency_keys: Statement,
    write_transfers: Statement,
}

impl Statements {
    pub(crate) async fn prepare(
        client: &tokio_postgres::Client,
    ) -> Result<Statements, tokio_postgres::Error> {
        let (allocate_ids, lock_accounts, apply_deltas, apply_held_deltas, lock_pending) = tokio::try_join!(
            client.prepare(ALLOCATE_IDS),
            client.prepare(LOCK_ACCOUNTS),
            client.prepare(APPLY_DELTAS),
            client.prepare(APPLY_HELD_DELTAS),
            client.prepare(LOCK_PENDING),
        )?;
        let (
            claim_pending,
            insert_transfers,
            insert_hold_rows,
            insert_idempotency_keys,
            write_transfers,
        ) = tokio::try_join!(
            client.prepare(CLAIM_PENDING),
            client.prepare(INSERT_TRANSFERS),
            client.prepare(INSERT_HOLD_ROWS),
            client.prepare(INSERT_IDEMPOTENCY_KEYS),
            client.prepare(WRITE_TRANSFERS),
        )?;
        Ok(Statements {
            allocate_ids,
            lock_accounts,
            apply_deltas,
            apply_held_deltas,
            lock_pending,
            claim_pending,
            insert_transfers,
            insert_hold_rows,
            insert_idempotency_keys,
            write_transfers,
        })
    }
}

/// What the one round trip of a batch of plain transfers returned, its COMMIT included.
pub(crate) struct Written {
    /// Accounts out of bounds (or missing): nothing was written, their items must go.
    pub stale: HashSet<AccountId>,
    /// Every touched account after the batch; empty when any was stale.
    pub balances: HashMap<AccountId, AccountAfter>,
    /// Each item's new row id, in item order; empty when any account was stale.
    pub ids: Ids,
}

/// A batch of plain transfers in one pipelined exchange: BEGIN, the row locks in id order,
/// WRITE_TRANSFERS (updates, ids, legs and inserts, all or nothing) and COMMIT. Each prepared
/// statement's request leaves on its future's first poll and try_join! polls in order, so all
/// four reach PostgreSQL in order before the first answer is awaited. Should a statement fail,
/// PostgreSQL turns the COMMIT into a ROLLBACK; the answer comes only after COMMIT returned.
pub(crate) async fn write_transfers(
    client: &tokio_postgres::Client,
    statements: &Statements,
    items: &[JournalItem],
    deltas: &Deltas,
) -> Result<Written, WriteFailed> {
    assert!(
        items
            .iter()
            .all(|item| item.operation == Operation::Transfer),
        "only plain transfers travel in one round trip"
    );
    let ids: Vec<AccountId> = deltas.keys().copied().collect();
    let changes: Vec<i64> = deltas.values().map(|delta| delta.0).collect();
    let from: Vec<AccountId> = items.iter().map(|item| item.from.info.id).collect();
    let to: Vec<AccountId> = items.iter().map(|item| item.to.info.id).collect();
    let amounts: Vec<i64> = items.iter().map(|item| item.amount.get()).collect();
    let currencies: Vec<&str> = items.iter().map(|item| item.currency.as_str()).collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let write_parameters: [&(dyn ToSql + Sync); 6] =
        [&ids, &changes, &from, &to, &amounts, &currencies];
    let before = WriteFailed::BeforeCommit;
    // Async blocks send on their first poll too, so the four still leave in order, together.
    let (_, _, rows, _) = tokio::try_join!(
        async { client.batch_execute("BEGIN").await.map_err(before) },
        async {
            client
                .query(&statements.lock_accounts, &lock_parameters)
                .await
                .map_err(before)
        },
        async {
            client
                .query(&statements.write_transfers, &write_parameters)
                .await
                .map_err(before)
        },
        async {
            client
                .batch_execute("COMMIT")
                .await
                .map_err(WriteFailed::Commit)
        },
    )?;
    Ok(written(&rows, items.len(), deltas.len()))
}

/// Which answer of the exchange carried the error.
pub(crate) enum WriteFailed {
    /// A statement before COMMIT: when PostgreSQL answered it with an error, the transaction
    /// aborted and the COMMIT that follows is a ROLLBACK.
    BeforeCommit(tokio_postgres::Error),
    Commit(tokio_postgres::Error),
}

/// Reads WRITE_TRANSFERS's rows (see its comment for their kinds).
fn written(rows: &[tokio_postgres::Row], items_count: usize, accounts_count: usize) -> Written {
    let mut written = Written {
        stale: HashSet::new(),
        balances: HashMap::with_capacity(accounts_count),
        ids: Ids {
            transfers: vec![0; items_count],
            created_at: OffsetDateTime::now_utc(),
        },
    };
    let mut inserted = 0;
    for row in rows {
        let id: i64 = row.get(1);
        match row.get::<_, &str>(0) {
            "account" => {
                let after = AccountAfter {
                    balance: row.get(2),
                    held: row.get(3),
                };
                written.balances.insert(AccountId::new(id), after);
            }
            "stale" => {
                written.stale.insert(AccountId::new(id));
            }
            kind => {
                assert_eq!(kind, "transfer", "a known kind of row");
                let index = usize::try_from(id - 1).expect("an item index from 1");
                written.ids.transfers[index] = row.get(2);
                written.ids.created_at = row.get(4);
                inserted += 1;
            }
        }
    }
    if written.stale.is_empty() {
        // The batch committed: every account was updated and every item's row inserted.
        assert_eq!(
            written.balances.len(),
            accounts_count,
            "every account updated"
        );
        assert_eq!(inserted, items_count, "every item's row inserted");
    } else {
        assert!(
            written.balances.is_empty() && inserted == 0,
            "a stale account writes nothing"
        );
        written.ids.transfers.clear();
    }
    written
}

pub(crate) struct Ids {
    pub transfers: Vec<i64>,
    pub created_at: OffsetDateTime,
}

pub(crate) async fn allocate_ids(
    client: &tokio_postgres::Client,
    statements: &Statements,
    count: usize,
) -> Result<Ids, tokio_postgres::Error> {
    let rows = client
        .query(&statements.allocate_ids, &[&(count as i64)])
        .await?;
    assert_eq!(rows.len(), count, "one id per row");
    let created_at = rows
        .first()
        .map(|row| row.get(1))
        .unwrap_or_else(OffsetDateTime::now_utc);
    Ok(Ids {
        transfers: rows.iter().map(|row| row.get(0)).collect(),
        created_at,
    })
}

/// Locks the batch's pending transfers in id order and ends those still pending; returns the
/// ones it ended. Sends nothing when the batch ends none.
pub(crate) async fn claim_pending(
    client: &tokio_postgres::Client,
    statements: &Statements,
    claims: &[(TransferId, &'static str, i64)],
) -> Result<HashMap<TransferId, Claimed>, tokio_postgres::Error> {
    if claims.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<TransferId> = claims.iter().map(|claim| claim.0).collect();
    let statuses: Vec<&str> = claims.iter().map(|claim| claim.1).collect();
    let amounts: Vec<i64> = claims.iter().map(|claim| claim.2).collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let claim_parameters: [&(dyn ToSql + Sync); 3] = [&ids, &statuses, &amounts];
    let (_, rows) = tokio::try_join!(
        biased;
        client.query(&statements.lock_pending, &lock_parameters),
        client.query(&statements.claim_pending, &claim_parameters),
    )?;
    Ok(rows
        .iter()
        .map(|row| {
            let claimed = Claimed {
                created_at: row.get(1),
                expires_at: row.get(2),
                posted_at: row.get(3),
            };
            (row.get(0), claimed)
        })
        .collect())
}

/// Applies the net deltas; returns the state after them of every account updated. The lock is
/// pipelined before the update, so it runs first. Batches of plain transfers use the leaner
/// statement that leaves `held` alone.
pub(crate) async fn apply_deltas(
    client: &tokio_postgres::Client,
    statements: &Statements,
    deltas: &Deltas,
) -> Result<HashMap<AccountId, AccountAfter>, tokio_postgres::Error> {
    let ids: Vec<AccountId> = deltas.keys().copied().collect();
    let changes: Vec<i64> = deltas.values().map(|delta| delta.0).collect();
    let held_changes: Vec<i64> = deltas.values().map(|delta| delta.1).collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let rows = if held_changes.iter().all(|held| *held == 0) {
        let update_parameters: [&(dyn ToSql + Sync); 2] = [&ids, &changes];
        let (_, rows) = tokio::try_join!(
            biased;
            client.query(&statements.lock_accounts, &lock_parameters),
            client.query(&statements.apply_deltas, &update_parameters),
        )?;
        rows
    } else {
        let update_parameters: [&(dyn ToSql + Sync); 3] = [&ids, &changes, &held_changes];
        let (_, rows) = tokio::try_join!(
            biased;
            client.query(&statements.lock_accounts, &lock_parameters),
            client.query(&statements.apply_held_deltas, &update_parameters),
        )?;
        rows
    };
    Ok(rows
        .iter()
        .map(|row| {
            let after = AccountAfter {
                balance: row.get(1),
                held: row.get(2),
            };
            (row.get(0), after)
        })
        .collect())
}

/// Inserts the plain transfers' rows (the fast path: both legs, nothing else).
pub(crate) async fn insert_transfers(
    client: &tokio_postgres::Client,
    statements: &Statements,
    items: &[JournalItem],
    transfers: &[Transferred],
) -> Result<u64, tokio_postgres::Error> {
    let plain: Vec<&Transferred> = items
        .iter()
        .zip(transfers)
        .filter(|(item, _)| item.operation == Operation::Transfer)
        .map(|(_, transferred)| transferred)
        .collect();
    if plain.is_empty() {
        return Ok(0);
    }
    let column =
        |get: fn(&Transferred) -> i64| -> Vec<i64> { plain.iter().map(|t| get(t)).collect() };
    let currencies: Vec<&str> = plain.iter().map(|t| t.transfer.currency.as_str()).collect();
    let balance_after = |entry: &Option<Entry>| entry.as_ref().expect("a posted leg").balance_after;
    client
        .execute(
            &statements.insert_transfers,
            &[
                &column(|t| t.transfer.id.get()),
                &column(|t| t.transfer.from_account_id.get()),
                &column(|t| t.transfer.to_account_id.get()),
                &column(|t| t.transfer.amount.get()),
                &currencies,
                &plain
                    .iter()
                    .map(|t| balance_after(&t.from_entry))
                    .collect::<Vec<i64>>(),
                &plain
                    .iter()
                    .map(|t| balance_after(&t.to_entry))
                    .collect::<Vec<i64>>(),
            ],
        )
        .await
}

/// Inserts new pending transfers and the postings of posted ones.
pub(crate) async fn insert_hold_rows(
    client: &tokio_postgres::Client,
    statements: &Statements,
    items: &[JournalItem],
    row_ids: &[Option<TransferId>],
    transfers: &[Transferred],
) -> Result<u64, tokio_postgres::Error> {
    let mut ids: Vec<TransferId> = Vec::new();
    let mut rows: Vec<(&JournalItem, &Transferred)> = Vec::new();
    for ((item, row_id), transferred) in items.iter().zip(row_ids).zip(transfers) {
        if let (Operation::CreatePending { .. } | Operation::Post { .. }, Some(row_id)) =
            (item.operation, row_id)
        {
            ids.push(*row_id);
            rows.push((item, transferred));
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let from: Vec<AccountId> = rows.iter().map(|(item, _)| item.from.info.id).collect();
    let to: Vec<AccountId> = rows.iter().map(|(item, _)| item.to.info.id).collect();
    let amounts: Vec<i64> = rows.iter().map(|(item, _)| item.amount.get()).collect();
    let currencies: Vec<&str> = rows
        .iter()
        .map(|(item, _)| item.currency.as_str())
        .collect();
    let statuses: Vec<&str> = rows
        .iter()
        .map(|(item, _)| match item.operation {
            Operation::Post { .. } => TransferStatus::Posted.as_str(),
            _ => TransferStatus::Pending.as_str(),
        })
        .collect();
    let expires: Vec<Option<OffsetDateTime>> = rows
        .iter()
        .map(|(item, _)| match item.operation {
            Operation::CreatePending { expires_at } => Some(expires_at),
            _ => None,
        })
        .collect();
    let pending_ids: Vec<Option<TransferId>> = rows
        .iter()
        .map(|(item, _)| item.operation.pending_id())
        .collect();
    let from_after: Vec<Option<i64>> = rows
        .iter()
        .map(|(_, t)| t.from_entry.as_ref().map(|entry| entry.balance_after))
        .collect();
    let to_after: Vec<Option<i64>> = rows
        .iter()
        .map(|(_, t)| t.to_entry.as_ref().map(|entry| entry.balance_after))
        .collect();
    client
        .execute(
            &statements.insert_hold_rows,
            &[
                &ids,
                &from,
                &to,
                &amounts,
                &currencies,
                &statuses,
                &expires,
                &pending_ids,
                &from_after,
                &to_after,
            ],
        )
        .await
}

/// Inserts the keys of keyed items and of keyed groups (with the group's whole outcome);
/// returns the (username, key) pairs actually inserted.
pub(crate) async fn insert_idempotency_keys(
    client: &tokio_postgres::Client,
    statements: &Statements,
    keyed: &[KeyRow<'_>],
) -> Result<HashSet<(String, String)>, tokio_postgres::Error> {
    if keyed.is_empty() {
        return Ok(HashSet::new());
    }
    let usernames: Vec<&str> = keyed.iter().map(|row| row.key.username.as_str()).collect();
    let keys: Vec<&str> = keyed.iter().map(|row| row.key.key.as_str()).collect();
    let hashes: Vec<&[u8]> = keyed
        .iter()
        .map(|row| row.key.request_hash.as_slice())
        .collect();
    let transfer_ids: Vec<Option<TransferId>> = keyed.iter().map(|row| row.transfer_id).collect();
    let operations: Vec<&str> = keyed.iter().map(|row| row.key.operation.as_str()).collect();
    let outcomes: Vec<&serde_json::Value> = keyed.iter().map(|row| &row.outcome).collect();
    let rows = client
        .query(
            &statements.insert_idempotency_keys,
            &[
                &usernames,
                &keys,
                &hashes,
                &transfer_ids,
                &operations,
                &outcomes,
            ],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}
