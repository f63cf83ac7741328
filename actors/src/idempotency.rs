//! Idempotency keys: a transfer sent again with the same key by the same user returns the first
//! answer and moves no money; the same key with another request is a conflict.
//!
//! PostgreSQL's primary key on (username, key) is what guarantees "moves money once", across
//! replicas too: the journal inserts the key in the transfer's own transaction and drops the
//! transfer when another request committed the key first. The per-key lock here only spares
//! concurrent duplicates within one process from reserving money they would then give back.

use std::sync::Arc;

use dashmap::DashMap;
use deadpool_postgres::Pool;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::journal::stored::{BatchAnswer, StoredBatch, StoredError, StoredTransfer};
use crate::metrics::EngineMetrics;
use crate::model::{AccountSnapshot, IdempotencyKey, TransferError, Transferred};
use crate::model::{Outage, Saturation};

type KeyId = (String, String);

/// Rows one purge statement deletes at most.
const PURGE_CHUNK_ROWS: i64 = 10_000;

pub(crate) struct Idempotency {
    pool: Pool,
    metrics: EngineMetrics,
    /// One entry per key being processed now: bounded by the engine's in-flight transfers, since
    /// a caller holds an in-flight permit before it takes a key.
    in_flight: DashMap<KeyId, Arc<Mutex<()>>>,
}

/// Held while a keyed transfer is processed; releases the key when dropped.
pub(crate) struct KeyGuard<'a> {
    idempotency: &'a Idempotency,
    id: KeyId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.idempotency
            .in_flight
            .remove_if(&self.id, |_, lock| Arc::strong_count(lock) == 1);
    }
}

pub(crate) enum Begin<'a> {
    /// First use of the key: proceed, holding the guard until answered.
    Fresh(KeyGuard<'a>),
    /// The key already committed with this request: its stored answer.
    Replay(Box<Transferred>),
}

impl Idempotency {
    pub(crate) fn new(pool: Pool, metrics: EngineMetrics) -> Idempotency {
        Idempotency {
            pool,
            metrics,
            in_flight: DashMap::new(),
        }
    }

    /// Waits for any request in flight with the same key, then looks the key up.
    pub(crate) async fn begin(&self, key: &IdempotencyKey) -> Result<Begin<'_>, TransferError> {
        let guard = self.lock(key).await;
        match self.replay(key).await? {
            Some(transferred) => Ok(Begin::Replay(transferred)),
            None => Ok(Begin::Fresh(guard)),
        }
    }

    /// Waits for any request in flight with the same key in this process; holds it until the
    /// guard drops.
    pub(crate) async fn lock(&self, key: &IdempotencyKey) -> KeyGuard<'_> {
        let id = (key.username.clone(), key.key.clone());
        let lock = self.in_flight.entry(id.clone()).or_default().clone();
        KeyGuard {
            idempotency: self,
            id,
            guard: Some(lock.lock_owned().await),
        }
    }

    /// Deletes keys older than `retention`, at most `PURGE_CHUNK_ROWS` per statement so no purge
    /// holds locks long; returns how many went.
    pub(crate) async fn purge(&self, retention: std::time::Duration) -> Result<u64, String> {
        let client = self.pool.get().await.map_err(|error| error.to_string())?;
        let statement = client
            .prepare_cached(
                "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM idempotency_keys
                     WHERE created_at < now() - make_interval(secs => $1)
                     LIMIT $2))",
            )
            .await
            .map_err(|error| crate::db::describe(&error))?;
        let mut purged = 0;
        loop {
            let deleted = client
                .execute(&statement, &[&retention.as_secs_f64(), &PURGE_CHUNK_ROWS])
                .await
                .map_err(|error| crate::db::describe(&error))?;
            purged += deleted;
            if deleted < PURGE_CHUNK_ROWS as u64 {
                return Ok(purged);
            }
        }
    }

    /// The stored answer for `key`, `None` when the key was never committed, or
    /// `IdempotencyKeyReused` when it was committed with another request.
    pub(crate) async fn replay(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Box<Transferred>>, TransferError> {
        let Some(body) = self.stored(key).await? else {
            return Ok(None);
        };
        let transferred = StoredTransfer::decode(body).map_err(|error| self.corrupt(error))?;
        Ok(Some(Box::new(transferred)))
    }

    /// The stored answer for a batch's key (its outcome, or an atomic batch's refusal), as
    /// `replay` for a transfer's.
    pub(crate) async fn replay_batch(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<BatchAnswer>, TransferError> {
        let Some(body) = self.stored(key).await? else {
            return Ok(None);
        };
        StoredBatch::decode(body)
            .map(Some)
            .map_err(|error| self.corrupt(error))
    }

    /// The stored answer for a limit change's key (the account after it), as `replay` for a
    /// transfer's.
    pub(crate) async fn replay_account(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<AccountSnapshot>, TransferError> {
        let Some(body) = self.stored(key).await? else {
            return Ok(None);
        };
        #[derive(serde::Deserialize)]
        struct StoredAccount {
            version: u32,
            account: AccountSnapshot,
        }
        match serde_json::from_value::<StoredAccount>(body) {
            Ok(stored) if stored.version == 1 => Ok(Some(stored.account)),
            Ok(stored) => Err(self.corrupt(StoredError::Newer(stored.version))),
            Err(error) => Err(self.corrupt(StoredError::Malformed(error))),
        }
    }

    /// A stored outcome this engine cannot read is logged and counted as what it is, a corrupt
    /// row, and answered as such (an internal error), not as an outage.
    fn corrupt(&self, error: StoredError) -> TransferError {
        self.metrics.corrupt("idempotency_outcome", &error);
        TransferError::Corrupt {
            what: "idempotency outcome",
        }
    }

    /// Stores the answer of a batch that wrote nothing (every item refused, or an atomic batch
    /// refused whole), so the same key answers the same again even after the accounts change.
    /// When another request committed the key first, its stored answer (or
    /// `IdempotencyKeyReused`) is the answer instead. An unavailable answer is not stored.
    pub(crate) async fn store_refused_batch(
        &self,
        key: &IdempotencyKey,
        answer: BatchAnswer,
    ) -> Result<BatchAnswer, TransferError> {
        let Some(stored) = StoredBatch::encode_answer(&answer) else {
            return Ok(answer);
        };
        let inserted = crate::db::query_opt(
            &self.pool,
            "INSERT INTO idempotency_keys (username, key, request_hash, operation, outcome)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING
             RETURNING key",
            &[
                &key.username,
                &key.key,
                &key.request_hash,
                &key.operation,
                &stored,
            ],
        )
        .await
        .map_err(|error| TransferError::Unavailable(Outage::Database(error)))?;
        if inserted.is_some() {
            return Ok(answer);
        }
        self.replay_batch(key)
            .await?
            .ok_or(TransferError::Saturated(Saturation::KeyInUse))
    }

    /// The stored outcome of `key`: `None` when never committed, `IdempotencyKeyReused` when
    /// committed with another request.
    async fn stored(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<serde_json::Value>, TransferError> {
        let row = crate::db::query_opt(
            &self.pool,
            "SELECT request_hash, outcome FROM idempotency_keys
             WHERE username = $1 AND key = $2",
            &[&key.username, &key.key],
        )
        .await
        .map_err(|error| TransferError::Unavailable(Outage::Database(error)))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let request_hash: Vec<u8> = row.get(0);
        if request_hash != key.request_hash {
            return Err(TransferError::IdempotencyKeyReused);
        }
        Ok(Some(row.get(1)))
    }
}
