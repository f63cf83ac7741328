//! The read side: accounts, statements, balances at an instant, and transfers, straight from
//! PostgreSQL. Every answer the engine gave was committed before it was given, so these reads
//! include it. Statements read the transfer rows through their by-account indexes (`entries` is
//! a view over them).

mod search;

pub use search::{SearchPage, SearchScope, TransferSearch};

use std::sync::{Arc, OnceLock};

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::metrics::EngineMetrics;
use crate::model::{
    AccountId, AccountKind, AccountSnapshot, AccountStatus, Amount, Currency, Entry, LookupError,
    Outage, Transfer, TransferDetails, TransferId, TransferStatus,
};
use crate::replica::ReadReplica;

/// One page of an account's statement: entries with an id below `before_id`, posted in
/// `[since, until)`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementQuery {
    pub limit: i64,
    pub before_id: i64,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// One page of the transfers touching an account, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransfersQuery {
    pub status: Option<TransferStatus>,
    pub limit: i64,
    pub before_id: TransferId,
}

/// One line of a statement: the entry, the account on the other side, what the transfer says,
/// and its reference on a debit only (the payer's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub entry: Entry,
    pub counterparty_account_id: AccountId,
    pub description: Option<String>,
    pub reference: Option<String>,
}

/// A transfer with the owners of its two accounts, so the caller can decide who may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferWithOwners {
    pub transfer: Transfer,
    pub from_owner: Option<String>,
    pub to_owner: Option<String>,
}

/// Accounts by id, whichever exist (a missing id has no row).
const ACCOUNTS_BY_ID: &str = "SELECT id, owner, balance, held, currency, kind, created_at,
        status, overdraft FROM accounts WHERE id = ANY($1)";

const ACCOUNTS_OF: &str = "SELECT id, owner, balance, held, currency, kind, created_at,
        status, overdraft FROM accounts WHERE owner = $1 ORDER BY id LIMIT $2 OFFSET $3";

/// The transfers on either side of an account, newest first: two index scans, merged. The
/// pending transfers' postings (rows with `pending_id`) are internal and never listed.
const TRANSFERS_OF: &str = "SELECT * FROM (
        (SELECT id, from_account_id, to_account_id, amount, currency, status, created_at,
                posted_at, expires_at, description, reference, metadata, reversal_of,
                reversed_amount
         FROM transfers
         WHERE from_account_id = $1 AND id < $2 AND pending_id IS NULL
           AND ($3::text IS NULL OR status = $3)
         ORDER BY id DESC LIMIT $4)
        UNION ALL
        (SELECT id, from_account_id, to_account_id, amount, currency, status, created_at,
                posted_at, expires_at, description, reference, metadata, reversal_of,
                reversed_amount
         FROM transfers
         WHERE to_account_id = $1 AND id < $2 AND pending_id IS NULL
           AND ($3::text IS NULL OR status = $3)
         ORDER BY id DESC LIMIT $4)
    ) AS t ORDER BY id DESC LIMIT $4";

/// Which of these (payer, reference) pairs are taken, through `transfers_reference_per_payer`.
const TAKEN_REFERENCES: &str = "SELECT t.from_account_id, t.reference FROM transfers t
    JOIN unnest($1::bigint[], $2::text[]) AS asked(from_id, reference)
      ON t.from_account_id = asked.from_id AND t.reference = asked.reference
    WHERE t.reference IS NOT NULL";

/// Due holds, each account's oldest first (`turn` 1), then every account's second, and so on.
const DUE_PENDING: &str = "SELECT id FROM (
        SELECT id, expires_at,
               row_number() OVER (PARTITION BY from_account_id ORDER BY expires_at) AS turn
        FROM transfers WHERE status = 'pending' AND expires_at <= now()
    ) AS due ORDER BY turn, expires_at LIMIT $1";

/// Open holds per paying account, through `transfers_pending_by_payer`.
const HOLDS_OPEN: &str = "SELECT from_account_id, count(*) FROM transfers
    WHERE status = 'pending' AND from_account_id = ANY($1) GROUP BY from_account_id";

/// A transfer (not a posting) with its accounts' owners.
const FIND_TRANSFER: &str = "SELECT t.id, t.from_account_id, t.to_account_id, t.amount,
        t.currency, t.status, t.created_at, t.posted_at, t.expires_at, f.owner, d.owner,
        t.description, t.reference, t.metadata, t.reversal_of, t.reversed_amount
    FROM transfers t
    JOIN accounts f ON f.id = t.from_account_id
    JOIN accounts d ON d.id = t.to_account_id
    WHERE t.id = $1 AND t.pending_id IS NULL";

/// The legs of one account, newest first: its debits and its credits are two index scans
/// (transfers by from and by to account), merged. Entry ids are 2t (debit) and 2t+1 (credit), so
/// `before_id` becomes a transfer id bound per side ($2 for debits, $3 for credits). What the
/// transfer says is on its own row (a posting's is on the pending row it posts): one primary key
/// lookup per leg of the page.
const STATEMENT: &str = "SELECT legs.id, legs.transfer_id, legs.amount, legs.balance_after,
        legs.created_at, legs.counterparty, said.description,
        CASE WHEN legs.amount < 0 THEN said.reference END
    FROM (
        (SELECT id * 2 AS id, COALESCE(pending_id, id) AS transfer_id, -amount AS amount,
                from_balance_after AS balance_after, posted_at AS created_at,
                to_account_id AS counterparty
         FROM transfers
         WHERE from_account_id = $1 AND id < $2 AND from_balance_after IS NOT NULL
           AND posted_at >= $4 AND posted_at < $5
         ORDER BY id DESC LIMIT $6)
        UNION ALL
        (SELECT id * 2 + 1, COALESCE(pending_id, id), amount, to_balance_after, posted_at,
                from_account_id
         FROM transfers
         WHERE to_account_id = $1 AND id < $3 AND to_balance_after IS NOT NULL
           AND posted_at >= $4 AND posted_at < $5
         ORDER BY id DESC LIMIT $6)
        ORDER BY id DESC LIMIT $6
    ) AS legs
    JOIN transfers said ON said.id = legs.transfer_id
    ORDER BY legs.id DESC";

/// The posted balance right after the newest leg at or before an instant.
const BALANCE_AT: &str = "SELECT balance_after FROM (
        (SELECT id, from_balance_after AS balance_after FROM transfers
         WHERE from_account_id = $1 AND from_balance_after IS NOT NULL AND posted_at <= $2
         ORDER BY id DESC LIMIT 1)
        UNION ALL
        (SELECT id, to_balance_after FROM transfers
         WHERE to_account_id = $1 AND to_balance_after IS NOT NULL AND posted_at <= $2
         ORDER BY id DESC LIMIT 1)
    ) AS legs ORDER BY id DESC LIMIT 1";

/// The read handle: SQL-only reads of accounts, statements and transfers, beside the engine's
/// command handle. It touches no actor, so a read never activates one nor waits behind a
/// movement. Cheap to clone: `Engine::reads` hands out the engine's own.
#[derive(Clone)]
pub struct Reads {
    pool: Pool,
    /// Where statements, balances at an instant and lists may be read (`database.read_url`).
    replica: Arc<OnceLock<ReadReplica>>,
    metrics: EngineMetrics,
}

impl Reads {
    pub(crate) fn new(pool: Pool, metrics: EngineMetrics) -> Reads {
        Reads {
            pool,
            replica: Arc::new(OnceLock::new()),
            metrics,
        }
    }

    /// Reads statements, balances at an instant and lists from `replica` while it is fresh;
    /// set once, at start.
    pub fn use_read_replica(&self, replica: ReadReplica) {
        assert!(
            self.replica.set(replica).is_ok(),
            "the read replica is set once"
        );
    }

    /// An owner's accounts by id, one page.
    pub async fn accounts_of(
        &self,
        owner: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<AccountSnapshot>, LookupError> {
        let rows = self
            .read_query(ACCOUNTS_OF, &[&owner, &limit, &offset])
            .await?;
        self.decoded(rows.iter().map(account).collect())
    }

    /// An account as PostgreSQL holds it: every transfer already answered, by any replica, is
    /// in it. Activates no actor.
    pub async fn account_committed(&self, id: AccountId) -> Result<AccountSnapshot, LookupError> {
        let mut found = self.accounts_by_id(&[id]).await?;
        found.pop().ok_or(LookupError::NotFound)
    }

    /// The accounts among `ids` that exist (in no particular order), in one query; activates no
    /// actor. For checks on many accounts at once, such as a batch's payers.
    pub async fn accounts_by_id(
        &self,
        ids: &[AccountId],
    ) -> Result<Vec<AccountSnapshot>, LookupError> {
        self.metrics.account_lookup_queries.inc();
        let rows = self.query(ACCOUNTS_BY_ID, &[&ids]).await?;
        self.decoded(rows.iter().map(account).collect())
    }

    /// One page of an account's statement (the caller has checked it may read the account).
    pub async fn statement(
        &self,
        account: AccountId,
        query: StatementQuery,
    ) -> Result<Vec<StatementLine>, LookupError> {
        let debits_before = query.before_id / 2 + (query.before_id & 1);
        let credits_before = query.before_id / 2;
        let since = query.since.unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let until = query.until.unwrap_or(far_future());
        let rows = self
            .read_query(
                STATEMENT,
                &[
                    &account,
                    &debits_before,
                    &credits_before,
                    &since,
                    &until,
                    &query.limit,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| StatementLine {
                entry: Entry {
                    id: row.get(0),
                    account_id: account,
                    transfer_id: row.get(1),
                    amount: row.get(2),
                    balance_after: row.get(3),
                    created_at: row.get(4),
                },
                counterparty_account_id: row.get(5),
                description: row.get(6),
                reference: row.get(7),
            })
            .collect())
    }

    /// The account's posted balance at an instant: 0 before its first entry.
    pub async fn balance_at(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<i64, LookupError> {
        let rows = self.read_query(BALANCE_AT, &[&account, &at]).await?;
        Ok(rows.first().map_or(0, |row| row.get(0)))
    }

    /// One page of the transfers where the account is either side, newest first.
    pub async fn transfers_of(
        &self,
        account: AccountId,
        query: TransfersQuery,
    ) -> Result<Vec<Transfer>, LookupError> {
        let status = query.status.map(TransferStatus::as_str);
        let rows = self
            .read_query(
                TRANSFERS_OF,
                &[&account, &query.before_id, &status, &query.limit],
            )
            .await?;
        self.decoded(rows.iter().map(transfer).collect())
    }

    /// A transfer by id with its accounts' owners; `None` when there is none (postings of
    /// pending transfers are internal rows and are not found either).
    pub async fn find_transfer(
        &self,
        id: TransferId,
    ) -> Result<Option<TransferWithOwners>, LookupError> {
        let rows = self.query(FIND_TRANSFER, &[&id]).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(TransferWithOwners {
            transfer: self.decoded(transfer(row))?,
            from_owner: row.get(9),
            to_owner: row.get(10),
        }))
    }

    /// Pending transfers past their `expires_at`, at most `limit`, round-robin by paying
    /// account: every account's oldest due hold comes before any account's second, so one
    /// account's flood of holds delays nobody else's.
    pub(crate) async fn due_pending(&self, limit: usize) -> Result<Vec<TransferId>, LookupError> {
        let rows = self.query(DUE_PENDING, &[&(limit as i64)]).await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Open holds each of `payers` pays now (payers without any are absent), in one query.
    pub async fn holds_open(
        &self,
        payers: &[AccountId],
    ) -> Result<std::collections::HashMap<AccountId, usize>, LookupError> {
        let rows = self.query(HOLDS_OPEN, &[&payers]).await?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get::<_, i64>(1) as usize))
            .collect())
    }

    /// Sets the held-amount gauge from PostgreSQL (every replica's holds), per currency.
    pub(crate) async fn refresh_held_gauge(&self) -> Result<(), LookupError> {
        let rows = self
            .query(
                "SELECT currency, sum(amount)::bigint FROM transfers WHERE status = 'pending'
                 GROUP BY currency",
                &[],
            )
            .await?;
        let held: std::collections::HashMap<String, i64> =
            rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        for currency in Currency::ALL {
            let amount = held.get(currency.as_str()).copied().unwrap_or(0);
            self.metrics
                .held_amount
                .with_label_values(&[currency.as_str()])
                .set(amount);
        }
        Ok(())
    }

    /// A read that may come from the read replica: from it while it is fresh, else (or when
    /// it fails) from the primary. Never for a read that authorises a write.
    /// Rows that did not decode are logged and counted as corrupt where they are found.
    fn decoded<T>(&self, result: Result<T, LookupError>) -> Result<T, LookupError> {
        if let Err(LookupError::Corrupt { what }) = &result {
            self.metrics.corrupt("read_row", what);
        }
        result
    }

    async fn read_query(
        &self,
        sql: &str,
        parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, LookupError> {
        if let Some(replica) = self.replica.get().filter(|r| r.fresh()) {
            match query_on(&replica.pool, sql, parameters).await {
                Ok(rows) => return Ok(rows),
                Err(error) => {
                    tracing::debug!(%error, "the read replica failed; reading the primary")
                }
            }
        }
        query_on(&self.pool, sql, parameters).await
    }

    /// Which (payer, reference) pairs a committed transfer already uses.
    pub(crate) async fn taken_references(
        &self,
        asked: &[(AccountId, &str)],
    ) -> Result<std::collections::HashSet<(AccountId, String)>, LookupError> {
        if asked.is_empty() {
            return Ok(Default::default());
        }
        let payers: Vec<AccountId> = asked.iter().map(|pair| pair.0).collect();
        let references: Vec<&str> = asked.iter().map(|pair| pair.1).collect();
        let rows = self
            .query(TAKEN_REFERENCES, &[&payers, &references])
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    async fn query(
        &self,
        sql: &str,
        parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, LookupError> {
        query_on(&self.pool, sql, parameters).await
    }
}

async fn query_on(
    pool: &deadpool_postgres::Pool,
    sql: &str,
    parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Row>, LookupError> {
    let unavailable = |reason: String| LookupError::Unavailable(Outage::Database(reason));
    let client = pool
        .get()
        .await
        .map_err(|error| unavailable(error.to_string()))?;
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(|error| unavailable(crate::db::describe(&error)))?;
    client
        .query(&statement, parameters)
        .await
        .map_err(|error| unavailable(crate::db::describe(&error)))
}

/// Later than any instant a row can carry; `until` defaults to it.
fn far_future() -> OffsetDateTime {
    time::macros::datetime!(9999-01-01 00:00 UTC)
}

fn corrupt(what: &'static str) -> LookupError {
    LookupError::Corrupt { what }
}

fn account(row: &Row) -> Result<AccountSnapshot, LookupError> {
    let currency: String = row.get("currency");
    let kind: String = row.get("kind");
    Ok(AccountSnapshot {
        id: row.get("id"),
        owner: row.get("owner"),
        balance: row.get("balance"),
        held: row.get("held"),
        currency: Currency::parse(&currency).ok_or_else(|| corrupt("currency"))?,
        kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("account kind"))?,
        created_at: row.get("created_at"),
        status: AccountStatus::parse(row.get("status")).ok_or_else(|| corrupt("account status"))?,
        overdraft: row.get("overdraft"),
    })
}

fn transfer(row: &Row) -> Result<Transfer, LookupError> {
    let currency: String = row.get(4);
    let status: String = row.get(5);
    Ok(Transfer {
        id: row.get(0),
        from_account_id: row.get(1),
        to_account_id: row.get(2),
        amount: Amount::new(row.get(3)).map_err(|_| corrupt("amount"))?,
        currency: Currency::parse(&currency).ok_or_else(|| corrupt("currency"))?,
        status: TransferStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        created_at: row.get(6),
        posted_at: row.get(7),
        expires_at: row.get(8),
        details: TransferDetails {
            reversal_of: row.get("reversal_of"),
            ..TransferDetails::from_columns(
                row.get("description"),
                row.get("reference"),
                row.get("metadata"),
            )
        },
        reversed_amount: row.get("reversed_amount"),
    })
}
