//! OpenTelemetry: with `telemetry.otlp_endpoint` set, one transfer is one trace, from the request's
//! span to the journal's commit, joined to the caller's `traceparent`; and its trace id is in the
//! request's JSON log lines. The collector is a small OTLP/HTTP receiver in the test, decoding the
//! protobuf the exporter sends.

use std::collections::HashMap;
use std::fs::File;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use tally_test_support::fresh_database;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::process::{free_port, funded_account, user, Process};

/// An OTLP export is at most this large here (the exporter sends at most 512 spans at once).
const EXPORT_BYTES_MAX: usize = 4 * 1024 * 1024;

/// The spans received by a local OTLP/HTTP collector, in arrival order.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Collector {
    /// Listens on a free loopback port; answers every POST with an empty (successful) export
    /// response. Returns its base URL.
    async fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address");
        let collector = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let collector = collector.clone();
                tokio::spawn(async move { collector.serve(stream).await });
            }
        });
        format!("http://{address}")
    }

    /// HTTP/1.1 requests on one keep-alive connection, until it closes.
    async fn serve(&self, stream: tokio::net::TcpStream) {
        let mut stream = BufReader::new(stream);
        loop {
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().expect("a content length");
                    }
                }
            }
            assert!(length <= EXPORT_BYTES_MAX, "an export of {length} bytes");
            let mut body = vec![0; length];
            stream
                .read_exact(&mut body)
                .await
                .expect("the export's body");
            let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
            let spans = export
                .resource_spans
                .into_iter()
                .flat_map(|resource| resource.scope_spans)
                .flat_map(|scope| scope.spans);
            self.spans.lock().unwrap().extend(spans);
            let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// The first request span of `route` (within 15 s).
    async fn request_of(&self, route: &str) -> Span {
        let is_wanted = |span: &&Span| {
            span.name == "HTTP request" && str_attribute(span, "http.route") == Some(route)
        };
        for _ in 0..150 {
            let found = self.spans.lock().unwrap().iter().find(is_wanted).cloned();
            if let Some(span) = found {
                return span;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no request span of {route} arrived");
    }

    /// The spans of `trace_id` once its commit span and its request span (the root, which ends
    /// last and may come in a later export) arrived (within 15 s).
    async fn trace(&self, trace_id: &[u8]) -> Vec<Span> {
        for _ in 0..150 {
            let spans: Vec<Span> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|span| span.trace_id == trace_id)
                .cloned()
                .collect();
            let has = |name: &str| spans.iter().any(|span| span.name == name);
            if has("journal commit") && has("HTTP request") {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no commit and request spans of the trace arrived");
    }
}

fn one<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let named: Vec<&Span> = spans.iter().filter(|span| span.name == name).collect();
    assert_eq!(named.len(), 1, "one `{name}` span: {:?}", names(spans));
    named[0]
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|span| span.name.as_str()).collect()
}

fn str_attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(value) => Some(value.as_str()),
            _ => None,
        })
}

fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::IntValue(value) => Some(*value),
            _ => None,
        })
}

#[tokio::test]
async fn one_transfer_is_one_trace_from_the_request_to_the_commit() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let database = fresh_database().await;
    let log_path = tempfile::NamedTempFile::new()
        .expect("a log file")
        .into_temp_path();
    let log = File::create(&log_path).expect("the log file");
    let port = free_port();
    let tally = Process::tally_with(
        &database,
        port,
        &[
            ("TALLY_TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
            ("TALLY_LOG__FORMAT", "json"),
            ("TALLY_LOG__LEVEL", "info"),
        ],
        Stdio::from(log),
    )
    .await;
    // Through the front door, which passes a caller's traceparent and starts one otherwise.
    let nginx_directory = tempfile::tempdir().expect("a directory");
    let nginx = Process::nginx(nginx_directory.path(), free_port(), &[port]).await;
    let address = format!("{}/api", nginx.address);
    let client = reqwest::Client::new();
    let db = database.connect().await;
    let banker = user(&client, &address, &db, "trace_banker", true).await;
    let (token, payer) =
        funded_account(&client, &address, &db, "trace_payer", &banker, 5_000).await;
    let (_, payee) = funded_account(&client, &address, &db, "trace_payee", &banker, 1).await;

    // The caller's trace: a random trace id and the caller's own span id.
    let trace_id: [u8; 16] = rand::random();
    let caller_span: [u8; 8] = rand::random();
    let traceparent = format!(
        "00-{}-{}-01",
        hex::encode(trace_id),
        hex::encode(caller_span)
    );
    let response = client
        .post(format!("{address}/transfers"))
        .bearer_auth(&token)
        .header("traceparent", &traceparent)
        .json(&json!({ "from_account_id": payer, "to_account_id": payee, "amount": 1_250, "currency": "USD" }))
        .send()
        .await
        .expect("a transfer");
    assert_eq!(response.status(), 201);

    // Without a traceparent, nginx starts the trace: the request's parent is nginx's span,
    // the second half of the trace id (its $request_id).
    let started = collector.request_of("/users").await;
    assert_eq!(
        started.parent_span_id,
        started.trace_id[8..],
        "nginx started the trace"
    );

    let spans = collector.trace(&trace_id).await;
    let request = one(&spans, "HTTP request");
    let hold = one(&spans, "engine hold");
    let batch = one(&spans, "journal batch");
    let commit = one(&spans, "journal commit");
    assert_eq!(
        request.parent_span_id, caller_span,
        "the request joins the caller's span"
    );
    assert_eq!(
        hold.parent_span_id, request.span_id,
        "the hold is the request's"
    );
    assert_eq!(
        batch.parent_span_id, request.span_id,
        "the batch is the request's"
    );
    assert_eq!(
        commit.parent_span_id, batch.span_id,
        "the commit is the batch's"
    );
    assert_eq!(
        int_attribute(batch, "batch_size"),
        Some(1),
        "{:?}",
        batch.attributes
    );
    // Every span of the trace hangs from another of it, or from the caller's.
    let ids: HashMap<&[u8], &str> = spans
        .iter()
        .map(|span| (span.span_id.as_slice(), span.name.as_str()))
        .collect();
    for span in &spans {
        let parent = span.parent_span_id.as_slice();
        assert!(
            parent == caller_span || ids.contains_key(parent),
            "`{}` hangs from a span outside the trace",
            span.name
        );
    }

    // The request's log lines carry the trace id: every line written within a request does.
    drop(nginx);
    drop(tally);
    let text = std::fs::read_to_string(&log_path).expect("the log");
    // The log's lines (the start-up banner, "serving on ...", is plain text for a person).
    let lines: Vec<Value> = text
        .lines()
        .filter(|line| !line.starts_with("tally: "))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let in_requests: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["name"] == "HTTP request")
        .collect();
    assert!(!in_requests.is_empty(), "no request was logged: {text}");
    for line in &in_requests {
        let id = line["span"]["trace_id"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 32, "a line without its trace id: {line}");
    }
    let ours = hex::encode(trace_id);
    assert!(
        in_requests
            .iter()
            .any(|line| line["span"]["trace_id"] == ours.as_str()
                && line["span"]["http.route"] == "/transfers"),
        "the transfer's line has the caller's trace id: {text}"
    );
}
