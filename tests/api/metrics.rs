use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// The samples of a Prometheus text exposition: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("a type")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("a body");
    let parsed = samples(&text);
    (text, parsed)
}

#[actix_web::test]
async fn metrics_count_what_happened() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let banker = app.create_banker().await;
    let from = app.funded_account(&alice, &banker, "USD", 100).await;
    let to = app.open_account(&bob, "USD").await;
    assert_eq!(
        app.transfer(&alice, from, to, 40, "USD")
            .await
            .status()
            .as_u16(),
        201
    );
    assert_eq!(
        app.transfer(&alice, from, to, 1_000, "USD")
            .await
            .status()
            .as_u16(),
        422
    );
    assert_eq!(
        app.login(&alice.username, "a wrong password")
            .await
            .status()
            .as_u16(),
        401
    );

    let (_, metrics) = scrape(&app).await;
    let value = |series: &str| {
        metrics
            .get(series)
            .copied()
            .unwrap_or_else(|| panic!("no series {series}"))
    };
    assert_eq!(
        value("tally_transfers_committed_total"),
        2.0,
        "a deposit and a transfer"
    );
    assert_eq!(
        value(r#"tally_transfers_refused_total{reason="insufficient_funds"}"#),
        1.0
    );
    assert_eq!(
        value(r#"tally_transfers_refused_total{reason="currency_mismatch"}"#),
        0.0
    );
    assert_eq!(value("tally_login_failures_total"), 1.0);
    assert_eq!(value("tally_logins_rate_limited_total"), 0.0);
    assert_eq!(
        value(r#"tally_http_requests_total{method="POST",route="/transfers",status="201"}"#),
        1.0
    );
    assert_eq!(
        value(r#"tally_http_requests_total{method="POST",route="/transfers",status="422"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"tally_http_requests_total{method="POST",route="/accounts/{id}/deposits",status="201"}"#
        ),
        1.0
    );
    assert_eq!(
        value(r#"tally_http_requests_total{method="POST",route="/users/login",status="401"}"#),
        1.0
    );
    assert_eq!(
        value(r#"tally_http_request_duration_seconds_count{method="POST",route="/transfers"}"#),
        2.0
    );
    assert_eq!(value("tally_journal_batch_size_count"), 2.0);
    assert_eq!(value("tally_journal_commit_duration_seconds_count"), 2.0);
    assert!(value("tally_account_actors_active") >= 2.0);
    assert!(
        value("tally_account_activations_total") >= 3.0,
        "two customers and the reserve"
    );
    assert_eq!(value(r#"tally_build_info{version="0.1.0"}"#), 1.0);
    assert!(value("tally_db_pool_size") >= 1.0);
    assert!(
        metrics.contains_key("tally_db_pool_in_use")
            && metrics.contains_key("tally_db_pool_waiting")
    );

    // Paths with ids are counted under their template, never one series per id.
    app.get(&format!("/accounts/{from}"), Some(&alice.token))
        .await;
    app.get("/no/such/path/123", None).await;
    let (text, metrics) = scrape(&app).await;
    assert!(
        !text.contains(&format!("/accounts/{from}\"")),
        "no raw path as a label"
    );
    assert_eq!(
        metrics[r#"tally_http_requests_total{method="GET",route="/accounts/{id}",status="200"}"#],
        1.0
    );
    assert_eq!(
        metrics[r#"tally_http_requests_total{method="GET",route="unmatched",status="404"}"#],
        1.0
    );
}

#[actix_web::test]
async fn replays_and_rate_limits_are_counted() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    for _ in 0..11 {
        app.login(&alice.username, "not the password").await;
    }
    let banker = app.create_banker().await;
    let account = app.open_account(&alice, "USD").await;
    for _ in 0..2 {
        let path = format!("/accounts/{account}/deposits");
        let response = app
            .post_keyed(
                &path,
                &serde_json::json!({ "amount": 10 }),
                &banker.token,
                "fund-once",
            )
            .await;
        assert_eq!(response.status().as_u16(), 201);
    }
    let (_, metrics) = scrape(&app).await;
    assert_eq!(metrics["tally_login_failures_total"], 10.0);
    assert_eq!(metrics["tally_logins_rate_limited_total"], 1.0);
    assert_eq!(metrics["tally_idempotent_replays_total"], 1.0);
    assert_eq!(metrics["tally_transfers_committed_total"], 1.0);
}

/// Every metric the Grafana dashboard queries exists in `/metrics`, so a panel can never
/// silently show nothing because of a renamed metric.
#[actix_web::test]
async fn every_metric_in_the_dashboard_exists() {
    let app = spawn_app().await;
    let alice = app.create_depositor().await;
    let banker = app.create_banker().await;
    app.funded_account(&alice, &banker, "USD", 10).await;
    let (text, _) = scrape(&app).await;
    let exposed: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .collect();

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grafana/dashboards/tally.json"
        ))
        .expect("the dashboard file"),
    )
    .expect("the dashboard is JSON");
    let mut expressions = Vec::new();
    collect_expressions(&dashboard, &mut expressions);
    assert!(
        expressions.len() >= 10,
        "the dashboard has queries: {}",
        expressions.len()
    );
    let mut queried = BTreeSet::new();
    for expression in &expressions {
        for name in metric_names(expression) {
            queried.insert(name);
        }
    }
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| exposed.contains(base))
                .unwrap_or(name);
            !exposed.contains(family)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics /metrics lacks: {missing:?}"
    );
}

fn collect_expressions(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("expr", Value::String(expression)) => into.push(expression.clone()),
                    _ => collect_expressions(value, into),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_expressions(item, into)),
        _ => {}
    }
}

/// `tally_*` identifiers in a PromQL expression.
fn metric_names(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expression;
    while let Some(start) = rest.find("tally_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[actix_web::test]
async fn metrics_can_be_served_on_a_separate_address_only() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.http.metrics_addr = Some("127.0.0.1:0".parse().expect("an address"));
    })
    .await;
    let metrics_port = app.metrics_port.expect("a metrics port");
    crate::helpers::assert_error(app.get("/metrics", None).await, 404, "not_found").await;
    let response = app
        .client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .expect("a scrape");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response
        .text()
        .await
        .expect("a body")
        .contains("tally_build_info"));
}

/// Issue 15, defect 3: made-up methods and unmatched paths must not grow the label sets.
#[actix_web::test]
async fn invented_methods_and_paths_add_no_label_values() {
    let app = spawn_app().await;
    // Warm up the fixed label values once, so the baseline already has them.
    let warm_up = reqwest::Method::from_bytes(b"WARMUP").expect("a method");
    app.request(warm_up, "/nowhere/warm", None, None).await;
    app.get("/nowhere/warm", None).await;
    scrape(&app).await; // a scrape is counted after it answers: the baseline includes one
    let (before, _) = scrape(&app).await;
    let series_before = before.lines().filter(|line| !line.starts_with('#')).count();
    for index in 0..40 {
        let method =
            reqwest::Method::from_bytes(format!("INVENTED{index}").as_bytes()).expect("a method");
        app.request(method, &format!("/nowhere/{index}"), None, None)
            .await;
        app.get(&format!("/made-up-{index}"), None).await;
    }
    let (after, _) = scrape(&app).await;
    let series_after = after.lines().filter(|line| !line.starts_with('#')).count();
    assert_eq!(series_after, series_before, "new series:\n{after}");
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(!after.contains("INVENTED"), "{after}");
    assert!(!after.contains("made-up"), "{after}");
}
