//! The real `tally` binary as a child process, for tests that kill it or run several replicas.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tally_test_support::TestDatabase;

pub struct Process {
    pub child: Child,
    pub address: String,
}

impl Process {
    /// Waits until `address` + `health_path` answers, or panics naming what did not start.
    async fn wait_until_serving(
        child: Child,
        address: String,
        health_path: &str,
        what: &str,
    ) -> Process {
        let client = crate::helpers::http_client();
        for _ in 0..200 {
            if let Ok(response) = client.get(format!("{address}{health_path}")).send().await {
                if response.status().is_success() {
                    return Process { child, address };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what} did not start on {address}");
    }

    /// `tally serve --no-migrate` on `port` against `database` (already migrated).
    pub async fn tally(database: &TestDatabase, port: u16) -> Process {
        Process::tally_with(database, port, &[], Stdio::null()).await
    }

    /// As `tally`, with more settings (`TALLY_*` variables, winning over the defaults here) and
    /// its log lines (standard error) sent to `log`.
    pub async fn tally_with(
        database: &TestDatabase,
        port: u16,
        settings: &[(&str, &str)],
        log: Stdio,
    ) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["serve", "--no-migrate"])
            .env("TALLY_DATABASE__URL", database.url())
            .env("TALLY_HTTP__ADDR", format!("127.0.0.1:{port}"))
            .env("TALLY_HTTP__WORKERS", "2")
            .env("TALLY_AUTH__BCRYPT_COST", "4")
            .env("TALLY_AUTH__ADDRESS_ATTEMPTS_MAX", "1000000")
            .env("TALLY_LOG__LEVEL", "error")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the tally binary starts");
        Process::wait_until_serving(
            child,
            format!("http://127.0.0.1:{port}"),
            "/healthz",
            "tally",
        )
        .await
    }

    /// The repository's nginx.conf on `port`, in front of `upstreams`, through
    /// `scripts/nginx-local` (which needs Debian's nginx: `scripts/deps deploy`).
    pub async fn nginx(directory: &Path, port: u16, upstreams: &[u16]) -> Process {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/nginx-local");
        let mut command = Command::new(script);
        command
            .arg("run")
            .arg(directory)
            .arg(format!("127.0.0.1:{port}"))
            .args(
                upstreams
                    .iter()
                    .map(|upstream| format!("127.0.0.1:{upstream}")),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command.spawn().expect("scripts/nginx-local starts");
        // The API through the front door: it needs no built web app.
        let address = format!("http://127.0.0.1:{port}");
        Process::wait_until_serving(child, address, "/api/healthz", "nginx").await
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// POSTs JSON; the status and the JSON answer (Null when it has none).
pub async fn post(
    client: &reqwest::Client,
    url: String,
    body: Value,
    token: Option<&str>,
) -> reqwest::Result<(u16, Value)> {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// Signs a user up through `address`, makes them a banker when asked (directly in the
/// database), logs them in, and returns the access token.
pub async fn user(
    client: &reqwest::Client,
    address: &str,
    database: &tokio_postgres::Client,
    name: &str,
    banker: bool,
) -> String {
    let password = "a good password";
    let (status, answer) = post(
        client,
        format!("{address}/users"),
        json!({ "username": name, "password": password, "full_name": "Process Test", "email": format!("{name}@example.com") }),
        None,
    )
    .await
    .expect("sign-up");
    assert_eq!(status, 201, "{answer}");
    if banker {
        database
            .execute(
                "UPDATE users SET role = 'banker' WHERE username = $1",
                &[&name],
            )
            .await
            .expect("a banker");
    }
    let (status, login) = post(
        client,
        format!("{address}/users/login"),
        json!({ "username": name, "password": password }),
        None,
    )
    .await
    .expect("login");
    assert_eq!(status, 200, "{login}");
    login["access_token"].as_str().expect("a token").to_owned()
}

/// A funded USD account of a new user; returns (token, account id).
pub async fn funded_account(
    client: &reqwest::Client,
    address: &str,
    database: &tokio_postgres::Client,
    name: &str,
    banker_token: &str,
    amount: i64,
) -> (String, i64) {
    let token = user(client, address, database, name, false).await;
    let (status, account) = post(
        client,
        format!("{address}/accounts"),
        json!({ "currency": "USD" }),
        Some(&token),
    )
    .await
    .expect("an account");
    assert_eq!(status, 201, "{account}");
    let id = account["id"].as_i64().expect("an id");
    let (status, answer) = post(
        client,
        format!("{address}/accounts/{id}/deposits"),
        json!({ "amount": amount }),
        Some(banker_token),
    )
    .await
    .expect("a deposit");
    assert_eq!(status, 201, "{answer}");
    (token, id)
}
