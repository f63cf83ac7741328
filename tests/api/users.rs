//! `POST /users` and `GET /users/me`.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::helpers::{assert_error, new_user_body, spawn_app, unique_username, TestApp};

const USER_KEYS: [&str; 6] = [
    "created_at",
    "email",
    "full_name",
    "password_changed_at",
    "role",
    "username",
];

fn assert_user_shape(user: &Value) {
    let mut keys: Vec<&str> = user
        .as_object()
        .expect("a user object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, USER_KEYS, "exactly the user fields in {user}");
    for key in ["created_at", "password_changed_at"] {
        let text = user[key].as_str().expect("a timestamp");
        let at = OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339");
        assert!(at.offset().is_utc(), "{key} in UTC: {text}");
    }
}

async fn users_named(app: &TestApp, username: &str) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT count(*) FROM users WHERE username = $1",
            &[&username],
        )
        .await
        .expect("a count")
        .get(0)
}

#[actix_web::test]
async fn sign_up_answers_201_with_the_user_and_never_the_hash() {
    let app = spawn_app().await;
    let body = json!({
        "username": "ada_1815",
        "password": "correct horse battery",
        "full_name": "  Ada Lovelace ",
        "email": " Ada@Example.COM ",
    });
    let response = app.sign_up(&body).await;
    assert_eq!(response.status().as_u16(), 201);
    let text = response.text().await.expect("a body");
    assert!(!text.contains("hash"), "{text}");
    assert!(!text.contains("$2b$"), "{text}");
    assert!(!text.contains("correct horse"), "{text}");
    let user: Value = serde_json::from_str(&text).expect("JSON");
    assert_user_shape(&user);
    assert_eq!(user["username"], "ada_1815");
    assert_eq!(user["full_name"], "Ada Lovelace", "trimmed");
    assert_eq!(user["email"], "ada@example.com", "trimmed and lowercased");
    assert_eq!(user["role"], "depositor");
    assert_eq!(user["password_changed_at"], "0001-01-01T00:00:00Z");
    let created_at = OffsetDateTime::parse(user["created_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!((OffsetDateTime::now_utc() - created_at).abs() < time::Duration::minutes(1));
}

#[actix_web::test]
async fn the_database_holds_a_bcrypt_hash_never_the_plain_password() {
    let app = spawn_app().await;
    let body = new_user_body();
    let password = body["password"].as_str().unwrap();
    assert_eq!(app.sign_up(&body).await.status().as_u16(), 201);
    app.login_ok(body["username"].as_str().unwrap(), password)
        .await;

    let client = app.db().await;
    let hash: String = client
        .query_one(
            "SELECT hashed_password FROM users WHERE username = $1",
            &[&body["username"].as_str().unwrap()],
        )
        .await
        .expect("the user row")
        .get(0);
    assert!(
        hash.starts_with("$2b$04$"),
        "a bcrypt hash at the test cost: {hash}"
    );
    assert!(bcrypt::verify(password, &hash).expect("a valid hash"));
    for table in ["users", "sessions"] {
        let leaks: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {table} t WHERE row_to_json(t)::text LIKE '%' || $1 || '%'"
                ),
                &[&password],
            )
            .await
            .expect("a count")
            .get(0);
        assert_eq!(leaks, 0, "no {table} row contains the password");
    }
}

#[actix_web::test]
async fn a_duplicate_username_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let first = new_user_body();
    assert_eq!(app.sign_up(&first).await.status().as_u16(), 201);
    let mut second = new_user_body();
    second["username"] = first["username"].clone();
    assert_error(app.sign_up(&second).await, 409, "conflict").await;
    let email: String = app
        .db()
        .await
        .query_one(
            "SELECT email FROM users WHERE username = $1",
            &[&first["username"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        email,
        first["email"].as_str().unwrap(),
        "the first user is unchanged"
    );
}

#[actix_web::test]
async fn a_duplicate_email_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    let first = new_user_body();
    assert_eq!(app.sign_up(&first).await.status().as_u16(), 201);
    let mut second = new_user_body();
    second["email"] = json!(first["email"].as_str().unwrap().to_uppercase());
    let body = assert_error(app.sign_up(&second).await, 409, "conflict").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("email"),
        "{body}"
    );
    assert_eq!(
        users_named(&app, second["username"].as_str().unwrap()).await,
        0
    );
}

#[actix_web::test]
async fn each_invalid_field_is_refused_with_validation_failed() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value)> = vec![
        ("username", json!("ab")),
        ("username", json!("a".repeat(65))),
        ("username", json!("Ada")),
        ("username", json!("ada lovelace")),
        ("username", json!("ada-lovelace")),
        ("username", json!("")),
        ("password", json!("1234567")),
        ("password", json!("x".repeat(73))),
        // 37 characters, 74 bytes: the limit counts bytes.
        ("password", json!("é".repeat(37))),
        ("password", json!("")),
        ("full_name", json!("")),
        ("full_name", json!("    ")),
        ("full_name", json!("x".repeat(101))),
        ("email", json!("ada")),
        ("email", json!("ada@")),
        ("email", json!("@example.com")),
        ("email", json!("ada@example")),
        ("email", json!("ada lovelace@example.com")),
        ("email", json!("")),
    ];
    for (field, value) in cases {
        let mut body = new_user_body();
        body[field] = value.clone();
        let refused = assert_error(app.sign_up(&body).await, 400, "validation_failed").await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{field}={value}: the message names the field: {refused}"
        );
        assert_eq!(
            users_named(&app, body["username"].as_str().unwrap()).await,
            0,
            "{field}={value} created nothing"
        );
    }
}

#[actix_web::test]
async fn a_72_byte_password_is_accepted_and_every_byte_counts() {
    let app = spawn_app().await;
    let mut body = new_user_body();
    let password = "p".repeat(72);
    body["password"] = json!(password);
    assert_eq!(app.sign_up(&body).await.status().as_u16(), 201);
    let username = body["username"].as_str().unwrap();
    app.login_ok(username, &password).await;
    let last_byte_changed = format!("{}q", "p".repeat(71));
    assert_error(
        app.login(username, &last_byte_changed).await,
        401,
        "invalid_credentials",
    )
    .await;
    // 73 bytes would have been cut to 72 by bcrypt and matched: refused instead.
    assert_error(
        app.login(username, &format!("{password}p")).await,
        400,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn a_malformed_body_is_refused() {
    let app = spawn_app().await;
    let mut unknown_field = new_user_body();
    unknown_field["role"] = json!("banker");
    assert_error(app.sign_up(&unknown_field).await, 400, "validation_failed").await;
    assert_eq!(
        users_named(&app, unknown_field["username"].as_str().unwrap()).await,
        0,
        "nobody signs up as a banker"
    );

    let mut missing = new_user_body();
    missing.as_object_mut().unwrap().remove("email");
    assert_error(app.sign_up(&missing).await, 400, "validation_failed").await;

    let mut wrong_type = new_user_body();
    wrong_type["password"] = json!(12345678);
    assert_error(app.sign_up(&wrong_type).await, 400, "validation_failed").await;

    let response = app
        .post_raw("/users", b"{\"username\":".to_vec(), None)
        .await;
    assert_error(response, 400, "invalid_json").await;
}

#[actix_web::test]
async fn me_answers_the_caller() {
    let app = spawn_app().await;
    let user = app.create_depositor().await;
    let response = app.get("/users/me", Some(&user.token)).await;
    assert_eq!(response.status().as_u16(), 200);
    let me: Value = response.json().await.unwrap();
    assert_user_shape(&me);
    assert_eq!(me["username"], user.username.as_str());
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["full_name"], user.full_name.as_str());
    assert_eq!(me["role"], "depositor");
}

#[actix_web::test]
async fn a_banker_is_shown_as_one() {
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let me: Value = app
        .get("/users/me", Some(&banker.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], banker.role.as_str());
    assert_eq!(me["role"], "banker");
}

#[actix_web::test]
async fn me_without_a_token_is_unauthenticated() {
    let app = spawn_app().await;
    assert_error(app.get("/users/me", None).await, 401, "unauthenticated").await;
}

#[test]
fn unique_usernames_are_valid_usernames() {
    for _ in 0..100 {
        let name = unique_username();
        assert!(
            tally::domain::Username::parse(name.clone()).is_ok(),
            "{name}"
        );
    }
}
