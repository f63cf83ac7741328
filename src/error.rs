//! The JSON error model of docs/api.md, in one place: every failure a handler can answer is an
//! [`ApiError`], which knows its status and its snake_case code.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// How long clients are told to wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Validation(String),
    #[error("a transfer needs two different accounts")]
    SameAccount,
    #[error("{0}")]
    Unauthenticated(String),
    #[error("the token has expired")]
    TokenExpired,
    #[error("unknown username or wrong password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this Idempotency-Key was already used with another request body")]
    IdempotencyKeyReused,
    #[error("the request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("the account's available balance is lower than the amount")]
    InsufficientFunds,
    #[error("{0}")]
    CurrencyMismatch(String),
    #[error("the deposit would take the currency's total supply past the 64-bit range")]
    BalanceOverflow,
    #[error("the transfer is not pending any more (posted, voided or expired)")]
    TransferNotPending,
    #[error("the paying account has too many open pending transfers; post, void or let some expire first")]
    TooManyHolds,
    #[error("the account is frozen: it can receive money but not pay")]
    AccountFrozen,
    #[error("the account is closed")]
    AccountClosed,
    #[error("only an account with balance 0 and nothing held can be closed")]
    AccountNotEmpty,
    #[error("the paying account already made a transfer with this reference")]
    DuplicateReference,
    #[error("the transfer is not posted (pending, voided or expired): nothing to reverse")]
    TransferNotPosted,
    #[error("the reversals would exceed the original transfer's amount")]
    ReversalExceedsOriginal,
    #[error("the request body did not arrive within {timeout_ms} ms")]
    BodyTimeout { timeout_ms: u64 },
    #[error("{reason}; try again later")]
    RateLimited {
        reason: &'static str,
        retry_after_seconds: u64,
    },
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; never the answer to bad input.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `insufficient_funds`.
    pub code: &'static str,
    /// A sentence for a person.
    pub message: String,
    /// The position of the offending item in a batch request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// Every error code of docs/api.md, with the HTTP status it is answered with: the OpenAPI
/// document lists, per status, the codes that status may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    ValidationFailed,
    SameAccount,
    Unauthenticated,
    TokenExpired,
    InvalidCredentials,
    Forbidden,
    NotFound,
    Conflict,
    IdempotencyKeyReused,
    TransferNotPending,
    TooManyHolds,
    AccountClosed,
    AccountFrozen,
    AccountNotEmpty,
    DuplicateReference,
    ReversalExceedsOriginal,
    TransferNotPosted,
    RequestTimeout,
    PayloadTooLarge,
    InsufficientFunds,
    CurrencyMismatch,
    BalanceOverflow,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 26] = [
        ErrorCode::InvalidJson,
        ErrorCode::ValidationFailed,
        ErrorCode::SameAccount,
        ErrorCode::Unauthenticated,
        ErrorCode::TokenExpired,
        ErrorCode::InvalidCredentials,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::TransferNotPending,
        ErrorCode::TooManyHolds,
        ErrorCode::AccountClosed,
        ErrorCode::AccountFrozen,
        ErrorCode::AccountNotEmpty,
        ErrorCode::DuplicateReference,
        ErrorCode::ReversalExceedsOriginal,
        ErrorCode::TransferNotPosted,
        ErrorCode::RequestTimeout,
        ErrorCode::PayloadTooLarge,
        ErrorCode::InsufficientFunds,
        ErrorCode::CurrencyMismatch,
        ErrorCode::BalanceOverflow,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The stable snake_case word clients match on.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::SameAccount => "same_account",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::TransferNotPending => "transfer_not_pending",
            ErrorCode::TooManyHolds => "too_many_holds",
            ErrorCode::AccountFrozen => "account_frozen",
            ErrorCode::AccountClosed => "account_closed",
            ErrorCode::AccountNotEmpty => "account_not_empty",
            ErrorCode::DuplicateReference => "duplicate_reference",
            ErrorCode::TransferNotPosted => "transfer_not_posted",
            ErrorCode::ReversalExceedsOriginal => "reversal_exceeds_original",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::InsufficientFunds => "insufficient_funds",
            ErrorCode::CurrencyMismatch => "currency_mismatch",
            ErrorCode::BalanceOverflow => "balance_overflow",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson | ErrorCode::ValidationFailed | ErrorCode::SameAccount => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::Unauthenticated
            | ErrorCode::TokenExpired
            | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict
            | ErrorCode::IdempotencyKeyReused
            | ErrorCode::TransferNotPending
            | ErrorCode::TooManyHolds
            | ErrorCode::AccountFrozen
            | ErrorCode::AccountClosed
            | ErrorCode::AccountNotEmpty => StatusCode::CONFLICT,
            ErrorCode::DuplicateReference
            | ErrorCode::TransferNotPosted
            | ErrorCode::ReversalExceedsOriginal => StatusCode::CONFLICT,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InsufficientFunds
            | ErrorCode::CurrencyMismatch
            | ErrorCode::BalanceOverflow => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The codes answered with `status`, in [`ErrorCode::ALL`]'s order.
    pub fn of_status(status: StatusCode) -> Vec<&'static str> {
        ErrorCode::ALL
            .into_iter()
            .filter(|code| code.status() == status)
            .map(ErrorCode::as_str)
            .collect()
    }
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::InvalidJson(_) => ErrorCode::InvalidJson,
            ApiError::Validation(_) => ErrorCode::ValidationFailed,
            ApiError::SameAccount => ErrorCode::SameAccount,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::TokenExpired => ErrorCode::TokenExpired,
            ApiError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::InsufficientFunds => ErrorCode::InsufficientFunds,
            ApiError::CurrencyMismatch(_) => ErrorCode::CurrencyMismatch,
            ApiError::BalanceOverflow => ErrorCode::BalanceOverflow,
            ApiError::TransferNotPending => ErrorCode::TransferNotPending,
            ApiError::TooManyHolds => ErrorCode::TooManyHolds,
            ApiError::AccountFrozen => ErrorCode::AccountFrozen,
            ApiError::AccountClosed => ErrorCode::AccountClosed,
            ApiError::AccountNotEmpty => ErrorCode::AccountNotEmpty,
            ApiError::DuplicateReference => ErrorCode::DuplicateReference,
            ApiError::TransferNotPosted => ErrorCode::TransferNotPosted,
            ApiError::ReversalExceedsOriginal => ErrorCode::ReversalExceedsOriginal,
            ApiError::BodyTimeout { .. } => ErrorCode::RequestTimeout,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The error's code and message, as an error object carries them.
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code().as_str(),
            message: self.to_string(),
            index: None,
        }
    }

    /// The error answer for item `index` of a batch request.
    pub fn indexed_response(&self, index: usize) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: ErrorDetail {
                index: Some(index),
                ..self.detail()
            },
        })
    }

    pub fn unavailable_database(error: impl std::fmt::Display) -> ApiError {
        tracing::warn!(%error, "database unavailable");
        ApiError::Unavailable("the database is unavailable; retry shortly".to_owned())
    }

    /// A bound inside the engine was full: 503 with Retry-After, nothing moved.
    pub fn saturated(saturation: tally_actors::Saturation) -> ApiError {
        tracing::warn!(%saturation, "the engine is saturated");
        ApiError::Unavailable("the service is busy; retry shortly".to_owned())
    }

    /// The database (or an account's state) could not be reached: 503 with Retry-After.
    pub fn outage(outage: tally_actors::Outage) -> ApiError {
        tracing::warn!(%outage, "the engine is unavailable");
        ApiError::Unavailable(
            "the service is busy or the database unreachable; retry shortly".to_owned(),
        )
    }

    /// A stored row that does not decode (the engine logged and counted it): a 500, not an
    /// outage to retry.
    pub fn corrupt(what: &'static str) -> ApiError {
        ApiError::Internal(anyhow::anyhow!("a corrupt {what} in the database"))
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(error.into())
    }
}

impl From<tally_actors::TransferError> for ApiError {
    fn from(error: tally_actors::TransferError) -> ApiError {
        use tally_actors::{Refusal, TransferError};
        match error {
            TransferError::Refused(refusal) => match refusal {
                Refusal::InvalidAmount => {
                    ApiError::Validation("amount must be a positive integer".to_owned())
                }
                Refusal::SameAccount => ApiError::SameAccount,
                Refusal::NotFound => ApiError::NotFound("no such account".to_owned()),
                Refusal::Forbidden => ApiError::Forbidden(
                    "only the account's owner may move money out of it".to_owned(),
                ),
                Refusal::CurrencyMismatch => ApiError::CurrencyMismatch(
                    "both accounts must be in the transfer's currency".to_owned(),
                ),
                Refusal::InsufficientFunds => ApiError::InsufficientFunds,
                Refusal::BalanceOverflow => ApiError::BalanceOverflow,
                Refusal::AmountAbovePending => ApiError::Validation(
                    "amount must not exceed the pending transfer's amount".to_owned(),
                ),
                Refusal::AccountFrozen => ApiError::AccountFrozen,
                Refusal::AccountClosed => ApiError::AccountClosed,
                Refusal::AccountNotEmpty => ApiError::AccountNotEmpty,
                Refusal::DuplicateReference => ApiError::DuplicateReference,
                Refusal::ReversalExceedsOriginal => ApiError::ReversalExceedsOriginal,
            },
            TransferError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            TransferError::NotPending => ApiError::TransferNotPending,
            TransferError::NotPosted => ApiError::TransferNotPosted,
            TransferError::TooManyHolds => ApiError::TooManyHolds,
            TransferError::Saturated(saturation) => ApiError::saturated(saturation),
            TransferError::Unavailable(outage) => ApiError::outage(outage),
            TransferError::Corrupt { what } => ApiError::corrupt(what),
        }
    }
}

impl From<tally_actors::OpenAccountError> for ApiError {
    fn from(error: tally_actors::OpenAccountError) -> ApiError {
        use tally_actors::OpenAccountError;
        match error {
            OpenAccountError::Duplicate => {
                ApiError::Conflict("you already have an account in this currency".to_owned())
            }
            OpenAccountError::OwnerNotFound => ApiError::NotFound("no such user".to_owned()),
            OpenAccountError::Unavailable(outage) => ApiError::outage(outage),
        }
    }
}

impl From<tally_actors::LookupError> for ApiError {
    fn from(error: tally_actors::LookupError) -> ApiError {
        match error {
            tally_actors::LookupError::NotFound => ApiError::NotFound("no such account".to_owned()),
            tally_actors::LookupError::Saturated(saturation) => ApiError::saturated(saturation),
            tally_actors::LookupError::Unavailable(outage) => ApiError::outage(outage),
            tally_actors::LookupError::Corrupt { what } => ApiError::corrupt(what),
        }
    }
}

impl From<crate::domain::InvalidInput> for ApiError {
    fn from(error: crate::domain::InvalidInput) -> ApiError {
        ApiError::Validation(error.0)
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> ApiError {
        ApiError::unavailable_database(error)
    }
}

/// A lost or refused connection is the database being away (503); any other database error is
/// a bug in our SQL or a constraint a handler should have mapped first (500).
impl From<tokio_postgres::Error> for ApiError {
    fn from(error: tokio_postgres::Error) -> ApiError {
        let transient = match error.as_db_error() {
            None => {
                error.is_closed()
                    || std::error::Error::source(&error)
                        .is_some_and(|source| source.is::<std::io::Error>())
            }
            Some(database_error) => {
                let code = database_error.code().code();
                // 08: connection exception; 57P0x: shutting down; 53300: too many connections.
                code.starts_with("08") || code.starts_with("57P0") || code == "53300"
            }
        };
        if transient {
            ApiError::unavailable_database(error)
        } else {
            ApiError::internal(error)
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(error) = self {
            tracing::error!(error = ?error, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
            }
            ApiError::RateLimited {
                retry_after_seconds,
                ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.detail(),
        })
    }
}

/// Extractor configurations that turn actix's own rejections into [`ApiError`]s, so a bad body,
/// path or query gets the same JSON error as everything else.
pub mod extractors {
    use actix_web::error::{PathError, QueryPayloadError};
    use actix_web::{web, HttpRequest};

    use super::ApiError;

    pub fn path_config() -> web::PathConfig {
        web::PathConfig::default().error_handler(|error, _| path_error(error).into())
    }

    pub fn query_config() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|error, _| query_error(error).into())
    }

    fn path_error(error: PathError) -> ApiError {
        let PathError::Deserialize(error) = error else {
            return ApiError::Validation("the path is not valid".to_owned());
        };
        ApiError::Validation(format!("the path is not valid: {error}"))
    }

    fn query_error(error: QueryPayloadError) -> ApiError {
        ApiError::Validation(format!("the query string is not valid: {error}"))
    }

    /// Unknown routes answer the JSON 404 of docs/api.md, not actix's empty one.
    pub async fn not_found(request: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
        Err(ApiError::NotFound(format!(
            "no route for {} {}",
            request.method(),
            request.path()
        )))
    }
}
