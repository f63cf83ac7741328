//! Faults under load (issue 15): a real PostgreSQL restart, and a replica killed with SIGKILL.
//! After each, every acknowledged transfer is in PostgreSQL with both entries, money is
//! conserved, no customer account is overdrawn, and the service serves again without being
//! restarted itself.
//!
//! The restart uses a second private PostgreSQL cluster of its own (initdb into a temporary
//! folder, its own port), so restarting it disturbs no other test and no other checkout.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use tally_test_support::{check_invariants, fresh_database, TestDatabase};

use crate::process::{free_port, funded_account, post, user, Process};

const ACCOUNTS: usize = 8;
const SENDERS: usize = 16;

/// How to run the server programs on one cluster; cheap to clone onto a blocking thread.
#[derive(Clone)]
struct ServerCommands {
    bindir: PathBuf,
    directory: String,
    port: u16,
}

impl ServerCommands {
    /// Runs a server program as the user the server runs as (never root), waiting for it.
    fn run(&self, program: &str, arguments: &[&str]) {
        let program = self.bindir.join(program);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command
            .args(arguments)
            .stdin(Stdio::null())
            .output()
            .expect("a PostgreSQL program runs");
        assert!(
            output.status.success(),
            "{} {arguments:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `pg_ctl` on this cluster with its port and durability settings, waiting for it.
    fn pg_ctl(&self, action: &[&str]) {
        let log = format!("{}/server.log", self.directory);
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=on -c synchronous_commit=on",
            self.port, self.directory
        );
        let mut arguments = vec!["-D", &self.directory, "-l", &log, "-w", "-t", "60"];
        arguments.extend_from_slice(&["-o", &options]);
        arguments.extend_from_slice(action);
        self.run("pg_ctl", &arguments);
    }
}

/// A throwaway PostgreSQL cluster in a temporary folder, stopped and removed on drop.
struct Cluster {
    commands: ServerCommands,
    _data: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let data = tempfile::Builder::new()
            .prefix("tally-fault-pg-")
            .tempdir()
            .expect("a temporary folder");
        give_to_server_user(data.path());
        let commands = ServerCommands {
            bindir: postgres_bindir(),
            directory: data.path().to_str().expect("a UTF-8 path").to_owned(),
            port: free_port(),
        };
        let directory = commands.directory.clone();
        commands.run(
            "initdb",
            &[
                "-D", &directory, "-U", "postgres", "-A", "trust", "-E", "UTF8",
            ],
        );
        commands.pg_ctl(&["start"]);
        Cluster {
            commands,
            _data: data,
        }
    }

    fn port(&self) -> u16 {
        self.commands.port
    }

    /// A migrated database `tally` owned by role `tally`, as the private cluster has.
    async fn database(&self) -> TestDatabase {
        let admin = tally_test_support::pool(
            &format!("postgres://postgres@127.0.0.1:{}/postgres", self.port()),
            1,
        );
        let admin = admin.get().await.expect("the new cluster answers");
        admin
            .batch_execute("CREATE ROLE tally LOGIN CREATEDB")
            .await
            .expect("a role");
        admin
            .batch_execute("CREATE DATABASE tally OWNER tally")
            .await
            .expect("a database");
        let database = TestDatabase {
            name: "tally".to_owned(),
            config: format!("postgres://tally@127.0.0.1:{}/postgres", self.port())
                .parse()
                .expect("a URL"),
        };
        let migrated = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("migrate")
            .env("TALLY_DATABASE__URL", database.url())
            .env("TALLY_LOG__LEVEL", "error")
            .status()
            .expect("tally migrate runs");
        assert!(migrated.success(), "tally migrate");
        database
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Best effort: a cluster left running would only hold a temporary folder and a port.
        let commands = self.commands.clone();
        let _ = std::panic::catch_unwind(move || {
            commands.run(
                "pg_ctl",
                &["-D", &commands.directory, "-m", "immediate", "-w", "stop"],
            )
        });
    }
}

fn is_root() -> bool {
    std::env::var("USER")
        .map(|user| user == "root")
        .unwrap_or(false)
        || Command::new("id")
            .arg("-u")
            .output()
            .map(|output| output.stdout.starts_with(b"0\n"))
            .unwrap_or(false)
}

/// The newest installed PostgreSQL's programs (scripts/postgres installs it).
fn postgres_bindir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/postgres start)")
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|version| version.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect("an initdb under /usr/lib/postgresql")
}

/// As root, the folder must belong to the server's user.
fn give_to_server_user(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown of {}", path.display());
    }
}

/// Funded accounts of new users through `address`: (token, account id) each.
async fn accounts(
    client: &reqwest::Client,
    address: &str,
    database: &TestDatabase,
    prefix: &str,
) -> Vec<(String, i64)> {
    let db = database.connect().await;
    let banker = user(client, address, &db, &format!("{prefix}_banker"), true).await;
    let mut accounts = Vec::new();
    for index in 0..ACCOUNTS {
        let name = format!("{prefix}_{index}");
        accounts.push(funded_account(client, address, &db, &name, &banker, 1_000_000).await);
    }
    accounts
}

/// What the senders saw: the ids of transfers answered 201, and how many answered 503.
struct Outcome {
    acknowledged: HashSet<i64>,
    unavailable: usize,
}

/// SENDERS loops posting transfers among `accounts` through `addresses` (round robin) until
/// `stop`; any answer but 201, 503 `unavailable` or a connection error fails the test.
fn load(
    client: &reqwest::Client,
    addresses: Vec<String>,
    accounts: Arc<Vec<(String, i64)>>,
    stop: Arc<AtomicBool>,
) -> actix_web::rt::task::JoinHandle<Outcome> {
    let senders = (0..SENDERS).map(move |sender| {
        let (client, accounts, stop) = (client.clone(), accounts.clone(), stop.clone());
        let address = addresses[sender % addresses.len()].clone();
        actix_web::rt::spawn(async move {
            let mut outcome = Outcome {
                acknowledged: HashSet::new(),
                unavailable: 0,
            };
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let (token, from) = &accounts[(sender + round) % ACCOUNTS];
                let to = accounts[(sender + round + 1 + round % 3) % ACCOUNTS].1;
                round += 1;
                let body = json!({ "from_account_id": from, "to_account_id": to, "amount": 1 + round % 50, "currency": "USD" });
                match post(&client, format!("{address}/transfers"), body, Some(token)).await {
                    Ok((201, answer)) => {
                        let id = answer["transfer"]["id"].as_i64().expect("an id");
                        outcome.acknowledged.insert(id);
                    }
                    Ok((503, answer)) => {
                        assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
                        outcome.unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok((status, answer)) => panic!("unexpected {status}: {answer}"),
                    // A killed replica: its senders stop, the others go on.
                    Err(_) => break,
                }
            }
            outcome
        })
    });
    let senders: Vec<_> = senders.collect();
    actix_web::rt::spawn(async move {
        let mut all = Outcome {
            acknowledged: HashSet::new(),
            unavailable: 0,
        };
        for sender in join_all(senders).await {
            let sender = sender.expect("a sender");
            all.acknowledged.extend(sender.acknowledged);
            all.unavailable += sender.unavailable;
        }
        all
    })
}

/// Every acknowledged transfer is stored, and the money rules hold.
async fn assert_durable(database: &TestDatabase, acknowledged: &HashSet<i64>) {
    let db = database.connect().await;
    let ids: Vec<i64> = acknowledged.iter().copied().collect();
    let stored: HashSet<i64> = db
        .query("SELECT id FROM transfers WHERE id = ANY($1)", &[&ids])
        .await
        .expect("the transfers")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged transfers lost: {lost:?}");
    // No half transfer (both entries of each), balances = entries, conservation, no overdraft.
    check_invariants(&db).await;
}

async fn postmaster_start_time(database: &TestDatabase) -> std::time::SystemTime {
    database
        .connect()
        .await
        .query_one("SELECT pg_postmaster_start_time()", &[])
        .await
        .expect("the start time")
        .get(0)
}

/// Posts one transfer through `address` until it answers 201, for `limit` at most.
async fn serves_again(
    client: &reqwest::Client,
    address: &str,
    accounts: &[(String, i64)],
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    let (token, from) = &accounts[0];
    let body = json!({ "from_account_id": from, "to_account_id": accounts[1].1, "amount": 1, "currency": "USD" });
    loop {
        let answer = post(
            client,
            format!("{address}/transfers"),
            body.clone(),
            Some(token),
        )
        .await;
        if let Ok((201, _)) = answer {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not serving {limit:?} after the fault: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn transfers_survive_a_postgres_restart_under_load() {
    let cluster = Cluster::start();
    let database = cluster.database().await;
    let server = Process::tally(&database, free_port()).await;
    // A second replica, to log out on after the restart.
    let other = Process::tally(&database, free_port()).await;
    let client = crate::helpers::http_client();
    let accounts = Arc::new(accounts(&client, &server.address, &database, "restart").await);

    let started_at = postmaster_start_time(&database).await;
    let stop = Arc::new(AtomicBool::new(false));
    let senders = load(
        &client,
        vec![server.address.clone()],
        accounts.clone(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    // A fast restart: PostgreSQL ends every connection (the pool's, the journal's, the logout
    // listener's) mid-load, then comes back on the same port.
    let commands = cluster.commands.clone();
    actix_web::rt::task::spawn_blocking(move || commands.pg_ctl(&["restart", "-m", "fast"]))
        .await
        .expect("the restart");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let outcome = senders.await.expect("the senders");
    assert!(
        outcome.acknowledged.len() > 20,
        "the load was under way: {}",
        outcome.acknowledged.len()
    );

    assert_ne!(
        postmaster_start_time(&database).await,
        started_at,
        "PostgreSQL really restarted"
    );
    // The same process serves again, by itself.
    serves_again(&client, &server.address, &accounts, Duration::from_secs(10)).await;
    assert_durable(&database, &outcome.acknowledged).await;

    // Logouts still reach the replica: its listener and catch-up survived the restart.
    let (token, _) = &accounts[2];
    let (status, _) = post(
        &client,
        format!("{}/users/logout", other.address),
        json!({}),
        Some(token),
    )
    .await
    .expect("a logout");
    assert_eq!(status, 204);
    let started = Instant::now();
    loop {
        let status = client
            .get(format!("{}/users/me", server.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("an answer")
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a logout on the other replica is not applied within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_replica_killed_under_load_loses_nothing_and_the_other_serves_on() {
    let database = fresh_database().await;
    let mut doomed = Process::tally(&database, free_port()).await;
    let survivor = Process::tally(&database, free_port()).await;
    let client = crate::helpers::http_client();
    let accounts = Arc::new(accounts(&client, &survivor.address, &database, "sigkill").await);

    let stop = Arc::new(AtomicBool::new(false));
    let addresses = vec![doomed.address.clone(), survivor.address.clone()];
    let senders = load(&client, addresses, accounts.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(700)).await;
    doomed.kill(); // SIGKILL: no shutdown hook runs, batches in flight are cut
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let outcome = senders.await.expect("the senders");
    assert!(outcome.acknowledged.len() > 20, "the load was under way");

    serves_again(
        &client,
        &survivor.address,
        &accounts,
        Duration::from_secs(10),
    )
    .await;
    assert_durable(&database, &outcome.acknowledged).await;
}
