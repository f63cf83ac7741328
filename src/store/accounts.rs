//! Reads of accounts, statements and transfers. Balances are only read here, never written:
//! every 2xx of a transfer comes after its commit, so these reads include it.

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use crate::domain::{Page, StatementPage};
use crate::error::ApiError;
use crate::routes::views::{AccountView, EntryView, TransferView};

fn account(row: &Row) -> AccountView {
    AccountView {
        id: row.get("id"),
        owner: row.get("owner"),
        balance: row.get("balance"),
        currency: row.get("currency"),
        created_at: row.get("created_at"),
    }
}

pub async fn find_account(pool: &Pool, id: i64) -> Result<Option<AccountView>, ApiError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT id, owner, balance, currency, created_at FROM accounts WHERE id = $1",
        )
        .await?;
    Ok(client
        .query_opt(&statement, &[&id])
        .await?
        .as_ref()
        .map(account))
}

/// The owner's accounts by id, one page.
pub async fn list_accounts(
    pool: &Pool,
    owner: &str,
    page: Page,
) -> Result<Vec<AccountView>, ApiError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT id, owner, balance, currency, created_at FROM accounts
             WHERE owner = $1 ORDER BY id LIMIT $2 OFFSET $3",
        )
        .await?;
    let rows = client
        .query(&statement, &[&owner, &page.limit, &page.offset])
        .await?;
    Ok(rows.iter().map(account).collect())
}

/// One account's entries, newest first, strictly before `page.before_id`.
pub async fn statement(
    pool: &Pool,
    account_id: i64,
    page: StatementPage,
) -> Result<Vec<EntryView>, ApiError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT id, account_id, transfer_id, amount, created_at FROM entries
             WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .await?;
    let rows = client
        .query(&statement, &[&account_id, &page.before_id, &page.limit])
        .await?;
    Ok(rows
        .iter()
        .map(|row| EntryView {
            id: row.get("id"),
            account_id: row.get("account_id"),
            transfer_id: row.get("transfer_id"),
            amount: row.get("amount"),
            created_at: row.get("created_at"),
        })
        .collect())
}

/// A transfer with the owners of its two accounts (to decide who may see it).
pub struct TransferWithOwners {
    pub transfer: TransferView,
    pub from_owner: Option<String>,
    pub to_owner: Option<String>,
}

pub async fn find_transfer(pool: &Pool, id: i64) -> Result<Option<TransferWithOwners>, ApiError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT t.id, t.from_account_id, t.to_account_id, t.amount, t.currency, t.created_at,
                    f.owner AS from_owner, d.owner AS to_owner
             FROM transfers t
             JOIN accounts f ON f.id = t.from_account_id
             JOIN accounts d ON d.id = t.to_account_id
             WHERE t.id = $1",
        )
        .await?;
    Ok(client
        .query_opt(&statement, &[&id])
        .await?
        .map(|row| TransferWithOwners {
            transfer: TransferView {
                id: row.get("id"),
                from_account_id: row.get("from_account_id"),
                to_account_id: row.get("to_account_id"),
                amount: row.get("amount"),
                currency: row.get("currency"),
                created_at: row.get("created_at"),
            },
            from_owner: row.get("from_owner"),
            to_owner: row.get("to_owner"),
        }))
}
