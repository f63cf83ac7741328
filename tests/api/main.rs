//! Black-box tests of the service over HTTP: each test spawns the real app on a random port
//! against a fresh database cloned from the migrated template.

mod accounts;
mod auth;
mod concurrency;
mod configuration;
mod durability;
mod faults;
mod health;
mod helpers;
mod limits;
mod logout;
mod metrics;
mod openapi;
mod outage;
mod process;
mod replicas;
mod schema;
mod security;
mod transfers;
mod users;
