//! Issue 15, defect 6: the login limiter never fails open, holds across replicas, and one
//! client address cannot flood the password checks for everyone.

use serde_json::json;

use crate::helpers::{
    assert_error, new_user_body, spawn_app, spawn_app_behind_proxy, spawn_app_with, spawn_replica,
    unique_username,
};

#[actix_web::test]
async fn two_replicas_share_the_username_limit() {
    let a = spawn_app().await;
    let b = spawn_replica(&a).await;
    let user = a.create_depositor().await;
    // Ten failures, alternating between the replicas: each saw only five.
    for attempt in 0..10 {
        let replica = if attempt % 2 == 0 { &a } else { &b };
        let response = replica.login(&user.username, "not the password").await;
        assert_error(response, 401, "invalid_credentials").await;
    }
    for replica in [&a, &b] {
        assert_error(
            replica.login(&user.username, &user.password).await,
            429,
            "rate_limited",
        )
        .await;
    }
}

#[actix_web::test]
async fn a_flood_of_other_usernames_never_opens_the_limit() {
    // The old in-memory limiter stopped counting new usernames once its map was full; the
    // count now lives in PostgreSQL, with no map to fill.
    let app = spawn_app().await;
    let flood = (0..200).map(|_| {
        let app = &app;
        async move {
            let status = app
                .login(&unique_username(), "not the password")
                .await
                .status()
                .as_u16();
            assert!(status == 401 || status == 503, "{status}");
        }
    });
    futures_util::future::join_all(flood).await;
    let target = unique_username();
    for _ in 0..10 {
        assert_error(
            app.login(&target, "not the password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_error(
        app.login(&target, "not the password").await,
        429,
        "rate_limited",
    )
    .await;
}

#[actix_web::test]
async fn the_limiter_fails_closed_when_it_cannot_count() {
    let app = spawn_app_behind_proxy().await;
    let user = app.create_depositor().await;
    app.proxy.as_ref().expect("a proxy").cut();
    // Not a 401 after a password check nobody counted: refused before any check.
    assert_error(
        app.login(&user.username, &user.password).await,
        503,
        "unavailable",
    )
    .await;
}

#[actix_web::test]
async fn one_address_flooding_sign_ups_and_logins_gets_429_and_others_do_not() {
    let app = spawn_app_with(|settings| {
        settings.auth.address_attempts_max = 3;
        settings.http.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
    })
    .await;
    let from = |address: &'static str, path: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}{path}", app.address))
                .header("X-Forwarded-For", address)
                .json(&body)
                .send()
                .await
                .expect("an answer")
        }
    };
    let flooder = "203.0.113.66";
    let body = new_user_body();
    assert_eq!(from(flooder, "/users", body.clone()).await.status(), 201);
    let login = json!({ "username": body["username"], "password": body["password"] });
    assert_eq!(
        from(flooder, "/users/login", login.clone()).await.status(),
        200
    );
    assert_eq!(from(flooder, "/users", new_user_body()).await.status(), 201);
    let refused = from(flooder, "/users/login", login.clone()).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(refused, 429, "rate_limited").await;
    assert_error(
        from(flooder, "/users", new_user_body()).await,
        429,
        "rate_limited",
    )
    .await;
    // Another client, and the flooder's own user from elsewhere, still get in.
    assert_eq!(
        from("198.51.100.7", "/users/login", login).await.status(),
        200
    );
    assert_eq!(
        from("198.51.100.7", "/users", new_user_body())
            .await
            .status(),
        201
    );
}
