//! Builds the application: pool, engine, HTTP server. Used by `tally serve` and by the tests,
//! which bind port 0 and point it at a fresh database.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpServer};
use deadpool_postgres::Pool;
use tally_actors::events::{self, EventHead};
use tally_actors::Engine;
use tracing_actix_web::TracingLogger;

use crate::auth::{
    revocation, AddressLimiter, LoginLimiter, PasswordHasher, RevokedSessions, TokenMaker,
};
use crate::configuration::RunMode;
use crate::configuration::Settings;
use crate::error::extractors;
use crate::metrics::{Metrics, RecordRequests};
use crate::telemetry::RequestSpan;
use crate::{db, housekeeping, metrics, openapi, routes, webhooks};

/// What every handler can reach. One per process: built before the server and shared with
/// every worker, never rebuilt per worker.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: Pool,
    /// Makes and checks access and refresh tokens with the configured key.
    pub tokens: TokenMaker,
    /// bcrypt at the configured cost, off the async workers.
    pub passwords: PasswordHasher,
    /// Failed logins per username, counted in PostgreSQL across replicas.
    pub login_limiter: LoginLimiter,
    /// Sign-ups and logins per client address; one per process, so all workers count together.
    pub address_limiter: AddressLimiter,
    /// Logged-out sessions, whose access tokens every worker refuses.
    pub revoked: Arc<RevokedSessions>,
    /// The engine: one per process, started before the server.
    pub engine: Engine,
    /// The newest numbered event, followed by this process's numbering task.
    pub events: EventHead,
    pub metrics: Metrics,
}

impl AppState {
    /// Builds the state and starts the engine; must run inside the actix system.
    pub async fn build(settings: Arc<Settings>, pool: Pool) -> anyhow::Result<AppState> {
        Ok(AppState {
            engine: Engine::start(settings.engine.clone(), pool.clone()),
            events: events::start_numbering(pool.clone()),
            metrics: Metrics::new(),
            tokens: TokenMaker::new(&settings.token)?,
            passwords: PasswordHasher::new(settings.auth.bcrypt_cost).await?,
            login_limiter: LoginLimiter::new(
                pool.clone(),
                settings.auth.login_failures_max,
                settings.auth.login_failure_window,
            ),
            address_limiter: AddressLimiter::new(
                settings.auth.address_attempts_max,
                settings.auth.address_window,
            ),
            revoked: Arc::new(RevokedSessions::new(settings.token.access_ttl)),
            settings,
            pool,
        })
    }
}

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    metrics_server: Option<Server>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let pool = db::build_pool(&settings.database)?;
        let listener = bind(settings.http.addr)?;
        let port = listener.local_addr()?.port();
        let metrics_listener = settings.http.metrics_addr.map(bind).transpose()?;
        let metrics_port = match &metrics_listener {
            Some(listener) => Some(listener.local_addr()?.port()),
            None => None,
        };
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState::build(settings.clone(), pool.clone()).await?);
        revocation::follow(&state.revoked, pool.clone(), &settings.database);
        housekeeping::start(pool.clone(), &settings);
        webhooks::start(pool, settings.env == RunMode::Production);
        let server = api_server(state.clone(), &settings, listener, metrics_port.is_none())?;
        let metrics_server = metrics_listener
            .map(|listener| metrics_server(state, listener))
            .transpose()?;
        Ok(Application {
            port,
            metrics_port,
            server,
            metrics_server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate metrics server, when `http.metrics_addr` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests (up to the shutdown
    /// timeout) before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics_server {
            None => self.server.await,
            Some(metrics_server) => {
                let (api, metrics) = futures_util::future::join(self.server, metrics_server).await;
                api.and(metrics)
            }
        }
    }
}

fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|error| anyhow::anyhow!("cannot listen on {addr}: {error}"))
}

fn api_server(
    state: web::Data<AppState>,
    settings: &Settings,
    listener: TcpListener,
    with_metrics: bool,
) -> anyhow::Result<Server> {
    let body_limit_bytes = settings.http.body_limit_bytes;
    let mut server = HttpServer::new(move || {
        let app = App::new()
            .wrap(security_headers())
            .wrap(RecordRequests(state.metrics.clone()))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(state.clone())
            .app_data(extractors::json_config(body_limit_bytes))
            .app_data(extractors::path_config())
            .app_data(extractors::query_config())
            .configure(routes::configure)
            .configure(openapi::configure);
        let app = match with_metrics {
            true => app.route("/metrics", web::get().to(metrics::metrics)),
            false => app,
        };
        app.default_service(web::to(extractors::not_found))
    })
    .listen(listener)?
    .shutdown_timeout(settings.http.shutdown_timeout.as_secs());
    if settings.http.workers > 0 {
        server = server.workers(settings.http.workers);
    }
    Ok(server.run())
}

/// On every answer, errors and 404s included: no MIME sniffing of JSON into something
/// executable, and no URL (which may carry ids) leaked to another site in `Referer`.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
}

/// `/metrics` alone on its own address (one worker: scrapes are rare).
fn metrics_server(state: web::Data<AppState>, listener: TcpListener) -> anyhow::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .wrap(security_headers())
            .app_data(state.clone())
            .route("/metrics", web::get().to(metrics::metrics))
            .default_service(web::to(extractors::not_found))
    })
    .workers(1)
    .listen(listener)?
    .run())
}
