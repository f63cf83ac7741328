//! Bodies read by hand, for routes whose body is optional or whose limit is not the default.

use actix_web::web;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// An optional JSON body, at most `limit_bytes`: `None` when the body is empty or JSON `null`
/// (the document's `oneOf: [null, ...]` for an optional body).
pub async fn optional_json<T: DeserializeOwned>(
    mut payload: web::Payload,
    limit_bytes: usize,
) -> Result<Option<T>, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::InvalidJson(format!("the body could not be read: {error}"))
        })?;
        if body.len() + chunk.len() > limit_bytes {
            return Err(ApiError::PayloadTooLarge { limit_bytes });
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<Option<T>>(&body).map_err(|error| {
        if error.is_data() {
            ApiError::Validation(format!(
                "the body does not match the expected shape: {error}"
            ))
        } else {
            ApiError::InvalidJson(format!("the body is not valid JSON: {error}"))
        }
    })
}
