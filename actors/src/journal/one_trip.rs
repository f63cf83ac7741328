//! The one round trip of a batch of plain transfers without keys or references: BEGIN, the row
//! locks, WRITE_TRANSFERS and COMMIT pipelined, and what PostgreSQL answered, as data.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use super::plan::{self, AccountAfter, Deltas};
use super::round_trips::{detail_columns, Ids, Pipeline, Statements};
use super::JournalItem;
use crate::model::{AccountId, AccountStatus, Limit, TransferDetails, TransferId};

/// What the one round trip of a batch of plain transfers returned, its COMMIT included.
pub(crate) struct Written {
    /// Accounts out of bounds, not open to the change, or missing: nothing was written, their
    /// items must go.
    pub stale: HashSet<AccountId>,
    /// Every touched account after the batch; empty when any was stale.
    pub balances: HashMap<AccountId, AccountAfter>,
    /// Each item's new row id, in item order; empty when any account was stale.
    pub ids: Ids,
}

/// Which answer of the exchange carried the error.
pub(crate) enum WriteFailed {
    /// A statement before COMMIT: when PostgreSQL answered it with an error, the transaction
    /// aborted and the COMMIT that follows is a ROLLBACK.
    BeforeCommit(tokio_postgres::Error),
    /// The COMMIT's, with what the statements before it answered: what the batch wrote, should
    /// the COMMIT have landed.
    Commit {
        error: tokio_postgres::Error,
        written: Written,
    },
}

/// A batch of plain transfers in one pipelined exchange: BEGIN, the row locks in id order,
/// WRITE_TRANSFERS (the checks, updates, ids, legs and inserts, all or nothing) and COMMIT.
/// Each prepared statement's request leaves on its future's first poll and join! polls in
/// order, so all four reach PostgreSQL in order before the first answer is awaited. Should a
/// statement fail, PostgreSQL turns the COMMIT into a ROLLBACK; the answer comes only after
/// COMMIT returned.
pub(crate) async fn write_transfers(
    client: &tokio_postgres::Client,
    statements: &Statements,
    items: &[JournalItem],
    deltas: &Deltas,
) -> Result<Written, WriteFailed> {
    assert!(
        plan::one_round_trip(items),
        "only plain transfers without keys or references travel in one round trip"
    );
    let ids: Vec<AccountId> = deltas.keys().copied().collect();
    let changes: Vec<i64> = deltas.values().map(|delta| delta.0).collect();
    let debited = plan::debited(items, deltas);
    let from: Vec<AccountId> = items.iter().map(|item| item.from.info.id).collect();
    let to: Vec<AccountId> = items.iter().map(|item| item.to.info.id).collect();
    let amounts: Vec<i64> = items.iter().map(|item| item.amount.get()).collect();
    let currencies: Vec<&str> = items.iter().map(|item| item.currency.as_str()).collect();
    let details: Vec<&TransferDetails> = items.iter().map(|item| &item.details).collect();
    let (descriptions, _, metadata) = detail_columns(&details);
    let reversals: Vec<Option<TransferId>> = details.iter().map(|d| d.reversal_of).collect();
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    let write_parameters: [&(dyn ToSql + Sync); 10] = [
        &ids,
        &changes,
        &debited,
        &from,
        &to,
        &amounts,
        &currencies,
        &descriptions,
        &metadata,
        &reversals,
    ];
    let before = WriteFailed::BeforeCommit;
    // Each sends on its first poll, so the four leave in order, together. Biased: polled in
    // order. Every answer is awaited (join, not try_join), so a COMMIT that
    // went unanswered still comes with what WRITE_TRANSFERS wrote; and an error is read in
    // order, the first failed statement's (a read-only server's 25006 on the locks), never a
    // later one's 25P02 "transaction is aborted".
    let pipeline = Pipeline::default();
    let (begin, locked, rows, commit) = tokio::join!(
        biased;
        pipeline.statement(client.batch_execute("BEGIN")),
        pipeline.statement(client.query(&statements.lock_accounts, &lock_parameters)),
        pipeline.statement(client.query(&statements.write_transfers, &write_parameters)),
        pipeline.end(client),
    );
    begin.map_err(before)?;
    locked.map_err(before)?;
    let written = written(&rows.map_err(before)?, items.len(), deltas.len());
    match commit {
        Ok(()) => Ok(written),
        Err(error) => Err(WriteFailed::Commit { error, written }),
    }
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
                    status: AccountStatus::parse(row.get(4)).expect("accounts_status_known holds"),
                    limit: Limit {
                        overdraft: row.get(5),
                        floor: row.get(6),
                    },
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
                written.ids.created_at = row.get(7);
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
