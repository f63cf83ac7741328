//! The rules the server enforces, written into the generated document from the same constants
//! the parsers use (`domain::*`, the engine's limits), so the document cannot drift from them:
//! bounds, enums, patterns, lengths, item counts, the error codes each status may carry and the
//! headers answers carry.

use actix_web::http::StatusCode;
use serde_json::{json, Map, Value};
use tally_actors::config::{BATCH_ITEMS_MAX, OVERDRAFT_MAX};
use tally_actors::{AccountStatus, Currency, TransferStatus};

use crate::domain::{
    Description, IdempotencyKey, Metadata, Page, Password, PendingTimeout, Reference, StatementPage,
};
use crate::error::{ErrorCode, RETRY_AFTER_SECONDS};
use crate::routes::events::{EVENTS_LIMIT_MAX, EVENTS_WAIT_SECONDS_MAX};
use crate::routes::idempotency::REPLAYED_HEADER;

/// Every error status a response of the document may be; each gets its own error body schema.
const ERROR_STATUSES: [StatusCode; 11] = [
    StatusCode::BAD_REQUEST,
    StatusCode::UNAUTHORIZED,
    StatusCode::FORBIDDEN,
    StatusCode::NOT_FOUND,
    StatusCode::REQUEST_TIMEOUT,
    StatusCode::CONFLICT,
    StatusCode::PAYLOAD_TOO_LARGE,
    StatusCode::UNPROCESSABLE_ENTITY,
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::SERVICE_UNAVAILABLE,
];

/// `Idempotency-Key`: visible ASCII (0x21–0x7E), 1 to `LENGTH_MAX` of them.
pub fn idempotency_key_pattern() -> String {
    format!("^[!-~]{{1,{}}}$", IdempotencyKey::LENGTH_MAX)
}

fn currencies() -> Value {
    Currency::ALL.iter().map(|c| c.as_str()).collect()
}

fn account_statuses() -> Value {
    AccountStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn statuses() -> Value {
    TransferStatus::ALL.iter().map(|s| s.as_str()).collect()
}

/// Writes every rule into `document` (the JSON form of `ApiDoc::openapi()`).
pub fn apply(document: &mut Value) {
    constrain_schemas(&mut document["components"]["schemas"]);
    add_error_bodies(&mut document["components"]["schemas"]);
    add_batch_dry_run(&mut document["paths"]);
    let paths = document["paths"]
        .as_object_mut()
        .expect("the document has paths");
    for (path, item) in paths.iter_mut() {
        for operation in item.as_object_mut().expect("a path item").values_mut() {
            constrain_parameters(path, operation);
            add_implied_responses(path, operation);
            constrain_responses(operation);
        }
    }
}

/// The request and answer bodies' fields.
fn constrain_schemas(schemas: &mut Value) {
    let id = json!({"minimum": 1});
    let amount = json!({"minimum": 1});
    let currency = json!({"enum": currencies()});
    let description = json!({"maxLength": Description::LENGTH_MAX, "not": no_nul()});
    let rules: [(&str, &str, Value); 27] = [
        ("CreateTransferRequest", "from_account_id", id.clone()),
        ("CreateTransferRequest", "to_account_id", id.clone()),
        ("CreateTransferRequest", "amount", amount.clone()),
        ("CreateTransferRequest", "currency", currency.clone()),
        (
            "CreateTransferRequest",
            "timeout_seconds",
            json!({"minimum": 1, "maximum": PendingTimeout::SECONDS_MAX}),
        ),
        // Bytes on the server, characters here: 8 characters are at least 8 bytes. (The upper
        // bound cannot be stated exactly: 72 characters may be more than 72 bytes.)
        (
            "CreateUserRequest",
            "password",
            json!({"minLength": Password::BYTES_MIN}),
        ),
        ("CreateTransferRequest", "description", description.clone()),
        ("ReverseRequest", "description", description),
        ("ReverseRequest", "amount", amount.clone()),
        (
            "CreateTransferRequest",
            "reference",
            json!({
                "minLength": 1,
                "maxLength": Reference::LENGTH_MAX,
                "pattern": format!("^[!-~]{{1,{}}}$", Reference::LENGTH_MAX),
            }),
        ),
        ("CreateTransferRequest", "metadata", metadata_rule()),
        ("AmountRequest", "amount", amount.clone()),
        (
            "LimitsRequest",
            "overdraft",
            json!({"minimum": 0, "maximum": OVERDRAFT_MAX}),
        ),
        (
            "AccountView",
            "overdraft",
            json!({"minimum": 0, "maximum": OVERDRAFT_MAX}),
        ),
        ("PostRequest", "amount", amount.clone()),
        ("CreateAccountRequest", "currency", currency.clone()),
        (
            "BatchRequest",
            "transfers",
            json!({"minItems": 1, "maxItems": BATCH_ITEMS_MAX}),
        ),
        ("AccountView", "currency", currency.clone()),
        ("AccountView", "status", json!({"enum": account_statuses()})),
        ("TransferView", "currency", currency.clone()),
        ("DryRunTransferView", "currency", currency.clone()),
        (
            "DryRunTransferView",
            "status",
            json!({"enum": ["posted", "pending"]}),
        ),
        ("TransferView", "status", json!({"enum": statuses()})),
        ("TransferView", "amount", amount),
        ("BalanceAtView", "currency", currency),
        ("ErrorDetail", "code", json!({"enum": all_codes()})),
        ("ErrorDetail", "index", json!({"type": "integer"})),
    ];
    for (schema, property, rule) in rules {
        let target = &mut schemas[schema]["properties"][property];
        assert!(target.is_object(), "{schema}.{property} is in the document");
        merge(target, rule);
    }
    // `timeout_seconds` only with `pending: true` (`PendingTimeout::parse`): a generator that
    // sends it on a plain transfer makes a request the server refuses.
    let transfer = &mut schemas["CreateTransferRequest"];
    transfer["if"] = json!({
        "required": ["timeout_seconds"],
        "properties": {"timeout_seconds": {"type": "integer"}},
    });
    transfer["then"] = json!({
        "required": ["pending"],
        "properties": {"pending": {"const": true}},
    });
}

/// The batch's 200 is two bodies: a batch's results, or with `dry_run=true` a dry run's.
fn add_batch_dry_run(paths: &mut Value) {
    let schema = paths
        .pointer_mut("/~1transfers~1batch/post/responses/200/content/application~1json/schema")
        .expect("the batch answers 200");
    *schema = json!({"anyOf": [
        {"$ref": "#/components/schemas/BatchResult"},
        {"$ref": "#/components/schemas/DryRunBatchResult"},
    ]});
}

/// A JSON object of string values, its keys and sizes bounded.
fn metadata_rule() -> Value {
    json!({
        "maxProperties": Metadata::KEYS_MAX,
        "propertyNames": {"type": "string", "pattern": Metadata::key_pattern()},
        "additionalProperties": {
            "type": "string",
            "maxLength": Metadata::VALUE_LENGTH_MAX,
            "not": no_nul(),
        },
    })
}

/// Free text that PostgreSQL stores holds no U+0000 (`domain::details`). Typed, because an
/// untyped `pattern` holds for `null` too, and its `not` would then refuse the `null` that an
/// optional field may be sent as (api.md: a field sent as `null` is one left out).
fn no_nul() -> Value {
    json!({"type": "string", "pattern": "\\u0000"})
}

fn all_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|code| code.as_str()).collect()
}

/// `ErrorBody400`, `ErrorBody401`, ...: the error body whose `code` is one of that status's.
fn add_error_bodies(schemas: &mut Value) {
    let schemas = schemas.as_object_mut().expect("component schemas");
    for status in ERROR_STATUSES {
        let codes = ErrorCode::of_status(status);
        assert!(!codes.is_empty(), "status {status} has a code");
        let mut detail = schemas["ErrorDetail"].clone();
        detail["properties"]["code"]["enum"] = json!(codes);
        let body = json!({
            "type": "object",
            "description": format!("The error answered with {}: `error.code` is one of its codes.", status.as_u16()),
            "required": ["error"],
            "properties": {"error": detail},
        });
        schemas.insert(error_body_name(status), body);
    }
}

fn error_body_name(status: StatusCode) -> String {
    format!("ErrorBody{}", status.as_u16())
}

/// Path ids, paging, filters and the `Idempotency-Key` header.
fn constrain_parameters(path: &str, operation: &mut Value) {
    let limit_max = match path {
        "/events" => EVENTS_LIMIT_MAX,
        _ => StatementPage::LIMIT_MAX,
    };
    // `get_mut`, not indexing: indexing a missing key would write `"parameters": null`.
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        let name = parameter["name"]
            .as_str()
            .expect("a parameter name")
            .to_owned();
        // A query, path or header parameter is a string on the wire: never JSON null.
        let schema = &mut parameter["schema"];
        if let Some(types) = schema["type"].as_array() {
            let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            schema["type"] = kept.into_iter().next().expect("a non-null type");
        }
        let rule = match name.as_str() {
            "id" | "before_id" | "account_id" => json!({"minimum": 1}),
            "reference" => json!({
                "minLength": 1,
                "maxLength": Reference::LENGTH_MAX,
                "pattern": format!("^[!-~]{{1,{}}}$", Reference::LENGTH_MAX),
            }),
            "page_id" => json!({"minimum": 1, "maximum": Page::ID_MAX}),
            "page_size" => json!({"minimum": 1, "maximum": Page::SIZE_MAX}),
            "limit" => json!({"minimum": 1, "maximum": limit_max}),
            // The stream's resume point too, in the header or the query.
            "after" | "Last-Event-ID" => json!({"minimum": 0}),
            "wait" => json!({"minimum": 0, "maximum": EVENTS_WAIT_SECONDS_MAX}),
            "status" => json!({"enum": statuses()}),
            "since" | "until" | "at" => json!({"format": "date-time"}),
            "Idempotency-Key" => json!({
                "minLength": 1,
                "maxLength": IdempotencyKey::LENGTH_MAX,
                "pattern": idempotency_key_pattern(),
            }),
            _ => json!({}),
        };
        merge(schema, rule);
        if name == "at" {
            parameter["required"] = json!(true);
        }
    }
}

/// The answers an operation can give whatever its handler does, from what it has: any request may
/// meet the connection limit; a route that reads PostgreSQL may find it away (or a row that does
/// not decode); a bearer may be missing or expired; a parameter or a body may be malformed, and a
/// body too large or too slow. Written in here so that no route's annotation can leave one out
/// (tests/api/documented.rs checks every error the suite meets against the document).
fn add_implied_responses(path: &str, operation: &mut Value) {
    let mut implied: Vec<(StatusCode, &str)> = vec![(
        StatusCode::TOO_MANY_REQUESTS,
        "`rate_limited`: too many open connections from this address (`http.connections_per_address_max`)",
    )];
    // `/healthz` and `/metrics` answer from memory.
    if !matches!(path, "/healthz" | "/metrics") {
        implied.push((
            StatusCode::SERVICE_UNAVAILABLE,
            "`unavailable`: PostgreSQL unreachable or the engine saturated; see Retry-After",
        ));
        implied.push((
            StatusCode::INTERNAL_SERVER_ERROR,
            "`internal`: a stored row that does not decode, a fault of the server's, never of the input",
        ));
    }
    let secured = operation["security"]
        .as_array()
        .is_some_and(|schemes| !schemes.is_empty());
    if secured {
        implied.push((
            StatusCode::UNAUTHORIZED,
            "`unauthenticated` or `token_expired`: no valid access token",
        ));
    }
    let parameters = operation["parameters"]
        .as_array()
        .is_some_and(|parameters| !parameters.is_empty());
    let body = operation.get("requestBody").is_some();
    if parameters || body {
        implied.push((
            StatusCode::BAD_REQUEST,
            "`validation_failed` (a parameter or field out of its rules), `invalid_json`",
        ));
    }
    if body {
        implied.push((
            StatusCode::REQUEST_TIMEOUT,
            "`request_timeout`: the body did not arrive whole within `http.body_read_timeout`",
        ));
        implied.push((
            StatusCode::PAYLOAD_TOO_LARGE,
            "`payload_too_large`: the body is over its limit",
        ));
    }
    let responses = operation["responses"]
        .as_object_mut()
        .expect("an operation has responses");
    for (status, description) in implied {
        responses
            .entry(status.as_str())
            .or_insert_with(|| error_response(description));
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    })
}

/// Error answers refer to their status's body; 429 and 503 carry `Retry-After`; a replayable
/// operation's success carries `Idempotent-Replayed`.
fn constrain_responses(operation: &mut Value) {
    let replayable = operation["parameters"]
        .as_array()
        .is_some_and(|parameters| {
            parameters
                .iter()
                .any(|parameter| parameter["name"] == IdempotencyKey::HEADER)
        });
    let responses = operation["responses"]
        .as_object_mut()
        .expect("an operation has responses");
    for (status, response) in responses.iter_mut() {
        let status = StatusCode::from_bytes(status.as_bytes()).expect("a numeric status");
        if ERROR_STATUSES.contains(&status) {
            let schema = response
                .pointer_mut("/content/application~1json/schema")
                .filter(|schema| schema.is_object());
            if let Some(schema) = schema {
                *schema =
                    json!({"$ref": format!("#/components/schemas/{}", error_body_name(status))});
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            add_header(response, "Retry-After", retry_after());
        }
        if replayable && status.is_success() {
            add_header(response, REPLAYED_HEADER, replayed());
        }
    }
}

fn retry_after() -> Value {
    json!({
        "description": format!("Seconds to wait before retrying (at least {RETRY_AFTER_SECONDS})."),
        "required": true,
        "schema": {"type": "integer", "minimum": RETRY_AFTER_SECONDS},
    })
}

fn replayed() -> Value {
    json!({
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key; absent otherwise.",
        "required": false,
        "schema": {"type": "string", "enum": ["true"]},
    })
}

fn add_header(response: &mut Value, name: &str, header: Value) {
    let headers = response
        .as_object_mut()
        .expect("a response")
        .entry("headers")
        .or_insert_with(|| Value::Object(Map::new()));
    headers[name] = header;
}

/// `rule`'s keys written over `target`'s.
fn merge(target: &mut Value, rule: Value) {
    let target = target.as_object_mut().expect("a schema object");
    for (key, value) in rule.as_object().expect("a rule object") {
        target.insert(key.clone(), value.clone());
    }
}
