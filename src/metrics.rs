//! `GET /metrics`: the service's own metrics (HTTP, logins, the pool, the build) and the
//! engine's, in the Prometheus text format. Recording costs a few atomic operations per request:
//! labels are route templates, methods and statuses, never ids or users.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{web, Error, HttpResponse};
use deadpool_postgres::Pool;
use futures_util::future::LocalBoxFuture;
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::startup::AppState;

/// The label of requests that matched no route, so unknown paths cannot grow the series.
const UNMATCHED_ROUTE: &str = "unmatched";
/// The label of any method outside the standard set, so invented methods cannot grow it either.
const OTHER_METHOD: &str = "other";

/// A fixed label for `method`: the standard methods by name, anything else `other`.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => OTHER_METHOD,
    }
}

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_request_duration_seconds: HistogramVec,
    pub login_failures: IntCounter,
    pub logins_rate_limited: IntCounter,
    db_pool_size: IntGauge,
    db_pool_in_use: IntGauge,
    db_pool_waiting: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let http_requests = IntCounterVec::new(
            Opts::new(
                "tally_http_requests_total",
                "HTTP requests by route template, method and status.",
            ),
            &["method", "route", "status"],
        )
        .expect("a valid metric");
        let http_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "tally_http_request_duration_seconds",
                "HTTP request latency by route template and method.",
            )
            .buckets(exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")),
            &["method", "route"],
        )
        .expect("a valid metric");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("a valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("a valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new("tally_build_info", "The running build; always 1."),
            &["version"],
        )
        .expect("a valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let metrics = Metrics {
            registry: Registry::new(),
            http_requests,
            http_request_duration_seconds,
            login_failures: counter(
                "tally_login_failures_total",
                "Logins refused with invalid_credentials.",
            ),
            logins_rate_limited: counter(
                "tally_logins_rate_limited_total",
                "Logins and sign-ups answered 429 rate_limited (per username or per client address).",
            ),
            db_pool_size: gauge(
                "tally_db_pool_size",
                "PostgreSQL connections open in the pool.",
            ),
            db_pool_in_use: gauge(
                "tally_db_pool_in_use",
                "PostgreSQL connections checked out.",
            ),
            db_pool_waiting: gauge("tally_db_pool_waiting", "Callers waiting for a connection."),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 8] = [
            Box::new(metrics.http_requests.clone()),
            Box::new(metrics.http_request_duration_seconds.clone()),
            Box::new(metrics.login_failures.clone()),
            Box::new(metrics.logins_rate_limited.clone()),
            Box::new(metrics.db_pool_size.clone()),
            Box::new(metrics.db_pool_in_use.clone()),
            Box::new(metrics.db_pool_waiting.clone()),
            Box::new(build_info),
        ];
        for collector in collectors {
            metrics
                .registry
                .register(collector)
                .expect("metric names are unique");
        }
        metrics
    }

    fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut status_text = itoa::Buffer::new();
        self.http_requests
            .with_label_values(&[method, route, status_text.format(status)])
            .inc();
        self.http_request_duration_seconds
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    fn observe_pool(&self, pool: &Pool) {
        let status = pool.status();
        self.db_pool_size.set(status.size as i64);
        self.db_pool_in_use
            .set(status.size.saturating_sub(status.available) as i64);
        self.db_pool_waiting.set(status.waiting as i64);
    }

    /// Both registries in the text format.
    pub fn render(&self, pool: &Pool, engine: &Registry) -> String {
        self.observe_pool(pool);
        let mut families = self.registry.gather();
        families.extend(engine.gather());
        families.sort_by(|a, b| a.get_name().cmp(b.get_name()));
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut text)
            .expect("metrics encode as text");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let text = state
        .metrics
        .render(&state.pool, state.engine.metrics_registry());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

/// Middleware recording every request by route template, method and status.
pub struct RecordRequests(pub Metrics);

impl<S, B> Transform<S, ServiceRequest> for RecordRequests
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RecordRequestsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RecordRequestsService {
            service: Rc::new(service),
            metrics: self.0.clone(),
        }))
    }
}

pub struct RecordRequestsService<S> {
    service: Rc<S>,
    metrics: Metrics,
}

impl<S, B> Service<ServiceRequest> for RecordRequestsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let response = service.call(request).await?;
            // The route template is known once the router has run. The default service (the
            // JSON 404) has no pattern, and neither method nor path of such a request is
            // trusted as a label: both come from the client.
            let route = response.request().match_pattern();
            metrics.observe_request(
                method_label(response.request().method()),
                route.as_deref().unwrap_or(UNMATCHED_ROUTE),
                response.status().as_u16(),
                started.elapsed().as_secs_f64(),
            );
            Ok(response)
        })
    }
}
