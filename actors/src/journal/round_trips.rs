//! The writer's statements and their round trips: each takes plain data from the plan and
//! returns what PostgreSQL answered, as data.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::answers::KeyRow;
use super::plan::{AccountAfter, Claimed, Deltas};
use super::{JournalItem, Operation};
use crate::journal_sql::{
    ALLOCATE_IDS, APPLY_DELTAS, APPLY_HELD_DELTAS, CLAIM_PENDING, INSERT_HOLD_ROWS,
    INSERT_IDEMPOTENCY_KEYS, INSERT_REFERENCED_TRANSFERS, INSERT_TRANSFERS, JOURNAL_SESSION,
    LOCK_ACCOUNTS, LOCK_PENDING, WRITE_TRANSFERS,
};
use crate::model::{
    AccountId, AccountStatus, Entry, Limit, TransferDetails, TransferId, TransferStatus,
    Transferred,
};

/// The statements of one pipelined exchange and the COMMIT that ends it. PostgreSQL turns the
/// COMMIT into a ROLLBACK when a statement failed there; but a statement that failed before it
/// left (a parameter it could not encode, a closed connection) never reached PostgreSQL, and a
/// COMMIT would commit the others without it. Each statement sends on its first poll and a biased
/// join polls them all before the end, so such a failure is known when the end is sent: it is
/// then a ROLLBACK.
#[derive(Default)]
pub(crate) struct Pipeline {
    failed: AtomicBool,
}

impl Pipeline {
    pub(crate) async fn statement<T>(
        &self,
        sent: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, tokio_postgres::Error> {
        let answer = sent.await;
        if answer.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        answer
    }

    /// COMMIT, or ROLLBACK when a statement before it failed before leaving.
    pub(crate) async fn end(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        let end = match self.failed.load(Ordering::Relaxed) {
            true => "ROLLBACK",
            false => "COMMIT",
        };
        client.batch_execute(end).await
    }
}

/// The journal's statements, prepared once per connection.
pub(crate) struct Statements {
    allocate_ids: Statement,
    pub(super) lock_accounts: Statement,
    apply_deltas: Statement,
    apply_held_deltas: Statement,
    lock_pending: Statement,
    claim_pending: Statement,
    insert_transfers: Statement,
    insert_referenced_transfers: Statement,
    insert_hold_rows: Statement,
    insert_idempotency_keys: Statement,
    pub(super) write_transfers: Statement,
}

impl Statements {
    pub(crate) async fn prepare(
        client: &tokio_postgres::Client,
    ) -> Result<Statements, tokio_postgres::Error> {
        client.batch_execute(JOURNAL_SESSION).await?;
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
        let insert_referenced_transfers = client.prepare(INSERT_REFERENCED_TRANSFERS).await?;
        Ok(Statements {
            allocate_ids,
            lock_accounts,
            apply_deltas,
            apply_held_deltas,
            lock_pending,
            claim_pending,
            insert_transfers,
            insert_referenced_transfers,
            insert_hold_rows,
            insert_idempotency_keys,
            write_transfers,
        })
    }
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
                details: TransferDetails::from_columns(row.get(4), row.get(5), row.get(6)),
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
    debited: &[bool],
) -> Result<HashMap<AccountId, AccountAfter>, tokio_postgres::Error> {
    assert_eq!(debited.len(), deltas.len(), "a debit flag per account");
    let ids: Vec<AccountId> = deltas.keys().copied().collect();
    let changes: Vec<i64> = deltas.values().map(|delta| delta.0).collect();
    let held_changes: Vec<i64> = deltas.values().map(|delta| delta.1).collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let rows = if held_changes.iter().all(|held| *held == 0) {
        let update_parameters: [&(dyn ToSql + Sync); 3] = [&ids, &changes, &debited];
        let (_, rows) = tokio::try_join!(
            biased;
            client.query(&statements.lock_accounts, &lock_parameters),
            client.query(&statements.apply_deltas, &update_parameters),
        )?;
        rows
    } else {
        let update_parameters: [&(dyn ToSql + Sync); 4] = [&ids, &changes, &held_changes, &debited];
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
                status: AccountStatus::parse(row.get(3)).expect("accounts_status_known holds"),
                limit: Limit {
                    overdraft: row.get(4),
                    floor: row.get(5),
                },
            };
            (row.get(0), after)
        })
        .collect())
}

/// Inserts the plain transfers' rows (the fast path: both legs, nothing else); those with a
/// reference by a statement of their own. Returns the ids of the referenced rows inserted (a
/// referenced row whose reference its payer already used is skipped).
pub(crate) async fn insert_transfers(
    client: &tokio_postgres::Client,
    statements: &Statements,
    items: &[JournalItem],
    transfers: &[Transferred],
) -> Result<HashSet<TransferId>, tokio_postgres::Error> {
    let plain = |referenced: bool| -> Vec<&Transferred> {
        items
            .iter()
            .zip(transfers)
            .filter(|(item, _)| item.operation == Operation::Transfer)
            .filter(|(item, _)| item.details.reference.is_some() == referenced)
            .map(|(_, transferred)| transferred)
            .collect()
    };
    let (unreferenced, referenced) = (plain(false), plain(true));
    let (_, inserted) = tokio::try_join!(
        insert_plain(client, &statements.insert_transfers, &unreferenced, false),
        insert_plain(
            client,
            &statements.insert_referenced_transfers,
            &referenced,
            true
        ),
    )?;
    Ok(inserted)
}

/// One INSERT of plain transfer rows; with `referenced`, the statement with the reference
/// column, which returns the ids it inserted.
async fn insert_plain(
    client: &tokio_postgres::Client,
    statement: &Statement,
    plain: &[&Transferred],
    referenced: bool,
) -> Result<HashSet<TransferId>, tokio_postgres::Error> {
    if plain.is_empty() {
        return Ok(HashSet::new());
    }
    let column =
        |get: fn(&Transferred) -> i64| -> Vec<i64> { plain.iter().map(|t| get(t)).collect() };
    let currencies: Vec<&str> = plain.iter().map(|t| t.transfer.currency.as_str()).collect();
    let balance_after = |entry: &Option<Entry>| entry.as_ref().expect("a posted leg").balance_after;
    let from_after: Vec<i64> = plain.iter().map(|t| balance_after(&t.from_entry)).collect();
    let to_after: Vec<i64> = plain.iter().map(|t| balance_after(&t.to_entry)).collect();
    let details: Vec<&TransferDetails> = plain.iter().map(|t| &t.transfer.details).collect();
    let (descriptions, references, metadata) = detail_columns(&details);
    let reversals: Vec<Option<i64>> = details
        .iter()
        .map(|d| d.reversal_of.map(TransferId::get))
        .collect();
    let (ids, from, to, amounts) = (
        column(|t| t.transfer.id.get()),
        column(|t| t.transfer.from_account_id.get()),
        column(|t| t.transfer.to_account_id.get()),
        column(|t| t.transfer.amount.get()),
    );
    let mut parameters: Vec<&(dyn ToSql + Sync)> = vec![
        &ids,
        &from,
        &to,
        &amounts,
        &currencies,
        &from_after,
        &to_after,
        &descriptions,
        &metadata,
        &reversals,
    ];
    if !referenced {
        client.execute(statement, &parameters).await?;
        return Ok(HashSet::new());
    }
    parameters.push(&references);
    let rows = client.query(statement, &parameters).await?;
    Ok(rows.iter().map(|row| TransferId::new(row.get(0))).collect())
}

/// The description, reference and metadata columns of rows to insert.
#[allow(clippy::type_complexity)]
pub(super) fn detail_columns<'a>(
    details: &[&'a TransferDetails],
) -> (
    Vec<Option<&'a str>>,
    Vec<Option<&'a str>>,
    Vec<Option<serde_json::Value>>,
) {
    (
        details.iter().map(|d| d.description.as_deref()).collect(),
        details.iter().map(|d| d.reference.as_deref()).collect(),
        details.iter().map(|d| d.metadata_json()).collect(),
    )
}

/// Inserts new pending transfers and the postings of posted ones.
pub(crate) async fn insert_hold_rows(
    client: &tokio_postgres::Client,
    statements: &Statements,
    items: &[JournalItem],
    row_ids: &[Option<TransferId>],
    transfers: &[Transferred],
) -> Result<HashSet<TransferId>, tokio_postgres::Error> {
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
        return Ok(HashSet::new());
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
    let details: Vec<&TransferDetails> = rows.iter().map(|(item, _)| &item.details).collect();
    let (descriptions, references, metadata) = detail_columns(&details);
    let inserted = client
        .query(
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
                &descriptions,
                &references,
                &metadata,
            ],
        )
        .await?;
    Ok(inserted.iter().map(|row| row.get(0)).collect())
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

#[cfg(test)]
mod tests {
    use super::Pipeline;
    use tally_test_support::fresh_database;
    use tokio_postgres::Client;

    /// BEGIN, a row inserted, a second insert whose parameter cannot be encoded (it never
    /// leaves), and the end: `guarded` ends with the pipeline's, else with a plain COMMIT.
    async fn exchange(client: &Client, guarded: bool) -> i64 {
        let insert = client
            .prepare("INSERT INTO scratch VALUES ($1::bigint)")
            .await
            .expect("a statement");
        let pipeline = Pipeline::default();
        let (begin, first, second, end) = tokio::join!(
            biased;
            pipeline.statement(client.batch_execute("BEGIN")),
            pipeline.statement(client.execute(&insert, &[&1_i64])),
            pipeline.statement(client.execute(&insert, &[&"not a number"])),
            async {
                match guarded {
                    true => pipeline.end(client).await,
                    false => client.batch_execute("COMMIT").await,
                }
            },
        );
        begin.expect("BEGIN");
        assert_eq!(first.expect("the first row"), 1);
        let never_left = second.expect_err("a text for a bigint");
        assert!(never_left.as_db_error().is_none(), "refused by the client");
        end.expect("the end answered");
        client
            .query_one("SELECT count(*) FROM scratch", &[])
            .await
            .expect("a count")
            .get(0)
    }

    #[tokio::test]
    async fn a_statement_that_never_left_turns_the_commit_into_a_rollback() {
        let client = fresh_database().await.connect().await;
        client
            .batch_execute("CREATE TABLE scratch (n bigint)")
            .await
            .expect("a scratch table");
        assert_eq!(exchange(&client, true).await, 0, "rolled back");
        // What the guard is for: a plain COMMIT commits the first row without the second.
        assert_eq!(exchange(&client, false).await, 1, "committed in part");
    }
}
