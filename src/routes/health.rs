use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::db;
use crate::error::ApiError;
use crate::startup::AppState;

/// 200 while the process serves.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// 200 when PostgreSQL answers and has every migration this binary embeds, else 503.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match db::readiness(&state.pool).await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({ "status": "ready" }))),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            Err(ApiError::Unavailable(format!("not ready: {reason}")))
        }
    }
}
