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
        if matches && best.is_none_or(|(_, most)| literal > most) {
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
