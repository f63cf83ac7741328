//! Black-box tests of the service over HTTP: each test spawns the real app on a random port
//! against a fresh database cloned from the migrated template.

mod accounts;
mod audit;
mod auth;
mod batch;
mod cancellation;
mod concurrency;
mod configuration;
mod contract;
mod details;
mod docs;
mod durability;
mod events;
mod faults;
mod health;
mod helpers;
mod idempotency;
mod isolation;
mod limits;
mod logout;
mod metrics;
mod openapi;
mod outage;
mod pending;
mod process;
mod publish;
mod read_replica;
mod replicas;
mod schema;
mod search;
mod security;
mod seed;
mod statements;
mod transfers;
mod users;
mod webhooks;
