//! Tally's HTTP service: configuration, routes, auth, error mapping and metrics in front of the
//! `tally-actors` engine.

pub mod configuration;
pub mod db;
pub mod error;
pub mod routes;
pub mod startup;
pub mod telemetry;
