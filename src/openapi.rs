//! The OpenAPI 3 document of docs/api.md, generated from the handlers' annotations, and the
//! interactive docs that render it (Swagger UI, vendored into the binary: no CDN).

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{
    accounts, batch, dry_run, events, health, limits, pending, reversal, search, tokens, transfers,
    users, views, webhooks,
};

mod constraints;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally",
        description = "A money-transfer engine with an HTTP front. Money is an integer number of minor units; timestamps are RFC 3339 UTC. Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        users::create_user, users::login, users::logout, users::me, tokens::renew_access,
        accounts::create_account, accounts::get_account, accounts::list_accounts,
        accounts::list_entries, accounts::balance_at, accounts::list_transfers,
        accounts::deposit, accounts::withdraw, accounts::freeze, accounts::unfreeze,
        accounts::close, limits::set_limits,
        transfers::create_transfer, transfers::get_transfer, search::search_transfers,
        pending::post_transfer, pending::void_transfer, reversal::reverse_transfer, batch::create_batch,
        events::list_events, events::stream_events,
        webhooks::create_webhook, webhooks::list_webhooks, webhooks::get_webhook,
        webhooks::delete_webhook,
        health::healthz, health::readyz, metrics_doc,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::error::ErrorDetail,
        views::AccountView, views::TransferView, views::EntryView, views::TransferResult,
        views::MovementResult, views::BalanceAtView, views::PendingResult,
        search::TransferPage, reversal::ReverseRequest, limits::LimitsRequest,
        dry_run::DryRunResult, dry_run::DryRunTransferView, dry_run::DryRunBatchResult,
        dry_run::DryRunBatchItemResult, pending::PostRequest, batch::BatchRequest, batch::BatchResult, batch::BatchItemResult,
        events::EventsPage, events::EventView, events::EventData, events::TransferEventData,
        webhooks::CreateWebhookRequest, webhooks::WebhookView, webhooks::CreatedWebhook,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "users", description = "Sign-up, PASETO sessions"),
        (name = "accounts", description = "Accounts, statements, deposits and withdrawals"),
        (name = "transfers", description = "Moving money between accounts"),
        (name = "events", description = "The change stream: long polling and Server-Sent Events"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("PASETO v4.local")
                    .build(),
            ),
        );
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
#[allow(dead_code)]
fn metrics_doc() {}

/// `GET /openapi.json` and `GET /docs`.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/docs", web::get().to(redirect_to_docs))
        // Served as JSON, not through utoipa's types, which would drop the keywords they do not
        // model (`if`/`then`).
        .service(
            SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/openapi.json", document()),
        );
}

/// The document `/openapi.json` serves: the handlers' annotations with every enforced rule
/// written in (bounds, enums, patterns, error codes per status, headers).
pub fn document() -> serde_json::Value {
    let mut value = serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON");
    constraints::apply(&mut value);
    value
}

async fn redirect_to_docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}
