//! Settings, from (later wins) the built-in `defaults.toml`, an optional file given by `--config`,
//! then `TALLY_*` environment variables with `__` between nested keys. `DATABASE_URL` is honoured
//! when `TALLY_DATABASE__URL` is unset.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use config::{Config, Environment as EnvSource, File, FileFormat};
use serde::{de, Deserialize, Deserializer};
/// The one duration parser of both crates (seconds or humantime: `30s`, `15m`, `24h`). It lives
/// with `EngineConfig`, which needs it and cannot depend on this crate; re-exported here so the
/// service's settings and CLI name it through their own configuration module.
pub use tally_actors::config::duration;
use tally_actors::EngineConfig;

use crate::net::IpNetwork;

const DEFAULTS: &str = include_str!("defaults.toml");

/// The development token key from `defaults.toml`; production refuses to start with it.
const DEVELOPMENT_TOKEN_KEY: &str =
    "746170792d646576656c6f706d656e742d6b65792d6e6f742d7365637265742e";

/// Keys published in this repository (defaults.toml, docker-compose.yml's demo key): anyone can
/// forge tokens with them, so production refuses them all.
const PUBLISHED_TOKEN_KEYS: [&str; 2] = [
    DEVELOPMENT_TOKEN_KEY,
    "de30de30de30de30de30de30de30de30de30de30de30de30de30de30de30de30",
];

/// A key of 32 bytes with fewer distinct byte values than this was typed, not drawn at random
/// (32 random bytes have about 30 distinct values; fewer than 12 happens with odds below 1e-15).
const TOKEN_KEY_DISTINCT_BYTES_MIN: usize = 12;

/// Access tokens are checked without a database query, so their lifetime bounds how long a
/// revocation must be remembered; an hour keeps that memory small.
pub const ACCESS_TTL_MAX: Duration = Duration::from_secs(3600);

/// Bounds of settings whose zero or huge value is a typo, refused at start.
const POOL_SIZE_MAX: usize = 1024;
const HTTP_WORKERS_MAX: usize = 1024;
const HTTP_BODY_LIMIT_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The levels a `log.level` directive may name.
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub env: RunMode,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub token: TokenSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub telemetry: TelemetrySettings,
    pub engine: EngineConfig,
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Development,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    pub workers: usize,
    pub body_limit_bytes: usize,
    /// A body not fully received this long after its headers is answered 408 and its
    /// connection closed (slow clients hold no connection for ever).
    #[serde(deserialize_with = "duration::deserialize")]
    pub body_read_timeout: Duration,
    /// Open connections one client address may hold; past it, new ones are answered 429 and
    /// closed.
    pub connections_per_address_max: usize,
    #[serde(deserialize_with = "duration::deserialize")]
    pub shutdown_timeout: Duration,
    /// When set, `/metrics` is served here only, not on `addr`.
    #[serde(default)]
    pub metrics_addr: Option<SocketAddr>,
    /// Peers whose `X-Forwarded-For` is believed (the reverse proxies); empty: nobody's.
    #[serde(default, deserialize_with = "crate::net::deserialize_networks")]
    pub trusted_proxies: Vec<IpNetwork>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub pool_size: usize,
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    /// A replica for statements, balances at an instant and lists; none: the primary serves all.
    #[serde(default)]
    pub read_url: Option<DatabaseUrl>,
    /// The replica serves reads only while its replay lag is below this.
    #[serde(deserialize_with = "duration::deserialize")]
    pub read_max_lag: Duration,
}

/// A PostgreSQL URL, checked at load time; its `Debug` hides the password.
#[derive(Clone)]
pub struct DatabaseUrl(tokio_postgres::Config);

impl DatabaseUrl {
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DatabaseUrl({:?}@{:?}/{:?})",
            self.0.get_user(),
            self.0.get_hosts(),
            self.0.get_dbname()
        )
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<tokio_postgres::Config>()
            .map(DatabaseUrl)
            .map_err(|error| format!("not a PostgreSQL URL ({error})"))
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse::<tokio_postgres::Config>()
            .map(DatabaseUrl)
            .map_err(|error| de::Error::custom(format!("not a PostgreSQL URL ({error})")))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub key: TokenKey,
    #[serde(deserialize_with = "duration::deserialize")]
    pub access_ttl: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub refresh_ttl: Duration,
}

/// The 32-byte symmetric key of PASETO v4.local; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn is_development_default(&self) -> bool {
        hex::encode(self.0) == DEVELOPMENT_TOKEN_KEY
    }

    /// Whether the key is printed somewhere in this repository.
    pub fn is_published(&self) -> bool {
        PUBLISHED_TOKEN_KEYS.contains(&hex::encode(self.0).as_str())
    }

    /// Whether the key has too few distinct bytes to have come from a random source.
    pub fn is_low_entropy(&self) -> bool {
        let mut seen = [false; 256];
        for byte in self.0 {
            seen[usize::from(byte)] = true;
        }
        seen.iter().filter(|seen| **seen).count() < TOKEN_KEY_DISTINCT_BYTES_MIN
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for TokenKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key)
            .map_err(|_| de::Error::custom("expected 64 hex characters (32 bytes)"))?;
        Ok(TokenKey(key))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub bcrypt_cost: u32,
    /// Failed logins for one username from one address within the window before that pair
    /// answers 429.
    pub login_failures_max: u32,
    #[serde(deserialize_with = "duration::deserialize")]
    pub login_failure_window: Duration,
    /// Failed logins from one address (any usernames) within the window before it answers 429.
    pub address_failures_max: u32,
    /// The longest a username's failures from every address slow its logins down.
    #[serde(deserialize_with = "duration::deserialize")]
    pub login_delay_max: Duration,
    /// Sign-ups and logins per client address within `address_window`.
    pub address_attempts_max: u32,
    #[serde(deserialize_with = "duration::deserialize")]
    pub address_window: Duration,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// A PEM file of root certificates trusted for https deliveries besides the system's (a
    /// private CA); empty: the system's roots only. Verification is never turned off.
    #[serde(default)]
    pub extra_root_cert: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// OpenTelemetry traces, exported over OTLP (HTTP, protobuf) only when an endpoint is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// The collector's OTLP/HTTP base URL (e.g. `http://otel-collector:4318`); spans go to its
    /// `/v1/traces`. Unset or empty: no exporter, no OpenTelemetry layer.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute of every span.
    pub service_name: String,
}

impl TelemetrySettings {
    /// The endpoint when tracing is on.
    pub fn endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|endpoint| !endpoint.is_empty())
    }

    fn check(&self) -> Result<(), String> {
        if let Some(endpoint) = self.endpoint() {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(format!(
                    "telemetry.otlp_endpoint: `{endpoint}` is not an http:// or https:// URL"
                ));
            }
        }
        if self.service_name.trim().is_empty() {
            return Err("telemetry.service_name must not be empty".to_owned());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Why settings could not be loaded: one line for a person, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigurationError(String);

impl Settings {
    /// Loads from the defaults, `file` when given, and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigurationError> {
        let environment: HashMap<String, String> = std::env::vars().collect();
        Settings::load_with(file, &environment)
    }

    /// Loads with an explicit environment (tests run in parallel, so they never touch the
    /// process's own).
    pub fn load_with(
        file: Option<&Path>,
        environment: &HashMap<String, String>,
    ) -> Result<Settings, ConfigurationError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
        }
        let tally_variables: HashMap<String, String> = environment
            .iter()
            .filter(|(name, _)| name.starts_with("TALLY_"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        builder = builder.add_source(
            EnvSource::with_prefix("TALLY")
                .prefix_separator("_")
                .separator("__")
                .source(Some(tally_variables)),
        );
        if let (None, Some(url)) = (
            environment.get("TALLY_DATABASE__URL"),
            environment.get("DATABASE_URL"),
        ) {
            builder = builder
                .set_override("database.url", url.as_str())
                .map_err(|error| ConfigurationError(error.to_string()))?;
        }
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|error| ConfigurationError(error.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses settings that would stop or endanger the service, naming the key.
    fn validate(&self) -> Result<(), ConfigurationError> {
        self.check_token()
            .and_then(|()| self.check_auth())
            .and_then(|()| self.check_service_bounds())
            .and_then(|()| check_log_level(&self.log.level))
            .and_then(|()| self.telemetry.check())
            .map_err(ConfigurationError)?;
        self.engine
            .validate()
            .map_err(|error| ConfigurationError(error.to_string()))
    }

    fn check_token(&self) -> Result<(), String> {
        let production = self.env == RunMode::Production;
        if production && self.token.key.is_published() {
            return refuse("token.key is a key published in the repository; set TALLY_TOKEN__KEY to `openssl rand -hex 32` in production");
        }
        if production && self.token.key.is_low_entropy() {
            return refuse("token.key has too few distinct bytes to be random; set TALLY_TOKEN__KEY to `openssl rand -hex 32` in production");
        }
        if self.token.access_ttl.is_zero() || self.token.refresh_ttl.is_zero() {
            return refuse("token.access_ttl and token.refresh_ttl must be above zero");
        }
        if self.token.access_ttl > ACCESS_TTL_MAX {
            return refuse(
                "token.access_ttl must be at most 1h (logouts are remembered that long)",
            );
        }
        Ok(())
    }

    fn check_auth(&self) -> Result<(), String> {
        let auth = &self.auth;
        if !(4..=31).contains(&auth.bcrypt_cost) {
            return refuse("auth.bcrypt_cost must be between 4 and 31");
        }
        if auth.login_failures_max == 0
            || auth.address_attempts_max == 0
            || auth.address_failures_max == 0
        {
            return refuse(
                "auth.login_failures_max, auth.address_failures_max and auth.address_attempts_max must be at least 1",
            );
        }
        if auth.login_failure_window.is_zero() || auth.address_window.is_zero() {
            return refuse("auth.login_failure_window and auth.address_window must be above zero");
        }
        Ok(())
    }

    fn check_service_bounds(&self) -> Result<(), String> {
        if !(1..=POOL_SIZE_MAX).contains(&self.database.pool_size) {
            return refuse(&format!("database.pool_size must be 1 to {POOL_SIZE_MAX}"));
        }
        if self.database.connect_timeout.is_zero() {
            return refuse("database.connect_timeout must be above zero");
        }
        if self.http.workers > HTTP_WORKERS_MAX {
            return refuse(&format!(
                "http.workers must be at most {HTTP_WORKERS_MAX} (0 means one per core)"
            ));
        }
        if !(1..=HTTP_BODY_LIMIT_BYTES_MAX).contains(&self.http.body_limit_bytes) {
            return refuse(&format!(
                "http.body_limit_bytes must be 1 to {HTTP_BODY_LIMIT_BYTES_MAX}"
            ));
        }
        if self.http.body_read_timeout.is_zero() || self.http.connections_per_address_max == 0 {
            return refuse(
                "http.body_read_timeout must be above zero and http.connections_per_address_max at least 1",
            );
        }
        Ok(())
    }
}

fn refuse(message: &str) -> Result<(), String> {
    Err(message.to_owned())
}

/// `log.level` is a tracing filter: comma-separated directives, each a level (`info`) or
/// `target=level` (`tally=debug`). tracing reads a bare unknown word (`verbose`) as a target,
/// which would silently log almost nothing, so every directive must name a known level.
fn check_log_level(filter: &str) -> Result<(), String> {
    let levels = LOG_LEVELS.join(", ");
    if filter.trim().is_empty() {
        return Err(format!("log.level must name a level ({levels})"));
    }
    for directive in filter.split(',').map(str::trim) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        if !LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "log.level: `{directive}` names no level ({levels}, or target=level)"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|error| format!("log.level: `{filter}` is not a tracing filter ({error})"))
}
