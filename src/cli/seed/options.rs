//! What `tally seed` is asked for: its command-line arguments, and the checks that need no
//! database.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use tally_actors::Currency;
use uuid::Uuid;

use crate::configuration::{duration, RunMode, Settings};
use crate::domain::{Password, Username};

/// The password every seeded user shares unless `--password` says otherwise.
pub const DEFAULT_PASSWORD: &str = "load-test-password";
/// Users at most in one run.
pub const USERS_MAX: usize = 1_000_000;

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
    #[arg(long, default_value = "2h", value_parser = duration::parse)]
    pub token_ttl: Duration,
    /// The password all seeded users share.
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    pub password: String,
    /// Usernames are PREFIX_1, PREFIX_2, ...; by default `seed_` and a random run id, so
    /// repeated runs never collide.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
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

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;

    pub(crate) fn options() -> SeedOptions {
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
}
