//! The engine's Prometheus metrics, in a registry of its own that the service gathers with its
//! own. Updating them is a few atomic operations: no lock, no label per account or user.

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry,
};

use crate::model::Refusal;

/// What can happen to a pending transfer, as metric labels.
pub const HOLD_EVENTS: [&str; 4] = ["created", "posted", "voided", "expired"];

/// How a journal batch whose COMMIT went unanswered was resolved, as metric labels: found
/// committed (acknowledged), found not committed (written again), or not learnt in time (503).
pub const IN_DOUBT_RESOLUTIONS: [&str; 3] = ["committed", "not_committed", "unknown"];

/// The engine's bounded queues, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// An account actor's mailbox (`mailbox_capacity`).
    AccountMailbox,
    /// Transfers waiting for the journal (`journal_queue_max`).
    Journal,
    /// Transfers inside the engine (`transfers_in_flight_max`).
    InFlight,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::AccountMailbox, Queue::Journal, Queue::InFlight];

    pub fn label(self) -> &'static str {
        match self {
            Queue::AccountMailbox => "account_mailbox",
            Queue::Journal => "journal",
            Queue::InFlight => "in_flight",
        }
    }
}

#[derive(Clone)]
pub struct EngineMetrics {
    pub registry: Registry,
    pub transfers_committed: IntCounter,
    transfers_refused: IntCounterVec,
    pub journal_batch_size: Histogram,
    pub journal_commit_duration_seconds: Histogram,
    /// Exchanges with PostgreSQL that wait for its answers, counted by the journal's writers.
    pub journal_round_trips: IntCounter,
    pub account_actors_active: IntGauge,
    pub account_activations: IntCounter,
    pub account_passivations: IntCounter,
    pub account_restarts: IntCounter,
    rejected: IntCounterVec,
    pub funds_rechecks: IntCounter,
    /// Pending transfers by what happened to them: created, posted, voided, expired.
    holds: IntCounterVec,
    /// Money held by pending transfers, per currency (read from PostgreSQL by the sweeper).
    pub held_amount: prometheus::IntGaugeVec,
    pub idempotent_replays: IntCounter,
    pub stale_retries: IntCounter,
    /// Journal batches written again because no server took them (a leader changing).
    pub journal_unwritten_retries: IntCounter,
    /// Journal batches whose COMMIT went unanswered, by how they were resolved.
    journal_in_doubt: IntCounterVec,
    /// Rows PostgreSQL returned that the engine cannot read, by what they were.
    corrupt_rows: IntCounterVec,
    /// Queries that read accounts by id: one per activation, one per batch of activations,
    /// one per payer check or account read.
    pub account_lookup_queries: IntCounter,
}

impl EngineMetrics {
    pub fn new() -> EngineMetrics {
        let registry = Registry::new();
        let metrics = EngineMetrics {
            transfers_committed: IntCounter::new(
                "tally_transfers_committed_total",
                "Transfers (deposits and withdrawals included) committed to PostgreSQL.",
            )
            .expect("a valid metric"),
            transfers_refused: IntCounterVec::new(
                Opts::new(
                    "tally_transfers_refused_total",
                    "Transfers refused by the money rules, by reason.",
                ),
                &["reason"],
            )
            .expect("a valid metric"),
            journal_batch_size: Histogram::with_opts(
                HistogramOpts::new(
                    "tally_journal_batch_size",
                    "Transfers written per journal transaction.",
                )
                .buckets(exponential_buckets(1.0, 2.0, 11).expect("valid buckets")),
            )
            .expect("a valid metric"),
            journal_commit_duration_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "tally_journal_commit_duration_seconds",
                    "Time to write and commit one journal batch.",
                )
                .buckets(exponential_buckets(0.0005, 2.0, 14).expect("valid buckets")),
            )
            .expect("a valid metric"),
            journal_round_trips: IntCounter::new(
                "tally_journal_round_trips_total",
                "Round trips to PostgreSQL the journal's writers waited for (one per batch of \
                 plain transfers without keys).",
            )
            .expect("a valid metric"),
            account_actors_active: IntGauge::new(
                "tally_account_actors_active",
                "Account actors in memory.",
            )
            .expect("a valid metric"),
            account_activations: IntCounter::new(
                "tally_account_activations_total",
                "Account actors activated (state loaded from PostgreSQL).",
            )
            .expect("a valid metric"),
            account_passivations: IntCounter::new(
                "tally_account_passivations_total",
                "Account actors passivated after being idle.",
            )
            .expect("a valid metric"),
            account_restarts: IntCounter::new(
                "tally_account_restarts_total",
                "Account actors restarted by their supervisor (state reloaded).",
            )
            .expect("a valid metric"),
            rejected: IntCounterVec::new(
                Opts::new(
                    "tally_engine_rejected_total",
                    "Requests the engine turned away because one of its bounded queues was full, \
                     by queue (account_mailbox, journal, in_flight).",
                ),
                &["queue"],
            )
            .expect("a valid metric"),
            holds: IntCounterVec::new(
                Opts::new(
                    "tally_holds_total",
                    "Pending transfers by event: created, posted, voided, expired.",
                ),
                &["event"],
            )
            .expect("a valid metric"),
            held_amount: prometheus::IntGaugeVec::new(
                Opts::new(
                    "tally_held_amount",
                    "Minor units held by pending transfers, per currency (all replicas).",
                ),
                &["currency"],
            )
            .expect("a valid metric"),
            funds_rechecks: IntCounter::new(
                "tally_funds_rechecks_total",
                "Debits that looked short of funds in memory and were checked against PostgreSQL \
                 before being refused.",
            )
            .expect("a valid metric"),
            idempotent_replays: IntCounter::new(
                "tally_idempotent_replays_total",
                "Transfers answered from a stored idempotent result; no money moved.",
            )
            .expect("a valid metric"),
            stale_retries: IntCounter::new(
                "tally_stale_retries_total",
                "Transfers retried after an account's cached state proved stale.",
            )
            .expect("a valid metric"),
            journal_unwritten_retries: IntCounter::new(
                "tally_journal_unwritten_retries_total",
                "Journal batches written again because no server took them before their COMMIT.",
            )
            .expect("a valid metric"),
            journal_in_doubt: IntCounterVec::new(
                Opts::new(
                    "tally_journal_in_doubt_total",
                    "Journal batches whose COMMIT was sent but not answered, by resolution: \
                     committed, not_committed (written again), unknown (answered 503).",
                ),
                &["resolution"],
            )
            .expect("a valid metric"),
            corrupt_rows: IntCounterVec::new(
                Opts::new(
                    "tally_corrupt_rows_total",
                    "Rows read from PostgreSQL that the engine cannot decode, by what they were.",
                ),
                &["what"],
            )
            .expect("a valid metric"),
            account_lookup_queries: IntCounter::new(
                "tally_account_lookup_queries_total",
                "Queries that read accounts by id (activations, batches' payer checks, account \
                 reads); a batch looks all its accounts up in one.",
            )
            .expect("a valid metric"),
            registry,
        };
        metrics.register();
        for refusal in [
            Refusal::InvalidAmount,
            Refusal::SameAccount,
            Refusal::NotFound,
            Refusal::Forbidden,
            Refusal::CurrencyMismatch,
            Refusal::InsufficientFunds,
            Refusal::BalanceOverflow,
            Refusal::AmountAbovePending,
            Refusal::DuplicateReference,
            Refusal::ReversalExceedsOriginal,
        ] {
            // Present at 0 from the start, so dashboards and rate() see every reason.
            metrics
                .transfers_refused
                .with_label_values(&[refusal.reason()]);
        }
        for queue in Queue::ALL {
            metrics.rejected.with_label_values(&[queue.label()]);
        }
        for event in HOLD_EVENTS {
            metrics.holds.with_label_values(&[event]);
        }
        for resolution in IN_DOUBT_RESOLUTIONS {
            metrics.journal_in_doubt.with_label_values(&[resolution]);
        }
        metrics
    }

    /// A pending transfer was created, posted, voided or expired.
    pub fn hold_event(&self, event: &'static str) {
        assert!(HOLD_EVENTS.contains(&event), "a known hold event");
        self.holds.with_label_values(&[event]).inc();
    }

    /// A batch whose COMMIT went unanswered was resolved so.
    pub fn in_doubt_resolved(&self, resolution: &'static str) {
        assert!(
            IN_DOUBT_RESOLUTIONS.contains(&resolution),
            "a known resolution"
        );
        self.journal_in_doubt.with_label_values(&[resolution]).inc();
    }

    /// A request turned away because `queue` was full.
    pub fn rejected(&self, queue: Queue) {
        self.rejected.with_label_values(&[queue.label()]).inc();
    }

    /// A row that does not decode: logged and counted as corruption, not as an outage.
    pub fn corrupt(&self, what: &'static str, error: &dyn std::fmt::Display) {
        tracing::error!(what, %error, "a corrupt row in PostgreSQL");
        self.corrupt_rows.with_label_values(&[what]).inc();
    }

    pub fn refused(&self, refusal: Refusal) {
        self.transfers_refused
            .with_label_values(&[refusal.reason()])
            .inc();
    }

    fn register(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 19] = [
            Box::new(self.transfers_committed.clone()),
            Box::new(self.transfers_refused.clone()),
            Box::new(self.journal_batch_size.clone()),
            Box::new(self.journal_commit_duration_seconds.clone()),
            Box::new(self.journal_round_trips.clone()),
            Box::new(self.account_actors_active.clone()),
            Box::new(self.account_activations.clone()),
            Box::new(self.account_passivations.clone()),
            Box::new(self.account_restarts.clone()),
            Box::new(self.rejected.clone()),
            Box::new(self.funds_rechecks.clone()),
            Box::new(self.holds.clone()),
            Box::new(self.held_amount.clone()),
            Box::new(self.idempotent_replays.clone()),
            Box::new(self.stale_retries.clone()),
            Box::new(self.journal_unwritten_retries.clone()),
            Box::new(self.journal_in_doubt.clone()),
            Box::new(self.corrupt_rows.clone()),
            Box::new(self.account_lookup_queries.clone()),
        ];
        for collector in collectors {
            self.registry
                .register(collector)
                .expect("metric names are unique");
        }
    }
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics::new()
    }
}
