//! The engine's limits, in one place. Every queue and batch in the engine is bounded by one of
//! these; the defaults are the ones documented in the service's `defaults.toml`.

use std::time::Duration;

use serde::Deserialize;

/// Transfers one batch request carries at most (`POST /transfers/batch`): the journal writes a
/// batch in one transaction, so it bounds the largest transaction too.
pub const BATCH_ITEMS_MAX: usize = 1_000;

/// The largest overdraft limit a banker may set on an account, in minor units (10^12: ten
/// billion USD or EUR, a trillion KRW). Bounded so a debt stays far inside a balance's 64 bits.
pub const OVERDRAFT_MAX: i64 = 1_000_000_000_000;

/// Sweep rounds one expiry sweep runs at most, back to back, while each finds a full round.
pub const EXPIRY_SWEEP_ROUNDS_MAX: usize = 64;

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
    /// Account actors in memory at most. At the bound, activating another passivates the least
    /// recently used actors with nothing in flight first; when none can go, the activation is
    /// answered `Unavailable`.
    pub accounts_active_max: usize,
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
    /// Holds one sweep round releases at most, taken round-robin by paying account; a sweep
    /// finding a full round goes again at once (up to `EXPIRY_SWEEP_ROUNDS_MAX` rounds).
    pub expiry_sweep_batch_max: usize,
    /// Open holds (pending transfers) one account may pay at once; past it, new ones are
    /// refused (`TooManyHolds`), so no account's flood delays everyone's expiry.
    pub holds_open_max: usize,
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
            accounts_active_max: 100_000,
            idle_passivation: Duration::from_secs(60),
            arbiters: 0,
            stale_retries_max: 3,
            idempotency_retention: Duration::from_secs(7 * 24 * 3600),
            expiry_sweep_interval: Duration::from_secs(1),
            expiry_sweep_batch_max: 1024,
            holds_open_max: 1000,
            audit_interval: Duration::from_secs(30),
        }
    }
}

/// The bounds `EngineConfig::validate` holds every setting to: a zero would stop the engine
/// (no writer, an empty queue, a sweep that spins), and a huge value is a typo that would
/// exhaust memory or PostgreSQL's connections.
pub mod bounds {
    use std::time::Duration;

    pub const BATCH_SIZE_MAX: usize = 65_536;
    pub const MAILBOX_CAPACITY_MAX: usize = 1 << 20;
    pub const JOURNAL_QUEUE_MAX: usize = 1 << 20;
    pub const TRANSFERS_IN_FLIGHT_MAX: usize = 1 << 20;
    /// Each writer holds a PostgreSQL connection of its own.
    pub const JOURNAL_WRITERS_MAX: usize = 64;
    pub const ARBITERS_MAX: usize = 256;
    /// A transfer holds two actors at once, so fewer could never move money.
    pub const ACCOUNTS_ACTIVE_MIN: usize = 2;
    pub const ACCOUNTS_ACTIVE_MAX: usize = 10_000_000;
    pub const HOLDS_OPEN_MAX: usize = 1 << 20;
    /// The full audit runs once a day; an interval past that would skip it.
    pub const AUDIT_INTERVAL_MAX: Duration = Duration::from_secs(24 * 3600);
    pub const STALE_RETRIES_MAX: u32 = 100;
    pub const EXPIRY_SWEEP_BATCH_MAX: usize = 65_536;
    pub const IDLE_PASSIVATION_MAX: Duration = Duration::from_secs(24 * 3600);
    /// docs/api.md promises a key is kept at least a day.
    pub const IDEMPOTENCY_RETENTION_MIN: Duration = Duration::from_secs(24 * 3600);
    pub const IDEMPOTENCY_RETENTION_MAX: Duration = Duration::from_secs(366 * 24 * 3600);
    /// docs/api.md promises a hold past its `expires_at` ends within 5 s.
    pub const EXPIRY_SWEEP_INTERVAL_MAX: Duration = Duration::from_secs(5);
}

/// An engine setting out of its bounds, named as in the configuration file (`engine.<key>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine.{key} must be {rule} (got {value})")]
pub struct InvalidEngineConfig {
    pub key: &'static str,
    pub rule: String,
    pub value: String,
}

impl EngineConfig {
    /// Refuses a setting out of its bounds (`bounds`), naming it. The service calls this when it
    /// loads its settings, and `Engine::start` asserts it, so benches and tests get the same
    /// checks as production.
    pub fn validate(&self) -> Result<(), InvalidEngineConfig> {
        use bounds::*;
        let counts: [(&'static str, usize, usize, usize); 9] = [
            ("batch_size_max", self.batch_size_max, 1, BATCH_SIZE_MAX),
            (
                "mailbox_capacity",
                self.mailbox_capacity,
                1,
                MAILBOX_CAPACITY_MAX,
            ),
            (
                "journal_queue_max",
                self.journal_queue_max,
                1,
                JOURNAL_QUEUE_MAX,
            ),
            (
                "transfers_in_flight_max",
                self.transfers_in_flight_max,
                1,
                TRANSFERS_IN_FLIGHT_MAX,
            ),
            (
                "journal_writers",
                self.journal_writers,
                1,
                JOURNAL_WRITERS_MAX,
            ),
            ("arbiters", self.arbiters, 0, ARBITERS_MAX),
            ("holds_open_max", self.holds_open_max, 1, HOLDS_OPEN_MAX),
            (
                "accounts_active_max",
                self.accounts_active_max,
                ACCOUNTS_ACTIVE_MIN,
                ACCOUNTS_ACTIVE_MAX,
            ),
            (
                "expiry_sweep_batch_max",
                self.expiry_sweep_batch_max,
                1,
                EXPIRY_SWEEP_BATCH_MAX,
            ),
        ];
        for (key, value, min, max) in counts {
            within(key, value, min, max, |value| value.to_string())?;
        }
        let retries = self.stale_retries_max;
        within("stale_retries_max", retries, 0, STALE_RETRIES_MAX, |v| {
            v.to_string()
        })?;
        let durations: [(&'static str, Duration, Duration, Duration); 4] = [
            (
                "idle_passivation",
                self.idle_passivation,
                Duration::from_millis(1),
                IDLE_PASSIVATION_MAX,
            ),
            (
                "idempotency_retention",
                self.idempotency_retention,
                IDEMPOTENCY_RETENTION_MIN,
                IDEMPOTENCY_RETENTION_MAX,
            ),
            (
                "audit_interval",
                self.audit_interval,
                Duration::from_secs(1),
                AUDIT_INTERVAL_MAX,
            ),
            (
                "expiry_sweep_interval",
                self.expiry_sweep_interval,
                Duration::from_millis(1),
                EXPIRY_SWEEP_INTERVAL_MAX,
            ),
        ];
        for (key, value, min, max) in durations {
            within(key, value, min, max, show_duration)?;
        }
        Ok(())
    }

    /// The arbiter count to use: the configured one, or one per two cores (at least one).
    pub fn arbiters_effective(&self) -> usize {
        match self.arbiters {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }
}

/// A duration as configuration writes it: whole days in days (humantime would write 366 days
/// as a year and some hours), anything else in humantime.
fn show_duration(duration: &Duration) -> String {
    const DAY_SECONDS: u64 = 24 * 3600;
    match duration.as_secs() {
        DAY_SECONDS => "1day".to_owned(),
        seconds if seconds % DAY_SECONDS == 0 && duration.subsec_nanos() == 0 && seconds > 0 => {
            format!("{}days", seconds / DAY_SECONDS)
        }
        _ => humantime::format_duration(*duration).to_string(),
    }
}

/// `value` within `min..=max`, or the error naming `key` and the bounds.
fn within<T: PartialOrd>(
    key: &'static str,
    value: T,
    min: T,
    max: T,
    show: impl Fn(&T) -> String,
) -> Result<(), InvalidEngineConfig> {
    if min <= value && value <= max {
        return Ok(());
    }
    Err(InvalidEngineConfig {
        key,
        rule: format!("{} to {}", show(&min), show(&max)),
        value: show(&value),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(EngineConfig::default().validate(), Ok(()));
    }

    #[test]
    fn a_value_out_of_bounds_is_refused_naming_its_key() {
        type Change = fn(&mut EngineConfig);
        let cases: [(&str, Change); 14] = [
            ("batch_size_max", |c| c.batch_size_max = 0),
            ("batch_size_max", |c| {
                c.batch_size_max = bounds::BATCH_SIZE_MAX + 1
            }),
            ("mailbox_capacity", |c| c.mailbox_capacity = 0),
            ("journal_queue_max", |c| c.journal_queue_max = 0),
            ("transfers_in_flight_max", |c| c.transfers_in_flight_max = 0),
            ("journal_writers", |c| c.journal_writers = 0),
            ("journal_writers", |c| c.journal_writers = 65),
            ("arbiters", |c| c.arbiters = 100_000),
            ("stale_retries_max", |c| c.stale_retries_max = 1_000),
            ("idle_passivation", |c| c.idle_passivation = Duration::ZERO),
            ("idempotency_retention", |c| {
                c.idempotency_retention = Duration::from_secs(3600)
            }),
            ("expiry_sweep_interval", |c| {
                c.expiry_sweep_interval = Duration::ZERO
            }),
            ("expiry_sweep_interval", |c| {
                c.expiry_sweep_interval = Duration::from_secs(60)
            }),
            ("expiry_sweep_batch_max", |c| c.expiry_sweep_batch_max = 0),
        ];
        for (key, change) in cases {
            let mut config = EngineConfig::default();
            change(&mut config);
            let error = config.validate().expect_err(key);
            assert_eq!(error.key, key);
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("engine.{key} must be ")),
                "{message}"
            );
        }
    }

    #[test]
    fn the_bounds_themselves_are_accepted() {
        let config = EngineConfig {
            batch_size_max: bounds::BATCH_SIZE_MAX,
            journal_writers: 1,
            arbiters: 0,
            stale_retries_max: 0,
            idempotency_retention: bounds::IDEMPOTENCY_RETENTION_MIN,
            expiry_sweep_interval: bounds::EXPIRY_SWEEP_INTERVAL_MAX,
            ..EngineConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn the_message_names_the_bounds_and_the_value() {
        let config = EngineConfig {
            expiry_sweep_interval: Duration::ZERO,
            ..EngineConfig::default()
        };
        let message = config.validate().expect_err("zero").to_string();
        assert_eq!(
            message,
            "engine.expiry_sweep_interval must be 1ms to 5s (got 0s)"
        );
    }
}
