use std::collections::HashMap;

use deadpool_postgres::Pool;
use reqwest::{Method, Response};
use serde_json::Value;
use tally::configuration::Settings;
use tally::startup::Application;
use tally::telemetry;
use tally_test_support::{fresh_database, TcpProxy, TestDatabase};

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub database: TestDatabase,
    /// For assertions on rows; the app has its own pool.
    pub pool: Pool,
    pub client: reqwest::Client,
    /// Present when the app reaches PostgreSQL through a cuttable proxy.
    pub proxy: Option<TcpProxy>,
}

/// Settings for a test app: port 0, a cheap bcrypt cost, quiet logs unless TEST_LOG is set.
pub fn test_settings(database_url: &str) -> Settings {
    let mut environment = HashMap::new();
    environment.insert("TALLY_DATABASE__URL".to_owned(), database_url.to_owned());
    environment.insert("TALLY_HTTP__ADDR".to_owned(), "127.0.0.1:0".to_owned());
    environment.insert("TALLY_HTTP__WORKERS".to_owned(), "2".to_owned());
    environment.insert("TALLY_AUTH__BCRYPT_COST".to_owned(), "4".to_owned());
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
    telemetry::init(&settings.log);
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

/// Spawns the app reaching PostgreSQL through a proxy the test can cut and restore.
pub async fn spawn_app_behind_proxy() -> TestApp {
    let database = fresh_database().await;
    let proxy = TcpProxy::to_postgres(&database).await;
    let settings = test_settings(&database.url_via_port(proxy.port()));
    launch(database, settings, Some(proxy)).await
}

async fn launch(database: TestDatabase, settings: Settings, proxy: Option<TcpProxy>) -> TestApp {
    let application = Application::build(settings).await.expect("the app builds");
    let port = application.port();
    actix_web::rt::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        pool: database.pool(4),
        database,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
        proxy,
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

    pub async fn db(&self) -> deadpool_postgres::Object {
        self.pool.get().await.expect("a test database connection")
    }
}

/// Asserts an API error: its status and its `error.code`; returns the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    let actual_status = response.status().as_u16();
    let body: Value = response.json().await.expect("an error body in JSON");
    assert_eq!(actual_status, status, "status of {body}");
    assert_eq!(body["error"]["code"], code, "code of {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "an error message in {body}"
    );
    body
}
