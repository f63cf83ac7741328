//! Every JSON body is read here: bounded in size and in time, and refused unless it is a JSON
//! object (serde would otherwise fill a struct's fields by position from an array: `[7]`).

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::startup::AppState;

/// A JSON object body, parsed into `T`, at most `http.body_limit_bytes` and read within
/// `http.body_read_timeout`. Use it in place of `web::Json`.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Json<T>, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = BodyLimits::of(request);
        let payload = payload.take();
        Box::pin(async move {
            let body = read(payload, limits).await?;
            parse(&body).map(Json)
        })
    }
}

/// How much of a body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub size_bytes_max: usize,
    pub read_timeout: Duration,
}

impl BodyLimits {
    /// The configured limits.
    pub fn of(request: &HttpRequest) -> BodyLimits {
        let http = &request
            .app_data::<web::Data<AppState>>()
            .expect("the app state is registered")
            .settings
            .http;
        BodyLimits {
            size_bytes_max: http.body_limit_bytes,
            read_timeout: http.body_read_timeout,
        }
    }

    /// The configured limits with another size bound (routes with larger bodies).
    pub fn with_size(request: &HttpRequest, size_bytes_max: usize) -> BodyLimits {
        BodyLimits {
            size_bytes_max,
            ..BodyLimits::of(request)
        }
    }
}

/// An optional JSON object body: `None` when the body is empty or JSON `null`.
pub async fn optional_json<T: DeserializeOwned>(
    payload: web::Payload,
    limits: BodyLimits,
) -> Result<Option<T>, ApiError> {
    let body = read(payload, limits).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // JSON `null` is no body too: the document's `oneOf: [null, ...]` for an optional body.
    if body.trim_ascii() == b"null" {
        return Ok(None);
    }
    parse(&body).map(Some)
}

/// A required JSON object body: `missing` (400 `validation_failed`) when the body is empty.
pub async fn required_json<T: DeserializeOwned>(
    payload: web::Payload,
    limits: BodyLimits,
    missing: &str,
) -> Result<T, ApiError> {
    let body = read(payload, limits).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(missing.to_owned()));
    }
    parse(&body)
}

/// The whole body, or 413 past the size bound, or 408 past the time bound: a client sending a
/// byte every few seconds holds a connection no longer than `read_timeout`.
async fn read<S>(mut payload: S, limits: BodyLimits) -> Result<web::BytesMut, ApiError>
where
    S: Stream<Item = Result<web::Bytes, PayloadError>> + Unpin,
{
    let limit_bytes = limits.size_bytes_max;
    let reading = async move {
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
        Ok(body)
    };
    tokio::time::timeout(limits.read_timeout, reading)
        .await
        .map_err(|_| ApiError::BodyTimeout {
            timeout_ms: limits.read_timeout.as_millis() as u64,
        })?
}

/// `T` from a body that must be a JSON object.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::InvalidJson(
            "the body must be a JSON object".to_owned(),
        ));
    }
    serde_json::from_slice(body).map_err(json_error)
}

/// A value of the wrong shape (and a number too large for its field, however it is written:
/// `1e400` fails in the parser, 20 digits in the field) is `validation_failed`; anything else
/// is not JSON.
pub fn json_error(error: serde_json::Error) -> ApiError {
    // serde_json files an out-of-range number under syntax errors, with this message only.
    let out_of_range = error.to_string().starts_with("number out of range");
    if error.is_data() || out_of_range {
        ApiError::Validation(format!(
            "the body does not match the expected shape: {error}"
        ))
    } else {
        ApiError::InvalidJson(format!("the body is not valid JSON: {error}"))
    }
}
