//! Issue 15, defect 7: the smaller findings of the security review.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tally::configuration::Settings;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

fn environment(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn production_with_key(key: &str) -> Result<Settings, String> {
    Settings::load_with(
        None,
        &environment(&[("TALLY_ENV", "production"), ("TALLY_TOKEN__KEY", key)]),
    )
    .map_err(|error| error.to_string())
}

#[actix_web::test]
async fn readyz_tells_a_code_not_the_internal_reason() {
    let app = spawn_app().await;
    app.db()
        .await
        .execute("DELETE FROM refinery_schema_history", &[])
        .await
        .expect("the history is emptied");
    let body = assert_error(app.get("/readyz", None).await, 503, "unavailable").await;
    let message = body["error"]["message"].as_str().expect("a message");
    for internal in ["migration", "applied", "embedded", "refinery", "pool"] {
        assert!(!message.contains(internal), "{message}");
    }
}

#[actix_web::test]
async fn every_answer_carries_nosniff_and_no_referrer() {
    let app = spawn_app().await;
    let responses = [
        app.get("/healthz", None).await,
        app.get("/no/such/route", None).await,
        app.get("/users/me", None).await,
        app.post_raw("/users", b"{not json".to_vec(), None).await,
        app.request(Method::DELETE, "/users/me", None, None).await,
        app.get("/openapi.json", None).await,
        app.get("/metrics", None).await,
    ];
    for response in responses {
        let headers = response.headers();
        assert_eq!(
            headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{} {}",
            response.url(),
            response.status()
        );
        assert_eq!(
            headers.get("referrer-policy").map(|v| v.to_str().unwrap()),
            Some("no-referrer"),
            "{} {}",
            response.url(),
            response.status()
        );
    }
}

/// The session row records the client address the login came from.
async fn login_address(app: &crate::helpers::TestApp, forwarded_for: &str) -> String {
    let user = app.create_depositor().await;
    let response = app
        .client
        .post(format!("{}/users/login", app.address))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({ "username": user.username, "password": user.password }))
        .send()
        .await
        .expect("a login");
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.expect("a body");
    let session: uuid::Uuid = body["session_id"]
        .as_str()
        .expect("a session")
        .parse()
        .expect("a uuid");
    app.db()
        .await
        .query_one("SELECT client_ip FROM sessions WHERE id = $1", &[&session])
        .await
        .expect("the session")
        .get(0)
}

#[actix_web::test]
async fn x_forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = spawn_app().await;
    assert_eq!(login_address(&app, "203.0.113.9").await, "127.0.0.1");
}

#[actix_web::test]
async fn x_forwarded_for_is_read_from_a_trusted_proxy_right_to_left() {
    let app = spawn_app_with(|settings| {
        settings.http.trusted_proxies = vec!["127.0.0.0/8".parse().expect("a CIDR")];
    })
    .await;
    assert_eq!(login_address(&app, "203.0.113.9").await, "203.0.113.9");
    // A client can write anything on the left; the proxy appends what it saw on the right.
    assert_eq!(
        login_address(&app, "198.51.100.1, 203.0.113.9, 127.0.0.2").await,
        "203.0.113.9"
    );
}

#[test]
fn trusted_proxies_are_read_from_a_comma_separated_list() {
    let settings = Settings::load_with(
        None,
        &environment(&[("TALLY_HTTP__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7,::1")]),
    )
    .expect("a list of addresses and networks");
    assert_eq!(settings.http.trusted_proxies.len(), 3);
    let defaults = Settings::load_with(None, &HashMap::new()).expect("defaults");
    assert!(defaults.http.trusted_proxies.is_empty(), "none by default");
    let message = Settings::load_with(
        None,
        &environment(&[("TALLY_HTTP__TRUSTED_PROXIES", "10.0.0.0/33")]),
    )
    .expect_err("a bad prefix")
    .to_string();
    assert!(message.contains("http.trusted_proxies"), "{message}");
}

#[test]
fn production_refuses_published_and_low_entropy_keys() {
    let compose_demo_key = "de30".repeat(16);
    let one_byte = "00".repeat(32);
    let counting = "0001020304050607".repeat(4); // 8 distinct bytes, repeated
    let few_bytes = "01020304".repeat(8);
    for key in [&compose_demo_key, &one_byte, &few_bytes, &counting] {
        let message = production_with_key(key).expect_err(key);
        assert!(message.contains("token.key"), "{key}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
    let random = &random_key();
    production_with_key(random).expect("a random key is accepted");
    // Development accepts anything: the demo stack runs with its public key.
    Settings::load_with(
        None,
        &environment(&[("TALLY_TOKEN__KEY", &compose_demo_key)]),
    )
    .expect("development accepts the demo key");
}

#[test]
fn access_tokens_live_an_hour_at_most() {
    let message = Settings::load_with(None, &environment(&[("TALLY_TOKEN__ACCESS_TTL", "61m")]))
        .expect_err("over an hour")
        .to_string();
    assert!(message.contains("token.access_ttl"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    let settings = Settings::load_with(None, &environment(&[("TALLY_TOKEN__ACCESS_TTL", "1h")]))
        .expect("an hour is fine");
    assert_eq!(settings.token.access_ttl, Duration::from_secs(3600));
}

#[actix_web::test]
async fn expired_sessions_are_purged_in_bounded_chunks() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let db = app.db().await;
    db.execute(
        "INSERT INTO sessions (id, username, refresh_token_id, user_agent, client_ip, expires_at)
         SELECT gen_random_uuid(), $1, gen_random_uuid(), 'test', '127.0.0.1',
                now() - interval '2 days'
         FROM generate_series(1, 25)",
        &[&user.username],
    )
    .await
    .expect("expired sessions");
    let purged = tally::store::sessions::purge_expired(&app.pool, Duration::from_secs(3600), 10)
        .await
        .expect("a purge");
    assert_eq!(purged, 10, "one chunk at most");
    let mut total = purged;
    while let Ok(purged @ 1..) =
        tally::store::sessions::purge_expired(&app.pool, Duration::from_secs(3600), 10).await
    {
        total += purged;
    }
    assert_eq!(total, 25);
    let live: i64 = db
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .expect("a count")
        .get(0);
    assert_eq!(live, 1, "the user's own live session stays");
}

/// A fresh random key (never one written in the repository, which production refuses).
fn random_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
