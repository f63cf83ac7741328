//! Issue 15, defect 2: a logout ends the session's access tokens on every replica within 1 s,
//! without a database query per request.

use std::time::{Duration, Instant};

use crate::helpers::{assert_error, spawn_app, spawn_replica, TestApp};

/// How long a replica may take to learn of a logout (API.md).
const PROPAGATION_MAX: Duration = Duration::from_secs(1);

/// Polls `GET /users/me` on `app` with `token` until it is refused; how long that took.
async fn refused_within(app: &TestApp, token: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() <= limit {
        let status = app.get("/users/me", Some(token)).await.status().as_u16();
        if status == 401 {
            return Some(started.elapsed());
        }
        assert_eq!(status, 200, "either served or refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[actix_web::test]
async fn a_logout_on_one_replica_ends_the_access_token_on_the_other_within_a_second() {
    let a = spawn_app().await;
    let b = spawn_replica(&a).await;
    let alice = a.create_depositor().await;
    let other_session = a.login_ok(&alice.username, &alice.password).await;
    let other_token = other_session["access_token"].as_str().expect("a token");
    assert_eq!(b.get("/users/me", Some(&alice.token)).await.status(), 200);

    assert_eq!(a.logout(&alice.token).await.status().as_u16(), 204);
    let refused = a.get("/users/me", Some(&alice.token)).await;
    assert_error(refused, 401, "unauthenticated").await;
    let took = refused_within(&b, &alice.token, PROPAGATION_MAX).await;
    assert!(
        took.is_some(),
        "replica B still accepts the token after 1 s"
    );
    assert_error(
        b.get("/users/me", Some(&alice.token)).await,
        401,
        "unauthenticated",
    )
    .await;

    // Only that session ended: the user's other login works on both.
    assert_eq!(a.get("/users/me", Some(other_token)).await.status(), 200);
    assert_eq!(b.get("/users/me", Some(other_token)).await.status(), 200);
    // And the refresh token is refused too.
    assert_error(
        b.renew_access(&alice.refresh_token).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[actix_web::test]
async fn a_block_whose_notification_was_missed_is_caught_up_within_a_second() {
    let a = spawn_app().await;
    let b = spawn_replica(&a).await;
    let alice = a.create_depositor().await;
    assert_eq!(b.get("/users/me", Some(&alice.token)).await.status(), 200);
    // Blocked without a NOTIFY, as if every listener had been disconnected at that moment.
    let session: uuid::Uuid = alice.session_id.parse().expect("a uuid");
    a.db()
        .await
        .execute(
            "UPDATE sessions SET is_blocked = true, blocked_at = now() WHERE id = $1",
            &[&session],
        )
        .await
        .expect("the session is blocked");
    for replica in [&a, &b] {
        let took = refused_within(replica, &alice.token, PROPAGATION_MAX).await;
        assert!(
            took.is_some(),
            "{} still accepts the token",
            replica.address
        );
    }
}

#[actix_web::test]
async fn a_replica_started_after_a_logout_refuses_its_tokens() {
    let a = spawn_app().await;
    let alice = a.create_depositor().await;
    assert_eq!(a.logout(&alice.token).await.status().as_u16(), 204);
    let late = spawn_replica(&a).await;
    let took = refused_within(&late, &alice.token, PROPAGATION_MAX).await;
    assert!(
        took.is_some(),
        "the late replica accepts a logged-out token"
    );
}

/// Issue 20, item 10: the session row may be gone (purged, deleted by hand); the logout still
/// reaches every replica.
#[actix_web::test]
async fn a_logout_whose_session_row_is_gone_still_reaches_every_replica() {
    let a = spawn_app().await;
    let b = spawn_replica(&a).await;
    let alice = a.create_depositor().await;
    let session: uuid::Uuid = alice.session_id.parse().expect("a uuid");
    assert_eq!(b.get("/users/me", Some(&alice.token)).await.status(), 200);
    let deleted = a
        .db()
        .await
        .execute("DELETE FROM sessions WHERE id = $1", &[&session])
        .await
        .expect("the session row deleted");
    assert_eq!(deleted, 1);

    assert_eq!(a.logout(&alice.token).await.status().as_u16(), 204);
    assert_error(
        a.get("/users/me", Some(&alice.token)).await,
        401,
        "unauthenticated",
    )
    .await;
    let took = refused_within(&b, &alice.token, PROPAGATION_MAX).await;
    assert!(
        took.is_some(),
        "replica B still accepts the token after 1 s"
    );
}
