//! Builds the application: pool, engine, HTTP server. Used by `tally serve` and by the tests,
//! which bind port 0 and point it at a fresh database.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use deadpool_postgres::Pool;
use tally_actors::events::{self, EventHead};
use tally_actors::{Engine, Reads};
use tracing_actix_web::TracingLogger;

use crate::auth::{
    revocation, AddressLimiter, Clock, LoginLimiter, LoginLimits, PasswordHasher, RevokedSessions,
    TokenMaker,
};
use crate::configuration::{DatabaseSettings, RunMode, Settings};
use crate::connections::{self, ConnectionLimiter};
use crate::error::extractors;
use crate::metrics::{Metrics, RecordRequests};
use crate::shutdown::Stopping;
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
    /// Failed logins per username and address, per address and per username, counted in
    /// PostgreSQL across replicas.
    pub login_limiter: LoginLimiter,
    /// Sign-ups and logins per client address; one per process, so all workers count together.
    pub address_limiter: AddressLimiter,
    /// Logged-out sessions, whose access tokens every worker refuses.
    pub revoked: Arc<RevokedSessions>,
    /// The engine's command handle: one per process, started before the server.
    pub engine: Engine,
    /// The engine's read handle (statements, transfers, searches, account lists).
    pub reads: Reads,
    /// The newest numbered event, followed by this process's numbering task.
    pub events: EventHead,
    /// Turns true on SIGINT/SIGTERM: event streams and long polls end then.
    pub stopping: Stopping,
    pub metrics: Metrics,
}

impl AppState {
    /// Builds the state and starts the engine; must run inside the actix system.
    /// `clock` is the one tokens are issued and checked by (`Clock::system()` but in tests).
    pub async fn build(
        settings: Arc<Settings>,
        pool: Pool,
        clock: Clock,
    ) -> anyhow::Result<AppState> {
        let engine = Engine::start(settings.engine.clone(), pool.clone());
        Ok(AppState {
            reads: engine.reads().clone(),
            engine,
            events: events::start_numbering(pool.clone()),
            stopping: Stopping::on_signals()?,
            metrics: Metrics::new(),
            tokens: TokenMaker::with_clock(&settings.token, clock)?,
            passwords: PasswordHasher::new(settings.auth.bcrypt_cost).await?,
            login_limiter: LoginLimiter::new(
                pool.clone(),
                LoginLimits {
                    pair_failures_max: settings.auth.login_failures_max,
                    address_failures_max: settings.auth.address_failures_max,
                    window: settings.auth.login_failure_window,
                    delay_max: settings.auth.login_delay_max,
                },
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

/// How often the engine checks which PostgreSQL server its pool reaches (a failover behind the
/// same URL reloads every account actor).
const SERVER_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Application {
    port: u16,
    engine: Engine,
    metrics_port: Option<u16>,
    server: Server,
    metrics_server: Option<Server>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with_clock(settings, Clock::system()).await
    }

    /// As `build`, with tokens issued and checked by `clock`, which tests advance.
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        let pool = db::build_pool(&settings.database)?;
        let listener = bind(settings.http.addr)?;
        let port = listener.local_addr()?.port();
        let metrics_listener = settings.http.metrics_addr.map(bind).transpose()?;
        let metrics_port = match &metrics_listener {
            Some(listener) => Some(listener.local_addr()?.port()),
            None => None,
        };
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState::build(settings.clone(), pool.clone(), clock).await?);
        revocation::follow(&state.revoked, pool.clone(), &settings.database);
        housekeeping::start(pool.clone(), &settings);
        webhooks::start(
            pool,
            state.events.clone(),
            &settings.webhooks,
            settings.env == RunMode::Production,
        )?;
        let engine = state.engine.clone();
        let lag_gauge = tally_actors::replica::lag_gauge(state.engine.metrics_registry());
        if let Some(read_url) = &settings.database.read_url {
            let read_pool = db::build_pool(&DatabaseSettings {
                url: read_url.clone(),
                ..settings.database.clone()
            })?;
            let replica = tally_actors::replica::ReadReplica::start(
                read_pool,
                settings.database.read_max_lag,
                lag_gauge,
            );
            state.reads.use_read_replica(replica);
        }
        tally_actors::audit::start(&state.engine, settings.engine.audit_interval);
        tally_actors::failover::watch(&state.engine, SERVER_CHECK_INTERVAL);
        let server = api_server(state.clone(), &settings, listener, metrics_port.is_none())?;
        let metrics_server = metrics_listener
            .map(|listener| metrics_server(state, listener))
            .transpose()?;
        Ok(Application {
            port,
            engine,
            metrics_port,
            server,
            metrics_server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate metrics server, when `http.metrics_addr` is set.
    /// The engine the app serves from (tests wait on its in-flight transfers).
    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

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
    let connections = ConnectionLimiter::new(
        settings.http.connections_per_address_max,
        settings.http.trusted_proxies.clone(),
    );
    let mut server = HttpServer::new(move || {
        let app = App::new()
            .wrap(from_fn(connections::refuse_over_limit))
            .wrap(security_headers())
            .wrap(RecordRequests(state.metrics.clone()))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(state.clone())
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
    .on_connect(move |connection, data| connections.on_connect(connection, data))
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
