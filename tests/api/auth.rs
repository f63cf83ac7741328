//! Login, tokens, renewal, logout and the failed-login limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tally::auth::{TokenMaker, TokenPurpose};
use tally::configuration::Settings;
use tally::domain::{Role, Username};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::{assert_error, spawn_app, spawn_app_with, unique_username, TestApp};

fn timestamp(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a timestamp"), &Rfc3339).expect("RFC 3339")
}

fn assert_about(at: OffsetDateTime, expected: OffsetDateTime) {
    assert!(
        (at - expected).abs() < time::Duration::seconds(30),
        "{at} should be about {expected}"
    );
}

/// `token` with one base64 character of its encrypted payload changed.
fn tampered(token: &str) -> String {
    let middle = "v4.local.".len() + (token.len() - "v4.local.".len()) / 2;
    let mut bytes = token.as_bytes().to_vec();
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

async fn get_me(app: &TestApp, authorization: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/users/me", app.address))
        .header("authorization", authorization)
        .send()
        .await
        .expect("the request is sent")
}

#[actix_web::test]
async fn login_answers_tokens_a_session_and_the_user() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let response = app
        .client
        .post(format!("{}/users/login", app.address))
        .header("user-agent", "tally-tests/1.0")
        .json(&json!({ "username": user.username, "password": user.password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("$2b$") && !text.contains("hash"), "{text}");
    let login: Value = serde_json::from_str(&text).unwrap();

    let now = OffsetDateTime::now_utc();
    assert_about(
        timestamp(&login["access_token_expires_at"]),
        now + time::Duration::minutes(15),
    );
    assert_about(
        timestamp(&login["refresh_token_expires_at"]),
        now + time::Duration::hours(24),
    );
    assert!(login["access_token"]
        .as_str()
        .unwrap()
        .starts_with("v4.local."));
    assert!(login["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("v4.local."));
    assert_eq!(login["user"]["username"], user.username.as_str());
    assert_eq!(login["user"]["role"], "depositor");
    assert!(login["user"].get("hashed_password").is_none());

    let session_id = Uuid::parse_str(login["session_id"].as_str().unwrap()).unwrap();
    let row = app
        .db()
        .await
        .query_one(
            "SELECT username, user_agent, client_ip, is_blocked, expires_at FROM sessions WHERE id = $1",
            &[&session_id],
        )
        .await
        .expect("the session row");
    assert_eq!(row.get::<_, String>("username"), user.username);
    assert_eq!(row.get::<_, String>("user_agent"), "tally-tests/1.0");
    assert_eq!(row.get::<_, String>("client_ip"), "127.0.0.1");
    assert!(!row.get::<_, bool>("is_blocked"));
    assert_eq!(
        row.get::<_, OffsetDateTime>("expires_at"),
        timestamp(&login["refresh_token_expires_at"])
    );

    let me = app.get("/users/me", login["access_token"].as_str()).await;
    assert_eq!(me.status().as_u16(), 200);
}

#[actix_web::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let wrong_password = assert_error(
        app.login(&user.username, "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown_user = assert_error(
        app.login(&unique_username(), "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong_password, unknown_user, "indistinguishable bodies");
}

#[actix_web::test]
async fn an_unknown_user_takes_about_as_long_as_a_wrong_password() {
    // A cost where bcrypt dominates a login: without the dummy hash an unknown user would
    // answer many times faster.
    let app = spawn_app_with(|settings| settings.auth.bcrypt_cost = 9).await;
    let user = app.create_depositor().await;
    let fastest = |durations: Vec<Duration>| durations.into_iter().min().unwrap();
    let mut wrong_password = Vec::new();
    let mut unknown_user = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        app.login(&user.username, "not the password").await;
        wrong_password.push(started.elapsed());
        let started = Instant::now();
        app.login(&unique_username(), "not the password").await;
        unknown_user.push(started.elapsed());
    }
    let (wrong_password, unknown_user) = (fastest(wrong_password), fastest(unknown_user));
    assert!(
        unknown_user * 2 > wrong_password && wrong_password * 2 > unknown_user,
        "unknown user {unknown_user:?} vs wrong password {wrong_password:?}"
    );
}

#[actix_web::test]
async fn a_malformed_login_is_refused() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    assert_error(
        app.login("Not A Username", "whatever1").await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        app.login(&user.username, &"x".repeat(73)).await,
        400,
        "validation_failed",
    )
    .await;
    let extra = json!({ "username": user.username, "password": user.password, "otp": "1" });
    assert_error(
        app.post("/users/login", &extra, None).await,
        400,
        "validation_failed",
    )
    .await;
    let missing = json!({ "username": user.username });
    assert_error(
        app.post("/users/login", &missing, None).await,
        400,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn a_missing_header_or_another_scheme_is_unauthenticated() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    assert_error(app.get("/users/me", None).await, 401, "unauthenticated").await;
    for authorization in [
        format!("Basic {}", user.token),
        format!("Token {}", user.token),
        format!("Bearer{}", user.token),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        user.token.clone(),
    ] {
        assert_error(get_me(&app, &authorization).await, 401, "unauthenticated").await;
    }
}

#[actix_web::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let response = get_me(&app, &format!("{scheme} {}", user.token)).await;
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
    }
}

#[actix_web::test]
async fn a_garbage_or_tampered_token_is_unauthenticated() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    for token in [
        "garbage".to_owned(),
        "v4.local.".to_owned(),
        "v4.public.abcdef".to_owned(),
        "v2.local.abcdef".to_owned(),
        tampered(&user.token),
        format!("{}x", user.token),
    ] {
        assert_error(
            app.get("/users/me", Some(&token)).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    assert_ne!(tampered(&user.token), user.token);
}

#[actix_web::test]
async fn a_token_made_with_another_key_is_unauthenticated() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let environment = HashMap::from([("TALLY_TOKEN__KEY".to_owned(), "ab".repeat(32))]);
    let other_settings = Settings::load_with(None, &environment).unwrap();
    let forged = TokenMaker::new(&other_settings.token)
        .unwrap()
        .issue(
            TokenPurpose::Access,
            &Username::parse(user.username.clone()).unwrap(),
            Role::Banker,
            Uuid::parse_str(&user.session_id).unwrap(),
        )
        .unwrap();
    assert_error(
        app.get("/users/me", Some(&forged.token)).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[actix_web::test]
async fn an_expired_access_token_is_token_expired() {
    let app = spawn_app_with(|settings| settings.token.access_ttl = Duration::from_secs(60)).await;
    let user = app.create_depositor().await;
    app.clock.advance(Duration::from_secs(61));
    assert_error(
        app.get("/users/me", Some(&user.token)).await,
        401,
        "token_expired",
    )
    .await;
    // A refresh token still buys a fresh one.
    let renewed: Value = app
        .renew_access(&user.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    let fresh = renewed["access_token"]
        .as_str()
        .expect("a new access token");
    assert_eq!(
        app.get("/users/me", Some(fresh)).await.status().as_u16(),
        200
    );
}

#[actix_web::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    assert_error(
        app.get("/users/me", Some(&user.refresh_token)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(app.renew_access(&user.token).await, 401, "unauthenticated").await;
}

#[actix_web::test]
async fn renew_access_answers_a_working_access_token_for_the_same_session() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let response = app.renew_access(&user.refresh_token).await;
    assert_eq!(response.status().as_u16(), 200);
    let renewed: Value = response.json().await.unwrap();
    let mut keys: Vec<&String> = renewed.as_object().unwrap().keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "access_token_expires_at"]);
    assert_about(
        timestamp(&renewed["access_token_expires_at"]),
        OffsetDateTime::now_utc() + time::Duration::minutes(15),
    );
    let token = renewed["access_token"].as_str().unwrap();
    assert_ne!(token, user.token);
    assert_eq!(
        app.get("/users/me", Some(token)).await.status().as_u16(),
        200
    );
    // Logging out with the renewed token ends the original session.
    assert_eq!(app.logout(token).await.status().as_u16(), 204);
    assert_error(
        app.renew_access(&user.refresh_token).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[actix_web::test]
async fn a_renewed_access_token_carries_the_current_role() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    app.set_role(&user.username, Role::Banker).await;
    let renewed: Value = app
        .renew_access(&user.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    let environment = HashMap::new();
    let settings = Settings::load_with(None, &environment).unwrap();
    let payload = TokenMaker::new(&settings.token)
        .unwrap()
        .verify(
            TokenPurpose::Access,
            renewed["access_token"].as_str().unwrap(),
        )
        .expect("made with the development key the tests use");
    assert_eq!(payload.role, Role::Banker);
    assert_eq!(payload.username.as_str(), user.username);
    assert_eq!(payload.session_id.to_string(), user.session_id);
}

#[actix_web::test]
async fn renew_with_a_blocked_session_is_unauthenticated() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    app.db()
        .await
        .execute(
            "UPDATE sessions SET is_blocked = true WHERE id = $1",
            &[&Uuid::parse_str(&user.session_id).unwrap()],
        )
        .await
        .unwrap();
    assert_error(
        app.renew_access(&user.refresh_token).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[actix_web::test]
async fn renew_with_a_token_the_session_does_not_hold_is_unauthenticated() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    app.db()
        .await
        .execute(
            "UPDATE sessions SET refresh_token_id = $1 WHERE id = $2",
            &[&Uuid::new_v4(), &Uuid::parse_str(&user.session_id).unwrap()],
        )
        .await
        .unwrap();
    assert_error(
        app.renew_access(&user.refresh_token).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[actix_web::test]
async fn renew_with_an_expired_refresh_token_is_token_expired() {
    let app = spawn_app_with(|settings| settings.token.refresh_ttl = Duration::from_secs(60)).await;
    let user = app.create_depositor().await;
    app.clock.advance(Duration::from_secs(61));
    assert_error(
        app.renew_access(&user.refresh_token).await,
        401,
        "token_expired",
    )
    .await;
}

#[actix_web::test]
async fn renew_with_garbage_is_refused() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    for token in ["", "garbage", &tampered(&user.refresh_token)] {
        assert_error(app.renew_access(token).await, 401, "unauthenticated").await;
    }
    assert_error(
        app.post("/tokens/renew_access", &json!({}), None).await,
        400,
        "validation_failed",
    )
    .await;
    let extra = json!({ "refresh_token": user.refresh_token, "scope": "all" });
    assert_error(
        app.post("/tokens/renew_access", &extra, None).await,
        400,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn logout_blocks_the_session_and_only_that_one() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let other_login = app.login_ok(&user.username, &user.password).await;

    let response = app.logout(&user.token).await;
    assert_eq!(response.status().as_u16(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    let blocked: bool = app
        .db()
        .await
        .query_one(
            "SELECT is_blocked FROM sessions WHERE id = $1",
            &[&Uuid::parse_str(&user.session_id).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert!(blocked);
    assert_error(
        app.renew_access(&user.refresh_token).await,
        401,
        "unauthenticated",
    )
    .await;

    let other_refresh = other_login["refresh_token"].as_str().unwrap();
    assert_eq!(app.renew_access(other_refresh).await.status().as_u16(), 200);
    // The access token ended with its session (issue 15): a second logout with it is refused.
    assert_error(app.logout(&user.token).await, 401, "unauthenticated").await;
}

#[actix_web::test]
async fn logout_needs_an_access_token() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let anonymous = app.request(Method::POST, "/users/logout", None, None).await;
    assert_error(anonymous, 401, "unauthenticated").await;
    assert_error(
        app.logout(&user.refresh_token).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        app.renew_access(&user.refresh_token)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[actix_web::test]
async fn ten_failed_logins_lock_the_username_for_the_window() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    for attempt in 1..=10 {
        let response = app.login(&user.username, "not the password").await;
        assert_eq!(response.status().as_u16(), 401, "attempt {attempt}");
    }
    let response = app.login(&user.username, "not the password").await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("seconds");
    assert!(
        (250..=301).contains(&retry_after),
        "about 5 minutes: {retry_after}"
    );
    assert_error(response, 429, "rate_limited").await;
    // Even the right password waits: that is what stops the guessing.
    assert_error(
        app.login(&user.username, &user.password).await,
        429,
        "rate_limited",
    )
    .await;
    // Other usernames are unaffected, and unknown ones are limited alike (no enumeration).
    let other = app.create_depositor().await;
    app.login_ok(&other.username, &other.password).await;
    let nobody = unique_username();
    for _ in 0..10 {
        assert_error(
            app.login(&nobody, "not the password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_error(
        app.login(&nobody, "not the password").await,
        429,
        "rate_limited",
    )
    .await;
}

#[actix_web::test]
async fn the_lock_lifts_when_the_window_passes_and_a_success_forgives() {
    let app = spawn_app_with(|settings| {
        settings.auth.login_failures_max = 3;
        settings.auth.login_failure_window = Duration::from_secs(1);
    })
    .await;
    let user = app.create_depositor().await;
    for _ in 0..3 {
        app.login(&user.username, "not the password").await;
    }
    assert_error(
        app.login(&user.username, &user.password).await,
        429,
        "rate_limited",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.login_ok(&user.username, &user.password).await;

    // After a success the count starts again.
    for _ in 0..2 {
        app.login(&user.username, "not the password").await;
    }
    app.login_ok(&user.username, &user.password).await;
    for _ in 0..2 {
        app.login(&user.username, "not the password").await;
    }
    app.login_ok(&user.username, &user.password).await;
}

#[actix_web::test]
async fn concurrent_guesses_cannot_exceed_the_limit() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let guesses = (0..30).map(|_| app.login(&user.username, "not the password"));
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    let wrong = statuses.iter().filter(|status| **status == 401).count();
    let limited = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!((wrong, limited), (10, 20), "{statuses:?}");
}
