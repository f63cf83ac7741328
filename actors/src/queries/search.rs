//! `GET /transfers`: the transfers a caller may see, filtered, newest first, one page.
//!
//! The page is the merge of index scans that each come out newest first (`id DESC`) and stop
//! after a page: for a customer, one scan per side per account they own (by the
//! `transfers_by_from_account` and `transfers_by_to_account` indexes, so a customer's page
//! never reads another customer's rows); for a banker, the named account's two sides, or the
//! whole table by id. The payer's own filters (`reference`, `metadata`) keep to the payer's side
//! for a customer: a payee cannot learn them by searching.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use super::{query_on, transfer, Reads};
use crate::model::{AccountId, Currency, LookupError, TransferId, TransferStatus};
use crate::queries::TransferWithOwners;

/// Whose transfers a search may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchScope {
    /// A customer: transfers touching an account they own.
    Owner(String),
    /// A banker: every transfer.
    Everything,
}

/// A search: every filter given must hold. `limit` is the page size (the caller bounds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSearch {
    pub scope: SearchScope,
    pub account_id: Option<AccountId>,
    pub reference: Option<String>,
    pub status: Option<TransferStatus>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Each key must have exactly this value (`metadata @> {...}`).
    pub metadata: BTreeMap<String, String>,
    pub limit: i64,
    pub before_id: TransferId,
}

/// One page, and where the next starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    pub transfers: Vec<TransferWithOwners>,
    pub next_before_id: Option<TransferId>,
}

/// The rows a branch selects; the postings of pending transfers are internal, never listed.
const COLUMNS: &str = "id, from_account_id, to_account_id, amount, currency, status, created_at,
    posted_at, expires_at, description, reference, metadata, reversal_of, reversed_amount";

/// A statement's text and its parameters, numbered as they are bound.
#[derive(Default)]
struct Sql {
    parameters: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.parameters.push(Box::new(value));
        format!("${}", self.parameters.len())
    }
}

impl Reads {
    /// One page of the transfers `search` allows, newest first.
    pub async fn search_transfers(
        &self,
        search: &TransferSearch,
    ) -> Result<SearchPage, LookupError> {
        assert!(search.limit >= 1, "a page holds at least one transfer");
        let owned = match &search.scope {
            SearchScope::Everything => None,
            SearchScope::Owner(owner) => Some(self.owned_account_ids(owner).await?),
        };
        if owned.as_ref().is_some_and(Vec::is_empty) {
            return Ok(SearchPage {
                transfers: Vec::new(),
                next_before_id: None,
            });
        }
        let mut sql = Sql::default();
        let text = statement(&mut sql, search, owned.as_deref());
        let parameters: Vec<&(dyn ToSql + Sync)> = sql
            .parameters
            .iter()
            .map(|parameter| parameter.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = query_on(&self.pool, &text, &parameters).await?;
        let mut transfers = rows
            .iter()
            .map(|row| {
                Ok(TransferWithOwners {
                    transfer: transfer(row)?,
                    from_owner: row.get("from_owner"),
                    to_owner: row.get("to_owner"),
                })
            })
            .collect::<Result<Vec<_>, LookupError>>()?;
        // One row past the page tells whether another page follows.
        let page_size = usize::try_from(search.limit).expect("a positive limit");
        let more = transfers.len() > page_size;
        transfers.truncate(page_size);
        let next_before_id = more.then(|| transfers.last().expect("a full page").transfer.id);
        Ok(SearchPage {
            transfers,
            next_before_id,
        })
    }

    /// A customer's account ids: one per currency at most.
    async fn owned_account_ids(&self, owner: &str) -> Result<Vec<AccountId>, LookupError> {
        let limit = Currency::ALL.len() as i64;
        let accounts = self.accounts_of(owner, 0, limit).await?;
        Ok(accounts.iter().map(|account| account.id).collect())
    }
}

/// The statement: one ordered, bounded branch per (account, side) in scope, merged.
fn statement(sql: &mut Sql, search: &TransferSearch, owned: Option<&[AccountId]>) -> String {
    let filters = filters(sql, search);
    let page = sql.bind(search.limit + 1);
    let payer_only = search.reference.is_some() || !search.metadata.is_empty();
    let mut sides: Vec<String> = Vec::new();
    match owned {
        // A customer: each of their accounts as payer, and as payee unless a payer's filter.
        Some(accounts) => {
            // An account of theirs named: its sides alone.
            let accounts = match search.account_id {
                Some(named) if accounts.contains(&named) => vec![named],
                _ => accounts.to_vec(),
            };
            for account in accounts {
                let account = sql.bind(account);
                sides.push(format!("from_account_id = {account}"));
                if !payer_only {
                    sides.push(format!("to_account_id = {account}"));
                }
            }
        }
        None => match search.account_id {
            Some(account) => {
                let account = sql.bind(account);
                sides.push(format!("from_account_id = {account}"));
                sides.push(format!("to_account_id = {account}"));
            }
            None => sides.push("TRUE".to_owned()),
        },
    }
    let branches: Vec<String> = sides
        .iter()
        .map(|side| {
            format!(
                "(SELECT {COLUMNS} FROM transfers WHERE {side} AND {filters}
                  ORDER BY id DESC LIMIT {page})"
            )
        })
        .collect();
    // UNION, not UNION ALL: a transfer between two accounts in scope comes out of both.
    format!(
        "SELECT t.*, f.owner AS from_owner, d.owner AS to_owner
         FROM (SELECT * FROM ({}) AS merged ORDER BY id DESC LIMIT {page}) AS t
         JOIN accounts f ON f.id = t.from_account_id
         JOIN accounts d ON d.id = t.to_account_id
         ORDER BY t.id DESC",
        branches.join(" UNION ")
    )
}

/// The filters every branch applies, `AND`ed.
fn filters(sql: &mut Sql, search: &TransferSearch) -> String {
    let mut filters = vec![
        "pending_id IS NULL".to_owned(),
        format!("id < {}", sql.bind(search.before_id)),
    ];
    if let Some(account) = search.account_id {
        let account = sql.bind(account);
        filters.push(format!(
            "(from_account_id = {account} OR to_account_id = {account})"
        ));
    }
    if let Some(reference) = &search.reference {
        filters.push(format!("reference = {}", sql.bind(reference.clone())));
    }
    if let Some(status) = search.status {
        filters.push(format!("status = {}", sql.bind(status.as_str())));
    }
    if let Some(since) = search.since {
        filters.push(format!("created_at >= {}", sql.bind(since)));
    }
    if let Some(until) = search.until {
        filters.push(format!("created_at < {}", sql.bind(until)));
    }
    if !search.metadata.is_empty() {
        let wanted = serde_json::to_value(&search.metadata).expect("a map of strings");
        filters.push(format!("metadata @> {}", sql.bind(wanted)));
    }
    filters.join(" AND ")
}
