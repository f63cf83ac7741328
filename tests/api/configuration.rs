use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use tally::configuration::{LogFormat, RunMode, Settings};
use tally_actors::EngineConfig;

fn environment(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("a temporary file");
    file.write_all(contents.as_bytes()).expect("written");
    file
}

#[test]
fn defaults_load_without_file_or_environment() {
    let settings = Settings::load_with(None, &HashMap::new()).expect("the defaults load");
    assert_eq!(settings.env, RunMode::Development);
    assert_eq!(settings.http.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.http.body_limit_bytes, 64 * 1024);
    assert_eq!(settings.token.access_ttl, Duration::from_secs(15 * 60));
    assert_eq!(settings.token.refresh_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(settings.auth.bcrypt_cost, 12);
    assert_eq!(settings.log.format, LogFormat::Pretty);
    assert_eq!(
        settings.telemetry.endpoint(),
        None,
        "tracing is off by default"
    );
    assert!(settings.token.key.is_development_default());
}

#[test]
fn a_file_overrides_the_defaults_and_the_environment_overrides_the_file() {
    let config = file(
        "[database]\npool_size = 7\nurl = \"postgres://file@127.0.0.1:5432/from_file\"\n\
         [token]\naccess_ttl = \"5m\"\n[log]\nformat = \"json\"\n",
    );
    let settings = Settings::load_with(
        Some(config.path()),
        &environment(&[("TALLY_DATABASE__POOL_SIZE", "9")]),
    )
    .expect("settings load");
    assert_eq!(settings.database.pool_size, 9, "env beats file");
    assert_eq!(
        settings.token.access_ttl,
        Duration::from_secs(300),
        "file beats defaults"
    );
    assert_eq!(settings.log.format, LogFormat::Json);
    assert_eq!(
        settings.database.url.config().get_dbname(),
        Some("from_file")
    );
}

#[test]
fn database_url_is_used_only_when_tally_database_url_is_unset() {
    let plain = Settings::load_with(
        None,
        &environment(&[("DATABASE_URL", "postgres://u@127.0.0.1:5432/plain")]),
    )
    .expect("settings load");
    assert_eq!(plain.database.url.config().get_dbname(), Some("plain"));

    let both = Settings::load_with(
        None,
        &environment(&[
            ("DATABASE_URL", "postgres://u@127.0.0.1:5432/plain"),
            (
                "TALLY_DATABASE__URL",
                "postgres://u@127.0.0.1:5432/tally_wins",
            ),
        ]),
    )
    .expect("settings load");
    assert_eq!(both.database.url.config().get_dbname(), Some("tally_wins"));
}

#[test]
fn durations_accept_seconds_and_humantime() {
    let settings = Settings::load_with(
        None,
        &environment(&[
            ("TALLY_TOKEN__ACCESS_TTL", "90"),
            ("TALLY_TOKEN__REFRESH_TTL", "2h"),
        ]),
    )
    .expect("settings load");
    assert_eq!(settings.token.access_ttl, Duration::from_secs(90));
    assert_eq!(settings.token.refresh_ttl, Duration::from_secs(7200));
}

fn load_error(pairs: &[(&str, &str)]) -> String {
    Settings::load_with(None, &environment(pairs))
        .expect_err("the value is refused")
        .to_string()
}

#[test]
fn a_malformed_value_is_refused_with_a_message_naming_its_key() {
    let cases = [
        ("TALLY_DATABASE__POOL_SIZE", "many", "database.pool_size"),
        ("TALLY_TOKEN__KEY", "abcd", "token.key"),
        ("TALLY_TOKEN__ACCESS_TTL", "soon", "token.access_ttl"),
        ("TALLY_HTTP__ADDR", "not an address", "http.addr"),
        ("TALLY_LOG__FORMAT", "xml", "log.format"),
        (
            "TALLY_TELEMETRY__OTLP_ENDPOINT",
            "collector:4318",
            "telemetry.otlp_endpoint",
        ),
        (
            "TALLY_TELEMETRY__SERVICE_NAME",
            " ",
            "telemetry.service_name",
        ),
        ("TALLY_ENV", "staging", "env"),
        (
            "TALLY_DATABASE__URL",
            "postgres://u@h:notaport/db",
            "database.url",
        ),
    ];
    for (name, value, key) in cases {
        let message = load_error(&[(name, value)]);
        assert!(
            message.contains(key),
            "{name}={value}: `{message}` should name {key}"
        );
        assert_eq!(message.lines().count(), 1, "one line: {message}");
    }
}

#[test]
fn an_unknown_key_in_a_section_is_refused_with_its_name() {
    let message = load_error(&[("TALLY_DATABASE__POOL_SIZ", "3")]);
    assert!(message.contains("pool_siz"), "{message}");
}

#[test]
fn production_refuses_the_development_token_key() {
    let message = load_error(&[("TALLY_ENV", "production")]);
    assert!(message.contains("token.key"), "{message}");

    let key = &random_key();
    let settings = Settings::load_with(
        None,
        &environment(&[("TALLY_ENV", "production"), ("TALLY_TOKEN__KEY", key)]),
    )
    .expect("a real key is accepted in production");
    assert_eq!(settings.env, RunMode::Production);
    assert!(!settings.token.key.is_development_default());
}

#[test]
fn idempotency_keys_are_kept_at_least_a_day() {
    let message = load_error(&[("TALLY_ENGINE__IDEMPOTENCY_RETENTION", "2h")]);
    assert!(
        message.contains("engine.idempotency_retention"),
        "{message}"
    );
    let settings = Settings::load_with(
        None,
        &environment(&[("TALLY_ENGINE__IDEMPOTENCY_RETENTION", "30days")]),
    )
    .expect("a month is fine");
    assert_eq!(
        settings.engine.idempotency_retention,
        Duration::from_secs(30 * 24 * 3600)
    );
}

#[test]
fn the_engine_defaults_of_defaults_toml_are_engine_config_default() {
    let settings = Settings::load_with(None, &HashMap::new()).expect("the defaults load");
    assert_eq!(settings.engine, EngineConfig::default());
}

/// `(section, key, value)` of every setting `src/defaults.toml` gives, its value as written
/// (strings without their quotes).
fn default_settings() -> Vec<(String, String, String)> {
    let text = include_str!("../../src/defaults.toml");
    let mut section = String::new();
    let mut settings = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key = value");
        let value = value.trim().trim_matches('"').to_owned();
        settings.push((section.clone(), key.trim().to_owned(), value));
    }
    settings
}

#[test]
fn every_default_of_defaults_toml_is_documented_with_its_value() {
    let operations = include_str!("../../docs/operations.md");
    let settings = default_settings();
    assert!(settings.len() >= 30, "defaults.toml read: {settings:?}");
    for (section, key, value) in settings {
        let variable = match section.as_str() {
            "" => format!("TALLY_{}", key.to_uppercase()),
            _ => format!("TALLY_{}__{}", section.to_uppercase(), key.to_uppercase()),
        };
        let row_start = format!("| `{variable}` | ");
        let row = operations
            .lines()
            .find_map(|line| line.strip_prefix(&row_start))
            .unwrap_or_else(|| panic!("docs/operations.md has no row for {variable}"));
        // A default written as a value (not in words, like the token key's) is that value.
        if row.starts_with('`') {
            assert!(
                row.starts_with(&format!("`{value}`")),
                "{variable}: defaults.toml says {value}, docs/operations.md says {row}"
            );
        }
    }
}

#[test]
fn zero_or_absurd_values_are_refused_at_start_naming_their_key() {
    let cases = [
        (
            "TALLY_ENGINE__JOURNAL_WRITERS",
            "0",
            "engine.journal_writers",
        ),
        (
            "TALLY_ENGINE__JOURNAL_WRITERS",
            "1000",
            "engine.journal_writers",
        ),
        (
            "TALLY_ENGINE__EXPIRY_SWEEP_INTERVAL",
            "0",
            "engine.expiry_sweep_interval",
        ),
        (
            "TALLY_ENGINE__EXPIRY_SWEEP_INTERVAL",
            "1h",
            "engine.expiry_sweep_interval",
        ),
        (
            "TALLY_ENGINE__EXPIRY_SWEEP_BATCH_MAX",
            "0",
            "engine.expiry_sweep_batch_max",
        ),
        ("TALLY_ENGINE__BATCH_SIZE_MAX", "0", "engine.batch_size_max"),
        (
            "TALLY_ENGINE__BATCH_SIZE_MAX",
            "10000000",
            "engine.batch_size_max",
        ),
        (
            "TALLY_ENGINE__MAILBOX_CAPACITY",
            "0",
            "engine.mailbox_capacity",
        ),
        (
            "TALLY_ENGINE__JOURNAL_QUEUE_MAX",
            "0",
            "engine.journal_queue_max",
        ),
        (
            "TALLY_ENGINE__TRANSFERS_IN_FLIGHT_MAX",
            "0",
            "engine.transfers_in_flight_max",
        ),
        (
            "TALLY_ENGINE__IDLE_PASSIVATION",
            "0",
            "engine.idle_passivation",
        ),
        ("TALLY_ENGINE__ARBITERS", "100000", "engine.arbiters"),
        (
            "TALLY_ENGINE__STALE_RETRIES_MAX",
            "1000000",
            "engine.stale_retries_max",
        ),
        (
            "TALLY_ENGINE__IDEMPOTENCY_RETENTION",
            "100years",
            "engine.idempotency_retention",
        ),
        ("TALLY_LOG__LEVEL", "verbose", "log.level"),
        ("TALLY_LOG__LEVEL", "tally=loud,info", "log.level"),
        ("TALLY_LOG__LEVEL", "", "log.level"),
        ("TALLY_DATABASE__POOL_SIZE", "0", "database.pool_size"),
        ("TALLY_DATABASE__POOL_SIZE", "100000", "database.pool_size"),
        (
            "TALLY_DATABASE__CONNECT_TIMEOUT",
            "0",
            "database.connect_timeout",
        ),
        ("TALLY_HTTP__WORKERS", "100000", "http.workers"),
        ("TALLY_HTTP__BODY_LIMIT_BYTES", "0", "http.body_limit_bytes"),
        (
            "TALLY_AUTH__LOGIN_FAILURE_WINDOW",
            "0",
            "auth.login_failure_window",
        ),
        ("TALLY_AUTH__ADDRESS_WINDOW", "0", "auth.address_window"),
        ("TALLY_TOKEN__REFRESH_TTL", "0", "token.refresh_ttl"),
    ];
    for (name, value, key) in cases {
        let message = load_error(&[(name, value)]);
        assert!(
            message.contains(key),
            "{name}={value}: `{message}` should name {key}"
        );
        assert_eq!(message.lines().count(), 1, "one line: {message}");
    }
}

#[test]
fn log_filters_naming_known_levels_are_accepted() {
    for level in [
        "warn",
        "DEBUG",
        "tally=debug,info",
        "tally::routes=trace, warn",
        "off",
    ] {
        let settings = Settings::load_with(None, &environment(&[("TALLY_LOG__LEVEL", level)]))
            .unwrap_or_else(|error| panic!("{level}: {error}"));
        assert_eq!(settings.log.level, level);
    }
}

#[test]
fn the_engine_bounds_themselves_are_accepted() {
    let settings = Settings::load_with(
        None,
        &environment(&[
            ("TALLY_ENGINE__JOURNAL_WRITERS", "64"),
            ("TALLY_ENGINE__EXPIRY_SWEEP_INTERVAL", "5s"),
            ("TALLY_ENGINE__STALE_RETRIES_MAX", "0"),
        ]),
    )
    .expect("the bounds are inside");
    assert_eq!(settings.engine.journal_writers, 64);
    assert_eq!(
        settings.engine.expiry_sweep_interval,
        Duration::from_secs(5)
    );
}

/// A fresh random key (never one written in the repository, which production refuses).
fn random_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
