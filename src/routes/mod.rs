//! HTTP routes. Handlers parse input into domain types, call the engine or a read query, and map
//! the typed result to JSON; they never compute balances.

pub mod accounts;
pub mod health;
mod idempotency;
pub mod pending;
pub mod tokens;
pub mod transfers;
pub mod users;
pub mod views;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/users", web::post().to(users::create_user))
        .route("/users/login", web::post().to(users::login))
        .route("/users/logout", web::post().to(users::logout))
        .route("/users/me", web::get().to(users::me))
        .route("/tokens/renew_access", web::post().to(tokens::renew_access))
        .route("/accounts", web::post().to(accounts::create_account))
        .route("/accounts", web::get().to(accounts::list_accounts))
        .route("/accounts/{id}", web::get().to(accounts::get_account))
        .route(
            "/accounts/{id}/entries",
            web::get().to(accounts::list_entries),
        )
        .route(
            "/accounts/{id}/balance",
            web::get().to(accounts::balance_at),
        )
        .route(
            "/accounts/{id}/transfers",
            web::get().to(accounts::list_transfers),
        )
        .route("/accounts/{id}/deposits", web::post().to(accounts::deposit))
        .route(
            "/accounts/{id}/withdrawals",
            web::post().to(accounts::withdraw),
        )
        .route("/transfers", web::post().to(transfers::create_transfer))
        .route("/transfers/{id}", web::get().to(transfers::get_transfer))
        .route(
            "/transfers/{id}/post",
            web::post().to(pending::post_transfer),
        )
        .route(
            "/transfers/{id}/void",
            web::post().to(pending::void_transfer),
        );
}
