use std::collections::HashMap;

use deadpool_postgres::Pool;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use tally::auth::Clock;
use tally::configuration::Settings;
pub use tally::domain::Role;
use tally::startup::Application;
use tally::telemetry;
use tally_test_support::{fresh_database, TcpProxy, TestDatabase};

pub struct TestApp {
    pub address: String,
    #[allow(dead_code)] // for tests that need the bare port
    pub port: u16,
    /// The separate metrics server's port, when configured.
    pub metrics_port: Option<u16>,
    #[allow(dead_code)] // for tests that need the database's name or URL
    pub database: TestDatabase,
    /// For assertions on rows; the app has its own pool.
    pub pool: Pool,
    pub client: reqwest::Client,
    /// Present when the app reaches PostgreSQL through a cuttable proxy.
    pub proxy: Option<TcpProxy>,
    /// The clock the app issues and checks tokens by: a test advances it past a lifetime.
    #[allow(dead_code)] // for the tests of expiry
    pub clock: Clock,
    /// The app's engine, to wait on its in-flight transfers.
    #[allow(dead_code)] // for the tests of abandoned work
    pub engine: tally_actors::Engine,
}

/// Settings for a test app: port 0, a cheap bcrypt cost, quiet logs unless TEST_LOG is set.
/// A plain HTTP client for a test. reqwest here has TLS without a provider of its own: the
/// process's (rustls' ring, installed here) must be in place before any client is built.
pub fn http_client() -> reqwest::Client {
    tally::webhooks::install_tls_provider();
    reqwest::Client::new()
}

pub fn test_settings(database_url: &str) -> Settings {
    let mut environment = HashMap::new();
    environment.insert("TALLY_DATABASE__URL".to_owned(), database_url.to_owned());
    environment.insert("TALLY_HTTP__ADDR".to_owned(), "127.0.0.1:0".to_owned());
    environment.insert("TALLY_HTTP__WORKERS".to_owned(), "2".to_owned());
    environment.insert("TALLY_AUTH__BCRYPT_COST".to_owned(), "4".to_owned());
    // Every test client is 127.0.0.1: the per-address limit is tested on its own (limits.rs).
    environment.insert(
        "TALLY_AUTH__ADDRESS_ATTEMPTS_MAX".to_owned(),
        "1000000".to_owned(),
    );
    environment.insert(
        "TALLY_AUTH__ADDRESS_FAILURES_MAX".to_owned(),
        "1000000".to_owned(),
    );
    environment.insert(
        "TALLY_HTTP__CONNECTIONS_PER_ADDRESS_MAX".to_owned(),
        "1000000".to_owned(),
    );
    environment.insert(
        "TALLY_DATABASE__CONNECT_TIMEOUT".to_owned(),
        "1s".to_owned(),
    );
    let mut settings = Settings::load_with(None, &environment).expect("test settings");
    settings.log.level = if std::env::var("TEST_LOG").is_ok() {
        "info".to_owned()
    } else {
        "error".to_owned()
    };
    let _ = telemetry::init(&settings.log, &settings.telemetry);
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after `customize` adjusted its settings.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let database = fresh_database().await;
    let mut settings = test_settings(&database.url());
    customize(&mut settings);
    launch(database, settings, None).await
}

/// A second app (another replica) on the same database as `app`, with the same settings
/// otherwise: both share the token key, so each accepts the other's tokens.
pub async fn spawn_replica(app: &TestApp) -> TestApp {
    spawn_replica_with(app, |_| {}).await
}

pub async fn spawn_replica_with(app: &TestApp, customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(&app.database.url());
    customize(&mut settings);
    launch(app.database.clone(), settings, None).await
}

/// Spawns the app reaching PostgreSQL through a proxy the test can cut and restore.
pub async fn spawn_app_behind_proxy() -> TestApp {
    let database = fresh_database().await;
    let proxy = TcpProxy::to_postgres(&database).await;
    let settings = test_settings(&database.url_via_port(proxy.port()));
    launch(database, settings, Some(proxy)).await
}

async fn launch(database: TestDatabase, settings: Settings, proxy: Option<TcpProxy>) -> TestApp {
    let clock = Clock::system();
    let application = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("the app builds");
    let port = application.port();
    let engine = application.engine();
    let metrics_port = application.metrics_port();
    actix_web::rt::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        pool: database.pool(4),
        database,
        client: {
            tally::webhooks::install_tls_provider();
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client")
        },
        proxy,
        clock,
        engine,
    }
}

impl TestApp {
    /// Sends a request; `token` becomes `Authorization: Bearer <token>`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the request is sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.request(Method::POST, path, Some(body), token).await
    }

    /// Posts raw bytes as JSON (for malformed and oversized bodies).
    pub async fn post_raw(&self, path: &str, body: Vec<u8>, token: Option<&str>) -> Response {
        let mut request = self
            .client
            .post(format!("{}{}", self.address, path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the request is sent")
    }

    /// The value of one series (`name` or `name{labels}`) in `/metrics`, when present.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self
            .get("/metrics", None)
            .await
            .text()
            .await
            .expect("a body");
        text.lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, value)| value.parse().ok())
    }

    /// (batches the journal committed, its round trips to PostgreSQL) so far, from `/metrics`.
    pub async fn journal_counts(&self) -> (f64, f64) {
        let batches = self.metric("tally_journal_batch_size_count").await;
        let trips = self.metric("tally_journal_round_trips_total").await;
        (batches.unwrap_or(0.0), trips.unwrap_or(0.0))
    }

    pub async fn db(&self) -> deadpool_postgres::Object {
        self.pool.get().await.expect("a test database connection")
    }
}

/// Asserts an API error: its status and its `error.code`, which `/openapi.json` must document for
/// the route (`documented.rs`); returns the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    let actual_status = response.status().as_u16();
    let path = response.url().path().to_owned();
    let body: Value = response.json().await.expect("an error body in JSON");
    assert_eq!(actual_status, status, "status of {body}");
    assert_eq!(body["error"]["code"], code, "code of {body}");
    crate::documented::assert_error_documented(&path, actual_status, &body);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "an error message in {body}"
    );
    body
}

/// A signed-up, logged-in user of a test app.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub username: String,
    pub password: String,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    /// The access token of a fresh login, for `Authorization: Bearer`.
    pub token: String,
    pub refresh_token: String,
    pub session_id: String,
}

/// A unique lowercase username (`u_` and 16 hex digits).
pub fn unique_username() -> String {
    format!("u_{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// A valid `POST /users` body with a unique username and email.
pub fn new_user_body() -> Value {
    let username = unique_username();
    json!({
        "username": username,
        "password": "correct horse battery",
        "full_name": "Ada Lovelace",
        "email": format!("{username}@example.com"),
    })
}

impl TestApp {
    /// `POST /users` with `body`.
    pub async fn sign_up(&self, body: &Value) -> Response {
        self.post("/users", body, None).await
    }

    /// `POST /users/login`.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post(
            "/users/login",
            &json!({ "username": username, "password": password }),
            None,
        )
        .await
    }

    /// `POST /users/login` that must succeed; returns its body.
    pub async fn login_ok(&self, username: &str, password: &str) -> Value {
        let response = self.login(username, password).await;
        assert_eq!(response.status().as_u16(), 200, "login of {username}");
        response.json().await.expect("a login body")
    }

    /// `POST /tokens/renew_access`.
    pub async fn renew_access(&self, refresh_token: &str) -> Response {
        self.post(
            "/tokens/renew_access",
            &json!({ "refresh_token": refresh_token }),
            None,
        )
        .await
    }

    /// `POST /users/logout` with `token` as the bearer.
    pub async fn logout(&self, token: &str) -> Response {
        self.request(Method::POST, "/users/logout", None, Some(token))
            .await
    }

    /// Sets a user's role directly in the database (there is no API for it).
    pub async fn set_role(&self, username: &str, role: Role) {
        let updated = self
            .db()
            .await
            .execute(
                "UPDATE users SET role = $1 WHERE username = $2",
                &[&role.as_str(), &username],
            )
            .await
            .expect("the role is set");
        assert_eq!(updated, 1, "user {username} exists");
    }

    /// Signs up a new user over HTTP, gives them `role`, and logs them in (after the role change,
    /// so the token carries it).
    pub async fn create_user(&self, role: Role) -> TestUser {
        let body = new_user_body();
        let response = self.sign_up(&body).await;
        assert_eq!(response.status().as_u16(), 201, "sign-up of {body}");
        let username = body["username"].as_str().expect("a username").to_owned();
        let password = body["password"].as_str().expect("a password").to_owned();
        if role != Role::Depositor {
            self.set_role(&username, role).await;
        }
        let login = self.login_ok(&username, &password).await;
        let text = |key: &str| login[key].as_str().expect(key).to_owned();
        TestUser {
            email: body["email"].as_str().expect("an email").to_owned(),
            full_name: body["full_name"].as_str().expect("a name").to_owned(),
            role,
            token: text("access_token"),
            refresh_token: text("refresh_token"),
            session_id: text("session_id"),
            username,
            password,
        }
    }

    pub async fn create_depositor(&self) -> TestUser {
        self.create_user(Role::Depositor).await
    }

    pub async fn create_banker(&self) -> TestUser {
        self.create_user(Role::Banker).await
    }
}

/// Money helpers: accounts, deposits and transfers over HTTP.
impl TestApp {
    /// `POST /accounts` that must succeed; returns the account id.
    pub async fn open_account(&self, user: &TestUser, currency: &str) -> i64 {
        let response = self
            .post(
                "/accounts",
                &json!({ "currency": currency }),
                Some(&user.token),
            )
            .await;
        assert_eq!(
            response.status().as_u16(),
            201,
            "an account for {}",
            user.username
        );
        let account: Value = response.json().await.expect("an account body");
        account["id"].as_i64().expect("an account id")
    }

    pub async fn deposit(&self, banker: &TestUser, account: i64, amount: i64) -> Response {
        self.post(
            &format!("/accounts/{account}/deposits"),
            &json!({ "amount": amount }),
            Some(&banker.token),
        )
        .await
    }

    /// An account of `user` in `currency`, funded with `amount` by `banker`.
    pub async fn funded_account(
        &self,
        user: &TestUser,
        banker: &TestUser,
        currency: &str,
        amount: i64,
    ) -> i64 {
        let account = self.open_account(user, currency).await;
        if amount > 0 {
            let response = self.deposit(banker, account, amount).await;
            assert_eq!(response.status().as_u16(), 201, "a deposit of {amount}");
        }
        account
    }

    pub async fn transfer(
        &self,
        user: &TestUser,
        from: i64,
        to: i64,
        amount: i64,
        currency: &str,
    ) -> Response {
        self.post(
            "/transfers",
            &json!({
                "from_account_id": from,
                "to_account_id": to,
                "amount": amount,
                "currency": currency,
            }),
            Some(&user.token),
        )
        .await
    }

    /// An account's balance as PostgreSQL holds it.
    pub async fn balance(&self, account: i64) -> i64 {
        self.db()
            .await
            .query_one("SELECT balance FROM accounts WHERE id = $1", &[&account])
            .await
            .expect("an account")
            .get(0)
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.db()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("a count")
            .get(0)
    }
}

impl TestApp {
    /// The money invariants (docs/design.md) hold in this app's database.
    pub async fn assert_invariants(&self) -> tally_test_support::Invariants {
        let client = self.db().await;
        tally_test_support::check_invariants(&client).await
    }
}

impl TestApp {
    /// Waits until the engine holds no transfer in flight (abandoned work has run to its end);
    /// panics past `limit`.
    #[allow(dead_code)] // for the tests of abandoned work
    pub async fn wait_until_no_transfer_in_flight(&self, limit: std::time::Duration) {
        let started = std::time::Instant::now();
        while self.engine.transfers_in_flight() > 0 {
            assert!(
                started.elapsed() < limit,
                "{} transfers still in flight after {limit:?}",
                self.engine.transfers_in_flight()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// POSTs `body` with an `Idempotency-Key` header.
    pub async fn post_keyed(&self, path: &str, body: &Value, token: &str, key: &str) -> Response {
        self.client
            .post(format!("{}{}", self.address, path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }
}

/// Alice with a funded USD account, Bob with an empty one, and a banker: the cast of the tests
/// of what transfers say and of refunds.
pub struct Scene {
    pub app: TestApp,
    pub alice: TestUser,
    pub bob: TestUser,
    pub banker: TestUser,
    pub alice_usd: i64,
    pub bob_usd: i64,
}

impl Scene {
    /// Alice's account holds `alice_usd_minor` (minor units).
    pub async fn funded(alice_usd_minor: i64) -> Scene {
        let app = spawn_app().await;
        let alice = app.create_depositor().await;
        let bob = app.create_depositor().await;
        let banker = app.create_banker().await;
        let alice_usd = app
            .funded_account(&alice, &banker, "USD", alice_usd_minor)
            .await;
        let bob_usd = app.open_account(&bob, "USD").await;
        Scene {
            app,
            alice,
            bob,
            banker,
            alice_usd,
            bob_usd,
        }
    }
}
