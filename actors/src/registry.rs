//! Finds an account's actor, activating it (state loaded from PostgreSQL) on first use. Actors
//! are spread over several arbiters (threads) by account id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::{Addr, ArbiterHandle, Supervisor};
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use deadpool_postgres::Pool;

use crate::account::AccountActor;
use crate::config::EngineConfig;
use crate::metrics::EngineMetrics;
use crate::model::{AccountId, AccountInfo, AccountKind, Currency, LookupError};

/// An active account: its static facts (checked without a hop to the actor) and its address.
#[derive(Clone)]
pub struct AccountHandle {
    pub info: Arc<AccountInfo>,
    pub addr: Addr<AccountActor>,
    generation: u64,
}

/// What the registry and its actors share.
pub(crate) struct Shared {
    pub(crate) pool: Pool,
    pub(crate) config: EngineConfig,
    pub(crate) metrics: EngineMetrics,
    actors: DashMap<AccountId, AccountHandle>,
    arbiters: Vec<ArbiterHandle>,
    generations: AtomicU64,
    /// The newest batch the journal has committed (it alone writes it).
    pub(crate) committed_batches: Arc<AtomicU64>,
}

impl Shared {
    pub(crate) fn committed_batch(&self) -> u64 {
        self.committed_batches.load(Ordering::Acquire)
    }

    /// Removes a passivated actor, unless a newer activation already replaced it.
    pub(crate) fn forget(&self, id: AccountId, generation: u64) {
        if self
            .actors
            .remove_if(&id, |_, handle| handle.generation == generation)
            .is_some()
        {
            self.metrics.account_passivations.inc();
            self.metrics.account_actors_active.dec();
        }
    }
}

#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

struct AccountRow {
    info: AccountInfo,
    balance: i64,
    held: i64,
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
        Registry {
            shared: Arc::new(Shared {
                pool,
                config,
                metrics,
                actors: DashMap::new(),
                arbiters,
                generations: AtomicU64::new(1),
                committed_batches,
            }),
        }
    }

    /// The active actor of an account, activated when needed.
    pub async fn get(&self, id: AccountId) -> Result<AccountHandle, LookupError> {
        if let Some(handle) = self.shared.actors.get(&id) {
            return Ok(handle.clone());
        }
        self.activate(id).await
    }

    /// Drops the cached handle if it is still this one (its actor answered `Retired`).
    pub fn evict(&self, handle: &AccountHandle) {
        self.shared.actors.remove_if(&handle.info.id, |_, current| {
            current.generation == handle.generation
        });
    }

    pub fn active_count(&self) -> usize {
        self.shared.actors.len()
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
                    .map_err(LookupError::Unavailable)?
            }
        };
        Ok(ids
            .iter()
            .map(|id| match self.shared.actors.get(id) {
                Some(handle) => Ok(handle.clone()),
                None => loaded
                    .remove(id)
                    .map(|row| self.install(row))
                    .ok_or(LookupError::NotFound),
            })
            .collect())
    }

    async fn activate(&self, id: AccountId) -> Result<AccountHandle, LookupError> {
        self.shared.metrics.account_lookup_queries.inc();
        let row = load_account(&self.shared.pool, id)
            .await
            .map_err(LookupError::Unavailable)?
            .ok_or(LookupError::NotFound)?;
        Ok(self.install(row))
    }

    /// The actor of a loaded account: a new one, or the one another caller activated while we
    /// were loading.
    fn install(&self, row: AccountRow) -> AccountHandle {
        match self.shared.actors.entry(row.info.id) {
            Entry::Occupied(existing) => existing.get().clone(),
            Entry::Vacant(vacant) => {
                let handle = self.start_actor(row);
                vacant.insert(handle.clone());
                self.shared.metrics.account_activations.inc();
                self.shared.metrics.account_actors_active.inc();
                handle
            }
        }
    }

    fn start_actor(&self, row: AccountRow) -> AccountHandle {
        let info = Arc::new(row.info);
        let generation = self.shared.generations.fetch_add(1, Ordering::Relaxed);
        let arbiter = &self.shared.arbiters[(info.id as usize) % self.shared.arbiters.len()];
        let actor = AccountActor::new(
            info.clone(),
            row.balance,
            row.held,
            generation,
            self.shared.clone(),
        );
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| actor);
        AccountHandle {
            info,
            addr,
            generation,
        }
    }
}

const LOAD_ACCOUNTS: &str =
    "SELECT id, owner, currency, kind, balance, created_at, held FROM accounts WHERE id = ANY($1)";

async fn load_account(pool: &Pool, id: AccountId) -> Result<Option<AccountRow>, String> {
    Ok(load_accounts(pool, &[id]).await?.remove(&id))
}

/// The accounts among `ids` that exist, in one query.
async fn load_accounts(
    pool: &Pool,
    ids: &[AccountId],
) -> Result<HashMap<AccountId, AccountRow>, String> {
    let rows = crate::db::query(pool, LOAD_ACCOUNTS, &[&ids]).await?;
    rows.iter()
        .map(|row| {
            let currency: String = row.get(2);
            let kind: String = row.get(3);
            let id: AccountId = row.get(0);
            let info = AccountInfo {
                id,
                owner: row.get(1),
                currency: Currency::parse(&currency).ok_or("unknown currency in accounts")?,
                kind: AccountKind::parse(&kind).ok_or("unknown kind in accounts")?,
                created_at: row.get(5),
            };
            let account = AccountRow {
                info,
                balance: row.get(4),
                held: row.get(6),
            };
            Ok((id, account))
        })
        .collect()
}

/// The committed balance and held amount of an account, for actors reloading their state.
pub(crate) async fn load_balance(pool: &Pool, id: AccountId) -> Result<Option<(i64, i64)>, String> {
    let row = crate::db::query_opt(
        pool,
        "SELECT balance, held FROM accounts WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}
