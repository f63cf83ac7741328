//! What `tally seed` leaves behind: the JSON file load tools read, and one summary line.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::options::SeedOptions;
use super::tokens::SeededSession;

/// One record of the output file.
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

/// What a run did, for the summary line.
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

/// The file's records, in account-id order (load tools take "the first 10" as their hot set).
pub fn records(
    options: &SeedOptions,
    accounts: &[(i64, String)],
    sessions: &[SeededSession],
) -> Vec<SeededUser> {
    accounts
        .iter()
        .zip(sessions)
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
        .collect()
}

/// Writes beside the target and renames, so a reader never sees half a file.
pub fn write_atomically(path: &Path, users: &[SeededUser]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let json = serde_json::to_vec(users)?;
    std::fs::write(&partial, json).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The line `tally seed` prints when done.
pub fn summary(report: &SeedReport, options: &SeedOptions) -> anyhow::Result<String> {
    Ok(format!(
        "seeded {} users {}_1..{}_{} with accounts {}..{} ({} {} each, funded in {:.1} s), \
         {:.1} s in all; access tokens valid until {}; wrote {}",
        report.users,
        report.prefix,
        report.prefix,
        report.users,
        report.first_account_id,
        report.last_account_id,
        options.balance,
        options.currency,
        report.funded_in.as_secs_f64(),
        report.elapsed.as_secs_f64(),
        report.tokens_expire_at.format(&Rfc3339)?,
        options.out.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::seed::options::DEFAULT_PASSWORD;

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

    #[test]
    fn the_summary_names_the_run_and_the_file() {
        let report = SeedReport {
            prefix: "bench".to_owned(),
            users: 3,
            first_account_id: 7,
            last_account_id: 9,
            funded_in: Duration::from_millis(1500),
            elapsed: Duration::from_secs(2),
            tokens_expire_at: OffsetDateTime::UNIX_EPOCH,
        };
        let mut options = crate::cli::seed::options::tests::options();
        options.balance = 100;
        let line = summary(&report, &options).unwrap();
        assert!(line.starts_with("seeded 3 users bench_1..bench_3 with accounts 7..9 (100 USD each, funded in 1.5 s)"), "{line}");
        assert!(line.ends_with("wrote users.json"), "{line}");
    }
}
