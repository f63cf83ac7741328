//! The HTTP side's cost per `POST /transfers`, without the engine or PostgreSQL: each stage run
//! N times in one thread, reporting CPU ns per operation (the thread's own run time from
//! /proc/thread-self/schedstat, so other processes on a busy machine do not count).
//!
//!     cargo bench --bench http_path                     # every stage, 20,000 times each
//!     HTTP_PATH_STAGES=verify HTTP_PATH_ITERATIONS=1000 cargo bench --bench http_path
//!
//! Stages: `verify` (the access token's decryption and claims), `authenticate` (the extractor:
//! header, token, logged-out set), `parse` (the JSON body into the engine's request), `answer`
//! (the 201 body to bytes), `request` (one whole request through the service with the
//! production middleware: security headers, request metrics, the tracing span; the handler is
//! the route's HTTP side with a fixed engine answer). bench/http-path runs it under callgrind
//! for instructions per operation, which do not depend on the machine's load.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix_web::{test, web, App, FromRequest, HttpResponse};
use tally::auth::{AuthenticatedUser, TokenPurpose};
use tally::configuration::Settings;
use tally::domain::{Role, Username};
use tally::error::ApiError;
use tally::metrics::RecordRequests;
use tally::routes::respond_created;
use tally::routes::transfers::CreateTransferRequest;
use tally::routes::views::{AccountView, EntryView, TransferResult, TransferView};
use tally::startup::AppState;
use tally::telemetry::RequestSpan;
use tally_actors::{AccountId, TransferId};
use time::OffsetDateTime;
use tracing_actix_web::TracingLogger;
use uuid::Uuid;

const ITERATIONS_DEFAULT: u64 = 20_000;
const ITERATIONS_MAX: u64 = 10_000_000;
const STAGES: [&str; 5] = ["verify", "authenticate", "parse", "answer", "request"];
const BODY: &[u8] = br#"{"from_account_id":1,"to_account_id":2,"amount":1250,"currency":"USD"}"#;

fn main() {
    let iterations = std::env::var("HTTP_PATH_ITERATIONS")
        .ok()
        .map(|text| text.parse::<u64>().expect("HTTP_PATH_ITERATIONS: a number"))
        .unwrap_or(ITERATIONS_DEFAULT);
    assert!(
        iterations <= ITERATIONS_MAX,
        "HTTP_PATH_ITERATIONS ≤ {ITERATIONS_MAX}"
    );
    let stages = std::env::var("HTTP_PATH_STAGES").unwrap_or_else(|_| STAGES.join(","));
    let stages: Vec<String> = stages.split(',').map(str::to_owned).collect();
    for stage in &stages {
        assert!(STAGES.contains(&stage.as_str()), "unknown stage {stage}");
    }
    actix_web::rt::System::new().block_on(run(stages, iterations));
}

async fn run(stages: Vec<String>, iterations: u64) {
    let state = state().await;
    let username = Username::parse("alice".to_owned()).expect("a username");
    let token = state
        .tokens
        .issue(
            TokenPurpose::Access,
            &username,
            Role::Depositor,
            Uuid::new_v4(),
        )
        .expect("a token")
        .token;
    let authorization = format!("Bearer {token}");
    let app = test::init_service(
        App::new()
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff")),
            )
            .wrap(RecordRequests(state.metrics.clone()))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(state.clone())
            .route("/transfers", web::post().to(create_transfer)),
    )
    .await;
    let user = authenticate(&state, &authorization)
        .await
        .expect("authenticated");
    let answer = fixed_answer();
    for stage in &stages {
        let started_cpu_ns = thread_cpu_ns();
        let started = Instant::now();
        for _ in 0..iterations {
            match stage.as_str() {
                "verify" => {
                    let payload = state
                        .tokens
                        .verify(TokenPurpose::Access, &token)
                        .expect("valid");
                    assert_eq!(payload.username, username);
                }
                "authenticate" => {
                    let found = authenticate(&state, &authorization)
                        .await
                        .expect("authenticated");
                    assert_eq!(found.username, username);
                }
                "parse" => {
                    let body: CreateTransferRequest =
                        serde_json::from_slice(BODY).expect("a transfer body");
                    let (request, timeout) = body.parse(&user).expect("valid");
                    assert!(timeout.is_none() && request.idempotency.is_none());
                }
                "answer" => {
                    let bytes = serde_json::to_vec(&answer).expect("JSON");
                    assert!(bytes.len() > 100);
                }
                "request" => {
                    let request = test::TestRequest::post()
                        .uri("/transfers")
                        .insert_header(("authorization", authorization.as_str()))
                        .insert_header(("content-type", "application/json"))
                        .set_payload(BODY)
                        .to_request();
                    let response = test::call_service(&app, request).await;
                    assert_eq!(response.status(), 201);
                    let bytes = test::read_body(response).await;
                    assert!(bytes.len() > 100);
                }
                _ => unreachable!("stages are checked above"),
            }
        }
        let wall_ns = started.elapsed().as_nanos() as u64;
        let cpu_ns = thread_cpu_ns() - started_cpu_ns;
        println!(
            "HTTP_PATH {{\"stage\": \"{stage}\", \"iterations\": {iterations}, \
             \"cpu_ns_per_op\": {}, \"wall_ns_per_op\": {}}}",
            cpu_ns / iterations.max(1),
            wall_ns / iterations.max(1)
        );
    }
}

/// A state whose pool never connects: nothing measured here touches the database.
async fn state() -> web::Data<AppState> {
    let settings = Settings::load_with(None, &HashMap::new()).expect("the default settings");
    let pool = tally::db::build_pool(&settings.database).expect("a pool");
    let clock = tally::auth::Clock::system();
    web::Data::new(
        AppState::build(Arc::new(settings), pool, clock)
            .await
            .expect("the state"),
    )
}

async fn authenticate(
    state: &web::Data<AppState>,
    authorization: &str,
) -> Result<AuthenticatedUser, ApiError> {
    let request = test::TestRequest::default()
        .insert_header(("authorization", authorization))
        .app_data(state.clone())
        .to_http_request();
    AuthenticatedUser::extract(&request).await
}

/// `routes::transfers::create_transfer` without an `Idempotency-Key` (its only other step is
/// one header lookup) and with the engine's answer fixed, written by the route's own
/// `respond_created`.
async fn create_transfer(
    user: AuthenticatedUser,
    body: web::Json<CreateTransferRequest>,
) -> Result<HttpResponse, ApiError> {
    let (transfer, _) = body.parse(&user)?;
    assert!(transfer.idempotency.is_none());
    Ok(respond_created(false, &fixed_answer()))
}

/// What a committed transfer between two of Alice's accounts answers.
fn fixed_answer() -> TransferResult {
    let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let account = |id: i64, balance: i64| AccountView {
        id: AccountId::new(id),
        owner: Some("alice".to_owned()),
        balance,
        held: 0,
        available: balance,
        overdraft: 0,
        currency: "USD",
        created_at: at,
        status: "active".to_owned(),
    };
    let entry = |id: i64, account_id: i64, amount: i64| EntryView {
        id,
        account_id: AccountId::new(account_id),
        transfer_id: TransferId::new(7_654_321),
        amount,
        balance_after: Some(1_000_000 + amount),
        created_at: at,
        counterparty_account_id: None,
        description: None,
        reference: None,
        counterparty_kind: None,
        reversed_amount: None,
    };
    TransferResult {
        transfer: TransferView {
            id: TransferId::new(7_654_321),
            from_account_id: AccountId::new(1),
            to_account_id: AccountId::new(2),
            amount: 1250,
            currency: "USD",
            status: "posted",
            created_at: at,
            posted_at: Some(at),
            expires_at: None,
            description: None,
            reference: None,
            metadata: None,
            reversal_of: None,
            reversed_amount: 0,
        },
        from_account: account(1, 998_750),
        from_entry: Some(entry(15_308_642, 1, -1250)),
        to_entry: Some(entry(15_308_643, 2, 1250)),
        to_account: Some(account(2, 1_001_250)),
    }
}

/// This thread's time on a CPU, in ns (the first field of /proc/thread-self/schedstat).
fn thread_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    text.split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .expect("schedstat's run time")
}

/// The allocator `tally serve` uses (src/main.rs), so the request path is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
