//! The raw rate of the journal's own write shape: random batches of transfers written with exactly
//! the journal's statements (`tally_actors::journal_sql`), the same way the journal sends them,
//! from a client outside the engine. It is the physical limit the engine is compared with
//! ("at the same batch size and number of writers", issue "Write path").
//!
//! ```sh
//! scripts/postgres start
//! TALLY_TEST_DATABASE_URL=$(scripts/postgres url) cargo bench -p tally-actors --bench replay
//! ```
//!
//! A batch is one round trip, as a batch of plain transfers in `journal/writer.rs`: BEGIN,
//! LOCK_ACCOUNTS, WRITE_TRANSFERS and COMMIT pipelined. Every statement is prepared once per
//! connection. Each writer has its own connection; with several
//! writers the accounts are split between them (account k goes to writer k mod W), so their
//! batches touch disjoint rows and never wait on each other's row locks, which models the engine's
//! conflict-free dispatch. Net balance deltas per account are computed as the journal does; ids
//! (after the locks) and each leg's balance after it by WRITE_TRANSFERS, as in the journal.
//!
//! Environment (all optional):
//!   TALLY_REPLAY_SECONDS    measured seconds per point (default 5, at most 600), after
//!                           TALLY_REPLAY_WARMUP_MS of unmeasured batches (default 500)
//!   TALLY_REPLAY_ACCOUNTS   funded accounts in the uniform set (default 10000); hot uses 10 of them
//!   TALLY_REPLAY_SCENARIOS  comma-separated, of uniform, hot (default "uniform,hot")
//!   TALLY_REPLAY_BATCHES    comma-separated batch sizes (default "1,32,100,500,1000", at most 8192)
//!   TALLY_REPLAY_WRITERS    comma-separated writer counts (default "1,2", at most 64)
//!   TALLY_REPLAY_POINTS     instead of the grid above, an explicit list of points
//!                           "SCENARIO:BATCH:WRITERS,..." (e.g. "uniform:32:1,hot:500:2")
//!   TALLY_REPLAY_KEEP_DATABASE=1 keeps the database (named in the output); it is dropped otherwise
//!
//! Prints one table row per point (transfers/s, batches/s, mean ms per batch) and, for scripts,
//! one line `REPLAY_RESULT {json}` per point. Before each point a CHECKPOINT (as the superuser
//! `postgres`, when the server lets it connect) gives every point the same starting state. The money
//! invariants (sum of balances 0; each balance equals its entries) are checked at the end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tally_actors::journal_sql::{JOURNAL_SESSION, LOCK_ACCOUNTS, WRITE_TRANSFERS};
use tally_test_support::{fresh_database, TestDatabase};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

/// Every account starts with this much; transfers move 1..=100 minor units, so no batch is ever
/// refused for funds.
const STARTING_BALANCE: i64 = 1_000_000_000_000;
const AMOUNT_MAX: u64 = 100;
const HOT_ACCOUNTS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Uniform,
    Hot,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Uniform => "uniform",
            Scenario::Hot => "hot",
        }
    }

    fn parse(text: &str) -> Result<Scenario, String> {
        match text.trim() {
            "uniform" => Ok(Scenario::Uniform),
            "hot" => Ok(Scenario::Hot),
            other => Err(format!("unknown scenario `{other}` (uniform or hot)")),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Point {
    scenario: Scenario,
    batch: usize,
    writers: usize,
}

struct Options {
    seconds: u64,
    warmup: Duration,
    accounts: usize,
    points: Vec<Point>,
    keep_database: bool,
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("replay bench: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(options));
}

fn list<T>(
    name: &str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let text = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let values = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| parse(part.trim()).map_err(|error| format!("{name}: {error}")))
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        return Err(format!("{name} is empty"));
    }
    Ok(values)
}

fn bounded(text: &str, max: u64) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(value) if (1..=max).contains(&value) => Ok(value),
        _ => Err(format!("`{text}` is not an integer in 1..={max}")),
    }
}

fn number(name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(format!(
                "{name} must be an integer in {min}..={max}, got `{text}`"
            )),
        },
    }
}

fn options() -> Result<Options, String> {
    let points = if std::env::var("TALLY_REPLAY_POINTS").is_ok() {
        list("TALLY_REPLAY_POINTS", "", |part| {
            let fields: Vec<&str> = part.split(':').collect();
            if fields.len() != 3 {
                return Err(format!("`{part}` is not SCENARIO:BATCH:WRITERS"));
            }
            Ok(Point {
                scenario: Scenario::parse(fields[0])?,
                batch: bounded(fields[1], 8192)? as usize,
                writers: bounded(fields[2], 64)? as usize,
            })
        })?
    } else {
        let scenarios = list("TALLY_REPLAY_SCENARIOS", "uniform,hot", Scenario::parse)?;
        let batches = list("TALLY_REPLAY_BATCHES", "1,32,100,500,1000", |part| {
            bounded(part, 8192)
        })?;
        let writers = list("TALLY_REPLAY_WRITERS", "1,2", |part| bounded(part, 64))?;
        let mut points = Vec::new();
        for &scenario in &scenarios {
            for &batch in &batches {
                for &writers in &writers {
                    points.push(Point {
                        scenario,
                        batch: batch as usize,
                        writers: writers as usize,
                    });
                }
            }
        }
        points
    };
    let accounts = number(
        "TALLY_REPLAY_ACCOUNTS",
        10_000,
        2 * HOT_ACCOUNTS as u64,
        1_000_000,
    )?;
    for point in &points {
        let set = match point.scenario {
            Scenario::Uniform => accounts as usize,
            Scenario::Hot => HOT_ACCOUNTS,
        };
        if set / point.writers < 2 {
            return Err(format!(
                "{} writers over {set} {} accounts leave a writer fewer than two accounts",
                point.writers,
                point.scenario.name()
            ));
        }
    }
    Ok(Options {
        seconds: number("TALLY_REPLAY_SECONDS", 5, 1, 600)?,
        warmup: Duration::from_millis(number("TALLY_REPLAY_WARMUP_MS", 500, 0, 60_000)?),
        accounts: accounts as usize,
        points,
        keep_database: std::env::var("TALLY_REPLAY_KEEP_DATABASE").as_deref() == Ok("1"),
    })
}

async fn connect(
    database: &TestDatabase,
    user: Option<&str>,
) -> Result<Client, tokio_postgres::Error> {
    let mut config = database.config.clone();
    config.dbname(&database.name);
    if let Some(user) = user {
        config.user(user);
    }
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn run(options: Options) {
    let database = fresh_database().await;
    let client = connect(&database, None).await.expect("a connection");
    let started = Instant::now();
    let accounts = create_accounts(&client, options.accounts).await;
    eprintln!(
        "replay bench: database {}, {} funded accounts in {:.1} s, {} s per point (+{} ms warm-up)",
        database.name,
        accounts.len(),
        started.elapsed().as_secs_f64(),
        options.seconds,
        options.warmup.as_millis()
    );
    // The superuser may checkpoint; the test role usually may not. Without it, points still run.
    let admin = connect(&database, Some("postgres")).await.ok();
    if admin.is_none() {
        eprintln!("replay bench: no superuser connection; points run without a CHECKPOINT first");
    }

    println!(
        "{:<10} {:>8} {:>6} {:>8} {:>12} {:>10} {:>12}",
        "scenario", "accounts", "batch", "writers", "transfers/s", "batches/s", "ms per batch"
    );
    for point in &options.points {
        let set: &[i64] = match point.scenario {
            Scenario::Uniform => &accounts,
            Scenario::Hot => &accounts[..HOT_ACCOUNTS],
        };
        if let Some(admin) = &admin {
            if let Err(error) = admin.batch_execute("CHECKPOINT").await {
                eprintln!("replay bench: CHECKPOINT refused ({error}); going on without");
            }
        }
        let result = measure(&database, set, *point, &options).await;
        let seconds = result.elapsed.as_secs_f64();
        let per_s = result.transfers as f64 / seconds;
        let batches_per_s = result.batches as f64 / seconds;
        let ms_per_batch = if result.batches == 0 {
            0.0
        } else {
            1e3 * result.busy.as_secs_f64() / result.batches as f64
        };
        println!(
            "{:<10} {:>8} {:>6} {:>8} {:>12.0} {:>10.1} {:>12.2}",
            point.scenario.name(),
            set.len(),
            point.batch,
            point.writers,
            per_s,
            batches_per_s,
            ms_per_batch
        );
        println!(
            "REPLAY_RESULT {{\"scenario\":\"{}\",\"accounts\":{},\"batch\":{},\"writers\":{},\
             \"seconds\":{:.3},\"transfers\":{},\"transfers_per_s\":{:.1},\"batches_per_s\":{:.1},\
             \"ms_per_batch\":{:.3}}}",
            point.scenario.name(),
            set.len(),
            point.batch,
            point.writers,
            seconds,
            result.transfers,
            per_s,
            batches_per_s,
            ms_per_batch
        );
    }

    check_invariants(&client).await;
    drop(client);
    drop(admin);
    if options.keep_database {
        eprintln!("replay bench: kept database {}", database.name);
    } else {
        drop_database(&database.name).await;
    }
}

/// Drops the bench's database from the `postgres` database (its owner may).
async fn drop_database(name: &str) {
    let dropped = async {
        let mut config: tokio_postgres::Config = tally_test_support::admin_url().parse().ok()?;
        config.dbname("postgres");
        let (client, connection) = config.connect(NoTls).await.ok()?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .ok()
    }
    .await;
    if dropped.is_none() {
        eprintln!("replay bench: could not drop {name}; drop it by hand");
    }
}

/// Users and funded accounts in a few multi-row statements: each account gets one funding
/// transfer from the USD reserve (a posted transfer row, so `entries` shows it), and the balances
/// are set to match, so the invariants hold from the start. Returns the ids, ascending.
async fn create_accounts(client: &Client, count: usize) -> Vec<i64> {
    let count = count as i64;
    client
        .execute(
            "INSERT INTO users (username, hashed_password, full_name, email)
             SELECT 'replay_' || n, 'not a hash', 'Replay User', 'replay_' || n || '@example.com'
             FROM generate_series(1, $1::bigint) AS n",
            &[&count],
        )
        .await
        .expect("the replay users");
    let ids: Vec<i64> = client
        .query(
            "INSERT INTO accounts (owner, currency, balance)
             SELECT 'replay_' || n, 'USD', $2::bigint FROM generate_series(1, $1::bigint) AS n
             ORDER BY n
             RETURNING id",
            &[&count, &STARTING_BALANCE],
        )
        .await
        .expect("the replay accounts")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let reserve: i64 = client
        .query_one(
            "SELECT id FROM accounts WHERE kind = 'reserve' AND currency = 'USD'",
            &[],
        )
        .await
        .expect("the USD reserve")
        .get(0);
    client
        .execute(
            "INSERT INTO transfers (from_account_id, to_account_id, amount, currency, posted_at,
                                    from_balance_after, to_balance_after)
             SELECT $1::bigint, id, $2::bigint, 'USD', now(), -$2::bigint * n, $2::bigint
             FROM unnest($3::bigint[]) WITH ORDINALITY AS a(id, n)
             ORDER BY n",
            &[&reserve, &STARTING_BALANCE, &ids],
        )
        .await
        .expect("the funding transfers");
    client
        .execute(
            "UPDATE accounts SET balance = balance - $2::bigint * $3::bigint WHERE id = $1",
            &[&reserve, &STARTING_BALANCE, &count],
        )
        .await
        .expect("the reserve's balance");
    // Fresh statistics, so the statements' plans see a 10,000-row table, not an empty one.
    client
        .batch_execute("ANALYZE accounts; ANALYZE transfers")
        .await
        .expect("ANALYZE");
    let mut ids = ids;
    ids.sort_unstable();
    ids
}

async fn check_invariants(client: &Client) {
    let row = client
        .query_one(
            "SELECT (SELECT coalesce(sum(balance), 0)::bigint FROM accounts),
                    (SELECT count(*) FROM accounts a
                       LEFT JOIN (SELECT account_id, sum(amount) AS total FROM entries
                                  GROUP BY account_id) e ON e.account_id = a.id
                     WHERE a.balance <> coalesce(e.total, 0)),
                    (SELECT count(*) FROM transfers)",
            &[],
        )
        .await
        .expect("the invariant check");
    let (sum, mismatched, transfers): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    if sum != 0 || mismatched != 0 {
        eprintln!(
            "replay bench: INVARIANTS BROKEN: sum of balances {sum}, {mismatched} accounts differ \
             from their entries"
        );
        std::process::exit(1);
    }
    eprintln!(
        "replay bench: {transfers} transfers; balances sum to 0 and every balance equals its entries"
    );
}

struct Measured {
    transfers: u64,
    batches: u64,
    /// Summed over writers: time spent inside batches.
    busy: Duration,
    elapsed: Duration,
}

async fn measure(
    database: &TestDatabase,
    set: &[i64],
    point: Point,
    options: &Options,
) -> Measured {
    // Connections and statements first, outside the measured time.
    let mut writers = Vec::with_capacity(point.writers);
    for index in 0..point.writers {
        let client = connect(database, None).await.expect("a writer connection");
        let statements = Statements::prepare(&client)
            .await
            .expect("prepared statements");
        let accounts: Vec<i64> = set
            .iter()
            .enumerate()
            .filter(|(k, _)| k % point.writers == index)
            .map(|(_, id)| *id)
            .collect();
        writers.push((client, statements, accounts));
    }
    let warmup_end = Instant::now() + options.warmup;
    let measured = Duration::from_secs(options.seconds);
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(index, (client, statements, accounts))| {
            let batch = point.batch;
            tokio::spawn(async move {
                let mut random = Random(
                    0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1).wrapping_mul(0xa24b_aed4_963e_e407),
                );
                // Unmeasured batches first: caches, plans and the connection warm up.
                while Instant::now() < warmup_end {
                    let transfers = random_batch(&mut random, &accounts, batch);
                    write_batch(&client, &statements, &transfers).await;
                }
                let started = Instant::now();
                let deadline = started + measured;
                let (mut transfers_done, mut batches, mut busy) = (0u64, 0u64, Duration::ZERO);
                while Instant::now() < deadline {
                    let transfers = random_batch(&mut random, &accounts, batch);
                    let sent = Instant::now();
                    write_batch(&client, &statements, &transfers).await;
                    busy += sent.elapsed();
                    transfers_done += transfers.len() as u64;
                    batches += 1;
                }
                (transfers_done, batches, busy, started, Instant::now())
            })
        })
        .collect();
    let mut result = Measured {
        transfers: 0,
        batches: 0,
        busy: Duration::ZERO,
        elapsed: Duration::ZERO,
    };
    let (mut first_start, mut last_end): (Option<Instant>, Option<Instant>) = (None, None);
    for task in tasks {
        let (transfers, batches, busy, started, ended) = task.await.expect("a writer task");
        result.transfers += transfers;
        result.batches += batches;
        result.busy += busy;
        first_start = Some(first_start.map_or(started, |s| s.min(started)));
        last_end = Some(last_end.map_or(ended, |e| e.max(ended)));
    }
    result.elapsed = last_end.expect("a writer") - first_start.expect("a writer");
    result
}

struct Statements {
    lock_accounts: Statement,
    write_transfers: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        client.batch_execute(JOURNAL_SESSION).await?;
        let (lock_accounts, write_transfers) = tokio::try_join!(
            client.prepare(LOCK_ACCOUNTS),
            client.prepare(WRITE_TRANSFERS),
        )?;
        Ok(Statements {
            lock_accounts,
            write_transfers,
        })
    }
}

#[derive(Clone, Copy)]
struct RandomTransfer {
    from: i64,
    to: i64,
    amount: i64,
}

fn random_batch(random: &mut Random, accounts: &[i64], size: usize) -> Vec<RandomTransfer> {
    let count = accounts.len() as u64;
    (0..size)
        .map(|_| {
            let from = random.below(count) as usize;
            // Uniform over the others: draw among count-1 and skip the sender.
            let mut to = random.below(count - 1) as usize;
            if to >= from {
                to += 1;
            }
            RandomTransfer {
                from: accounts[from],
                to: accounts[to],
                amount: 1 + random.below(AMOUNT_MAX) as i64,
            }
        })
        .collect()
}

/// One batch, the journal's way: one round trip of BEGIN + LOCK_ACCOUNTS + WRITE_TRANSFERS +
/// COMMIT (pipelined: each prepared statement's request leaves on its future's first poll, and
/// try_join! polls in order).
async fn write_batch(client: &Client, statements: &Statements, transfers: &[RandomTransfer]) {
    let mut deltas: BTreeMap<i64, i64> = BTreeMap::new();
    for transfer in transfers {
        *deltas.entry(transfer.from).or_insert(0) -= transfer.amount;
        *deltas.entry(transfer.to).or_insert(0) += transfer.amount;
    }
    let ids: Vec<i64> = deltas.keys().copied().collect();
    let changes: Vec<i64> = deltas.values().copied().collect();
    let from_ids: Vec<i64> = transfers.iter().map(|t| t.from).collect();
    let to_ids: Vec<i64> = transfers.iter().map(|t| t.to).collect();
    let amounts: Vec<i64> = transfers.iter().map(|t| t.amount).collect();
    let currencies: Vec<&str> = vec!["USD"; transfers.len()];
    let lock_parameters: [&(dyn ToSql + Sync); 1] = [&ids];
    // As the journal's: an account paying in the batch is debited (it must be active); the
    // engine's plain transfers say nothing unless asked.
    let debited: Vec<bool> = ids
        .iter()
        .map(|id| transfers.iter().any(|t| t.from == *id))
        .collect();
    let descriptions: Vec<Option<&str>> = vec![None; transfers.len()];
    let metadata: Vec<Option<serde_json::Value>> = vec![None; transfers.len()];
    let reversals: Vec<Option<i64>> = vec![None; transfers.len()];
    let write_parameters: [&(dyn ToSql + Sync); 10] = [
        &ids,
        &changes,
        &debited,
        &from_ids,
        &to_ids,
        &amounts,
        &currencies,
        &descriptions,
        &metadata,
        &reversals,
    ];
    let (_, _, rows, _) = tokio::try_join!(
        client.batch_execute("BEGIN"),
        client.query(&statements.lock_accounts, &lock_parameters),
        client.query(&statements.write_transfers, &write_parameters),
        client.batch_execute("COMMIT"),
    )
    .expect("the round trip of a batch");
    // One row per account updated and per transfer inserted; a stale account writes nothing.
    assert_eq!(
        rows.len(),
        ids.len() + transfers.len(),
        "every touched account updated, every transfer inserted"
    );
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
