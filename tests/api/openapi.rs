use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// Routes the app serves outside `routes::configure`: `/metrics` (added in startup, on the API
/// port unless a separate metrics address is set). The document and its viewer (`/openapi.json`,
/// `/docs`) are not part of themselves.
const OPERATIONS_ROUTES: [(&str, &str); 1] = [("get", "/metrics")];

/// (method, path) of every operation in the app's `/openapi.json`, method in lower case.
async fn documented(app: &TestApp) -> BTreeSet<(String, String)> {
    let document: Value = app
        .get("/openapi.json", None)
        .await
        .json()
        .await
        .expect("the OpenAPI document");
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .map(move |method| (method.to_lowercase(), path.clone()))
        })
        .collect()
}

/// (method, path) of every route the app registers, from the table `routes::configure` registers
/// through (not a list kept by hand).
fn routed() -> BTreeSet<(String, String)> {
    tally::routes::table()
        .into_iter()
        .map(|(method, path)| (method.as_str().to_lowercase(), path.to_owned()))
        .chain(
            OPERATIONS_ROUTES
                .iter()
                .map(|(method, path)| ((*method).to_owned(), (*path).to_owned())),
        )
        .collect()
}

#[actix_web::test]
async fn the_openapi_document_is_valid_openapi_3() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("a body");
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3 document");
    assert!(spec.openapi.starts_with("3."), "version {}", spec.openapi);

    let document: Value = serde_json::from_str(&text).expect("JSON");
    let transfer = &document["paths"]["/transfers"]["post"]["responses"];
    for status in ["201", "400", "401", "403", "404", "409", "422", "503"] {
        assert!(
            transfer.get(status).is_some(),
            "POST /transfers documents {status}"
        );
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}

#[actix_web::test]
async fn the_openapi_document_and_the_app_have_the_same_routes() {
    let app = spawn_app().await;
    let documented = documented(&app).await;
    let routed = routed();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routed but missing from /openapi.json (add the handler to openapi.rs): {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "in /openapi.json but not routed by the app: {unrouted:?}"
    );
}

/// The table is what the live app routes: each entry reaches a handler (without a token or a
/// body it is refused, but not with the fallback's "no route" 404 nor a 405).
#[actix_web::test]
async fn every_route_in_the_table_reaches_a_handler() {
    let app = spawn_app().await;
    let fallback = app.get("/no/such/route", None).await;
    assert_eq!(fallback.status().as_u16(), 404);
    let body = fallback.text().await.expect("a body");
    assert!(
        body.contains("no route for"),
        "the fallback says so: {body}"
    );

    for (method, path) in routed() {
        let concrete = path.replace("{id}", "1");
        let method =
            reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let response = app.request(method.clone(), &concrete, None, None).await;
        let status = response.status().as_u16();
        let body = response.text().await.expect("a body");
        assert!(
            status != 405 && !body.contains("no route for"),
            "{method} {path} is not routed by the app: {status} {body}"
        );
    }
}

#[actix_web::test]
async fn every_documented_route_is_in_docs_api_md() {
    let app = spawn_app().await;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let reference = described(&text);
    let missing: Vec<String> = documented(&app)
        .await
        .into_iter()
        .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
        .filter(|route| !reference.contains(&format!("`{route}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/api.md does not describe (as `METHOD /path`, outside a placeholder): {missing:?}"
    );
}

/// docs/api.md without its placeholder sections (those still marked `<!-- filled when built
/// -->`): a route named only in a placeholder is not described yet.
fn described(text: &str) -> String {
    let mut sections: Vec<String> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if (line.starts_with('#') && !in_code) || sections.is_empty() {
            sections.push(String::new());
        }
        let section = sections.last_mut().expect("a section");
        section.push_str(line);
        section.push('\n');
    }
    sections
        .into_iter()
        .filter(|section| !section.contains("<!-- filled when built -->"))
        .collect()
}

#[test]
fn placeholder_sections_do_not_count_as_described() {
    let text = "# API\n### `GET /a`\nserved\n### `GET /b` (new)\n\n<!-- filled when built -->\n";
    let reference = described(text);
    assert!(reference.contains("`GET /a`"));
    assert!(!reference.contains("`GET /b`"));
}

#[actix_web::test]
async fn the_docs_render_from_assets_served_by_the_app_itself() {
    let app = spawn_app().await;
    let redirect = app.get("/docs", None).await;
    assert_eq!(redirect.status().as_u16(), 308);
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("a page");
    assert!(html.contains("swagger-ui"), "the Swagger UI page");
    assert!(!html.contains("https://"), "no asset from a CDN");
    let script = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(script.status().as_u16(), 200, "the bundle is vendored");
    let initializer = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .expect("the initializer");
    assert!(
        initializer.contains("/openapi.json"),
        "the UI renders our document"
    );
}

/// api.md: a field sent as `null` is one left out, so wherever the document types a property as
/// nullable, its constraints must let `null` through (an untyped `not` once refused it, and
/// schemathesis found the server accepting what its own document called invalid).
#[test]
fn every_property_typed_nullable_accepts_null() {
    let document = tally::openapi::document();
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let mut checked = 0;
    for (name, schema) in schemas {
        let Some(properties) = schema["properties"].as_object() else {
            continue;
        };
        for (field, property) in properties.iter().filter(|(_, p)| typed_nullable(p)) {
            let validator = jsonschema::validator_for(property).expect("a valid schema");
            assert!(
                validator.is_valid(&Value::Null),
                "{name}.{field} is typed nullable but refuses null: {property}"
            );
            checked += 1;
        }
    }
    // The optional fields of a transfer and of a refund, at least.
    assert!(checked >= 8, "only {checked} nullable properties found");
}

fn typed_nullable(property: &Value) -> bool {
    property["type"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == "null"))
}
