//! HTTP routes. Handlers parse input into domain types, call the engine or a read query, and map
//! the typed result to JSON; they never compute balances.

mod health;
mod tokens;
mod users;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/users", web::post().to(users::create_user))
        .route("/users/login", web::post().to(users::login))
        .route("/users/logout", web::post().to(users::logout))
        .route("/users/me", web::get().to(users::me))
        .route("/tokens/renew_access", web::post().to(tokens::renew_access));
}
