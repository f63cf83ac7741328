//! Tally's engine: one actor per account serialises its balance in memory, a coordinator takes
//! account reservations in ascending id order, and a journal persists transfers to PostgreSQL in
//! group commits. Nothing here knows HTTP.

pub mod config;

pub use config::EngineConfig;
