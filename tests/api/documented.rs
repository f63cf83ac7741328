//! Every error answer a test meets through `helpers::assert_error` is checked against
//! `/openapi.json`: the route documents its status, and that status's body lists its code. So the
//! whole suite, not only the contract walk, keeps the document honest about what routes answer.

use std::sync::OnceLock;

use serde_json::Value;

fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(tally::openapi::document)
}

/// The document's path template that `path` is an instance of, literal segments before `{id}`
/// (`/transfers/batch` is not `/transfers/{id}`); `None` for a path no route serves.
pub fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let paths = document()["paths"].as_object().expect("paths");
    let mut best: Option<(&'static str, usize)> = None;
    for template in paths.keys() {
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let matches = parts
            .iter()
            .zip(&segments)
            .all(|(part, segment)| part.starts_with('{') || part == segment);
        let literal = parts.iter().filter(|part| !part.starts_with('{')).count();
        if matches && best.map_or(true, |(_, most)| literal > most) {
            best = Some((template.as_str(), literal));
        }
    }
    best.map(|(template, _)| template)
}

/// The codes `template` documents for `status`, over its methods (the answer does not say which
/// method asked); `None` when no method documents the status.
pub fn documented_codes(template: &str, status: u16) -> Option<Vec<Value>> {
    let item = document()["paths"][template].as_object().expect("a path");
    let mut codes: Option<Vec<Value>> = None;
    for operation in item.values() {
        let response = &operation["responses"][status.to_string()];
        if !response.is_object() {
            continue;
        }
        let schema = resolved(&response["content"]["application/json"]["schema"]);
        let listed = schema["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        codes.get_or_insert_with(Vec::new).extend(listed);
    }
    codes
}

fn resolved(schema: &Value) -> &Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &document()["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Panics unless the route at `path` documents `status` with `body`'s code.
pub fn assert_error_documented(path: &str, status: u16, body: &Value) {
    let Some(template) = template_of(path) else {
        return;
    };
    let code = &body["error"]["code"];
    let codes = documented_codes(template, status).unwrap_or_else(|| {
        panic!(
            "{template} answered {status} {body}, a status /openapi.json does not document for it"
        )
    });
    assert!(
        codes.contains(code),
        "{template} answered {status} with code {code}, which /openapi.json does not list ({codes:?})"
    );
}

#[test]
fn paths_find_their_route_literal_segments_first() {
    assert_eq!(template_of("/transfers/batch"), Some("/transfers/batch"));
    assert_eq!(template_of("/transfers/42"), Some("/transfers/{id}"));
    assert_eq!(
        template_of("/accounts/7/entries"),
        Some("/accounts/{id}/entries")
    );
    assert_eq!(template_of("/no/such/route"), None);
    assert!(documented_codes("/transfers", 409).is_some_and(|codes| !codes.is_empty()));
    assert_eq!(documented_codes("/healthz", 409), None);
}

/// What each route's handler can answer besides the answers every route of its kind can give
/// (written in by `openapi::constraints`: 429, 503, 500, 401, 400, 408, 413), read from the
/// handlers and the engine's refusals they map. The document must declare each: its status on the
/// route, and the code in that status's body.
const ROUTE_CODES: [(&str, &str, &[&str]); 31] = [
    ("get", "/readyz", &["unavailable"]),
    (
        "post",
        "/users",
        &[
            "validation_failed",
            "invalid_json",
            "conflict",
            "rate_limited",
        ],
    ),
    (
        "post",
        "/users/login",
        &["validation_failed", "invalid_credentials", "rate_limited"],
    ),
    (
        "post",
        "/users/logout",
        &["unauthenticated", "token_expired"],
    ),
    ("get", "/users/me", &["unauthenticated", "token_expired"]),
    (
        "post",
        "/tokens/renew_access",
        &["validation_failed", "unauthenticated", "token_expired"],
    ),
    ("post", "/accounts", &["validation_failed", "conflict"]),
    ("get", "/accounts", &["validation_failed"]),
    ("get", "/accounts/{id}", &["forbidden", "not_found"]),
    (
        "get",
        "/accounts/{id}/entries",
        &["validation_failed", "forbidden", "not_found"],
    ),
    (
        "get",
        "/accounts/{id}/balance",
        &["validation_failed", "forbidden", "not_found"],
    ),
    (
        "get",
        "/accounts/{id}/transfers",
        &["validation_failed", "forbidden", "not_found"],
    ),
    (
        "post",
        "/accounts/{id}/deposits",
        &[
            "forbidden",
            "not_found",
            "idempotency_key_reused",
            "account_closed",
            "balance_overflow",
        ],
    ),
    (
        "post",
        "/accounts/{id}/withdrawals",
        &[
            "forbidden",
            "not_found",
            "idempotency_key_reused",
            "account_frozen",
            "account_closed",
            "insufficient_funds",
        ],
    ),
    (
        "post",
        "/accounts/{id}/freeze",
        &["forbidden", "not_found", "account_closed"],
    ),
    (
        "post",
        "/accounts/{id}/unfreeze",
        &["forbidden", "not_found", "account_closed"],
    ),
    (
        "post",
        "/accounts/{id}/close",
        &["forbidden", "not_found", "account_not_empty"],
    ),
    (
        "post",
        "/transfers",
        &[
            "same_account",
            "forbidden",
            "not_found",
            "idempotency_key_reused",
            "too_many_holds",
            "duplicate_reference",
            "account_frozen",
            "account_closed",
            "insufficient_funds",
            "currency_mismatch",
        ],
    ),
    (
        "post",
        "/transfers/batch",
        &[
            "same_account",
            "forbidden",
            "not_found",
            "idempotency_key_reused",
            "too_many_holds",
            "duplicate_reference",
            "account_frozen",
            "account_closed",
            "insufficient_funds",
            "currency_mismatch",
        ],
    ),
    ("get", "/transfers", &["validation_failed"]),
    ("get", "/transfers/{id}", &["not_found"]),
    (
        "post",
        "/transfers/{id}/post",
        &[
            "validation_failed",
            "forbidden",
            "not_found",
            "transfer_not_pending",
            "idempotency_key_reused",
        ],
    ),
    (
        "post",
        "/transfers/{id}/void",
        &[
            "forbidden",
            "not_found",
            "transfer_not_pending",
            "idempotency_key_reused",
        ],
    ),
    (
        "post",
        "/transfers/{id}/reverse",
        &[
            "validation_failed",
            "forbidden",
            "not_found",
            "transfer_not_posted",
            "reversal_exceeds_original",
            "idempotency_key_reused",
            "insufficient_funds",
            "account_frozen",
            "account_closed",
        ],
    ),
    ("get", "/events", &["validation_failed"]),
    ("get", "/events/stream", &["validation_failed"]),
    (
        "post",
        "/webhooks",
        &["validation_failed", "forbidden", "conflict"],
    ),
    ("get", "/webhooks", &["forbidden"]),
    ("get", "/webhooks/{id}", &["forbidden", "not_found"]),
    ("delete", "/webhooks/{id}", &["forbidden", "not_found"]),
    ("get", "/metrics", &["not_found"]),
];

#[test]
fn the_document_declares_every_code_each_handler_can_answer() {
    let status_of = |code: &str| {
        tally::error::ErrorCode::ALL
            .into_iter()
            .find(|known| known.as_str() == code)
            .unwrap_or_else(|| panic!("{code} is an ErrorCode"))
            .status()
            .as_u16()
    };
    let mut gaps = Vec::new();
    for (method, path, codes) in ROUTE_CODES {
        let operation = &document()["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is in the document");
        for code in codes.iter() {
            let status = status_of(code);
            let response = &operation["responses"][status.to_string()];
            let schema = resolved(&response["content"]["application/json"]["schema"]);
            let listed = &schema["properties"]["error"]["properties"]["code"]["enum"];
            if !listed
                .as_array()
                .is_some_and(|listed| listed.contains(&Value::from(*code)))
            {
                gaps.push(format!("{method} {path} {status} {code}"));
            }
        }
    }
    assert!(gaps.is_empty(), "answered but not documented: {gaps:#?}");
}

/// A route's answer the document left out (found by the table above): a deposit past the
/// currency's supply bound answers 422 `balance_overflow`, and nothing moves.
#[actix_web::test]
async fn a_deposit_past_the_supply_bound_answers_the_documented_422() {
    let app = crate::helpers::spawn_app().await;
    let banker = app.create_banker().await;
    let owner = app.create_depositor().await;
    let account = app.funded_account(&owner, &banker, "USD", i64::MAX).await;
    let response = app.deposit(&banker, account, 1).await;
    crate::helpers::assert_error(response, 422, "balance_overflow").await;
    assert_eq!(app.balance(account).await, i64::MAX, "nothing moved");
    app.assert_invariants().await;
}
