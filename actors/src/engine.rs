//! The engine's public face: start it once per process, then call it from any thread.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use actix::Arbiter;
use dashmap::DashMap;
use deadpool_postgres::Pool;
use tokio::sync::{oneshot, Semaphore};

use crate::account::{ChangeStatus, Restart, Snapshot, SnapshotReply, StatusReply};
use crate::config::EngineConfig;
use crate::coordinator::{Ending, Job};
use crate::idempotency::Idempotency;
use crate::journal::{Journal, Operation};
use crate::metrics::EngineMetrics;
use crate::model::{
    AccountId, AccountKind, AccountSnapshot, AccountStatus, Amount, Authority, Currency,
    IdempotencyKey, LookupError, Movement, OpenAccountError, Refusal, TransferError, TransferId,
    TransferRequest, Transferred,
};
use crate::model::{Outage, Saturation};
use crate::queries::Reads;
use crate::registry::Registry;

/// A handle to the engine; cheap to clone, shared by every HTTP worker.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: EngineConfig,
    pub(crate) pool: Pool,
    pub(crate) registry: Registry,
    pub(crate) journal: Journal,
    pub(crate) metrics: EngineMetrics,
    pub(crate) idempotency: Idempotency,
    /// Bounds the transfers inside the engine (and so every queue and settlement behind them).
    pub(crate) in_flight: Semaphore,
    /// Each currency's reserve account, looked up once.
    pub(crate) reserves: DashMap<Currency, AccountId>,
    /// The SQL-only reads, on their own handle; the engine's own checks read through it too.
    pub(crate) reads: Reads,
    arbiters: Vec<Arbiter>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}

impl Engine {
    /// Starts the engine: arbiters for the account actors (one per core unless configured) and
    /// one for the journal. Must run inside an actix system; touches no database until used.
    pub fn start(config: EngineConfig, pool: Pool) -> Engine {
        assert_eq!(
            config.validate(),
            Ok(()),
            "callers validate EngineConfig first"
        );
        let metrics = EngineMetrics::new();
        let account_arbiters: Vec<Arbiter> = (0..config.arbiters_effective())
            .map(|_| Arbiter::new())
            .collect();
        let journal_arbiter = Arbiter::new();
        let committed_batches = Arc::new(AtomicU64::new(0));
        let journal = Journal::start(
            pool.clone(),
            &config,
            metrics.clone(),
            &journal_arbiter.handle(),
            committed_batches.clone(),
        );
        let registry = Registry::new(
            pool.clone(),
            config.clone(),
            metrics.clone(),
            account_arbiters.iter().map(Arbiter::handle).collect(),
            committed_batches,
        );
        let mut arbiters = account_arbiters;
        let housekeeping = journal_arbiter.handle();
        arbiters.push(journal_arbiter);
        let engine = Engine {
            inner: Arc::new(Inner {
                in_flight: Semaphore::new(config.transfers_in_flight_max),
                idempotency: Idempotency::new(pool.clone(), metrics.clone()),
                reserves: DashMap::new(),
                reads: Reads::new(pool.clone(), metrics.clone()),
                config,
                pool,
                registry,
                journal,
                metrics,
                arbiters,
            }),
        };
        housekeeping.spawn(purge_hourly(Arc::downgrade(&engine.inner)));
        housekeeping.spawn(sweep_expired_holds(Arc::downgrade(&engine.inner)));
        engine
    }

    /// Moves money between two customer accounts. Answered only once durable.
    pub async fn transfer(&self, request: TransferRequest) -> Result<Transferred, TransferError> {
        self.execute(Job {
            request,
            movement: Some(Movement::Transfer),
            operation: Operation::Transfer,
        })
        .await
    }

    /// Holds the amount on the payer's account as a pending transfer to the payee, until the
    /// payee (or a banker) posts or voids it, or `timeout` passes and it expires.
    pub async fn transfer_pending(
        &self,
        request: TransferRequest,
        timeout: std::time::Duration,
    ) -> Result<Transferred, TransferError> {
        // PostgreSQL keeps microseconds: answer with the instant it stores.
        let expires_at = time::OffsetDateTime::now_utc() + timeout;
        let expires_at = expires_at
            .replace_nanosecond(expires_at.nanosecond() / 1_000 * 1_000)
            .expect("a truncated nanosecond is valid");
        self.refuse_past_holds_cap(request.from).await?;
        self.execute(Job {
            request,
            movement: Some(Movement::Transfer),
            operation: Operation::CreatePending { expires_at },
        })
        .await
    }

    /// `TooManyHolds` when `payer` already pays `holds_open_max` open holds. Counted in
    /// PostgreSQL (every replica's holds); concurrent creations may pass it by as many as are
    /// in flight, which `transfers_in_flight_max` bounds.
    pub(crate) async fn refuse_past_holds_cap(
        &self,
        payer: AccountId,
    ) -> Result<(), TransferError> {
        let open = self
            .inner
            .reads
            .holds_open(&[payer])
            .await
            .map_err(TransferError::from)?;
        match open.get(&payer).copied().unwrap_or(0) >= self.inner.config.holds_open_max {
            true => Err(TransferError::TooManyHolds),
            false => Ok(()),
        }
    }

    /// Posts a pending transfer: `amount` (all of it when `None`) moves to the payee, the rest
    /// of the hold is released. Only the payee or a banker may.
    pub async fn post(
        &self,
        id: TransferId,
        amount: Option<Amount>,
        authority: Authority,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Transferred, TransferError> {
        self.end_pending(id, Ending::Post(amount), authority, idempotency)
            .await
    }

    /// Refunds a posted transfer, all that is left of it unless `amount` says less: see
    /// `coordinator::reverse`.
    pub async fn reverse(
        &self,
        id: TransferId,
        amount: Option<Amount>,
        description: Option<String>,
        authority: Authority,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Transferred, TransferError> {
        Engine::reverse_transfer(self, id, amount, description, authority, idempotency).await
    }

    /// Voids a pending transfer: its hold is released and nothing moves. Only the payee or a
    /// banker may.
    pub async fn void(
        &self,
        id: TransferId,
        authority: Authority,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Transferred, TransferError> {
        self.end_pending(id, Ending::Void, authority, idempotency)
            .await
    }

    /// Releases the holds past their `expires_at`, in rounds of at most
    /// `expiry_sweep_batch_max` taken round-robin by paying account, going again at once while a
    /// round is full (at most `EXPIRY_SWEEP_ROUNDS_MAX` rounds): the sweep keeps up with the
    /// backlog, and no account's flood delays another's holds. Returns how many it expired. Any
    /// replica may run it at any time: PostgreSQL lets each pending transfer end once.
    pub async fn expire_due(&self) -> Result<usize, LookupError> {
        let round_max = self.inner.config.expiry_sweep_batch_max;
        let mut expired = 0;
        for _ in 0..crate::config::EXPIRY_SWEEP_ROUNDS_MAX {
            let due = self.inner.reads.due_pending(round_max).await?;
            let found = due.len();
            let releases = due
                .into_iter()
                .map(|id| self.end_pending(id, Ending::Expire, Authority::Privileged, None));
            let outcomes = futures_util::future::join_all(releases).await;
            expired += outcomes.iter().filter(|outcome| outcome.is_ok()).count();
            if found < round_max {
                break;
            }
        }
        Ok(expired)
    }

    /// Money into `account` from its currency's reserve (a banker's act; the caller checks the
    /// role).
    pub async fn deposit(
        &self,
        account: AccountId,
        amount: Amount,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Transferred, TransferError> {
        let currency = self.customer_currency(account).await?;
        let request = TransferRequest {
            from: self.reserve_of(currency).await?,
            to: account,
            amount,
            currency,
            authority: Authority::Privileged,
            idempotency,
            details: Default::default(),
        };
        self.execute(Job {
            request,
            movement: Some(Movement::Deposit),
            operation: Operation::Transfer,
        })
        .await
    }

    /// Money from `account` back to its currency's reserve.
    pub async fn withdraw(
        &self,
        account: AccountId,
        amount: Amount,
        authority: Authority,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Transferred, TransferError> {
        let currency = self.customer_currency(account).await?;
        let request = TransferRequest {
            from: account,
            to: self.reserve_of(currency).await?,
            amount,
            currency,
            authority,
            idempotency,
            details: Default::default(),
        };
        self.execute(Job {
            request,
            movement: Some(Movement::Withdrawal),
            operation: Operation::Transfer,
        })
        .await
    }

    /// The account with its committed balance as the engine holds it (it includes every
    /// transfer already answered).
    pub async fn account(&self, id: AccountId) -> Result<AccountSnapshot, LookupError> {
        for _ in 0..2 {
            let handle = self.inner.registry.get(id).await?;
            let Some(answer) = Snapshot::ask(&handle.addr, true) else {
                self.inner
                    .metrics
                    .rejected(crate::metrics::Queue::AccountMailbox);
                return Err(Saturation::AccountMailbox.into());
            };
            match answer.await {
                Ok(SnapshotReply::Account(snapshot)) => return Ok(snapshot),
                // Passivated meanwhile: look it up again.
                Ok(SnapshotReply::Retired) | Err(_) => self.inner.registry.evict(&handle),
                Ok(SnapshotReply::Unavailable) => break,
            }
        }
        Err(Outage::AccountNotLoaded.into())
    }

    /// Freezes, unfreezes or closes an account (the caller checked who may); answers the
    /// account as it stands after. Its actor makes the change, so its cache and PostgreSQL
    /// agree, and a batch already holding the account's row commits before the change.
    pub async fn change_status(
        &self,
        id: AccountId,
        to: AccountStatus,
    ) -> Result<AccountSnapshot, TransferError> {
        for _ in 0..2 {
            let handle = self.inner.registry.get(id).await?;
            if handle.info.kind == AccountKind::Reserve {
                return Err(Refusal::NotFound.into());
            }
            let (reply, answer) = oneshot::channel();
            if handle.addr.try_send(ChangeStatus { to, reply }).is_err() {
                self.inner
                    .metrics
                    .rejected(crate::metrics::Queue::AccountMailbox);
                return Err(crate::model::Saturation::AccountMailbox.into());
            }
            match answer.await {
                Ok(StatusReply::Changed) => return Ok(self.account(id).await?),
                Ok(StatusReply::Refused(refusal)) => return Err(refusal.into()),
                Ok(StatusReply::Retired) | Err(_) => self.inner.registry.evict(&handle),
                Ok(StatusReply::Unavailable) => break,
            }
        }
        Err(crate::model::Outage::AccountNotLoaded.into())
    }

    /// Opens a customer account with a zero balance.
    pub async fn open_account(
        &self,
        owner: &str,
        currency: Currency,
    ) -> Result<AccountSnapshot, OpenAccountError> {
        let unavailable = |error: &dyn std::fmt::Display| {
            OpenAccountError::Unavailable(Outage::Database(error.to_string()))
        };
        let client = self
            .inner
            .pool
            .get()
            .await
            .map_err(|error| unavailable(&error))?;
        let statement = client
            .prepare_cached(
                "INSERT INTO accounts (owner, currency) VALUES ($1, $2)
                 RETURNING id, balance, held, created_at",
            )
            .await
            .map_err(|error| unavailable(&error))?;
        let row = client
            .query_one(&statement, &[&owner, &currency.as_str()])
            .await
            .map_err(|error| match error.code() {
                Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                    OpenAccountError::Duplicate
                }
                Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
                    OpenAccountError::OwnerNotFound
                }
                _ => unavailable(&error),
            })?;
        Ok(AccountSnapshot {
            id: row.get(0),
            owner: Some(owner.to_owned()),
            balance: row.get(1),
            held: row.get(2),
            currency,
            kind: AccountKind::Customer,
            created_at: row.get(3),
            status: crate::model::AccountStatus::Active,
            overdraft: 0,
        })
    }

    /// Deletes the idempotency keys older than the configured retention; returns how many.
    pub async fn purge_idempotency_keys(&self) -> Result<u64, String> {
        self.inner
            .idempotency
            .purge(self.inner.config.idempotency_retention)
            .await
    }

    /// The read handle: statements, transfers, searches and account lists, straight from
    /// PostgreSQL (or the read replica); clone it to keep it.
    pub fn reads(&self) -> &Reads {
        &self.inner.reads
    }

    /// The engine's metrics, for the service to expose with its own.
    pub fn metrics_registry(&self) -> &prometheus::Registry {
        &self.inner.metrics.registry
    }

    /// Transfers inside the engine now (in-flight permits taken): 0 once abandoned work ended.
    #[cfg(feature = "test-hooks")]
    pub fn transfers_in_flight(&self) -> usize {
        self.inner.config.transfers_in_flight_max - self.inner.in_flight.available_permits()
    }

    /// Account actors in memory now.
    #[cfg(feature = "test-hooks")]
    pub fn active_accounts(&self) -> usize {
        self.inner.registry.active_count()
    }

    /// Account actors not yet dropped: the active ones and passivated ones still draining.
    #[cfg(feature = "test-hooks")]
    pub fn account_actors_alive(&self) -> usize {
        self.inner.registry.alive_count()
    }

    /// The committed balance every active account actor holds (tests compare it with
    /// PostgreSQL).
    #[cfg(feature = "test-hooks")]
    pub async fn cached_balances(&self) -> Vec<(AccountId, i64)> {
        let mut balances = Vec::new();
        for handle in self.inner.registry.handles() {
            if let Ok(snapshot) = self.account(handle.info.id).await {
                balances.push((snapshot.id, snapshot.balance));
            }
        }
        balances.sort_unstable();
        balances
    }

    /// Restarts every active account actor, so each reloads its state from PostgreSQL before it
    /// handles another message (after the server behind the pool changed). Returns how many.
    pub async fn reload_all_accounts(&self) -> usize {
        let handles = self.inner.registry.handles();
        let mut restarted = 0;
        for handle in &handles {
            if handle.addr.send(Restart).await.is_ok() {
                restarted += 1;
            }
        }
        restarted
    }

    /// Stops an account's actor as a failure would; its supervisor restarts it with its state
    /// reloaded from PostgreSQL.
    #[cfg(feature = "test-hooks")]
    pub async fn restart_account(&self, id: AccountId) -> Result<(), LookupError> {
        let handle = self.inner.registry.get(id).await?;
        handle
            .addr
            .send(Restart)
            .await
            .map_err(|_| LookupError::Unavailable(Outage::Stopped))
    }

    /// The currency of a customer account; a reserve is no customer's to deposit into.
    async fn customer_currency(&self, account: AccountId) -> Result<Currency, TransferError> {
        let info = &self.lookup(account).await?.info;
        match info.kind {
            AccountKind::Customer => Ok(info.currency),
            AccountKind::Reserve => Err(Refusal::NotFound.into()),
        }
    }

    async fn reserve_of(&self, currency: Currency) -> Result<AccountId, TransferError> {
        if let Some(id) = self.inner.reserves.get(&currency) {
            return Ok(*id);
        }
        let row = crate::db::query_opt(
            &self.inner.pool,
            "SELECT id FROM accounts WHERE kind = 'reserve' AND currency = $1",
            &[&currency.as_str()],
        )
        .await
        .map_err(|error| TransferError::Unavailable(Outage::Database(error)))?;
        let Some(row) = row else {
            // The migrations create every currency's reserve: its absence is damage.
            self.inner.metrics.corrupt(
                "reserve_account",
                &format!("no reserve account for {currency}"),
            );
            return Err(TransferError::Corrupt {
                what: "reserve account",
            });
        };
        let id: AccountId = row.get(0);
        self.inner.reserves.insert(currency, id);
        Ok(id)
    }
}

/// Purges old idempotency keys every hour for as long as the engine lives.
async fn purge_hourly(engine: std::sync::Weak<Inner>) {
    const PERIOD: std::time::Duration = std::time::Duration::from_secs(3600);
    loop {
        tokio::time::sleep(PERIOD).await;
        let Some(inner) = engine.upgrade() else {
            return;
        };
        let engine_handle = Engine { inner };
        match engine_handle.purge_idempotency_keys().await {
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(reason) => {
                tracing::warn!(%reason, "idempotency key purge failed; retrying in an hour")
            }
        }
    }
}

/// Releases expired holds every `expiry_sweep_interval`, and reads the money held per currency
/// for the gauge, for as long as the engine lives.
async fn sweep_expired_holds(engine: std::sync::Weak<Inner>) {
    loop {
        let Some(inner) = engine.upgrade() else {
            return;
        };
        let period = inner.config.expiry_sweep_interval;
        let engine_handle = Engine { inner };
        match engine_handle.expire_due().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "released expired holds"),
            Err(error) => tracing::warn!(%error, "the expiry sweep failed; retrying"),
        }
        if let Err(error) = engine_handle.inner.reads.refresh_held_gauge().await {
            tracing::debug!(%error, "the held-amount gauge was not refreshed");
        }
        drop(engine_handle);
        tokio::time::sleep(period).await;
    }
}
