//! `tally seed`: load-test users in bulk, each with one funded account and a ready access token.
//!
//! Built for speed (10,000 users in seconds) without bending the money rules:
//! - users, sessions and accounts are inserted with multi-row statements (`unnest`), all in one
//!   transaction, accounts at balance 0;
//! - every seeded user shares ONE bcrypt hash of one known password, computed once at the lowest
//!   cost (4), so seeding hashes nothing per user and a load tool's logins stay cheap;
//! - money enters only through the engine: one deposit per account from the currency's reserve,
//!   many in flight at once (so they share journal batches), each with an idempotency key so a
//!   retried deposit can never be paid twice. This crate never writes a balance itself.
//!
//! It writes `[{"username", "password", "account_id", "currency", "access_token",
//! "access_token_expires_at"}, ...]`, in account-id order (load tools take "the first 10" as
//! their hot set). Development only: it refuses to run when `env` is `production`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use deadpool_postgres::Pool;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use tally_actors::{Amount, Currency, Engine, IdempotencyKey, TransferError};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::auth::{TokenMaker, TokenPurpose};
use crate::configuration::{RunMode, Settings};
use crate::db;
use crate::domain::{Password, Role, Username};

/// The password every seeded user shares unless `--password` says otherwise.
pub const DEFAULT_PASSWORD: &str = "load-test-password";
/// bcrypt's lowest cost: seeded users are throwaway load-test identities, and a load tool's
/// login should cost it (and the server) a millisecond, not a quarter second.
const SEED_BCRYPT_COST: u32 = 4;
/// Rows per multi-row statement: large enough to make round trips negligible, small enough to
/// keep each statement's parameters a few hundred kilobytes.
const ROWS_PER_STATEMENT: usize = 5_000;
/// Users at most in one run.
pub const USERS_MAX: usize = 1_000_000;
/// Attempts per deposit when the engine answers `Unavailable` (saturated, or the database
/// blinked); the idempotency key makes a retry safe.
const DEPOSIT_ATTEMPTS: u32 = 5;
/// The idempotency key of each account's funding deposit (scoped to its owner).
const FUNDING_KEY: &str = "tally-seed-funding";

/// What `tally seed` was asked for (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct SeedOptions {
    /// How many users (one account each).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Minor units deposited into each account from the currency's reserve (0: accounts stay
    /// empty).
    #[arg(long, default_value_t = 1_000_000_000, value_name = "MINOR")]
    pub balance: i64,
    /// The accounts' currency.
    #[arg(long, default_value = "USD")]
    pub currency: Currency,
    /// Where to write `[{"username", "password", "account_id", "currency", "access_token",
    /// ...}]`.
    #[arg(long, visible_alias = "output", value_name = "FILE")]
    pub out: PathBuf,
    /// Lifetime of the access tokens in the file, seconds or 30m, 2h, ... (a benchmark outlives
    /// the 15-minute default).
    #[arg(long, default_value = "2h", value_parser = tally_actors::config::duration::parse)]
    pub token_ttl: Duration,
    /// The password all seeded users share.
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    pub password: String,
    /// Usernames are PREFIX_1, PREFIX_2, ...; by default `seed_` and a random run id, so
    /// repeated runs never collide.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
}

/// One line of the output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeededUser {
    pub username: String,
    pub password: String,
    pub account_id: i64,
    pub currency: String,
    pub access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub access_token_expires_at: OffsetDateTime,
}

/// What a run did, for the CLI to print.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub prefix: String,
    pub users: usize,
    pub first_account_id: i64,
    pub last_account_id: i64,
    pub funded_in: Duration,
    pub elapsed: Duration,
    pub tokens_expire_at: OffsetDateTime,
}

/// Refuses a production configuration: seeding creates users with a published password.
pub fn ensure_not_production(settings: &Settings) -> anyhow::Result<()> {
    if settings.env == RunMode::Production {
        bail!(
            "seed refuses to run with env = production: it creates users with a known password \
             and funds them; use it on development and benchmark databases only"
        );
    }
    Ok(())
}

/// Checks the options that need no database; returns the username prefix to use.
pub fn validate(options: &SeedOptions) -> anyhow::Result<String> {
    if !(1..=USERS_MAX).contains(&options.users) {
        bail!("--users must be between 1 and {USERS_MAX}");
    }
    if options.balance < 0 {
        bail!("--balance must be 0 or more minor units");
    }
    // The reserve goes negative by the total; it must stay within an i64.
    if (options.users as i64)
        .checked_mul(options.balance)
        .is_none()
    {
        bail!("--users × --balance overflows a 64-bit balance; seed less money");
    }
    if options.token_ttl.is_zero() {
        bail!("--token-ttl must be above zero");
    }
    Password::parse(options.password.clone()).context("--password")?;
    let prefix = match &options.prefix {
        Some(prefix) => prefix.clone(),
        None => format!("seed_{}", &Uuid::new_v4().simple().to_string()[..8]),
    };
    // The longest username this run makes must be a valid one.
    Username::parse(username(&prefix, options.users))
        .with_context(|| format!("--prefix `{prefix}` makes invalid usernames"))?;
    Ok(prefix)
}

/// The `n`th (1-based) seeded username.
pub fn username(prefix: &str, n: usize) -> String {
    format!("{prefix}_{n}")
}

/// Seeds users, accounts, sessions and deposits, then writes `options.out`.
pub async fn run(settings: &Settings, options: SeedOptions) -> anyhow::Result<SeedReport> {
    ensure_not_production(settings)?;
    let prefix = validate(&options)?;
    let started = Instant::now();
    let pool = db::build_pool(&settings.database)?;
    db::readiness(&pool).await.map_err(|reason| {
        anyhow::anyhow!("the database is not ready ({reason}); run `tally migrate` first")
    })?;

    let password = options.password.clone();
    let hashed_password =
        tokio::task::spawn_blocking(move || bcrypt::hash(password, SEED_BCRYPT_COST)).await??;
    let usernames: Vec<String> = (1..=options.users).map(|n| username(&prefix, n)).collect();

    let mut token_settings = settings.token.clone();
    token_settings.access_ttl = options.token_ttl;
    let tokens = TokenMaker::new(&token_settings)?;
    let sessions = issue_tokens(&tokens, &usernames)?;

    let accounts = insert_rows(
        &pool,
        &prefix,
        &usernames,
        &hashed_password,
        options.currency,
        &sessions,
    )
    .await?;

    let funding_started = Instant::now();
    if options.balance > 0 {
        let engine = Engine::start(settings.engine.clone(), pool.clone());
        let concurrency = (settings.engine.mailbox_capacity / 2).clamp(1, 128);
        fund(&engine, &accounts, options.balance, concurrency).await?;
    }
    let funded_in = funding_started.elapsed();

    let seeded: Vec<SeededUser> = accounts
        .iter()
        .zip(&sessions)
        .map(|((account_id, username), session)| {
            debug_assert_eq!(username, &session.username);
            SeededUser {
                username: username.clone(),
                password: options.password.clone(),
                account_id: *account_id,
                currency: options.currency.as_str().to_owned(),
                access_token: session.access_token.clone(),
                access_token_expires_at: session.expires_at,
            }
        })
        .collect();
    write_atomically(&options.out, &seeded)?;
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

/// A session row per user, and the access token that names it.
struct SeededSession {
    username: String,
    id: Uuid,
    refresh_token_id: Uuid,
    access_token: String,
    expires_at: OffsetDateTime,
}

/// Access tokens exactly as a login makes them (same maker, same claims), with the seed's TTL.
/// Each names a session row, inserted with the users, as a login's would.
fn issue_tokens(tokens: &TokenMaker, usernames: &[String]) -> anyhow::Result<Vec<SeededSession>> {
    usernames
        .iter()
        .map(|name| {
            let username = Username::parse(name.clone())?;
            let session_id = Uuid::new_v4();
            let access = tokens
                .issue(TokenPurpose::Access, &username, Role::Depositor, session_id)
                .map_err(|error| anyhow::anyhow!("issuing an access token: {error}"))?;
            Ok(SeededSession {
                username: name.clone(),
                id: session_id,
                // No refresh token is handed out: the session exists so the access token names a
                // real one (logout blocks it like any other).
                refresh_token_id: Uuid::new_v4(),
                access_token: access.token,
                expires_at: access.payload.expires_at,
            })
        })
        .collect()
}

/// Users, sessions and zero-balance accounts in one transaction; returns (account id, owner)
/// by account id.
async fn insert_rows(
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
    // Ids come from one sequence in insertion order; sorting keeps the promise even if another
    // writer interleaved.
    let mut by_name: std::collections::HashMap<&str, i64> = accounts
        .iter()
        .map(|(id, owner): &(i64, String)| (owner.as_str(), *id))
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

/// One deposit per account from the reserve, `concurrency` in flight (they all pass through the
/// reserve account's actor, whose mailbox is bounded).
async fn fund(
    engine: &Engine,
    accounts: &[(i64, String)],
    balance: i64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let amount = Amount::new(balance).map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
    let mut deposits = stream::iter(accounts)
        .map(|(account_id, owner)| deposit(engine, *account_id, owner, amount))
        .buffer_unordered(concurrency);
    while let Some(outcome) = deposits.next().await {
        outcome?;
    }
    Ok(())
}

async fn deposit(
    engine: &Engine,
    account_id: i64,
    owner: &str,
    amount: Amount,
) -> anyhow::Result<()> {
    let key = IdempotencyKey {
        username: owner.to_owned(),
        key: FUNDING_KEY.to_owned(),
        request_hash: format!("{account_id}:{}", amount.get()).into_bytes(),
        response_status: 201,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match engine.deposit(account_id, amount, Some(key.clone())).await {
            Ok(_) => return Ok(()),
            Err(TransferError::Unavailable(reason)) if attempt < DEPOSIT_ATTEMPTS => {
                tracing::debug!(account_id, %reason, attempt, "seed deposit retried");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            Err(error) => bail!("depositing into account {account_id}: {error}"),
        }
    }
}

/// Writes beside the target and renames, so a reader never sees half a file.
fn write_atomically(path: &Path, users: &[SeededUser]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let json = serde_json::to_vec(users)?;
    std::fs::write(&partial, json).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn options() -> SeedOptions {
        SeedOptions {
            users: 10_000,
            balance: 1_000_000_000_000,
            currency: Currency::USD,
            out: PathBuf::from("users.json"),
            token_ttl: Duration::from_secs(7200),
            password: DEFAULT_PASSWORD.to_owned(),
            prefix: None,
        }
    }

    #[test]
    fn default_prefixes_are_fresh_valid_usernames() {
        let first = validate(&options()).unwrap();
        let second = validate(&options()).unwrap();
        assert_ne!(first, second, "two runs must not collide");
        assert!(first.starts_with("seed_"));
        assert!(Username::parse(username(&first, USERS_MAX)).is_ok());
        assert_eq!(username("bench", 7), "bench_7");
    }

    #[test]
    fn bad_options_are_refused_with_the_flag_named() {
        type Change = fn(&mut SeedOptions);
        let cases: [(Change, &str); 6] = [
            (|o| o.users = 0, "--users"),
            (|o| o.balance = -1, "--balance"),
            (|o| o.balance = i64::MAX, "overflows"),
            (|o| o.password = "short".to_owned(), "--password"),
            (|o| o.prefix = Some("Not-Valid".to_owned()), "--prefix"),
            (|o| o.token_ttl = Duration::ZERO, "--token-ttl"),
        ];
        for (change, named) in cases {
            let mut options = options();
            change(&mut options);
            let error = format!("{:#}", validate(&options).unwrap_err());
            assert!(error.contains(named), "{error}");
        }
        let mut options = options();
        options.prefix = Some("bench_run".to_owned());
        assert_eq!(validate(&options).unwrap(), "bench_run");
    }

    #[test]
    fn production_is_refused() {
        let mut environment = HashMap::new();
        environment.insert("TALLY_ENV".to_owned(), "production".to_owned());
        // A random key: production refuses low-entropy and published ones at load already.
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        environment.insert("TALLY_TOKEN__KEY".to_owned(), key);
        let settings = Settings::load_with(None, &environment).unwrap();
        let error = ensure_not_production(&settings).unwrap_err().to_string();
        assert!(error.contains("production"), "{error}");
        let development = Settings::load_with(None, &HashMap::new()).unwrap();
        assert!(ensure_not_production(&development).is_ok());
    }

    #[test]
    fn seeded_tokens_are_access_tokens_the_service_accepts() {
        let settings = Settings::load_with(None, &HashMap::new()).unwrap();
        let mut token_settings = settings.token.clone();
        token_settings.access_ttl = Duration::from_secs(7200);
        let maker = TokenMaker::new(&token_settings).unwrap();
        let names = vec!["seed_ab_1".to_owned(), "seed_ab_2".to_owned()];
        let sessions = issue_tokens(&maker, &names).unwrap();
        // The service verifies with its own maker (its configured TTL does not matter).
        let service = TokenMaker::new(&settings.token).unwrap();
        for (name, session) in names.iter().zip(&sessions) {
            let payload = service
                .verify(TokenPurpose::Access, &session.access_token)
                .unwrap();
            assert_eq!(payload.username.as_str(), name);
            assert_eq!(payload.session_id, session.id);
            assert_eq!(payload.role, Role::Depositor);
            assert_eq!(
                payload.expires_at - payload.issued_at,
                time::Duration::hours(2)
            );
        }
    }

    #[test]
    fn the_output_has_the_fields_load_tools_read() {
        let user = SeededUser {
            username: "seed_ab_1".to_owned(),
            password: DEFAULT_PASSWORD.to_owned(),
            account_id: 42,
            currency: "USD".to_owned(),
            access_token: "v4.local.x".to_owned(),
            access_token_expires_at: OffsetDateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_value([user]).unwrap();
        let record = &json[0];
        for field in ["username", "password", "currency", "access_token"] {
            assert!(record[field].is_string(), "{field}");
        }
        assert_eq!(record["account_id"], 42);
        assert_eq!(record["access_token_expires_at"], "1970-01-01T00:00:00Z");
    }
}
