//! The OpenAPI document is the contract: every bound, enum, pattern, length, item count and
//! required field it states is walked from `/openapi.json`, and the server must refuse the value
//! just outside (400) and accept the value just inside (no 400: a refusal for the state of
//! things, 403/404/409/422, is not a refusal of the value). Every answer met on the way has a
//! status the operation documents and, for an error, a code its schema lists.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::{new_user_body, spawn_app, TestApp, TestUser};

/// A valid request for one operation, which each case changes in one place.
#[derive(Clone)]
struct Call {
    method: Method,
    path: String,
    id: Option<i64>,
    query: Map<String, Value>,
    headers: Map<String, Value>,
    body: Option<Value>,
    token: Option<String>,
}

/// Where a constrained value lives in a request.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    Path,
    Query(String),
    Header(String),
    Body(String),
}

/// One documented rule: values that must pass it and values that must fail it (None: absent).
#[derive(Debug)]
struct Case {
    rule: String,
    place: Place,
    inside: Vec<Option<Value>>,
    outside: Vec<Option<Value>>,
}

static KEYS_SENT: AtomicUsize = AtomicUsize::new(0);

/// A header that is not under test gets a fresh key per request, so no case replays another.
fn fresh_key() -> String {
    format!("contract-{}", KEYS_SENT.fetch_add(1, Ordering::Relaxed))
}

struct World {
    app: TestApp,
    document: Value,
    banker: TestUser,
    payer: TestUser,
    payer_account: i64,
    payee_account: i64,
    /// Empty accounts of their own for the status changes (paths run in order: the close
    /// comes before the others would use it).
    closable_account: i64,
    freezable_account: i64,
    pending: [i64; 2],
    webhooks: [i64; 2],
    /// A posted transfer to the payee, which a banker refunds a unit at a time.
    posted: i64,
}

async fn world() -> World {
    let app = spawn_app().await;
    let document: Value = app
        .get("/openapi.json", None)
        .await
        .json()
        .await
        .expect("the document");
    let banker = app.create_banker().await;
    let payer = app.create_depositor().await;
    let payee = app.create_depositor().await;
    let payer_account = app.funded_account(&payer, &banker, "USD", 1_000_000).await;
    let payee_account = app.open_account(&payee, "USD").await;
    let closable_account = app.open_account(&payee, "EUR").await;
    let freezable_account = app.open_account(&payee, "CAD").await;
    let mut pending = [0; 2];
    for slot in &mut pending {
        let body = json!({"from_account_id": payer_account, "to_account_id": payee_account,
            "amount": 10, "currency": "USD", "pending": true});
        let response = app.post("/transfers", &body, Some(&payer.token)).await;
        assert_eq!(response.status().as_u16(), 201);
        let result: Value = response.json().await.expect("a transfer");
        *slot = result["transfer"]["id"].as_i64().expect("an id");
    }
    let response = app
        .transfer(&payer, payer_account, payee_account, 1_000, "USD")
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let result: Value = response.json().await.expect("a transfer");
    let posted = result["transfer"]["id"].as_i64().expect("an id");
    let mut webhooks = [0; 2];
    for slot in &mut webhooks {
        let body = json!({"url": "http://127.0.0.1:9/hook"});
        let response = app.post("/webhooks", &body, Some(&banker.token)).await;
        assert_eq!(response.status().as_u16(), 201);
        let created: Value = response.json().await.expect("a webhook");
        *slot = created["id"].as_i64().expect("a webhook id");
    }
    World {
        app,
        document,
        banker,
        payer,
        payer_account,
        payee_account,
        closable_account,
        freezable_account,
        pending,
        webhooks,
        posted,
    }
}

/// The valid request of each constrained operation; `None` for an operation without one.
fn baseline(world: &World, method: &str, path: &str) -> Option<Call> {
    let payer = Some(world.payer.token.clone());
    let banker = Some(world.banker.token.clone());
    let account = Some(world.payer_account);
    let transfer = json!({"from_account_id": world.payer_account,
        "to_account_id": world.payee_account, "amount": 1, "currency": "USD"});
    let keyed = json!({"Idempotency-Key": "fresh"});
    let as_map = |value: Value| value.as_object().cloned().unwrap_or_default();
    let (id, query, headers, body, token) = match (method, path) {
        ("get", "/accounts") => (
            None,
            json!({"page_id": 1, "page_size": 10}),
            json!({}),
            None,
            payer,
        ),
        ("post", "/accounts") => (
            None,
            json!({}),
            json!({}),
            Some(json!({"currency": "EUR"})),
            payer,
        ),
        ("get", "/accounts/{id}") => (account, json!({}), json!({}), None, payer),
        ("get", "/accounts/{id}/balance") => (
            account,
            json!({"at": "2026-01-01T00:00:00Z"}),
            json!({}),
            None,
            payer,
        ),
        ("get", "/accounts/{id}/entries") => {
            (account, json!({"limit": 20}), json!({}), None, payer)
        }
        ("get", "/accounts/{id}/transfers") => {
            (account, json!({"limit": 20}), json!({}), None, payer)
        }
        ("post", "/accounts/{id}/deposits") => (
            account,
            json!({}),
            keyed,
            Some(json!({"amount": 1})),
            banker,
        ),
        ("post", "/accounts/{id}/close") => (
            Some(world.closable_account),
            json!({}),
            json!({}),
            None,
            banker,
        ),
        ("post", "/accounts/{id}/freeze" | "/accounts/{id}/unfreeze") => (
            Some(world.freezable_account),
            json!({}),
            json!({}),
            None,
            banker,
        ),
        ("put", "/accounts/{id}/limits") => (
            Some(world.payee_account),
            json!({}),
            keyed,
            Some(json!({"overdraft": 100})),
            banker,
        ),
        ("post", "/accounts/{id}/withdrawals") => {
            (account, json!({}), keyed, Some(json!({"amount": 1})), payer)
        }
        ("post", "/transfers") => {
            let mut pending = transfer.clone();
            pending["pending"] = json!(true);
            pending["timeout_seconds"] = json!(60);
            (None, json!({}), keyed, Some(pending), payer)
        }
        ("post", "/transfers/batch") => (
            None,
            json!({}),
            keyed,
            Some(json!({"transfers": [transfer], "atomic": false})),
            payer,
        ),
        ("get", "/transfers") => (None, json!({"limit": 20}), json!({}), None, payer),
        ("get", "/transfers/{id}") => (Some(world.pending[0]), json!({}), json!({}), None, payer),
        ("post", "/webhooks") => (
            None,
            json!({}),
            json!({}),
            Some(json!({"url": "http://127.0.0.1:9/hook", "types": ["transfer.posted"]})),
            banker,
        ),
        // The delete's cases (ids just inside its rule) run first and may delete the lowest id:
        // the get reads the other one.
        ("get", "/webhooks/{id}") => (Some(world.webhooks[1]), json!({}), json!({}), None, banker),
        ("delete", "/webhooks/{id}") => {
            (Some(world.webhooks[0]), json!({}), json!({}), None, banker)
        }
        ("get", "/events") => (
            None,
            json!({"after": 0, "limit": 10, "wait": 0}),
            json!({}),
            None,
            payer,
        ),
        // The stream's answer is endless: `send` reads only its status. No Last-Event-ID here:
        // it wins over `after`, whose cases would never be read.
        ("get", "/events/stream") => (None, json!({"after": 0}), json!({}), None, payer),
        ("post", "/transfers/{id}/post") => (
            Some(world.pending[0]),
            json!({}),
            keyed,
            Some(json!({"amount": 1})),
            banker,
        ),
        ("post", "/transfers/{id}/reverse") => (
            Some(world.posted),
            json!({}),
            keyed,
            Some(json!({"amount": 1})),
            banker,
        ),
        ("post", "/transfers/{id}/void") => {
            (Some(world.pending[1]), json!({}), keyed, None, banker)
        }
        ("post", "/users") => (None, json!({}), json!({}), Some(new_user_body()), None),
        ("post", "/users/login") => (
            None,
            json!({}),
            json!({}),
            Some(json!({"username": world.payer.username, "password": world.payer.password})),
            None,
        ),
        ("post", "/tokens/renew_access") => (
            None,
            json!({}),
            json!({}),
            Some(json!({"refresh_token": world.payer.refresh_token})),
            None,
        ),
        _ => return None,
    };
    Some(Call {
        method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method"),
        path: path.to_owned(),
        id,
        query: as_map(query),
        headers: as_map(headers),
        body,
        token,
    })
}

/// The cases a schema's rules make, for a value whose valid example is `example`.
fn cases_of(schema: &Value, place: &Place, example: &Value, required: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut case = |rule: &str, inside: Vec<Option<Value>>, outside: Vec<Option<Value>>| {
        cases.push(Case {
            rule: format!("{place:?} {rule}"),
            place: place.clone(),
            inside,
            outside,
        })
    };
    if required {
        case("required", vec![Some(example.clone())], vec![None]);
    }
    if let Some(minimum) = schema["minimum"].as_i64() {
        case(
            "minimum",
            vec![Some(json!(minimum))],
            vec![Some(json!(minimum - 1))],
        );
    }
    if let Some(maximum) = schema["maximum"].as_i64() {
        case(
            "maximum",
            vec![Some(json!(maximum))],
            vec![Some(json!(maximum + 1))],
        );
    }
    if let Some(values) = schema["enum"].as_array() {
        let inside = values.iter().cloned().map(Some).collect();
        let outside = format!("{}x", values[0].as_str().expect("a string enum"));
        case("enum", inside, vec![Some(json!(outside))]);
    }
    let text = example.as_str().unwrap_or_default();
    if let Some(length) = schema["maxLength"].as_u64() {
        let (inside, outside) = (resized(text, length), resized(text, length + 1));
        case(
            "maxLength",
            vec![Some(json!(inside))],
            vec![Some(json!(outside))],
        );
    }
    if let Some(length) = schema["minLength"].as_u64() {
        let inside = vec![Some(json!(resized(text, length)))];
        let outside = match length {
            0 => vec![],
            _ => vec![Some(json!(resized(text, length - 1)))],
        };
        case("minLength", inside, outside);
    }
    if schema["pattern"].is_string() {
        let mut spaced = text.to_owned();
        spaced.insert(text.len() / 2, ' ');
        case(
            "pattern",
            vec![Some(example.clone())],
            vec![Some(json!(spaced))],
        );
    }
    if schema["format"] == "date-time" {
        let inside = vec![
            Some(json!("2026-01-01T00:00:00Z")),
            Some(json!("2026-01-01T09:00:00+09:00")),
        ];
        case("date-time", inside, vec![Some(json!("yesterday"))]);
    }
    if let Some(items) = schema["maxItems"].as_u64() {
        let item = &example[0];
        case(
            "maxItems",
            vec![Some(repeated(item, items))],
            vec![Some(repeated(item, items + 1))],
        );
    }
    if let Some(items) = schema["minItems"].as_u64() {
        let item = &example[0];
        let outside = vec![Some(repeated(item, items.saturating_sub(1)))];
        case("minItems", vec![Some(repeated(item, items))], outside);
    }
    cases
}

/// `text` cut or padded (with its last character) to `length` characters.
fn resized(text: &str, length: u64) -> String {
    let length = usize::try_from(length).expect("a length");
    let last = text.chars().last().unwrap_or('k');
    text.chars()
        .chain(std::iter::repeat(last))
        .take(length)
        .collect()
}

fn repeated(item: &Value, count: u64) -> Value {
    let count = usize::try_from(count).expect("a count");
    Value::Array(vec![item.clone(); count])
}

/// `$ref`s followed (and a `oneOf` with null taken as its non-null schema).
fn resolved<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return resolved(document, &document["components"]["schemas"][name]);
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let real = choices.iter().find(|choice| choice["type"] != "null");
        return resolved(document, real.expect("a non-null choice"));
    }
    schema
}

/// Every documented rule of one operation, against its valid request.
fn cases_of_operation(document: &Value, operation: &Value, call: &Call) -> Vec<Case> {
    let mut cases = Vec::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        let name = parameter["name"].as_str().expect("a name").to_owned();
        let (place, example) = match parameter["in"].as_str() {
            Some("path") => (Place::Path, json!(call.id)),
            Some("query") => {
                let example = call.query.get(&name).cloned();
                let example = example.unwrap_or_else(|| example_of(&parameter["schema"]));
                (Place::Query(name), example)
            }
            Some("header") => (Place::Header(name), json!("contract-key")),
            other => panic!("a parameter in {other:?}"),
        };
        let required = parameter["required"] == true && place != Place::Path;
        cases.extend(cases_of(&parameter["schema"], &place, &example, required));
    }
    let content = &operation["requestBody"]["content"]["application/json"]["schema"];
    if content.is_object() {
        let schema = resolved(document, content);
        let body = call.body.as_ref().expect("a baseline body");
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, property) in schema["properties"].as_object().expect("properties") {
            let example = body
                .get(name)
                .cloned()
                .unwrap_or_else(|| example_of(property));
            let place = Place::Body(name.clone());
            let property = resolved(document, property);
            let is_required = required.contains(name.as_str());
            cases.extend(cases_of(property, &place, &example, is_required));
        }
    }
    cases
}

/// A valid value for a rule-bound field the baseline leaves out.
fn example_of(schema: &Value) -> Value {
    if let Some(minimum) = schema["minimum"].as_i64() {
        return json!(minimum);
    }
    if let Some(values) = schema["enum"].as_array() {
        return values[0].clone();
    }
    if schema["format"] == "date-time" {
        return json!("2026-01-01T00:00:00Z");
    }
    json!("x")
}

fn changed(call: &Call, place: &Place, value: &Option<Value>) -> Call {
    let mut call = call.clone();
    let set = |map: &mut Map<String, Value>, name: &str| match value {
        Some(value) => map.insert(name.to_owned(), value.clone()),
        None => map.remove(name),
    };
    match place {
        Place::Path => call.id = value.as_ref().and_then(Value::as_i64),
        Place::Query(name) => _ = set(&mut call.query, name),
        Place::Header(name) => _ = set(&mut call.headers, name),
        Place::Body(name) => {
            let body = call.body.get_or_insert_with(|| json!({}));
            _ = set(body.as_object_mut().expect("an object body"), name);
        }
    }
    call
}

async fn send(app: &TestApp, call: &Call) -> (u16, Value) {
    let id = call.id.map(|id| id.to_string()).unwrap_or_default();
    let url = format!("{}{}", app.address, call.path.replace("{id}", &id));
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let query: Vec<String> = call
        .query
        .iter()
        .map(|(name, value)| format!("{name}={}", encoded(&text(value))))
        .collect();
    let url = format!("{url}?{}", query.join("&"));
    let mut request = app.client.request(call.method.clone(), url);
    for (name, value) in &call.headers {
        let value = match value.as_str() {
            Some("fresh") => fresh_key(),
            _ => text(value),
        };
        request = request.header(name.as_str(), value);
    }
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    if let Some(token) = &call.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the request is sent");
    let status = response.status().as_u16();
    let streaming = response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        // Never ends: dropping it closes the connection.
        return (status, Value::Null);
    }
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// `text` percent-encoded for a query string.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The answer is one the operation documents: its status, and an error's code.
fn assert_documented(document: &Value, operation: &Value, label: &str, status: u16, body: &Value) {
    let response = &operation["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{label}: status {status} is not documented ({body})"
    );
    if status < 400 {
        return;
    }
    let schema = resolved(document, &response["content"]["application/json"]["schema"]);
    let codes = &schema["properties"]["error"]["properties"]["code"]["enum"];
    let codes = codes.as_array().expect("an error body lists its codes");
    assert!(
        codes.contains(&body["error"]["code"]),
        "{label}: code {} is not documented for {status} ({codes:?})",
        body["error"]["code"]
    );
}

#[actix_web::test]
async fn the_server_enforces_exactly_the_rules_the_document_states() {
    let world = world().await;
    let document = &world.document;
    let mut checked: BTreeSet<String> = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(call) = baseline(&world, method, path) else {
                let cases = cases_of_operation(document, operation, &blank_call());
                assert!(
                    cases.is_empty(),
                    "{method} {path} has rules but no valid request here"
                );
                continue;
            };
            let (status, body) = send(&world.app, &call).await;
            let label = format!("{method} {path}");
            assert!(
                status < 300,
                "{label}: the valid request answers {status} {body}"
            );
            for case in cases_of_operation(document, operation, &call) {
                let label = format!("{label} {}", case.rule);
                for value in &case.inside {
                    let (status, body) =
                        send(&world.app, &changed(&call, &case.place, value)).await;
                    assert_ne!(status, 400, "{label}: {value:?} is inside, refused: {body}");
                    assert_documented(document, operation, &label, status, &body);
                }
                for value in &case.outside {
                    let (status, body) =
                        send(&world.app, &changed(&call, &case.place, value)).await;
                    assert_eq!(
                        status, 400,
                        "{label}: {value:?} is outside, answered {body}"
                    );
                    assert_documented(document, operation, &label, status, &body);
                }
                checked.insert(label);
            }
        }
    }
    // The walk cannot pass by finding nothing: the rules named in the issue are among those met.
    for rule in [
        "post /transfers Body(\"amount\") minimum",
        "post /transfers Body(\"currency\") enum",
        "post /transfers Body(\"timeout_seconds\") maximum",
        "post /transfers Header(\"Idempotency-Key\") maxLength",
        "post /transfers Header(\"Idempotency-Key\") pattern",
        "post /transfers/batch Body(\"transfers\") maxItems",
        "post /transfers/batch Body(\"transfers\") minItems",
        "put /accounts/{id}/limits Body(\"overdraft\") minimum",
        "put /accounts/{id}/limits Body(\"overdraft\") maximum",
        "get /accounts Query(\"page_size\") maximum",
        "get /accounts Query(\"page_size\") minimum",
        "get /accounts/{id} Path minimum",
        "get /accounts/{id}/transfers Query(\"status\") enum",
        "get /accounts/{id}/balance Query(\"at\") required",
        "post /users Body(\"username\") pattern",
        "post /users Body(\"password\") required",
    ] {
        assert!(
            checked.contains(rule),
            "{rule} was not checked; checked: {checked:#?}"
        );
    }
    world.app.assert_invariants().await;
}

fn blank_call() -> Call {
    Call {
        method: Method::GET,
        path: String::new(),
        id: Some(1),
        query: Map::new(),
        headers: Map::new(),
        body: Some(json!({})),
        token: None,
    }
}

#[actix_web::test]
async fn every_error_answer_documents_its_codes_and_retry_after() {
    let app = spawn_app().await;
    let document: Value = app
        .get("/openapi.json", None)
        .await
        .json()
        .await
        .expect("the document");
    let mut error_responses = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let replayable = operation["parameters"]
                .as_array()
                .is_some_and(|parameters| {
                    parameters.iter().any(|p| p["name"] == "Idempotency-Key")
                });
            for (status, response) in operation["responses"].as_object().expect("responses") {
                let label = format!("{method} {path} {status}");
                let status: u16 = status.parse().expect("a numeric status");
                if replayable && status < 300 {
                    assert!(
                        response["headers"]["Idempotent-Replayed"].is_object(),
                        "{label}"
                    );
                }
                if status == 429 || status == 503 {
                    assert!(response["headers"]["Retry-After"].is_object(), "{label}");
                }
                let schema = &response["content"]["application/json"]["schema"];
                if status < 400 || !schema.is_object() {
                    continue;
                }
                let body = resolved(&document, schema);
                let codes = body["properties"]["error"]["properties"]["code"]["enum"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{label}: the error body lists its codes"));
                assert!(!codes.is_empty(), "{label}");
                error_responses += 1;
            }
        }
    }
    assert!(
        error_responses > 50,
        "only {error_responses} error answers documented"
    );
    // A token-less request answers a documented 401 code.
    let response = app.get("/users/me", None).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(status, 401);
    let operation = &document["paths"]["/users/me"]["get"];
    assert_documented(&document, operation, "get /users/me", status, &body);
}
