use std::collections::HashMap;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tally_actors::{
    AccountId, Amount, Authority, Currency, Engine, EngineConfig, IdempotencyKey, TransferError,
    TransferRequest, Transferred,
};
use tally_test_support::{check_invariants, fresh_database, insert_user, Invariants};
use tokio_postgres::{Client, NoTls};

pub struct Fixture {
    pub pool: Pool,
    pub engine: Engine,
    pub client: Client,
}

pub async fn fixture() -> Fixture {
    fixture_with(EngineConfig::default()).await
}

pub async fn fixture_with(config: EngineConfig) -> Fixture {
    let database = fresh_database().await;
    let pool = database.pool(16);
    let engine = Engine::start(config, pool.clone());
    let client = database.connect().await;
    Fixture {
        pool,
        engine,
        client,
    }
}

/// A pool whose connections are created within `wait`: how long the engine waits for a server
/// that takes its writes.
pub fn pool_waiting(url: &str, wait: Duration) -> Pool {
    let manager = Manager::from_config(
        url.parse().expect("a valid database URL"),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(8)
        .timeouts(Timeouts {
            wait: Some(wait),
            create: Some(wait),
            recycle: Some(wait),
        })
        .runtime(Runtime::Tokio1)
        .build()
        .expect("a pool")
}

pub fn amount(minor_units: i64) -> Amount {
    Amount::new(minor_units).expect("a positive amount")
}

impl Fixture {
    /// A user `owner` with one account in `currency`, funded with `balance` from the reserve.
    pub async fn account(&self, owner: &str, currency: Currency, balance: i64) -> AccountId {
        let exists: i64 = self
            .client
            .query_one("SELECT count(*) FROM users WHERE username = $1", &[&owner])
            .await
            .expect("a user count")
            .get(0);
        if exists == 0 {
            insert_user(&self.client, owner).await;
        }
        let account = self
            .engine
            .open_account(owner, currency)
            .await
            .expect("an account");
        if balance > 0 {
            self.engine
                .deposit(account.id, amount(balance), None)
                .await
                .expect("a deposit");
        }
        account.id
    }

    /// `count` accounts in USD, one user each, funded with `balance`.
    pub async fn accounts(&self, count: usize, balance: i64) -> Vec<AccountId> {
        let mut ids = Vec::with_capacity(count);
        for index in 0..count {
            ids.push(
                self.account(&format!("user_{index}"), Currency::USD, balance)
                    .await,
            );
        }
        ids
    }

    pub async fn transfer(
        &self,
        from: AccountId,
        to: AccountId,
        minor_units: i64,
    ) -> Result<Transferred, TransferError> {
        self.engine
            .transfer(self.request(from, to, minor_units).await)
            .await
    }

    /// A transfer request in USD by the owner of `from`.
    pub async fn request(
        &self,
        from: AccountId,
        to: AccountId,
        minor_units: i64,
    ) -> TransferRequest {
        TransferRequest {
            from,
            to,
            amount: amount(minor_units),
            currency: Currency::USD,
            authority: Authority::Owner(self.owner(from).await),
            idempotency: None,
            details: Default::default(),
        }
    }

    pub async fn owner(&self, account: AccountId) -> String {
        self.client
            .query_one("SELECT owner FROM accounts WHERE id = $1", &[&account])
            .await
            .expect("an account")
            .get(0)
    }

    pub async fn balance(&self, account: AccountId) -> i64 {
        self.client
            .query_one("SELECT balance FROM accounts WHERE id = $1", &[&account])
            .await
            .expect("an account")
            .get(0)
    }

    pub async fn balances(&self) -> HashMap<AccountId, i64> {
        self.client
            .query("SELECT id, balance FROM accounts", &[])
            .await
            .expect("the balances")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    pub async fn transfer_count(&self) -> i64 {
        self.client
            .query_one("SELECT count(*) FROM transfers", &[])
            .await
            .expect("a count")
            .get(0)
    }

    /// The money rules hold in PostgreSQL, and every account actor in memory holds exactly the
    /// database's balance.
    pub async fn assert_consistent(&self) -> Invariants {
        let invariants = check_invariants(&self.client).await;
        assert_memory_matches_database(&self.engine, &self.balances().await).await;
        invariants
    }
}

pub async fn assert_memory_matches_database(engine: &Engine, database: &HashMap<AccountId, i64>) {
    // Settlements are sent before callers are answered, but applied asynchronously: give the
    // actors a moment to drain their mailboxes.
    let mut mismatched = Vec::new();
    for _ in 0..50 {
        mismatched = engine
            .cached_balances()
            .await
            .into_iter()
            .filter(|(id, balance)| database.get(id) != Some(balance))
            .map(|(id, balance)| (id, balance, database.get(&id).copied()))
            .collect();
        if mismatched.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("memory differs from PostgreSQL for (id, memory, database): {mismatched:?}");
}

/// Waits until `engine` holds no transfer in flight: abandoned work has run to its end.
pub async fn wait_until_no_transfer_in_flight(engine: &Engine) {
    let started = std::time::Instant::now();
    while engine.transfers_in_flight() > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{} transfers still in flight after 10 s",
            engine.transfers_in_flight()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

pub fn key(username: &str, key: &str, body: &str) -> IdempotencyKey {
    IdempotencyKey {
        username: username.to_owned(),
        key: key.to_owned(),
        request_hash: body.as_bytes().to_vec(),
        operation: "transfer".to_owned(),
    }
}

/// A small deterministic generator (tests must not depend on a seed they do not print).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}
