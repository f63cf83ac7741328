//! HTTP routes. Handlers parse input into domain types, call the engine or a read query, and map
//! the typed result to JSON; they never compute balances.

pub mod accounts;
pub mod health;
mod idempotency;
pub mod tokens;
pub mod transfers;
pub mod users;
pub mod views;

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
    routes
        .get("/healthz", health::healthz)
        .get("/readyz", health::readyz)
        .post("/users", users::create_user)
        .post("/users/login", users::login)
        .post("/users/logout", users::logout)
        .get("/users/me", users::me)
        .post("/tokens/renew_access", tokens::renew_access)
        .post("/accounts", accounts::create_account)
        .get("/accounts", accounts::list_accounts)
        .get("/accounts/{id}", accounts::get_account)
        .get("/accounts/{id}/entries", accounts::list_entries)
        .post("/accounts/{id}/deposits", accounts::deposit)
        .post("/accounts/{id}/withdrawals", accounts::withdraw)
        .post("/transfers", transfers::create_transfer)
        .get("/transfers/{id}", transfers::get_transfer);
}

/// Registers a route on the app (when there is one) and records it in the table.
struct Routes<'a> {
    config: Option<&'a mut web::ServiceConfig>,
    table: Vec<(Method, &'static str)>,
}

impl Routes<'_> {
    fn get<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, handler)
    }

    fn post<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::POST, path, handler)
    }

    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
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
