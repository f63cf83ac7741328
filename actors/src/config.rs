//! The engine's limits, in one place. Every queue and batch in the engine is bounded by one of
//! these; the defaults are the ones documented in the service's `defaults.toml`.

use std::time::Duration;

use serde::Deserialize;

/// Transfers one batch request carries at most (`POST /transfers/batch`): the journal writes a
/// batch in one transaction, so it bounds the largest transaction too.
pub const BATCH_ITEMS_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Transfers written in one journal transaction at most.
    pub batch_size_max: usize,
    /// Messages one account actor queues before callers are answered `Unavailable`.
    pub mailbox_capacity: usize,
    /// Transfers waiting for the journal before callers are answered `Unavailable`.
    pub journal_queue_max: usize,
    /// Transfers inside the engine at once before callers are answered `Unavailable`.
    pub transfers_in_flight_max: usize,
    /// Journal writers, each with its own connection and PostgreSQL backend. The dispatcher gives
    /// them batches over disjoint accounts, so they never wait on each other's row locks: two
    /// use both cores of a small machine on spread-out traffic (measured: +34 % on uniform
    /// traffic at 64 callers), and keep a lone transfer from waiting behind a large batch.
    pub journal_writers: usize,
    /// An account actor idle this long is passivated (stopped, its memory freed).
    #[serde(deserialize_with = "duration::deserialize")]
    pub idle_passivation: Duration,
    /// Threads (actix arbiters) hosting account actors; 0 means one per two cores (at least
    /// one): the HTTP workers and PostgreSQL need the others, and every actor message that
    /// crosses a thread costs a wake-up (measured on 2 cores, engine alone, 64 callers: one
    /// arbiter 7,231 / 9,892 tx/s uniform / hot-10, two 6,380 / 9,461).
    pub arbiters: usize,
    /// Retries of a transfer whose cached account state proved stale (another replica moved
    /// money on the account); each retry reloads the account from PostgreSQL first.
    pub stale_retries_max: u32,
    /// How long an idempotency key is kept (the API promises at least 24 hours); older keys
    /// are purged hourly, so the table stays bounded.
    #[serde(deserialize_with = "duration::deserialize")]
    pub idempotency_retention: Duration,
    /// How often each replica looks for holds past their `expires_at` (the API promises they
    /// end within 5 s).
    #[serde(deserialize_with = "duration::deserialize")]
    pub expiry_sweep_interval: Duration,
    /// Holds one sweep releases at most; the rest wait for the next sweep.
    pub expiry_sweep_batch_max: usize,
    /// How often the invariant auditor runs (on one replica at a time; `audit.rs`).
    #[serde(deserialize_with = "duration::deserialize")]
    pub audit_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            batch_size_max: 512,
            mailbox_capacity: 256,
            journal_queue_max: 8192,
            transfers_in_flight_max: 16384,
            journal_writers: 2,
            idle_passivation: Duration::from_secs(60),
            arbiters: 0,
            stale_retries_max: 3,
            idempotency_retention: Duration::from_secs(7 * 24 * 3600),
            expiry_sweep_interval: Duration::from_secs(1),
            expiry_sweep_batch_max: 1024,
            audit_interval: Duration::from_secs(30),
        }
    }
}

impl EngineConfig {
    /// The arbiter count to use: the configured one, or one per two cores (at least one).
    pub fn arbiters_effective(&self) -> usize {
        match self.arbiters {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }
}

/// Durations in configuration: a number of seconds, or a humantime string ("15m", "500ms").
pub mod duration {
    use std::time::Duration;

    use serde::{de, Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(seconds) => Ok(Duration::from_secs(seconds)),
            Raw::Text(text) => parse(&text).map_err(de::Error::custom),
        }
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        if let Ok(seconds) = text.parse::<u64>() {
            return Ok(Duration::from_secs(seconds));
        }
        humantime::parse_duration(text)
            .map_err(|error| format!("`{text}` is not a duration like 30s, 15m or 24h ({error})"))
    }
}
