use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::db;
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

/// 200 while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Serving")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// 200 when PostgreSQL answers and has every migration this binary embeds, else 503.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "PostgreSQL answers and migrations are current"),
        (status = 503, description = "Not ready (`unavailable`), with Retry-After", body = ErrorBody),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match db::readiness(&state.pool).await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({ "status": "ready" }))),
        Err(reason) => {
            // The reason (pool and PostgreSQL messages, migration versions) is for the logs:
            // an unauthenticated caller learns only that the service is not ready.
            tracing::warn!(%reason, "not ready");
            Err(ApiError::Unavailable(
                "the service is not ready; retry shortly".to_owned(),
            ))
        }
    }
}
