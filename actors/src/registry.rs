//! Finds an account's actor, activating it (state loaded from PostgreSQL) on first use. Actors
//! are spread over several arbiters (threads) by account id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use actix::{Addr, ArbiterHandle, Supervisor};
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use deadpool_postgres::Pool;
use futures_util::future::join_all;
use tokio::sync::oneshot;

use crate::account::{AccountActor, Committed, Passivate};
use crate::config::EngineConfig;
use crate::metrics::EngineMetrics;
use crate::model::{
    AccountId, AccountInfo, AccountKind, AccountStatus, Currency, Limit, LookupError,
};
use crate::model::{Outage, Saturation};

/// Rounds of eviction an activation at the bound tries before it answers `Unavailable`.
const EVICTION_ROUNDS_MAX: usize = 3;
/// Actors one eviction round asks to passivate at most.
const EVICTION_BATCH_MAX: usize = 1_024;

/// An active account: its static facts (checked without a hop to the actor) and its address.
#[derive(Clone)]
pub struct AccountHandle {
    pub info: Arc<AccountInfo>,
    pub addr: Addr<AccountActor>,
    generation: u64,
    /// When it was last looked up (the registry's clock): least recently used goes first.
    last_used: Arc<AtomicU64>,
}

/// What the registry and its actors share.
pub(crate) struct Shared {
    pub(crate) pool: Pool,
    pub(crate) config: EngineConfig,
    pub(crate) metrics: EngineMetrics,
    actors: DashMap<AccountId, AccountHandle>,
    arbiters: Vec<ArbiterHandle>,
    generations: AtomicU64,
    /// Actors in `actors` plus activations under way: never above `accounts_active_max`.
    slots: AtomicUsize,
    /// Ticks once per lookup, for least-recently-used eviction.
    clock: AtomicU64,
    /// Actors in memory, registered or retired and not yet dropped.
    pub(crate) actors_alive: AtomicUsize,
    /// The newest batch the journal has committed (it alone writes it).
    pub(crate) committed_batches: Arc<AtomicU64>,
}

impl Shared {
    pub(crate) fn committed_batch(&self) -> u64 {
        self.committed_batches.load(Ordering::Acquire)
    }

    /// Removes a passivated actor, unless a newer activation already replaced it.
    pub(crate) fn forget(&self, id: AccountId, generation: u64) {
        if self.remove(id, generation) {
            self.metrics.account_passivations.inc();
        }
    }

    /// Removes an actor's entry (if still this generation's) and gives its slot back.
    fn remove(&self, id: AccountId, generation: u64) -> bool {
        let removed = self
            .actors
            .remove_if(&id, |_, handle| handle.generation == generation)
            .is_some();
        if removed {
            self.slots.fetch_sub(1, Ordering::AcqRel);
            self.metrics.account_actors_active.dec();
        }
        removed
    }
}

#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

struct AccountRow {
    info: AccountInfo,
    committed: Committed,
}

impl Registry {
    pub(crate) fn new(
        pool: Pool,
        config: EngineConfig,
        metrics: EngineMetrics,
        arbiters: Vec<ArbiterHandle>,
        committed_batches: Arc<AtomicU64>,
    ) -> Registry {
        assert!(!arbiters.is_empty(), "the engine needs an arbiter");
        assert!(config.accounts_active_max > 0, "room for an active account");
        Registry {
            shared: Arc::new(Shared {
                pool,
                config,
                metrics,
                actors: DashMap::new(),
                arbiters,
                generations: AtomicU64::new(1),
                slots: AtomicUsize::new(0),
                clock: AtomicU64::new(0),
                actors_alive: AtomicUsize::new(0),
                committed_batches,
            }),
        }
    }

    /// The active actor of an account, activated when needed.
    pub async fn get(&self, id: AccountId) -> Result<AccountHandle, LookupError> {
        if let Some(handle) = self.shared.actors.get(&id) {
            let now = self.shared.clock.fetch_add(1, Ordering::Relaxed);
            handle.last_used.store(now, Ordering::Relaxed);
            return Ok(handle.clone());
        }
        self.activate(id).await
    }

    /// Drops the cached handle if it is still this one (its actor answered `Retired`).
    pub fn evict(&self, handle: &AccountHandle) {
        self.shared.remove(handle.info.id, handle.generation);
    }

    /// Actors registered now (the `test-hooks` feature's `Engine::active_accounts`).
    #[cfg(feature = "test-hooks")]
    pub fn active_count(&self) -> usize {
        self.shared.actors.len()
    }

    /// Actors still in memory: the registered ones and retired ones not yet dropped.
    #[cfg(feature = "test-hooks")]
    pub fn alive_count(&self) -> usize {
        self.shared.actors_alive.load(Ordering::Acquire)
    }

    /// Every active account's address (tests compare memory with the database).
    pub fn handles(&self) -> Vec<AccountHandle> {
        self.shared
            .actors
            .iter()
            .map(|entry| entry.value().clone())
            .collect()
    }

    /// The active actors of many accounts (each id at most once), activating those not yet
    /// active with one query for all of them; a missing account is `NotFound` in its place.
    pub async fn get_many(
        &self,
        ids: &[AccountId],
    ) -> Result<Vec<Result<AccountHandle, LookupError>>, LookupError> {
        let inactive: Vec<AccountId> = ids
            .iter()
            .copied()
            .filter(|id| !self.shared.actors.contains_key(id))
            .collect();
        let mut loaded = match inactive.is_empty() {
            true => HashMap::new(),
            false => {
                self.shared.metrics.account_lookup_queries.inc();
                load_accounts(&self.shared.pool, &inactive)
                    .await
                    .map_err(|failure| self.lookup_error(failure))?
            }
        };
        let mut handles = Vec::with_capacity(ids.len());
        for id in ids {
            let handle = match (
                self.shared.actors.get(id).map(|h| h.clone()),
                loaded.remove(id),
            ) {
                (Some(handle), _) => Ok(handle),
                (None, Some(row)) => self.install(row).await,
                (None, None) => Err(LookupError::NotFound),
            };
            handles.push(handle);
        }
        Ok(handles)
    }

    fn lookup_error(&self, failure: LoadFailure) -> LookupError {
        match failure {
            LoadFailure::Unavailable(reason) => Outage::Database(reason).into(),
            LoadFailure::Corrupt(what) => {
                self.shared.metrics.corrupt("account_row", &what);
                LookupError::Corrupt { what }
            }
        }
    }

    async fn activate(&self, id: AccountId) -> Result<AccountHandle, LookupError> {
        self.shared.metrics.account_lookup_queries.inc();
        let row = load_account(&self.shared.pool, id)
            .await
            .map_err(|failure| self.lookup_error(failure))?
            .ok_or(LookupError::NotFound)?;
        self.install(row).await
    }

    /// The actor of a loaded account: a new one in a slot of its own, or the one another caller
    /// activated while we were loading.
    async fn install(&self, row: AccountRow) -> Result<AccountHandle, LookupError> {
        self.take_slot().await?;
        match self.shared.actors.entry(row.info.id) {
            // Another caller activated it while we were loading: use theirs.
            Entry::Occupied(existing) => {
                self.shared.slots.fetch_sub(1, Ordering::AcqRel);
                Ok(existing.get().clone())
            }
            Entry::Vacant(vacant) => {
                let handle = self.start_actor(row);
                vacant.insert(handle.clone());
                self.shared.metrics.account_activations.inc();
                self.shared.metrics.account_actors_active.inc();
                Ok(handle)
            }
        }
    }

    /// A slot for one more actor: at the bound, the least recently used actors with nothing in
    /// flight are passivated first.
    async fn take_slot(&self) -> Result<(), LookupError> {
        let max = self.shared.config.accounts_active_max;
        for _ in 0..EVICTION_ROUNDS_MAX {
            let taken =
                self.shared
                    .slots
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                        (taken < max).then_some(taken + 1)
                    });
            if taken.is_ok() {
                return Ok(());
            }
            self.evict_least_recent(max).await;
        }
        Err(Saturation::ActiveAccounts.into())
    }

    /// Asks the least recently used eighth of the actors (at most `EVICTION_BATCH_MAX`) to
    /// passivate; those with something in flight stay.
    async fn evict_least_recent(&self, max: usize) {
        let batch = (max / 8).clamp(1, EVICTION_BATCH_MAX);
        let mut candidates: Vec<(u64, Addr<AccountActor>)> = self
            .shared
            .actors
            .iter()
            .map(|entry| {
                let handle = entry.value();
                (
                    handle.last_used.load(Ordering::Relaxed),
                    handle.addr.clone(),
                )
            })
            .collect();
        if candidates.len() > batch {
            candidates.select_nth_unstable_by_key(batch - 1, |candidate| candidate.0);
            candidates.truncate(batch);
        }
        let asks = candidates.into_iter().map(|(_, addr)| async move {
            let (reply, answer) = oneshot::channel();
            match addr.try_send(Passivate { reply }) {
                Ok(()) => answer.await.unwrap_or(true),
                Err(_) => false,
            }
        });
        join_all(asks).await;
    }

    fn start_actor(&self, row: AccountRow) -> AccountHandle {
        let info = Arc::new(row.info);
        let generation = self.shared.generations.fetch_add(1, Ordering::Relaxed);
        let arbiter = &self.shared.arbiters[(info.id.get() as usize) % self.shared.arbiters.len()];
        let actor = AccountActor::new(info.clone(), row.committed, generation, self.shared.clone());
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| actor);
        AccountHandle {
            info,
            addr,
            generation,
            last_used: Arc::new(AtomicU64::new(
                self.shared.clock.fetch_add(1, Ordering::Relaxed),
            )),
        }
    }
}

/// Why an account could not be loaded: PostgreSQL did not answer, or its row does not decode.
enum LoadFailure {
    Unavailable(String),
    Corrupt(&'static str),
}

const LOAD_ACCOUNTS: &str =
    "SELECT id, owner, currency, kind, balance, created_at, held, status, overdraft, floor
    FROM accounts WHERE id = ANY($1)";

async fn load_account(pool: &Pool, id: AccountId) -> Result<Option<AccountRow>, LoadFailure> {
    Ok(load_accounts(pool, &[id]).await?.remove(&id))
}

/// The accounts among `ids` that exist, in one query.
async fn load_accounts(
    pool: &Pool,
    ids: &[AccountId],
) -> Result<HashMap<AccountId, AccountRow>, LoadFailure> {
    let rows = crate::db::query(pool, LOAD_ACCOUNTS, &[&ids])
        .await
        .map_err(LoadFailure::Unavailable)?;
    rows.iter()
        .map(|row| {
            let currency: String = row.get(2);
            let kind: String = row.get(3);
            let id: AccountId = row.get(0);
            let info = AccountInfo {
                id,
                owner: row.get(1),
                currency: Currency::parse(&currency)
                    .ok_or(LoadFailure::Corrupt("unknown currency in accounts"))?,
                kind: AccountKind::parse(&kind)
                    .ok_or(LoadFailure::Corrupt("unknown kind in accounts"))?,
                created_at: row.get(5),
            };
            let status: String = row.get(7);
            let account = AccountRow {
                info,
                committed: Committed {
                    balance: row.get(4),
                    held: row.get(6),
                    status: AccountStatus::parse(&status)
                        .ok_or(LoadFailure::Corrupt("unknown status in accounts"))?,
                    limit: Limit {
                        overdraft: row.get(8),
                        floor: row.get(9),
                    },
                },
            };
            Ok((id, account))
        })
        .collect()
}

/// The committed state of an account, for actors reloading it.
pub(crate) async fn load_balance(pool: &Pool, id: AccountId) -> Result<Option<Committed>, String> {
    let row = crate::db::query_opt(
        pool,
        "SELECT balance, held, status, overdraft, floor FROM accounts WHERE id = $1",
        &[&id],
    )
    .await?;
    row.as_ref().map(committed).transpose()
}

/// An account's committed state from a row of (balance, held, status, overdraft, floor).
pub(crate) fn committed(row: &tokio_postgres::Row) -> Result<Committed, String> {
    let status = AccountStatus::parse(row.get(2)).ok_or("unknown status in accounts")?;
    Ok(Committed {
        balance: row.get(0),
        held: row.get(1),
        status,
        limit: Limit {
            overdraft: row.get(3),
            floor: row.get(4),
        },
    })
}
