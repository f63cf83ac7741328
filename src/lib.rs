//! Tally's HTTP service: configuration, routes, auth, error mapping and metrics in front of the
//! `tally-actors` engine.

pub mod auth;
pub mod cli;
pub mod configuration;
pub mod connections;
pub mod db;
pub mod domain;
pub mod error;
pub mod housekeeping;
pub mod metrics;
pub mod net;
pub mod openapi;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;
