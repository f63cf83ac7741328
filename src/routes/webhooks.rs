//! `POST /webhooks`, `GET /webhooks`, `GET`/`DELETE /webhooks/{id}`: bankers' delivery targets
//! for the change stream (design.md "Webhooks").

use actix_web::{web, HttpResponse};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tally_actors::events::EventKind;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::Banker;
use crate::configuration::RunMode;
use crate::domain::ResourceId;
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::Json;
use crate::startup::AppState;
use crate::store::webhooks::{self as store, Webhook};
use crate::webhooks::{check_url, WEBHOOKS_MAX};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// An http(s) URL; in production not a loopback or private address.
    #[schema(example = "https://hooks.example.com/tally")]
    url: String,
    /// Only these event types (default: all).
    types: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    pub types: Option<Vec<String>>,
    /// `active`, or `paused` after failing for 24 hours.
    #[schema(example = "active")]
    pub status: String,
    /// The last event delivered (or skipped as not of its types).
    pub delivered_id: i64,
    /// Failed attempts at the next event.
    pub failures: i32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The answer to `POST /webhooks`: the webhook and its secret, shown only this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The HMAC-SHA256 key of `Tally-Signature`.
    pub secret: String,
}

impl From<Webhook> for WebhookView {
    fn from(webhook: Webhook) -> WebhookView {
        WebhookView {
            id: webhook.id,
            url: webhook.url,
            types: webhook.types,
            status: webhook.status,
            delivered_id: webhook.delivered_id,
            failures: webhook.failures,
            last_error: webhook.last_error,
            next_attempt_at: webhook.next_attempt_at,
            created_by: webhook.created_by,
            created_at: webhook.created_at,
        }
    }
}

/// Deliver events after the newest one to `url`, each a POST signed with the answered secret.
#[utoipa::path(
    post, path = "/webhooks", tag = "events", security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, body = CreatedWebhook),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not a banker", body = ErrorBody),
        (status = 409, description = "100 webhooks exist already", body = ErrorBody),
    )
)]
pub async fn create_webhook(
    Banker(user): Banker,
    body: Json<CreateWebhookRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let production = state.settings.env == RunMode::Production;
    check_url(&body.url, production).map_err(ApiError::Validation)?;
    if let Some(types) = &body.types {
        if types.is_empty() || types.len() > EventKind::ALL.len() {
            return Err(ApiError::Validation(format!(
                "types must name 1 to {} event types",
                EventKind::ALL.len()
            )));
        }
        if let Some(unknown) = types.iter().find(|kind| EventKind::parse(kind).is_none()) {
            return Err(ApiError::Validation(format!(
                "unknown event type `{unknown}`"
            )));
        }
    }
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let secret = format!("whsec_{}", hex::encode(key));
    let created = store::insert(
        &state.pool,
        &body.url,
        body.types.as_deref(),
        &secret,
        user.username.as_str(),
        WEBHOOKS_MAX,
    )
    .await?
    .ok_or_else(|| ApiError::Conflict(format!("at most {WEBHOOKS_MAX} webhooks")))?;
    let body = CreatedWebhook {
        webhook: created.into(),
        secret,
    };
    Ok(HttpResponse::Created().json(body))
}

/// Every webhook, with its delivery state.
#[utoipa::path(
    get, path = "/webhooks", tag = "events", security(("bearer" = [])),
    responses(
        (status = 200, body = [WebhookView]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
pub async fn list_webhooks(
    _banker: Banker,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let webhooks = store::list(&state.pool, WEBHOOKS_MAX).await?;
    let views: Vec<WebhookView> = webhooks.into_iter().map(WebhookView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(
    get, path = "/webhooks/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = WebhookView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn get_webhook(
    _banker: Banker,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ResourceId::parse(path.into_inner())?;
    let webhook = store::find(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))?;
    Ok(HttpResponse::Ok().json(WebhookView::from(webhook)))
}

/// Stops deliveries to the webhook and forgets it.
#[utoipa::path(
    delete, path = "/webhooks/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn delete_webhook(
    _banker: Banker,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ResourceId::parse(path.into_inner())?;
    match store::delete(&state.pool, id).await? {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(ApiError::NotFound(format!("no webhook {id}"))),
    }
}
