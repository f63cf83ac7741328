use serde_json::Value;

use crate::helpers::spawn_app;

/// Every route of API.md, as (method, OpenAPI path).
const ROUTES: [(&str, &str); 18] = [
    ("post", "/users"),
    ("post", "/users/login"),
    ("post", "/tokens/renew_access"),
    ("post", "/users/logout"),
    ("get", "/users/me"),
    ("post", "/accounts"),
    ("get", "/accounts/{id}"),
    ("get", "/accounts"),
    ("get", "/accounts/{id}/entries"),
    ("post", "/accounts/{id}/deposits"),
    ("post", "/accounts/{id}/withdrawals"),
    ("post", "/transfers"),
    ("get", "/transfers/{id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
];

#[actix_web::test]
async fn the_openapi_document_is_valid_openapi_3_and_lists_every_route() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("a body");
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3 document");
    assert!(spec.openapi.starts_with("3."), "version {}", spec.openapi);

    let document: Value = serde_json::from_str(&text).expect("JSON");
    let paths = document["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        if matches!(path, "/openapi.json" | "/docs") {
            continue; // the document and its viewer are not part of themselves
        }
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    let transfer = &paths["/transfers"]["post"]["responses"];
    for status in ["201", "400", "401", "403", "404", "409", "422", "503"] {
        assert!(
            transfer.get(status).is_some(),
            "POST /transfers documents {status}"
        );
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
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
