//! Tally's engine: one actor per account serialises its balance in memory, a coordinator takes
//! holds on the accounts in ascending id order, and a journal persists transfers to PostgreSQL in
//! group commits. Nothing here knows HTTP.
//!
//! ```text
//! caller ─▶ Engine::transfer (coordinator, in a task of its own)
//!             ├─ Registry: find or activate the two account actors
//!             ├─ Hold on the lower id, then the higher (account actors, bounded mailboxes)
//!             └─ Journal: dispatcher ─▶ writers, one transaction per batch ─▶ PostgreSQL
//!                   └─ on commit: settle each actor once, then answer the callers
//! ```

mod account;
pub mod audit;
mod batch;
pub mod config;
mod coordinator;
mod db;
mod dry_run;
mod engine;
pub mod events;
pub mod failover;
mod idempotency;
mod journal;
pub mod journal_sql;
mod metrics;
mod model;
mod queries;
mod registry;
pub mod replica;

pub use account::LimitChanged;
pub use config::{EngineConfig, InvalidEngineConfig};
pub use dry_run::DryRun;
pub use engine::Engine;
pub use model::{
    AccountId, AccountInfo, AccountKind, AccountSnapshot, AccountStatus, Amount, Authority,
    BatchError, BatchItem, BatchItemOutcome, BatchOutcome, Currency, Entry, IdempotencyKey,
    LookupError, OpenAccountError, Outage, Refusal, Saturation, Transfer, TransferDetails,
    TransferError, TransferId, TransferRequest, TransferStatus, Transferred,
};
pub use queries::{
    Reads, SearchPage, SearchScope, StatementLine, StatementQuery, TransferSearch,
    TransferWithOwners, TransfersQuery,
};
