//! The bulk SQL of `tally seed`: users, sessions and zero-balance accounts in multi-row
//! statements, then `ANALYZE` of the tables it filled. Never a balance: money enters through the
//! engine ([`super::funding`]).

use std::collections::HashMap;

use anyhow::bail;
use deadpool_postgres::Pool;
use tally_actors::Currency;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::tokens::SeededSession;

/// Rows per multi-row statement: large enough to make round trips negligible, small enough to
/// keep each statement's parameters a few hundred kilobytes.
const ROWS_PER_STATEMENT: usize = 5_000;

/// The tables a seed fills in bulk, analysed afterwards.
pub const BULK_TABLES: [&str; 3] = ["users", "sessions", "accounts"];

/// Users, sessions and zero-balance accounts in one transaction; returns (account id, owner)
/// in username order, which is account-id order.
pub async fn insert(
    pool: &Pool,
    prefix: &str,
    usernames: &[String],
    hashed_password: &str,
    currency: Currency,
    sessions: &[SeededSession],
) -> anyhow::Result<Vec<(i64, String)>> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let insert_users = transaction
        .prepare(
            "INSERT INTO users (username, hashed_password, full_name, email, role)
             SELECT name, $2, 'Load Test User', name || '@example.com', 'depositor'
             FROM unnest($1::text[]) AS name",
        )
        .await?;
    let insert_sessions = transaction
        .prepare(
            "INSERT INTO sessions (id, username, refresh_token_id, user_agent, client_ip, expires_at)
             SELECT id, name, refresh_id, 'tally seed', 'seed', expires_at
             FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[])
                  AS s(id, name, refresh_id, expires_at)",
        )
        .await?;
    let insert_accounts = transaction
        .prepare(
            "INSERT INTO accounts (owner, currency)
             SELECT name, $2 FROM unnest($1::text[]) WITH ORDINALITY AS u(name, n) ORDER BY n
             RETURNING id, owner",
        )
        .await?;
    let mut accounts = Vec::with_capacity(usernames.len());
    for (names, chunk) in usernames
        .chunks(ROWS_PER_STATEMENT)
        .zip(sessions.chunks(ROWS_PER_STATEMENT))
    {
        transaction
            .execute(&insert_users, &[&names, &hashed_password])
            .await
            .map_err(|error| taken(error, prefix))?;
        let ids: Vec<Uuid> = chunk.iter().map(|session| session.id).collect();
        let refresh_ids: Vec<Uuid> = chunk.iter().map(|s| s.refresh_token_id).collect();
        let expiries: Vec<OffsetDateTime> = chunk.iter().map(|s| s.expires_at).collect();
        transaction
            .execute(&insert_sessions, &[&ids, &names, &refresh_ids, &expiries])
            .await?;
        let rows = transaction
            .query(&insert_accounts, &[&names, &currency.as_str()])
            .await?;
        accounts.extend(rows.iter().map(|row| (row.get::<_, i64>(0), row.get(1))));
    }
    transaction.commit().await?;
    in_username_order(&accounts, usernames)
}

/// Ids come from one sequence in insertion order; ordering by username keeps the promise even if
/// another writer interleaved, and a gap or a disorder is refused rather than written.
fn in_username_order(
    accounts: &[(i64, String)],
    usernames: &[String],
) -> anyhow::Result<Vec<(i64, String)>> {
    let mut by_name: HashMap<&str, i64> = accounts
        .iter()
        .map(|(id, owner)| (owner.as_str(), *id))
        .collect();
    let ordered: Vec<(i64, String)> = usernames
        .iter()
        .map(|name| {
            (
                by_name.remove(name.as_str()).unwrap_or_default(),
                name.clone(),
            )
        })
        .collect();
    if ordered.iter().any(|(id, _)| *id == 0) || !ordered.windows(2).all(|w| w[0].0 < w[1].0) {
        bail!("accounts were not created in username order; refusing to write a mismatched file");
    }
    Ok(ordered)
}

/// Refreshes the planner's statistics of the tables just filled. Without it, pooled connections
/// (the engine's, the server's) keep plans made while those tables looked empty (sequential
/// scans of what is now thousands of rows) until autovacuum gets round to them.
pub async fn analyze(pool: &Pool) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client
        .batch_execute(&format!("ANALYZE {}", BULK_TABLES.join(", ")))
        .await?;
    Ok(())
}

fn taken(error: tokio_postgres::Error, prefix: &str) -> anyhow::Error {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        anyhow::anyhow!(
            "users named {prefix}_… already exist; pass another --prefix (or none, for a fresh \
             random one)"
        )
    } else {
        error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn accounts_are_returned_in_username_order_or_refused() {
        let usernames = names(&["s_1", "s_2", "s_3"]);
        let shuffled = vec![
            (12, "s_2".to_owned()),
            (11, "s_1".to_owned()),
            (13, "s_3".to_owned()),
        ];
        let ordered = in_username_order(&shuffled, &usernames).unwrap();
        assert_eq!(
            ordered.iter().map(|a| a.0).collect::<Vec<_>>(),
            [11, 12, 13]
        );

        let interleaved = vec![
            (11, "s_1".to_owned()),
            (14, "s_2".to_owned()),
            (13, "s_3".to_owned()),
        ];
        assert!(in_username_order(&interleaved, &usernames).is_err());
        let missing = vec![(11, "s_1".to_owned()), (12, "s_2".to_owned())];
        assert!(in_username_order(&missing, &usernames).is_err());
    }
}
