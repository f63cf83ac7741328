//! `tally seed`: load-test users in bulk, each with one funded account and a ready access token.
//!
//! Built for speed (10,000 users in seconds) without bending the money rules. One module per job:
//! - [`options`]: the arguments, and the checks that need no database (refused in production);
//! - [`tokens`]: one session and access token per user, exactly as a login makes them;
//! - [`rows`]: users, sessions and accounts (balance 0) inserted with multi-row statements
//!   (`unnest`) in one transaction, then `ANALYZE` of those tables so pooled connections plan for
//!   the rows that are there now, not for the empty tables they saw before;
//! - [`funding`]: money enters only through the engine, one idempotent deposit per account from
//!   the currency's reserve. This crate never writes a balance itself;
//! - [`output`]: `[{"username", "password", "account_id", "currency", "access_token",
//!   "access_token_expires_at"}, ...]` in account-id order (load tools take "the first 10" as
//!   their hot set), and the summary line.
//!
//! Every seeded user shares ONE bcrypt hash of one known password, computed once at the lowest
//! cost (4), so seeding hashes nothing per user and a load tool's logins stay cheap.

pub mod funding;
pub mod options;
pub mod output;
pub mod rows;
pub mod tokens;

use std::time::Instant;

use tally_actors::Engine;
use time::OffsetDateTime;

use crate::auth::TokenMaker;
use crate::configuration::Settings;
use crate::db;
pub use options::{SeedOptions, DEFAULT_PASSWORD, USERS_MAX};
pub use output::{SeedReport, SeededUser};

/// bcrypt's lowest cost: seeded users are throwaway load-test identities, and a load tool's
/// login should cost it (and the server) a millisecond, not a quarter second.
const SEED_BCRYPT_COST: u32 = 4;

/// Seeds users, sessions, accounts and deposits, then writes `options.out`.
pub async fn run(settings: &Settings, options: SeedOptions) -> anyhow::Result<SeedReport> {
    options::ensure_not_production(settings)?;
    let prefix = options::validate(&options)?;
    let started = Instant::now();
    let pool = db::build_pool(&settings.database)?;
    db::readiness(&pool).await.map_err(|reason| {
        anyhow::anyhow!("the database is not ready ({reason}); run `tally migrate` first")
    })?;

    let password = options.password.clone();
    let hashed_password =
        tokio::task::spawn_blocking(move || bcrypt::hash(password, SEED_BCRYPT_COST)).await??;
    let usernames: Vec<String> = (1..=options.users)
        .map(|n| options::username(&prefix, n))
        .collect();

    let mut token_settings = settings.token.clone();
    token_settings.access_ttl = options.token_ttl;
    let sessions = tokens::issue(&TokenMaker::new(&token_settings)?, &usernames)?;

    let accounts = rows::insert(
        &pool,
        &prefix,
        &usernames,
        &hashed_password,
        options.currency,
        &sessions,
    )
    .await?;
    rows::analyze(&pool).await?;

    let funding_started = Instant::now();
    if options.balance > 0 {
        let engine = Engine::start(settings.engine.clone(), pool.clone());
        let concurrency = funding::concurrency(settings.engine.mailbox_capacity);
        funding::fund(&engine, &accounts, options.balance, concurrency).await?;
    }
    let funded_in = funding_started.elapsed();

    let seeded = output::records(&options, &accounts, &sessions);
    output::write_atomically(&options.out, &seeded)?;
    Ok(SeedReport {
        prefix,
        users: seeded.len(),
        first_account_id: accounts.first().map_or(0, |account| account.0),
        last_account_id: accounts.last().map_or(0, |account| account.0),
        funded_in,
        elapsed: started.elapsed(),
        tokens_expire_at: sessions
            .first()
            .map_or(OffsetDateTime::now_utc(), |session| session.expires_at),
    })
}
