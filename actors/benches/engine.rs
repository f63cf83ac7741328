//! The engine alone, without HTTP: N concurrent callers send transfers for a fixed time over a
//! uniform account set and over 10 hot accounts, against a fresh PostgreSQL database.
//!
//! ```sh
//! scripts/postgres start
//! TALLY_TEST_DATABASE_URL=$(scripts/postgres url) cargo bench -p tally-actors --bench engine
//! ```
//!
//! Environment (all optional):
//!   TALLY_BENCH_SECONDS   seconds per scenario (default 10, at most 600)
//!   TALLY_BENCH_CLIENTS   comma-separated caller counts (default "16,64", each at most 4096)
//!   TALLY_BENCH_ACCOUNTS  accounts in the uniform set (default 10000, at most 1000000)
//!   TALLY_BENCH_SCENARIOS comma-separated, of uniform, hot (default "uniform,hot")
//!   TALLY_BENCH_KEEP_DATABASE=1 keeps the database (named in the output); dropped otherwise
//!   TALLY_ENGINE__JOURNAL_WRITERS, TALLY_ENGINE__BATCH_SIZE_MAX, TALLY_ENGINE__ARBITERS: as for `tally serve`, so the
//!                         engine measured here is configured like the server's
//!
//! For each scenario it prints transfers/s, the mean journal batch size (from the engine's own
//! `tally_journal_batch_size` histogram), the journal writers, p50/p99 latency and the
//! non-committed answers, the whole process's CPU per answered transfer (µs; every thread:
//! callers, actors, journal) and its threads' context switches per transfer (each a thread that
//! slept for another's hand-off, or was pre-empted), and for scripts one line `ENGINE_RESULT {json}` per scenario
//! (`scripts/bench` compares it with the raw replay of the journal's statements at the same mean
//! batch and writers: `--bench replay`).

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tally_actors::{
    AccountId, Amount, Authority, Currency, Engine, EngineConfig, TransferError, TransferRequest,
};
use tally_test_support::fresh_database;
use tokio_postgres::Client;

/// Every account gets this much; transfers move 1..=100 minor units, so no caller is ever refused
/// for insufficient funds within any sane run and every answer is a commit.
const STARTING_BALANCE: i64 = 1_000_000_000_000;
const AMOUNT_MAX: u64 = 100;
const HOT_ACCOUNTS: usize = 10;
/// Deposits in flight while funding: well under the reserve actor's mailbox bound (256).
const FUNDING_CONCURRENCY: usize = 128;

struct Options {
    seconds: u64,
    clients: Vec<usize>,
    accounts: usize,
    scenarios: Vec<String>,
    /// The defaults with the `TALLY_ENGINE__*` overrides, validated as `tally serve` does.
    engine: EngineConfig,
    keep_database: bool,
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("engine bench: {message}");
            std::process::exit(2);
        }
    };
    // The engine's actors need an actix system; the callers run as tasks on its thread, like
    // the HTTP workers do.
    actix_rt::System::new().block_on(run(options));
}

fn options() -> Result<Options, String> {
    let number = |name: &str, default: u64, max: u64| -> Result<u64, String> {
        match std::env::var(name) {
            Err(_) => Ok(default),
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(value) if (1..=max).contains(&value) => Ok(value),
                _ => Err(format!(
                    "{name} must be an integer in 1..={max}, got `{text}`"
                )),
            },
        }
    };
    let clients = match std::env::var("TALLY_BENCH_CLIENTS") {
        Err(_) => vec![16, 64],
        Ok(text) => text
            .split(',')
            .map(|part| match part.trim().parse::<usize>() {
                Ok(value) if (1..=4096).contains(&value) => Ok(value),
                _ => Err(format!(
                    "TALLY_BENCH_CLIENTS must be comma-separated integers in 1..=4096, got `{text}`"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let scenarios = std::env::var("TALLY_BENCH_SCENARIOS")
        .unwrap_or_else(|_| "uniform,hot".to_owned())
        .split(',')
        .map(|part| part.trim().to_owned())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>();
    if scenarios.is_empty() || scenarios.iter().any(|s| s != "uniform" && s != "hot") {
        return Err("TALLY_BENCH_SCENARIOS must list uniform and/or hot".to_owned());
    }
    let optional = |name: &str| -> Result<Option<usize>, String> {
        if std::env::var(name).is_err() {
            return Ok(None);
        }
        number(name, 1, u64::MAX).map(|value| Some(value as usize))
    };
    let mut engine = EngineConfig::default();
    if let Some(writers) = optional("TALLY_ENGINE__JOURNAL_WRITERS")? {
        engine.journal_writers = writers;
    }
    if let Some(batch_size_max) = optional("TALLY_ENGINE__BATCH_SIZE_MAX")? {
        engine.batch_size_max = batch_size_max;
    }
    if let Some(arbiters) = optional("TALLY_ENGINE__ARBITERS")? {
        engine.arbiters = arbiters;
    }
    engine.validate().map_err(|error| error.to_string())?;
    Ok(Options {
        seconds: number("TALLY_BENCH_SECONDS", 10, 600)?,
        clients,
        accounts: number("TALLY_BENCH_ACCOUNTS", 10_000, 1_000_000)? as usize,
        scenarios,
        engine,
        keep_database: std::env::var("TALLY_BENCH_KEEP_DATABASE").as_deref() == Ok("1"),
    })
}

/// An account and its owner (the transfer's authority).
#[derive(Clone)]
struct Account {
    id: AccountId,
    owner: Rc<str>,
}

async fn run(options: Options) {
    let database = fresh_database().await;
    let client = database.connect().await;
    let config = options.engine.clone();
    let writers = config.journal_writers;
    // As many connections as the service's default pool: the journal uses one at a time, the
    // rest serve account activations.
    let pool = database.pool(32);
    let engine = Engine::start(config.clone(), pool);
    eprintln!(
        "engine bench: database {}, {} accounts, {} s per scenario, engine {:?}",
        database.name, options.accounts, options.seconds, config
    );

    let started = Instant::now();
    let accounts = create_accounts(&client, options.accounts).await;
    eprintln!(
        "engine bench: created {} users and accounts in {:.1} s",
        accounts.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    fund(&engine, &accounts).await;
    eprintln!(
        "engine bench: funded them through the engine in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    println!(
        "{:<16} {:>7} {:>12} {:>10} {:>7} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10}",
        "scenario",
        "clients",
        "transfers/s",
        "mean batch",
        "writers",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "CPU µs/tx",
        "switch/tx"
    );
    let hot: Rc<[Account]> = Rc::from(&accounts[..HOT_ACCOUNTS.min(accounts.len())]);
    let all_count = accounts.len();
    let all: Rc<[Account]> = Rc::from(accounts);
    let sets: Vec<(&str, String, Rc<[Account]>)> = options
        .scenarios
        .iter()
        .map(|scenario| match scenario.as_str() {
            "hot" => ("hot", format!("hot-{}", hot.len()), hot.clone()),
            _ => ("uniform", format!("uniform-{all_count}"), all.clone()),
        })
        .collect();
    for (scenario_kind, name, set) in &sets {
        for &clients in &options.clients {
            let result = scenario(
                &engine,
                set.clone(),
                clients,
                Duration::from_secs(options.seconds),
            )
            .await;
            let per_s = result.committed as f64 / result.elapsed.as_secs_f64();
            let answered = (result.committed + result.errors).max(1) as f64;
            let cpu_us = result.cpu.as_secs_f64() * 1e6 / answered;
            let switches = result.switches as f64 / answered;
            println!(
                "{:<16} {:>7} {:>12.0} {:>10.1} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>10.1} {:>10.2}",
                name,
                clients,
                per_s,
                result.mean_batch,
                writers,
                result.p50.as_secs_f64() * 1e3,
                result.p99.as_secs_f64() * 1e3,
                result.max.as_secs_f64() * 1e3,
                result.errors,
                cpu_us,
                switches,
            );
            println!(
                "ENGINE_RESULT {{\"scenario\":\"{}\",\"accounts\":{},\"clients\":{},\
                 \"seconds\":{:.3},\"committed\":{},\"transfers_per_s\":{:.1},\
                 \"mean_batch\":{:.2},\"writers\":{},\"batch_size_max\":{},\"p50_ms\":{:.3},\
                 \"p99_ms\":{:.3},\"max_ms\":{:.3},\"errors\":{},\"cpu_us_per_transfer\":{:.2},\
                 \"switches_per_transfer\":{:.3}}}",
                scenario_kind,
                set.len(),
                clients,
                result.elapsed.as_secs_f64(),
                result.committed,
                per_s,
                result.mean_batch,
                writers,
                config.batch_size_max,
                result.p50.as_secs_f64() * 1e3,
                result.p99.as_secs_f64() * 1e3,
                result.max.as_secs_f64() * 1e3,
                result.errors,
                cpu_us,
                switches,
            );
            if let Some(error) = &result.first_error {
                println!("  first error: {error}");
            }
        }
    }
    drop(client);
    if options.keep_database {
        eprintln!("engine bench: kept database {}", database.name);
    } else {
        drop_database(&database.name).await;
    }
}

/// Drops the bench's database from the `postgres` database (its owner may; FORCE closes the
/// engine's pooled connections).
async fn drop_database(name: &str) {
    let dropped = async {
        let mut config: tokio_postgres::Config = tally_test_support::admin_url().parse().ok()?;
        config.dbname("postgres");
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.ok()?;
        actix_rt::spawn(async move {
            let _ = connection.await;
        });
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .ok()
    }
    .await;
    if dropped.is_none() {
        eprintln!("engine bench: could not drop {name}; drop it by hand");
    }
}

/// Users and accounts in two multi-row statements (one by one would take longer than a
/// scenario). Balances start at 0: money enters only through the engine's deposits.
async fn create_accounts(client: &Client, count: usize) -> Vec<Account> {
    let count = count as i64;
    client
        .execute(
            "INSERT INTO users (username, hashed_password, full_name, email)
             SELECT 'bench_' || n, 'not a hash', 'Bench User', 'bench_' || n || '@example.com'
             FROM generate_series(1, $1::bigint) AS n",
            &[&count],
        )
        .await
        .expect("the bench users");
    let mut accounts = client
        .query(
            "INSERT INTO accounts (owner, currency)
             SELECT 'bench_' || n, 'USD' FROM generate_series(1, $1::bigint) AS n
             ORDER BY n
             RETURNING id, owner",
            &[&count],
        )
        .await
        .expect("the bench accounts")
        .iter()
        .map(|row| Account {
            id: row.get(0),
            owner: Rc::from(row.get::<_, String>(1)),
        })
        .collect::<Vec<_>>();
    // By id, so "the first 10" are the same accounts in every run.
    accounts.sort_by_key(|account| account.id);
    accounts
}

/// One deposit per account from the USD reserve, many in flight at once (so they share batches).
async fn fund(engine: &Engine, accounts: &[Account]) {
    let amount = Amount::new(STARTING_BALANCE).expect("a positive amount");
    for chunk in accounts.chunks(FUNDING_CONCURRENCY) {
        let deposits = chunk
            .iter()
            .map(|account| engine.deposit(account.id, amount, None));
        for outcome in join_all(deposits).await {
            outcome.expect("a funding deposit");
        }
    }
}

struct Outcome {
    committed: u64,
    errors: u64,
    first_error: Option<TransferError>,
    elapsed: Duration,
    mean_batch: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// The whole process's CPU (every thread: callers, actors, journal) during the run.
    cpu: Duration,
    /// Context switches of all the process's threads during the run: each time a thread slept
    /// waiting for another's hand-off, or was pre-empted.
    switches: u64,
}

/// The process's CPU so far (user + system, all threads), from /proc/self/stat, and the
/// context switches of all its threads, from /proc/self/task/*/status. Linux only; zeros
/// elsewhere.
fn process_counters() -> (Duration, u64) {
    // Fields 14 and 15 (utime, stime) in clock ticks; counted after the command name's closing
    // ')', the first field there (the state) being field 3.
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux this runs on.
    let cpu = Duration::from_millis(ticks * 10);
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            switches += status
                .lines()
                .filter(|line| line.contains("ctxt_switches"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    (cpu, switches)
}

struct Caller {
    committed: u64,
    errors: u64,
    first_error: Option<TransferError>,
    latencies: Vec<Duration>,
}

async fn scenario(
    engine: &Engine,
    accounts: Rc<[Account]>,
    clients: usize,
    duration: Duration,
) -> Outcome {
    let (batches_before, batched_before) = batch_histogram(engine);
    let (cpu_before, switches_before) = process_counters();
    let started = Instant::now();
    let deadline = started + duration;
    let callers = (0..clients).map(|index| {
        let engine = engine.clone();
        let accounts = accounts.clone();
        // A distinct, fixed seed per caller: runs are repeatable and callers do not march in
        // step.
        let mut random =
            Random(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1).wrapping_mul(0xa24b_aed4_963e_e407));
        async move {
            let mut caller = Caller {
                committed: 0,
                errors: 0,
                first_error: None,
                latencies: Vec::with_capacity(1 << 16),
            };
            while Instant::now() < deadline {
                let from = &accounts[random.below(accounts.len() as u64) as usize];
                let mut to = &accounts[random.below(accounts.len() as u64 - 1) as usize];
                if to.id == from.id {
                    // Below len-1, so the last account stands in for the sender: uniform over
                    // the others.
                    to = &accounts[accounts.len() - 1];
                }
                let request = TransferRequest {
                    from: from.id,
                    to: to.id,
                    amount: Amount::new(1 + random.below(AMOUNT_MAX) as i64)
                        .expect("a positive amount"),
                    currency: Currency::USD,
                    authority: Authority::Owner(from.owner.to_string()),
                    idempotency: None,
                    details: Default::default(),
                };
                let sent = Instant::now();
                let outcome = engine.transfer(request).await;
                caller.latencies.push(sent.elapsed());
                match outcome {
                    Ok(_) => caller.committed += 1,
                    Err(error) => {
                        caller.errors += 1;
                        caller.first_error.get_or_insert(error);
                        // A saturated engine answers at once; do not spin on it.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            caller
        }
    });
    // Every caller is a task on this thread's runtime (as HTTP handlers are on the workers'),
    // not a future polled inside one task, so they are scheduled independently.
    let handles: Vec<_> = callers.map(actix_rt::spawn).collect();
    let mut latencies = Vec::new();
    let (mut committed, mut errors, mut first_error) = (0, 0, None);
    for handle in handles {
        let caller = handle.await.expect("a caller task");
        committed += caller.committed;
        errors += caller.errors;
        first_error = first_error.or(caller.first_error);
        latencies.extend(caller.latencies);
    }
    let elapsed = started.elapsed();
    let (cpu_after, switches_after) = process_counters();
    let (batches_after, batched_after) = batch_histogram(engine);
    latencies.sort_unstable();
    let percentile = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1]
    };
    let batches = batches_after - batches_before;
    Outcome {
        committed,
        errors,
        first_error,
        elapsed,
        mean_batch: if batches == 0 {
            0.0
        } else {
            (batched_after - batched_before) / batches as f64
        },
        p50: percentile(0.50),
        p99: percentile(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        cpu: cpu_after.saturating_sub(cpu_before),
        switches: switches_after.saturating_sub(switches_before),
    }
}

/// (batches committed, transfers in them) so far, from the engine's own metrics.
fn batch_histogram(engine: &Engine) -> (u64, f64) {
    engine
        .metrics_registry()
        .gather()
        .iter()
        .find(|family| family.get_name() == "tally_journal_batch_size")
        .and_then(|family| family.get_metric().first())
        .map(|metric| {
            let histogram = metric.get_histogram();
            (histogram.get_sample_count(), histogram.get_sample_sum())
        })
        .unwrap_or((0, 0.0))
}

/// xorshift64*: enough randomness to pick accounts, with no dependency and no shared state.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}

/// The allocator `tally serve` uses (src/main.rs), so the engine is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
