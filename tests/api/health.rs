use std::time::Duration;

use crate::helpers::{assert_error, spawn_app, spawn_app_behind_proxy};

#[actix_web::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let response = app.get("/healthz", None).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[actix_web::test]
async fn readyz_answers_200_when_postgres_answers_and_migrations_are_current() {
    let app = spawn_app().await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[actix_web::test]
async fn readyz_answers_503_while_postgres_is_unreachable_and_recovers_without_restart() {
    let app = spawn_app_behind_proxy().await;
    let proxy = app.proxy.as_ref().expect("a proxy");
    assert_eq!(app.get("/readyz", None).await.status().as_u16(), 200);

    proxy.cut();
    let response = app.get("/readyz", None).await;
    assert!(
        response.headers().contains_key("retry-after"),
        "Retry-After on a 503, got {}",
        response.status()
    );
    assert_error(response, 503, "unavailable").await;
    // The process stays up while the database is away.
    assert_eq!(app.get("/healthz", None).await.status().as_u16(), 200);

    proxy.restore();
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/readyz", None).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "ready again once the database is back");
}

#[actix_web::test]
async fn readyz_answers_503_when_migrations_are_behind() {
    let app = spawn_app().await;
    app.db()
        .await
        .execute("DELETE FROM refinery_schema_history", &[])
        .await
        .expect("the history is emptied");
    assert_error(app.get("/readyz", None).await, 503, "unavailable").await;
}

#[actix_web::test]
async fn unknown_routes_answer_a_json_404() {
    let app = spawn_app().await;
    assert_error(app.get("/no/such/route", None).await, 404, "not_found").await;
}

/// Sets whether the app's database accepts writes and drops the app's connections, as a
/// failover does when the leader it reached becomes a replica.
async fn set_read_only(app: &crate::helpers::TestApp, read_only: bool) {
    let client = app.database.connect().await;
    let setting = if read_only { "on" } else { "off" };
    // This session itself must write (in its own statement: a multi-statement query is one
    // transaction, read-only from its start).
    client
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .expect("this session writes");
    client
        .batch_execute(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = {setting}",
            app.database.name
        ))
        .await
        .expect("the database's default is changed");
    client
        .execute(
            // Client backends only: an autovacuum worker is the superuser's, and terminating
            // it is refused.
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[&app.database.name],
        )
        .await
        .expect("the app's connections are dropped");
}

async fn readyz_status_within(app: &crate::helpers::TestApp, expected: u16) -> u16 {
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/readyz", None).await.status().as_u16();
        if status == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

#[actix_web::test]
async fn readyz_answers_503_while_postgres_refuses_writes_and_recovers() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz", None).await.status().as_u16(), 200);

    set_read_only(&app, true).await;
    assert_eq!(
        readyz_status_within(&app, 503).await,
        503,
        "not ready while the database refuses writes"
    );
    let response = app.get("/readyz", None).await;
    assert_error(response, 503, "unavailable").await;

    set_read_only(&app, false).await;
    assert_eq!(
        readyz_status_within(&app, 200).await,
        200,
        "ready again once writes are accepted"
    );
}
