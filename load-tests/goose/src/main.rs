//! Goose load test of Tally's write path. Every Goose user takes one seeded user, logs in once
//! (`POST /users/login` with the seeded password), then posts transfers from that user's account
//! to random other seeded accounts, as fast as Tally answers. Goose reports per-request latency
//! percentiles and status codes.
//!
//! ```sh
//! target/release/tally seed --users 10000 --balance 1000000000000 --out /tmp/users.json
//! cd load-tests/goose
//! TALLY_SEED_FILE=/tmp/users.json cargo run --release -- \
//!     --host http://127.0.0.1:8080 --scenarios uniform --users 64 --run-time 30s --report-file report.html
//! ```
//!
//! Scenarios (`--scenarios`, default `uniform`):
//! - `uniform`: senders and recipients among all seeded users;
//! - `hot`: both among the first 10 seeded users (the file is in account-id order), so every
//!   transfer lands on a few accounts.
//!
//! Environment: `TALLY_SEED_FILE` (required) is the JSON `tally seed` writes; `TALLY_AMOUNT_MAX`
//! (default 100) bounds each transfer's amount (1..=max minor units).
//!
//! Bounded by design: the host must be a loopback address (127.0.0.0/8, localhost, [::1]), and the
//! run time defaults to 30 s and may not exceed one hour.

use std::sync::OnceLock;
use std::time::Duration;

use goose::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

const HOT_USERS: usize = 10;
const RUN_TIME_DEFAULT_SECONDS: usize = 30;
const RUN_TIME_MAX_SECONDS: u64 = 3600;

/// One line of `tally seed`'s output (its other fields are not needed here).
#[derive(Debug, Clone, Deserialize)]
struct SeededUser {
    username: String,
    password: String,
    account_id: i64,
    currency: String,
}

struct Plan {
    users: Vec<SeededUser>,
    amount_max: i64,
}

static PLAN: OnceLock<Plan> = OnceLock::new();

fn plan() -> &'static Plan {
    PLAN.get()
        .expect("the plan is loaded before the attack starts")
}

/// What a Goose user keeps between requests.
#[derive(Clone)]
struct Session {
    access_token: String,
    /// Index of this user's seeded user in the plan.
    index: usize,
    /// How many seeded users this scenario draws from (all, or the hot 10).
    pool: usize,
}

#[derive(Serialize)]
struct Login<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
struct LoginAnswer {
    access_token: String,
}

#[derive(Serialize)]
struct NewTransfer<'a> {
    from_account_id: i64,
    to_account_id: i64,
    amount: i64,
    currency: &'a str,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    check_bounds(&arguments)?;
    let plan = load_plan()?;
    eprintln!(
        "tally-goose: {} seeded users loaded; hot scenario uses the first {}",
        plan.users.len(),
        HOT_USERS.min(plan.users.len())
    );
    PLAN.set(plan).map_err(|_| "the plan was loaded twice")?;

    let mut attack = GooseAttack::initialize()?
        .register_scenario(
            scenario!("uniform")
                .register_transaction(
                    transaction!(log_in_uniform)
                        .set_on_start()
                        .set_name("log in"),
                )
                .register_transaction(transaction!(transfer).set_name("POST /transfers")),
        )
        .register_scenario(
            scenario!("hot")
                .register_transaction(transaction!(log_in_hot).set_on_start().set_name("log in"))
                .register_transaction(transaction!(transfer).set_name("POST /transfers")),
        )
        .set_default(GooseDefault::Host, "http://127.0.0.1:8080")?
        .set_default(GooseDefault::Scenarios, "uniform")?
        .set_default(GooseDefault::Users, 16)?
        .set_default(GooseDefault::IncreaseRate, "64")?;
    if !has_flag(&arguments, &["--run-time", "-t"]) {
        attack = attack.set_default(GooseDefault::RunTime, RUN_TIME_DEFAULT_SECONDS)?;
    }
    attack.execute().await?;
    Ok(())
}

fn load_plan() -> Result<Plan, Box<dyn std::error::Error>> {
    let path = std::env::var("TALLY_SEED_FILE")
        .map_err(|_| "set TALLY_SEED_FILE to the JSON file `tally seed --out` wrote")?;
    let text =
        std::fs::read_to_string(&path).map_err(|error| format!("reading {path}: {error}"))?;
    let users: Vec<SeededUser> =
        serde_json::from_str(&text).map_err(|error| format!("{path}: {error}"))?;
    if users.len() < 2 {
        return Err(format!("{path} needs at least two seeded users").into());
    }
    let amount_max = match std::env::var("TALLY_AMOUNT_MAX") {
        Err(_) => 100,
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(value) if value >= 1 => value,
            _ => {
                return Err(
                    format!("TALLY_AMOUNT_MAX must be a positive integer, got `{text}`").into(),
                )
            }
        },
    };
    Ok(Plan { users, amount_max })
}

/// Refuses a non-loopback `--host` and a run time over the bound (or none given as a bare
/// number Goose would take as unlimited).
fn check_bounds(arguments: &[String]) -> Result<(), String> {
    if let Some(host) = flag_value(arguments, &["--host", "-H"]) {
        if !is_loopback_url(&host) {
            return Err(format!(
                "--host {host}: this load test only targets this machine (127.0.0.0/8, localhost, [::1])"
            ));
        }
    }
    if let Some(run_time) = flag_value(arguments, &["--run-time", "-t"]) {
        match parse_run_time(&run_time) {
            Some(seconds) if (1..=RUN_TIME_MAX_SECONDS).contains(&seconds) => {}
            _ => {
                return Err(format!(
                    "--run-time {run_time}: give 1s to {}h, e.g. 30s or 2m",
                    RUN_TIME_MAX_SECONDS / 3600
                ))
            }
        }
    }
    Ok(())
}

fn has_flag(arguments: &[String], names: &[&str]) -> bool {
    arguments.iter().any(|argument| {
        names
            .iter()
            .any(|name| argument == name || argument.starts_with(&format!("{name}=")))
    })
}

/// The value of `--name value` or `--name=value` (the last one wins, as in clap).
fn flag_value(arguments: &[String], names: &[&str]) -> Option<String> {
    let mut found = None;
    for (index, argument) in arguments.iter().enumerate() {
        for name in names {
            if argument == name {
                found = arguments.get(index + 1).cloned();
            } else if let Some(value) = argument.strip_prefix(&format!("{name}=")) {
                found = Some(value.to_owned());
            }
        }
    }
    found
}

fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Goose's run-time syntax: "90", "90s", "2m", "1h30m".
fn parse_run_time(text: &str) -> Option<u64> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(seconds);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for character in text.chars() {
        if character.is_ascii_digit() {
            number.push(character);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        total += value
            * match character {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
    }
    number.is_empty().then_some(total)
}

async fn log_in_uniform(user: &mut GooseUser) -> TransactionResult {
    log_in(user, plan().users.len()).await
}

async fn log_in_hot(user: &mut GooseUser) -> TransactionResult {
    log_in(user, HOT_USERS.min(plan().users.len())).await
}

/// Logs in as the seeded user this Goose user stands for (spread round-robin over `pool`).
async fn log_in(user: &mut GooseUser, pool: usize) -> TransactionResult {
    let index = user.weighted_users_index % pool;
    let seeded = &plan().users[index];
    let login = Login {
        username: &seeded.username,
        password: &seeded.password,
    };
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/users/login")
        .set_request_builder(
            user.get_request_builder(&GooseMethod::Post, "/users/login")?
                .json(&login),
        )
        .expect_status_code(200)
        .build();
    let mut goose = user.request(request).await?;
    let answer = match goose.response {
        Ok(response) if response.status().as_u16() == 200 => response.json::<LoginAnswer>().await,
        Ok(response) => {
            let status = response.status();
            return user.set_failure(
                &format!("login as {} answered {status}", seeded.username),
                &mut goose.request,
                None,
                None,
            );
        }
        Err(error) => return Err(Box::new(error.into())),
    };
    let answer = answer.map_err(|error| Box::new(error.into()))?;
    user.set_session_data(Session {
        access_token: answer.access_token,
        index,
        pool,
    });
    Ok(())
}

/// One transfer from this user's account to a random other account of the pool. 201 is a
/// committed transfer; anything else (422 insufficient_funds included) counts as a failure.
async fn transfer(user: &mut GooseUser) -> TransactionResult {
    let Some(session) = user.get_session_data::<Session>().cloned() else {
        // The login failed (and was reported); do not hammer the server with 401s.
        tokio::time::sleep(Duration::from_secs(1)).await;
        return Ok(());
    };
    let plan = plan();
    let (recipient, amount) = {
        let mut random = rand::rng();
        // Uniform over the others: draw among pool-1 and skip the sender.
        let mut recipient = random.random_range(0..session.pool - 1);
        if recipient >= session.index {
            recipient += 1;
        }
        (recipient, random.random_range(1..=plan.amount_max))
    };
    let sender = &plan.users[session.index];
    let body = NewTransfer {
        from_account_id: sender.account_id,
        to_account_id: plan.users[recipient].account_id,
        amount,
        currency: &sender.currency,
    };
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/transfers")
        .set_request_builder(
            user.get_request_builder(&GooseMethod::Post, "/transfers")?
                .bearer_auth(&session.access_token)
                .json(&body),
        )
        .expect_status_code(201)
        .build();
    user.request(request).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn only_loopback_hosts_are_accepted() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://localhost:1",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://127.0.0.1.example.com",
            "http://user@10.0.0.1",
            "ftp://127.0.0.1",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
        assert!(check_bounds(&arguments("goose --host http://192.168.1.1")).is_err());
        assert!(check_bounds(&arguments("goose --host=http://127.0.0.1:9")).is_ok());
    }

    #[test]
    fn run_times_are_bounded() {
        assert_eq!(parse_run_time("90"), Some(90));
        assert_eq!(parse_run_time("1h30m"), Some(5400));
        assert_eq!(parse_run_time("2m"), Some(120));
        assert_eq!(parse_run_time("2x"), None);
        assert_eq!(parse_run_time("5m3"), None);
        assert!(check_bounds(&arguments("goose -t 30s")).is_ok());
        assert!(check_bounds(&arguments("goose --run-time 2h")).is_err());
        assert!(check_bounds(&arguments("goose --run-time 0")).is_err());
        assert!(has_flag(&arguments("goose --run-time=5s"), &["--run-time"]));
    }
}
