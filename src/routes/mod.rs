//! HTTP routes. Handlers parse input into domain types, call the engine or a read query, and map
//! the typed result to JSON; they never compute balances.

mod health;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz));
}
