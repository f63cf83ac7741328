//! The `Idempotency-Key` header and the `Idempotent-Replayed` answer, shared by every route that
//! moves money.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use tally_actors::IdempotencyKey as EngineKey;
use tally_actors::{AccountId, TransferId};

use crate::auth::AuthenticatedUser;
use crate::domain::IdempotencyKey;
use crate::error::ApiError;
use crate::routes::accounts::AmountRequest;
use crate::routes::limits::LimitsRequest;
use crate::routes::pending::PostRequest;
use crate::routes::reversal::ReverseRequest;
use crate::routes::transfers::CreateTransferRequest;

pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// What a keyed request asked, as parsed: its route, its path id and its whole body. Its JSON
/// form is the key's fingerprint (`domain::fingerprint`), so the same key with
/// another request is a conflict, and a field added to a body is compared on replay without
/// anyone having to remember it.
#[derive(Serialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Asked<'a> {
    Transfer {
        body: &'a CreateTransferRequest,
    },
    Batch {
        transfers: &'a [CreateTransferRequest],
        atomic: Option<bool>,
    },
    Post {
        transfer_id: TransferId,
        body: &'a PostRequest,
    },
    Void {
        transfer_id: TransferId,
    },
    Reverse {
        transfer_id: i64,
        body: &'a ReverseRequest,
    },
    Deposit {
        account_id: AccountId,
        body: &'a AmountRequest,
    },
    Withdrawal {
        account_id: AccountId,
        body: &'a AmountRequest,
    },
    Limits {
        account_id: AccountId,
        body: &'a LimitsRequest,
    },
}

impl Asked<'_> {
    /// The kind of request, stored with the key's outcome.
    fn operation(&self) -> &'static str {
        match self {
            Asked::Transfer { .. } => "transfer",
            Asked::Batch { .. } => "batch",
            Asked::Post { .. } => "post",
            Asked::Void { .. } => "void",
            Asked::Reverse { .. } => "reverse",
            Asked::Deposit { .. } => "deposit",
            Asked::Withdrawal { .. } => "withdrawal",
            Asked::Limits { .. } => "limits",
        }
    }
}

/// The caller's key for this request, if it sent one, with the fingerprint of what it `asked`.
pub fn idempotency_key(
    request: &HttpRequest,
    user: &AuthenticatedUser,
    asked: &Asked<'_>,
) -> Result<Option<EngineKey>, ApiError> {
    let mut headers = request.headers().get_all(IdempotencyKey::HEADER);
    let Some(header) = headers.next() else {
        return Ok(None);
    };
    // Two keys would leave it to chance which one protects the request.
    if headers.next().is_some() {
        return Err(ApiError::Validation(
            "send one Idempotency-Key header, not several".to_owned(),
        ));
    }
    Ok(Some(IdempotencyKey::parse(
        header.as_bytes(),
        &user.username,
        asked.operation(),
        asked,
    )?))
}

/// 201 with `body`; a replay says so in a header and carries the first answer.
pub fn respond_created(replayed: bool, body: &impl Serialize) -> HttpResponse {
    respond(HttpResponse::Created(), replayed, body)
}

/// `status` with `body`; a replay says so in a header and carries the first answer.
pub fn respond(
    mut status: actix_web::HttpResponseBuilder,
    replayed: bool,
    body: &impl Serialize,
) -> HttpResponse {
    if replayed {
        status.insert_header((REPLAYED_HEADER, "true"));
    }
    // Written once into a buffer of its usual size (HttpResponseBuilder::json grows a String
    // from empty, copying it about ten times for a transfer's answer).
    let mut bytes = Vec::with_capacity(ANSWER_BYTES_INITIAL);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => status
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(bytes),
        Err(error) => HttpResponse::from_error(error),
    }
}

/// The first capacity of an answer's buffer: a transfer's answer is about 1 kB.
const ANSWER_BYTES_INITIAL: usize = 1024;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::fingerprint;

    fn transfer(body: serde_json::Value) -> CreateTransferRequest {
        serde_json::from_value(body).expect("a transfer body")
    }

    /// Keys stored by one build are compared by the next: an unchanged request must keep its
    /// fingerprint (reordering or renaming a body field changes it; see docs/operations.md).
    #[test]
    fn an_unchanged_request_keeps_its_fingerprint_across_builds() {
        let body = transfer(json!({"currency": "USD", "amount": 1250,
                                   "from_account_id": 1, "to_account_id": 2}));
        let asked = Asked::Transfer { body: &body };
        assert_eq!(
            serde_json::to_string(&asked).expect("JSON"),
            r#"{"operation":"transfer","body":{"from_account_id":1,"to_account_id":2,"amount":1250,"currency":"USD","pending":null,"timeout_seconds":null}}"#
        );
        assert_eq!(
            hex::encode(fingerprint(&asked)),
            "dbeedf0fb0253809920b837b3390d1a826aee919bb2cd2b3388636eea5038541"
        );
    }

    #[test]
    fn the_same_body_on_another_route_or_path_has_another_fingerprint() {
        let amount: AmountRequest = serde_json::from_value(json!({"amount": 5})).expect("a body");
        let fingerprints = [
            Asked::Deposit {
                account_id: AccountId::new(1),
                body: &amount,
            },
            Asked::Withdrawal {
                account_id: AccountId::new(1),
                body: &amount,
            },
            Asked::Deposit {
                account_id: AccountId::new(2),
                body: &amount,
            },
            Asked::Void {
                transfer_id: TransferId::new(1),
            },
            Asked::Void {
                transfer_id: TransferId::new(2),
            },
        ]
        .map(|asked| fingerprint(&asked));
        for (index, one) in fingerprints.iter().enumerate() {
            assert!(!fingerprints[index + 1..].contains(one), "{index} collides");
        }
    }
}
