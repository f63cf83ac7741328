//! Webhook deliveries (design.md "Webhooks"): every replica runs one worker; a webhook is
//! delivered by the replica holding its lease (a row in PostgreSQL), one event at a time, in
//! order, at least once, each signed with the webhook's secret. Its cursor moves only past 2xx
//! answers and is stored once per run of them (every CURSOR_STORE_EVENTS_MAX events or
//! CURSOR_STORE_INTERVAL, and before the lease is given back or a failure recorded), so a
//! restart or another replica continues where it stopped, re-sending at most that run.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use deadpool_postgres::Pool;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use sha2::Sha256;
use tally_actors::events::{self, EventHead, EVENTS_SCAN_MAX};
use uuid::Uuid;

use crate::configuration::WebhookSettings;
use crate::routes::events::event_view;
use crate::store::webhooks::{self as store, Leased};

/// Webhooks at most, across the deployment.
pub const WEBHOOKS_MAX: i64 = 100;
/// How often a replica looks for due webhooks.
pub const WEBHOOK_TICK: Duration = Duration::from_millis(200);
/// Webhooks a replica leases per tick at most.
const WEBHOOKS_PER_TICK_MAX: i64 = 16;
/// How long a lease lasts unless renewed (each delivery renews it); a replica that died is
/// replaced after it.
pub const WEBHOOK_LEASE: Duration = Duration::from_secs(10);
/// A delivery that has not answered by then failed.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Events one lease delivers (or skips) at most before giving the webhook back; it also stops
/// after half the lease.
const DELIVERIES_PER_LEASE_MAX: i64 = 10_000;
/// The cursor is stored after this many events delivered (or skipped) since it last was, or
/// after CURSOR_STORE_INTERVAL, whichever comes first: a crash re-sends at most these.
pub const CURSOR_STORE_EVENTS_MAX: i64 = 1_000;
pub const CURSOR_STORE_INTERVAL: Duration = Duration::from_millis(500);
/// An idle keep-alive connection to a target is closed after this.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries wait 1 s, 2 s, 4 s, … up to an hour.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
pub const RETRY_MAX: Duration = Duration::from_secs(3600);
/// A webhook failing for this long is paused.
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// `url` at most, in bytes.
pub const WEBHOOK_URL_BYTES_MAX: usize = 2048;

/// `Tally-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, t + "." + body))`.
pub fn signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    Signer::new(secret).sign(unix_seconds, body)
}

/// A webhook's secret, keyed into HMAC-SHA256 once per run rather than once per delivery (the
/// key's two padded blocks are a third of an event's hashing).
#[derive(Clone)]
struct Signer(Hmac<Sha256>);

impl Signer {
    fn new(secret: &str) -> Signer {
        Signer(Hmac::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size"))
    }

    fn sign(&self, unix_seconds: i64, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        let seconds = unix_seconds.to_string();
        mac.update(seconds.as_bytes());
        mac.update(b".");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let mut header = String::with_capacity(seconds.len() + 6 + 2 * digest.len());
        header.push_str("t=");
        header.push_str(&seconds);
        header.push_str(",v1=");
        header.push_str(&hex::encode(digest));
        header
    }
}

/// The headers of a delivery, named once.
static EVENT_ID_HEADER: HeaderName = HeaderName::from_static("tally-event-id");
static SIGNATURE_HEADER: HeaderName = HeaderName::from_static("tally-signature");

/// An http(s) URL a webhook may target; in production, not a loopback, private or link-local
/// address (nor `localhost`).
pub fn check_url(url: &str, production: bool) -> Result<reqwest::Url, String> {
    if url.len() > WEBHOOK_URL_BYTES_MAX {
        return Err(format!("url must be at most {WEBHOOK_URL_BYTES_MAX} bytes"));
    }
    // The URL parser would percent-encode them, but the url is stored as given.
    if url.chars().any(char::is_control) {
        return Err("url must not contain control characters".to_owned());
    }
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("url: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("url must be http or https".to_owned());
    }
    let host = parsed.host_str().ok_or("url must name a host")?;
    if production && is_internal_host(host) {
        return Err("url must not be a loopback or private address".to_owned());
    }
    Ok(parsed)
}

fn is_internal_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let lowered = host.to_ascii_lowercase();
    if lowered == "localhost" || lowered.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(address) => is_internal_address(address),
        Err(_) => false,
    }
}

fn is_internal_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                // 100.64.0.0/10, carrier-grade NAT
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_address(IpAddr::V4(v4)),
            None => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                    || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
            }
        },
    }
}

/// Starts this replica's delivery worker on the current runtime.
pub fn start(
    pool: Pool,
    head: EventHead,
    settings: &WebhookSettings,
    production: bool,
) -> anyhow::Result<()> {
    let worker = Worker {
        pool,
        head,
        client: delivery_client(&settings.extra_root_cert)?,
        owner: Uuid::new_v4(),
        production,
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(WEBHOOK_TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = worker.round().await {
                tracing::warn!(%error, "webhook round failed; retrying");
            }
        }
    });
    Ok(())
}

/// Installs rustls' `ring` provider as the process's default, once. reqwest is built without a
/// provider of its own (its default, aws-lc, downloads and builds with cmake), so every client
/// in the process needs this before it is built; a provider already installed stays.
pub fn install_tls_provider() {
    // Deprecated only as a nudge towards aws-lc's post-quantum groups, which ring lacks.
    #[allow(deprecated)]
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// The deliveries' client: no redirects, a timeout, and certificates verified against the
/// system's roots plus the PEM file `extra_root_cert` names (when not empty).
pub fn delivery_client(extra_root_cert: &str) -> anyhow::Result<reqwest::Client> {
    install_tls_provider();
    // One kept-alive connection per target: deliveries to a webhook are sequential.
    let mut builder = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none());
    if !extra_root_cert.is_empty() {
        let pem = std::fs::read(extra_root_cert)
            .with_context(|| format!("webhooks.extra_root_cert: reading {extra_root_cert}"))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("webhooks.extra_root_cert: {extra_root_cert}"))?;
        if roots.is_empty() {
            bail!("webhooks.extra_root_cert: {extra_root_cert} holds no PEM certificate");
        }
        builder = builder.tls_certs_merge(roots);
    }
    builder.build().context("the webhooks' HTTP client")
}

/// How a run of deliveries ended.
enum Outcome {
    /// Caught up, or the lease's share of work done.
    Done,
    Failed(String),
    /// Another replica holds the webhook now.
    LeaseLost,
    /// This side failed (the database): the target is not blamed.
    Broken(String),
}

/// A run's cursor: the last event delivered (or skipped), and the last one stored.
struct Run {
    cursor: i64,
    stored: i64,
    stored_at: Instant,
}

impl Run {
    fn new(delivered_id: i64) -> Run {
        Run {
            cursor: delivered_id,
            stored: delivered_id,
            stored_at: Instant::now(),
        }
    }

    fn store_due(&self) -> bool {
        self.cursor - self.stored >= CURSOR_STORE_EVENTS_MAX
            || self.stored_at.elapsed() >= CURSOR_STORE_INTERVAL
    }
}

struct Worker {
    pool: Pool,
    /// The newest numbered event: only webhooks behind it are leased (an idle webhook costs no
    /// query).
    head: EventHead,
    client: reqwest::Client,
    /// This worker's lease owner id.
    owner: Uuid,
    production: bool,
}

impl Worker {
    async fn round(&self) -> Result<(), String> {
        let head = self.head.current();
        let leased = store::lease_due(
            &self.pool,
            self.owner,
            WEBHOOK_LEASE,
            WEBHOOKS_PER_TICK_MAX,
            head,
        )
        .await
        .map_err(|error| error.to_string())?;
        let deliveries = leased.iter().map(|webhook| self.deliver(webhook));
        for result in futures_util::future::join_all(deliveries).await {
            result?;
        }
        Ok(())
    }

    /// Delivers the webhook's next events in order until it is caught up, a delivery fails,
    /// or the lease's share of work is done; stores the cursor once per run of deliveries
    /// (CURSOR_STORE_EVENTS_MAX events or CURSOR_STORE_INTERVAL), and always before giving the
    /// lease back or recording a failure.
    async fn deliver(&self, webhook: &Leased) -> Result<(), String> {
        let mut run = Run::new(webhook.delivered_id);
        let outcome = match self.target(webhook).await {
            Ok(url) => self.deliver_to(webhook, &url, &mut run).await,
            Err(error) => Outcome::Failed(error),
        };
        if !self.store_cursor(webhook, &mut run).await? {
            return Ok(());
        }
        match outcome {
            Outcome::Done => store::release(&self.pool, webhook.id, self.owner)
                .await
                .map_err(|error| error.to_string()),
            Outcome::Failed(error) => self.failed(webhook, &run, &error).await,
            Outcome::LeaseLost => Ok(()),
            // Not the target's fault: the lease runs out and a later round tries again.
            Outcome::Broken(error) => Err(error),
        }
    }

    /// Posts the events after the run's cursor, page by page, until one of the ends in
    /// `deliver`.
    async fn deliver_to(&self, webhook: &Leased, url: &reqwest::Url, run: &mut Run) -> Outcome {
        let started = Instant::now();
        let signer = Signer::new(&webhook.secret);
        while run.cursor - webhook.delivered_id < DELIVERIES_PER_LEASE_MAX {
            let page = match events::read(&self.pool, run.cursor, EVENTS_SCAN_MAX).await {
                Ok(page) => page,
                Err(error) => return Outcome::Broken(format!("reading events: {error}")),
            };
            if page.events.is_empty() {
                return Outcome::Done;
            }
            for event in &page.events {
                if started.elapsed() > WEBHOOK_LEASE / 2 {
                    return Outcome::Done;
                }
                let wanted = webhook.types.as_ref().map_or(true, |types| {
                    types.iter().any(|kind| kind == event.kind.as_str())
                });
                if wanted {
                    let view = event_view(event, None).expect("a banker sees every event");
                    let body = serde_json::to_vec(&view).expect("an event serialises");
                    if let Err(error) = self.post(&signer, url, event.id, body).await {
                        return Outcome::Failed(error);
                    }
                }
                run.cursor = event.id;
                if run.store_due() {
                    match self.store_cursor(webhook, run).await {
                        Ok(true) => {}
                        Ok(false) => return Outcome::LeaseLost,
                        Err(error) => return Outcome::Broken(error),
                    }
                }
            }
        }
        Outcome::Done
    }

    /// Stores the run's cursor when it moved (renewing the lease); false when this replica no
    /// longer holds the lease.
    async fn store_cursor(&self, webhook: &Leased, run: &mut Run) -> Result<bool, String> {
        if run.cursor == run.stored {
            return Ok(true);
        }
        let held = store::advance(
            &self.pool,
            webhook.id,
            self.owner,
            run.cursor,
            WEBHOOK_LEASE,
        )
        .await
        .map_err(|error| error.to_string())?;
        run.stored = run.cursor;
        run.stored_at = Instant::now();
        Ok(held)
    }

    /// The webhook's URL, checked once per run (in production, with its name resolved).
    async fn target(&self, webhook: &Leased) -> Result<reqwest::Url, String> {
        let url = check_url(&webhook.url, self.production)?;
        if self.production {
            self.refuse_internal_resolution(&url).await?;
        }
        Ok(url)
    }

    async fn post(
        &self,
        signer: &Signer,
        url: &reqwest::Url,
        event_id: i64,
        body: Vec<u8>,
    ) -> Result<(), String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature =
            HeaderValue::try_from(signer.sign(now, &body)).expect("a signature is visible ASCII");
        let response = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(EVENT_ID_HEADER.clone(), HeaderValue::from(event_id))
            .header(SIGNATURE_HEADER.clone(), signature)
            .body(body)
            .send()
            .await
            .map_err(|error| format!("delivery: {error}"))?;
        match response.status().is_success() {
            true => Ok(()),
            false => Err(format!("answered {}", response.status().as_u16())),
        }
    }

    /// In production a name must not resolve to an internal address either.
    async fn refuse_internal_resolution(&self, url: &reqwest::Url) -> Result<(), String> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let addresses = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| format!("resolving {host}: {error}"))?;
        for address in addresses {
            if is_internal_address(address.ip()) {
                return Err(format!("{host} resolves to an internal address"));
            }
        }
        Ok(())
    }

    async fn failed(&self, webhook: &Leased, run: &Run, error: &str) -> Result<(), String> {
        // Deliveries succeeded in this run: the failing event is a new one, tried once.
        let failures = match run.stored > webhook.delivered_id {
            true => 0,
            false => webhook.failures,
        };
        let doublings = failures.clamp(0, 20) as u32;
        let retry_in = RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX);
        store::fail(
            &self.pool,
            webhook.id,
            self.owner,
            error,
            retry_in,
            RETRY_WINDOW,
        )
        .await
        .map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Computed independently: python3 -c "import hmac; print(hmac.new(b'whsec', b'1700000000.{}', 'sha256').hexdigest())"
        assert_eq!(
            signature("whsec", 1700000000, b"{}"),
            "t=1700000000,v1=7d44587dddbaf4c7f70fef20f48cd594834ffea1641e3ac227b84408298738af"
        );
    }

    #[test]
    fn the_cursor_is_stored_after_a_run_of_events_or_an_interval() {
        let mut run = Run::new(40);
        assert!(!run.store_due());
        run.cursor = 40 + CURSOR_STORE_EVENTS_MAX - 1;
        assert!(!run.store_due());
        run.cursor += 1;
        assert!(run.store_due());
        let mut late = Run::new(7);
        late.cursor = 8;
        late.stored_at = Instant::now() - CURSOR_STORE_INTERVAL;
        assert!(late.store_due());
    }

    #[test]
    fn an_extra_root_that_cannot_be_read_or_holds_no_certificate_stops_the_start() {
        let missing = delivery_client("/nonexistent/roots.pem").unwrap_err();
        assert!(format!("{missing:#}").contains("webhooks.extra_root_cert"));
        let empty = tempfile_with(b"no certificate here\n");
        let error = delivery_client(empty.to_str().unwrap()).unwrap_err();
        assert!(format!("{error:#}").contains("holds no PEM certificate"));
        assert!(delivery_client("").is_ok());
        std::fs::remove_file(empty).unwrap();
    }

    fn tempfile_with(bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("tally-roots-{}.pem", Uuid::new_v4()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn production_refuses_internal_targets_and_every_mode_refuses_other_schemes() {
        for url in [
            "http://127.0.0.1/x",
            "http://localhost:8080/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://169.254.169.254/latest",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(check_url(url, true).is_err(), "{url}");
            assert!(check_url(url, false).is_ok(), "{url}");
        }
        assert!(check_url("https://hooks.example.com/tally", true).is_ok());
        for url in ["ftp://example.com/", "file:///etc/passwd", "not a url", ""] {
            assert!(check_url(url, false).is_err(), "{url}");
        }
    }
}
