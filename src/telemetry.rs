//! Logging and tracing: pretty lines for people, JSON lines for machines, and OpenTelemetry
//! spans over OTLP when `telemetry.otlp_endpoint` is set.
//!
//! Every span is a `tracing` span (the engine knows only `tracing`); the OpenTelemetry layer
//! turns them into OTLP spans. The request's span takes its parent from the W3C `traceparent`
//! header, and the engine carries the span across its tasks and the journal's (see
//! `JournalItem::span`), so one transfer is one trace: request → engine hold → journal batch →
//! journal commit.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::{web, Error, HttpMessage};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::{Level, Span};
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::configuration::{LogFormat, LogSettings, TelemetrySettings};
use crate::net::client_address_of;
use crate::startup::AppState;

/// Finished spans waiting for the exporter; past it new spans are dropped (a collector that is
/// down costs this much memory, never more).
const EXPORT_QUEUE_SPANS_MAX: usize = 2048;
/// Spans sent in one OTLP request.
const EXPORT_BATCH_SPANS_MAX: usize = 512;
/// How often the queue is sent when it is not full.
const EXPORT_INTERVAL: Duration = Duration::from_secs(1);
/// One OTLP request's limit.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Crates that log each SQL statement with its parameters at debug level (password hashes,
/// idempotency bodies, tokens' session ids): never more verbose than info, whatever the
/// filter asks. Targets match by prefix, so `deadpool` covers `deadpool_postgres`.
const SQL_TARGETS: [&str; 3] = ["tokio_postgres", "postgres_protocol", "deadpool"];

/// The exporter, while tracing is on: dropping it sends the spans still queued.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("tally: telemetry: the last spans were not exported: {error}");
            }
        }
    }
}

/// Installs the global subscriber once; later calls (tests spawning many apps) do nothing.
/// With `telemetry.otlp_endpoint` set, also an OpenTelemetry layer exporting over OTLP/HTTP;
/// without it there is no such layer at all. Keep the answer alive until the process ends.
pub fn init(log: &LogSettings, telemetry: &TelemetrySettings) -> Result<Telemetry, String> {
    let provider = telemetry
        .endpoint()
        .map(|endpoint| tracer_provider(endpoint, telemetry))
        .transpose()?;
    let fmt = tracing_subscriber::fmt::layer()
        // One line per finished request span: its route, status and latency.
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match log.format {
        LogFormat::Pretty => fmt.compact().with_filter(filter(log)).boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_filter(filter(log))
            .boxed(),
    };
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tally"))
            .with_filter(traced())
    });
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();
    Ok(Telemetry {
        // Another subscriber was first (a test's): nothing of ours would reach this exporter.
        provider: provider.filter(|_| installed),
    })
}

/// What becomes an OpenTelemetry span, whatever the log level: the request's span and the
/// engine's (debug level, so the log lines of a finished span stay the request's alone).
fn traced() -> Targets {
    Targets::new()
        .with_target("tally", Level::INFO)
        .with_target("tally_actors", Level::DEBUG)
}

fn tracer_provider(
    endpoint: &str,
    settings: &TelemetrySettings,
) -> Result<SdkTracerProvider, String> {
    // The exporter builds a reqwest client, and reqwest brings no TLS provider of its own.
    crate::webhooks::install_tls_provider();
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|error| format!("telemetry.otlp_endpoint: {error}"))?;
    let batches = BatchConfigBuilder::default()
        .with_max_queue_size(EXPORT_QUEUE_SPANS_MAX)
        .with_max_export_batch_size(EXPORT_BATCH_SPANS_MAX)
        .with_scheduled_delay(EXPORT_INTERVAL)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batches)
        .build();
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build())
}

/// The request's headers, as the W3C propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Makes the request's `traceparent` (when valid) the span's parent, and records the trace id
/// in the span, hence in every log line written within it. Without the OpenTelemetry layer the
/// id is the header's: logs still join the caller's trace.
fn join_trace(span: &Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let remote = parent.span().span_context().trace_id();
    // Refused when no OpenTelemetry layer is installed: then the header's id is all there is.
    let _ = span.set_parent(parent);
    let own = span.context().span().span_context().trace_id();
    let trace_id = if own == TraceId::INVALID { remote } else { own };
    if trace_id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// `RUST_LOG` when set, else the configured level; either way with the SQL targets at info.
fn filter(settings: &LogSettings) -> EnvFilter {
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.level.clone());
    clamped_filter(&wanted)
}

/// `directives` without any of its own for the SQL targets, plus those targets at the global
/// level but never above info.
fn clamped_filter(directives: &str) -> EnvFilter {
    let kept: Vec<&str> = directives
        .split(',')
        .filter(|directive| {
            let target = directive
                .trim()
                .split(['=', '['])
                .next()
                .unwrap_or_default();
            !SQL_TARGETS.iter().any(|sql| target.starts_with(sql))
        })
        .collect();
    let global = kept
        .iter()
        .filter_map(|directive| directive.trim().parse::<LevelFilter>().ok())
        .next_back()
        .unwrap_or(LevelFilter::OFF);
    let level = if verbosity(global) > verbosity(LevelFilter::INFO) {
        LevelFilter::INFO
    } else {
        global
    };
    let mut filter = EnvFilter::try_new(kept.join(",")).unwrap_or_else(|_| EnvFilter::new("info"));
    for target in SQL_TARGETS {
        let directive = format!("{target}={level}");
        filter = filter.add_directive(directive.parse().expect("a valid directive"));
    }
    filter
}

/// 0 for off up to 5 for trace.
fn verbosity(level: LevelFilter) -> u8 {
    use tracing::Level;
    match level.into_level() {
        None => 0,
        Some(level) if level == Level::ERROR => 1,
        Some(level) if level == Level::WARN => 2,
        Some(level) if level == Level::INFO => 3,
        Some(level) if level == Level::DEBUG => 4,
        Some(_) => 5,
    }
}

/// The span of each request, as tracing-actix-web's default but with the client address
/// `net::client_address_of` gives (`X-Forwarded-For` only from a trusted proxy): the default
/// believes that header from anyone, so a client could write any address into the logs.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let trusted = request
            .app_data::<web::Data<AppState>>()
            .map(|state| state.settings.http.trusted_proxies.as_slice())
            .unwrap_or_default();
        let client_ip = client_address_of(request.request(), trusted);
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            trace_id = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        );
        join_trace(&span, request.headers());
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::clamped_filter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged_under(directives: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(clamped_filter(directives))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "tokio_postgres::query", "executing statement with parameters: [\"$2b$12$hash\"]");
            tracing::debug!(target: "deadpool_postgres", "recycling with parameters: secret-body");
            tracing::info!(target: "tokio_postgres::connection", "connection info stays");
            tracing::debug!(target: "tally::routes", "our own debug line");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[actix_web::test]
    async fn request_logs_name_the_peer_not_a_forwarded_for_it_sent() {
        use actix_web::{test, web, App, HttpResponse};
        use tracing_actix_web::TracingLogger;

        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::<super::RequestSpan>::new())
                .route("/", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/")
            .peer_addr("192.0.2.10:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "6.6.6.6"))
            .to_request();
        assert_eq!(test::call_service(&app, request).await.status(), 200);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("192.0.2.10"), "{text}");
        assert!(!text.contains("6.6.6.6"), "{text}");
    }

    #[test]
    fn debug_logging_never_prints_sql_parameters() {
        for directives in [
            "debug",
            "trace",
            "debug,tokio_postgres=trace",
            "tokio_postgres::query=debug,debug",
            "info,deadpool_postgres=debug,tally=debug",
        ] {
            let text = logged_under(directives);
            assert!(!text.contains("$2b$12$hash"), "{directives}: {text}");
            assert!(!text.contains("secret-body"), "{directives}: {text}");
            assert!(
                text.contains("connection info stays"),
                "{directives}: {text}"
            );
            assert!(text.contains("our own debug line"), "{directives}: {text}");
        }
        // Never louder than asked either.
        let text = logged_under("warn");
        assert!(!text.contains("connection info stays"), "{text}");
    }
}
