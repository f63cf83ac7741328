//! HTTP routes. Handlers parse input into domain types, call the engine or a read query, and map
//! the typed result to JSON; they never compute balances.

pub mod accounts;
pub mod batch;
mod body;
pub mod dry_run;
pub mod events;
pub mod health;
pub(crate) mod idempotency;
pub mod limits;
pub mod pending;
pub mod reversal;
pub(crate) mod rfc3339;
pub mod search;
pub mod tokens;
pub mod transfers;
pub mod users;
pub mod views;
pub mod webhooks;

/// For benches/http_path.rs: the answer of a route that moves money, as the routes write it.
pub use idempotency::respond_created;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder};

/// Registers every API route on the app.
pub fn configure(config: &mut web::ServiceConfig) {
    register(&mut Routes {
        config: Some(config),
        table: Vec::new(),
    });
}

/// The routes [`configure`] registers, as (method, path): the same table, read without an app
/// (the test that keeps `/openapi.json` in step with the app reads it).
pub fn table() -> Vec<(Method, &'static str)> {
    let mut routes = Routes {
        config: None,
        table: Vec::new(),
    };
    register(&mut routes);
    routes.table
}

fn register(routes: &mut Routes) {
    const GET: Method = Method::GET;
    const POST: Method = Method::POST;
    const PUT: Method = Method::PUT;
    const DELETE: Method = Method::DELETE;
    routes
        .route(GET, "/healthz", health::healthz)
        .route(GET, "/readyz", health::readyz)
        .route(POST, "/users", users::create_user)
        .route(POST, "/users/login", users::login)
        .route(POST, "/users/logout", users::logout)
        .route(GET, "/users/me", users::me)
        .route(POST, "/tokens/renew_access", tokens::renew_access)
        .route(POST, "/accounts", accounts::create_account)
        .route(GET, "/accounts", accounts::list_accounts)
        .route(GET, "/accounts/{id}", accounts::get_account)
        .route(GET, "/accounts/{id}/entries", accounts::list_entries)
        .route(GET, "/accounts/{id}/balance", accounts::balance_at)
        .route(GET, "/accounts/{id}/transfers", accounts::list_transfers)
        .route(POST, "/accounts/{id}/deposits", accounts::deposit)
        .route(POST, "/accounts/{id}/withdrawals", accounts::withdraw)
        .route(POST, "/accounts/{id}/freeze", accounts::freeze)
        .route(POST, "/accounts/{id}/unfreeze", accounts::unfreeze)
        .route(POST, "/accounts/{id}/close", accounts::close)
        .route(PUT, "/accounts/{id}/limits", limits::set_limits)
        .route(POST, "/transfers", transfers::create_transfer)
        .route(GET, "/transfers", search::search_transfers)
        // Before /transfers/{id}, which would otherwise take "batch" for an id.
        .route(POST, "/transfers/batch", batch::create_batch)
        .route(GET, "/transfers/{id}", transfers::get_transfer)
        .route(POST, "/transfers/{id}/post", pending::post_transfer)
        .route(POST, "/transfers/{id}/void", pending::void_transfer)
        .route(POST, "/transfers/{id}/reverse", reversal::reverse_transfer)
        .route(GET, "/events", events::list_events)
        .route(GET, "/events/stream", events::stream_events)
        .route(POST, "/webhooks", webhooks::create_webhook)
        .route(GET, "/webhooks", webhooks::list_webhooks)
        .route(GET, "/webhooks/{id}", webhooks::get_webhook)
        .route(DELETE, "/webhooks/{id}", webhooks::delete_webhook);
}

/// Registers a route on the app (when there is one) and records it in the table.
struct Routes<'a> {
    config: Option<&'a mut web::ServiceConfig>,
    table: Vec<(Method, &'static str)>,
}

impl Routes<'_> {
    fn route<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        if let Some(config) = self.config.as_deref_mut() {
            config.route(path, web::method(method.clone()).to(handler));
        }
        self.table.push((method, path));
        self
    }
}
