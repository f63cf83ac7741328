//! The engine against a real PostgreSQL: a fresh database per test, cloned from the migrated
//! template.

mod audit;
mod basics;
mod batches;
mod bounds;
mod concurrency;
mod failures;
mod helpers;
mod holds;
mod idempotency;
mod in_doubt;
mod isolation;
mod leader_change;
mod lifecycle;
mod property;
mod replicas;
mod round_trips;
mod security;
