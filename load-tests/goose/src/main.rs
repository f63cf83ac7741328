//! Goose load test of Tally's write path. Every Goose user takes one seeded user, logs in once
//! (`POST /users/login` with the seeded password), then posts transfers (or batches of them) from
//! that user's account to random other seeded accounts, as fast as Tally answers. Goose reports
//! per-request latency percentiles and status codes.
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
//!   transfer lands on a few accounts;
//! - `batch`: `POST /transfers/batch` with `"atomic": false`, each batch `TALLY_BATCH_SIZE` items
//!   from the user's own account to random other seeded accounts of the same currency. 200 is
//!   the expected answer; the items committed (results with a `transfer`) and refused (results
//!   with an `error`, e.g. `insufficient_funds`) are counted and printed after Goose's report
//!   (over the whole run, ramp-up included, unlike Goose's own metrics after their reset).
//!
//! Environment: `TALLY_SEED_FILE` (required) is the JSON `tally seed` writes; `TALLY_AMOUNT_MAX`
//! (default 100) bounds each transfer's amount (1..=max minor units); `TALLY_BATCH_SIZE`
//! (default 100, 1..=1000) is the number of items in each batch.
//!
//! Bounded by design: the host must be a loopback address (127.0.0.0/8, localhost, [::1]), and the
//! run time defaults to 30 s and may not exceed one hour.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use goose::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

const HOT_USERS: usize = 10;
const RUN_TIME_DEFAULT_SECONDS: usize = 30;
const RUN_TIME_MAX_SECONDS: u64 = 3600;
const BATCH_SIZE_DEFAULT: usize = 100;
/// Tally's own bound on the items of one batch.
const BATCH_SIZE_MAX: usize = 1000;

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
    batch_size: usize,
    /// The seeded users' indexes grouped by currency, each group in index order.
    currency_groups: Vec<Vec<usize>>,
    /// For each seeded user, its group in `currency_groups`.
    group_of: Vec<usize>,
    /// The users the batch scenario logs in as: those with another account of their currency.
    batch_senders: Vec<usize>,
}

static PLAN: OnceLock<Plan> = OnceLock::new();

/// What the batch scenario's 200s said, over all Goose users.
static BATCHES_ANSWERED: AtomicU64 = AtomicU64::new(0);
static BATCH_ITEMS_COMMITTED: AtomicU64 = AtomicU64::new(0);
static BATCH_ITEMS_REFUSED: AtomicU64 = AtomicU64::new(0);

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

#[derive(Serialize)]
struct NewBatch<'a> {
    transfers: Vec<NewTransfer<'a>>,
    atomic: bool,
}

/// `POST /transfers/batch`'s 200: one result per item, in request order (`accounts` unused).
#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItemAnswer>,
}

/// `{"transfer": {…}}` when the item committed, `{"error": {…}}` when it was refused.
#[derive(Deserialize)]
struct BatchItemAnswer {
    transfer: Option<serde::de::IgnoredAny>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    check_bounds(&arguments)?;
    let plan = load_plan()?;
    eprintln!(
        "tally-goose: {} seeded users loaded; hot scenario uses the first {}; batch scenario sends {} items per batch from {} users",
        plan.users.len(),
        HOT_USERS.min(plan.users.len()),
        plan.batch_size,
        plan.batch_senders.len()
    );
    if plan.batch_senders.is_empty() && runs_batch(&arguments) {
        return Err("the batch scenario needs two seeded users of the same currency".into());
    }
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
        .register_scenario(
            scenario!("batch")
                .register_transaction(transaction!(log_in_batch).set_on_start().set_name("log in"))
                .register_transaction(transaction!(batch).set_name("POST /transfers/batch")),
        )
        .set_default(GooseDefault::Host, "http://127.0.0.1:8080")?
        .set_default(GooseDefault::Scenarios, "uniform")?
        .set_default(GooseDefault::Users, 16)?
        .set_default(GooseDefault::IncreaseRate, "64")?;
    if !has_flag(&arguments, &["--run-time", "-t"]) {
        attack = attack.set_default(GooseDefault::RunTime, RUN_TIME_DEFAULT_SECONDS)?;
    }
    let metrics = attack.execute().await?;
    let batches = BATCHES_ANSWERED.load(Ordering::Relaxed);
    if batches > 0 {
        let committed = BATCH_ITEMS_COMMITTED.load(Ordering::Relaxed);
        let refused = BATCH_ITEMS_REFUSED.load(Ordering::Relaxed);
        let seconds = metrics.duration.max(1) as f64;
        println!(
            "tally-goose batch: {batches} batches answered 200, {committed} items committed ({:.1}/s over {}s), {refused} items refused",
            committed as f64 / seconds,
            metrics.duration
        );
    }
    Ok(())
}

/// Whether `--scenarios` may select the batch scenario: it names it, or has a `*` wildcard.
fn runs_batch(arguments: &[String]) -> bool {
    flag_value(arguments, &["--scenarios"]).is_some_and(|names| {
        names
            .split(',')
            .any(|name| name.trim() == "batch" || name.contains('*'))
    })
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
    let batch_size = match std::env::var("TALLY_BATCH_SIZE") {
        Err(_) => BATCH_SIZE_DEFAULT,
        Ok(text) => parse_batch_size(&text)?,
    };
    Ok(Plan::new(users, amount_max, batch_size))
}

impl Plan {
    fn new(users: Vec<SeededUser>, amount_max: i64, batch_size: usize) -> Plan {
        let mut by_currency: BTreeMap<&str, usize> = BTreeMap::new();
        let mut currency_groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of = Vec::with_capacity(users.len());
        for (index, user) in users.iter().enumerate() {
            let group = *by_currency
                .entry(user.currency.as_str())
                .or_insert_with(|| {
                    currency_groups.push(Vec::new());
                    currency_groups.len() - 1
                });
            currency_groups[group].push(index);
            group_of.push(group);
        }
        let batch_senders = (0..users.len())
            .filter(|&index| currency_groups[group_of[index]].len() >= 2)
            .collect();
        Plan {
            users,
            amount_max,
            batch_size,
            currency_groups,
            group_of,
            batch_senders,
        }
    }
}

fn parse_batch_size(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(value) if (1..=BATCH_SIZE_MAX).contains(&value) => Ok(value),
        _ => Err(format!(
            "TALLY_BATCH_SIZE must be an integer in 1..={BATCH_SIZE_MAX}, got `{text}`"
        )),
    }
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

/// Logs in as one of the users with a same-currency peer (spread round-robin over them).
async fn log_in_batch(user: &mut GooseUser) -> TransactionResult {
    let plan = plan();
    if plan.batch_senders.is_empty() {
        // Refused at start unless a wildcard selected it: no session, so `batch` only waits.
        return Ok(());
    }
    let index = plan.batch_senders[user.weighted_users_index % plan.batch_senders.len()];
    log_in_as(user, index, plan.users.len()).await
}

/// Logs in as the seeded user this Goose user stands for (spread round-robin over `pool`).
async fn log_in(user: &mut GooseUser, pool: usize) -> TransactionResult {
    let index = user.weighted_users_index % pool;
    log_in_as(user, index, pool).await
}

async fn log_in_as(user: &mut GooseUser, index: usize, pool: usize) -> TransactionResult {
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

/// A random seeded user other than `index` whose account has the same currency.
fn same_currency_recipient(plan: &Plan, index: usize, random: &mut impl Rng) -> usize {
    let group = &plan.currency_groups[plan.group_of[index]];
    let position = group
        .binary_search(&index)
        .expect("every user is in its currency's group");
    // Uniform over the others: draw among len-1 and skip the sender.
    let mut drawn = random.random_range(0..group.len() - 1);
    if drawn >= position {
        drawn += 1;
    }
    group[drawn]
}

/// One `POST /transfers/batch` (`"atomic": false`) of `batch_size` items from this user's account
/// to random other accounts of its currency. 200 is expected; anything else counts as a failure.
/// The items committed and refused are counted from the results.
async fn batch(user: &mut GooseUser) -> TransactionResult {
    let Some(session) = user.get_session_data::<Session>().cloned() else {
        // The login failed (and was reported); do not hammer the server with 401s.
        tokio::time::sleep(Duration::from_secs(1)).await;
        return Ok(());
    };
    let plan = plan();
    let sender = &plan.users[session.index];
    let transfers: Vec<NewTransfer> = {
        let mut random = rand::rng();
        (0..plan.batch_size)
            .map(|_| NewTransfer {
                from_account_id: sender.account_id,
                to_account_id: plan.users
                    [same_currency_recipient(plan, session.index, &mut random)]
                .account_id,
                amount: random.random_range(1..=plan.amount_max),
                currency: &sender.currency,
            })
            .collect()
    };
    let body = NewBatch {
        transfers,
        atomic: false,
    };
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/transfers/batch")
        .set_request_builder(
            user.get_request_builder(&GooseMethod::Post, "/transfers/batch")?
                .bearer_auth(&session.access_token)
                .json(&body),
        )
        .expect_status_code(200)
        .build();
    let mut goose = user.request(request).await?;
    // Anything but a 200 is already recorded as a failure by `expect_status_code`.
    let Ok(response) = goose.response else {
        return Ok(());
    };
    if response.status().as_u16() != 200 {
        return Ok(());
    }
    let answer = match response.json::<BatchAnswer>().await {
        Ok(answer) => answer,
        Err(error) => {
            return user.set_failure(
                &format!("batch: unreadable 200: {error}"),
                &mut goose.request,
                None,
                None,
            )
        }
    };
    if answer.results.len() != plan.batch_size {
        return user.set_failure(
            &format!(
                "batch: {} results for {} items",
                answer.results.len(),
                plan.batch_size
            ),
            &mut goose.request,
            None,
            None,
        );
    }
    let committed = answer
        .results
        .iter()
        .filter(|result| result.transfer.is_some())
        .count() as u64;
    BATCHES_ANSWERED.fetch_add(1, Ordering::Relaxed);
    BATCH_ITEMS_COMMITTED.fetch_add(committed, Ordering::Relaxed);
    BATCH_ITEMS_REFUSED.fetch_add(plan.batch_size as u64 - committed, Ordering::Relaxed);
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

    #[test]
    fn batch_sizes_are_bounded() {
        assert_eq!(parse_batch_size("1"), Ok(1));
        assert_eq!(parse_batch_size(" 1000 "), Ok(1000));
        for text in ["0", "1001", "-5", "many", ""] {
            assert!(parse_batch_size(text).is_err(), "{text}");
        }
        assert!(runs_batch(&arguments("goose --scenarios batch")));
        assert!(runs_batch(&arguments("goose --scenarios=uniform,batch")));
        assert!(runs_batch(&arguments("goose --scenarios *")));
        assert!(!runs_batch(&arguments("goose --scenarios hot")));
    }

    #[test]
    fn batch_recipients_share_the_currency_and_are_never_the_sender() {
        let user = |index: usize, currency: &str| SeededUser {
            username: format!("user_{index}"),
            password: "p".to_owned(),
            account_id: 100 + index as i64,
            currency: currency.to_owned(),
        };
        let currencies = ["USD", "EUR", "USD", "CAD", "EUR", "USD"];
        let users: Vec<SeededUser> = currencies
            .iter()
            .enumerate()
            .map(|(index, currency)| user(index, currency))
            .collect();
        let plan = Plan::new(users, 100, 7);
        // The lone CAD account has no one to send to.
        assert_eq!(plan.batch_senders, vec![0, 1, 2, 4, 5]);
        let mut random = rand::rng();
        for &sender in &plan.batch_senders {
            for _ in 0..200 {
                let recipient = same_currency_recipient(&plan, sender, &mut random);
                assert_ne!(recipient, sender);
                assert_eq!(plan.users[recipient].currency, plan.users[sender].currency);
            }
        }
    }
}
