//! Webhooks over https: a local receiver whose certificate a fresh CA signed (made here with
//! rcgen); Tally delivers to it only when `webhooks.extra_root_cert` names that CA, and refuses
//! the handshake otherwise (verification is never turned off).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestUser};
use tally_test_support::wait_until_every_change_is_numbered;

/// Requests one receiver connection reads at most, and header bytes per request.
const REQUESTS_PER_CONNECTION_MAX: usize = 1000;
const HEADER_BYTES_MAX: usize = 16 * 1024;

/// A CA (its PEM) and a server config for 127.0.0.1 with a certificate the CA signed.
fn certificates() -> (String, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_certificate = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    #[allow(deprecated)] // ring lacks post-quantum groups; a test receiver needs none
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca_certificate.pem(), config)
}

/// The bodies and `Tally-Signature` headers an https receiver on 127.0.0.1 accepted (it
/// answers 200 to every request it can read).
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

async fn https_receiver(config: rustls::ServerConfig) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let received: Received = Arc::default();
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (acceptor, sink) = (acceptor.clone(), sink.clone());
            tokio::spawn(async move {
                // A failed handshake (an untrusting client) just ends the connection.
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    for _ in 0..REQUESTS_PER_CONNECTION_MAX {
                        let Some(request) = read_request(&mut tls).await else {
                            return;
                        };
                        sink.lock().unwrap().push(request);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if tls.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("https://127.0.0.1:{port}/hook"), received)
}

/// One HTTP/1.1 request with a `content-length` body: its `Tally-Signature` and body.
async fn read_request(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    let header_end = loop {
        if let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        if bytes.len() > HEADER_BYTES_MAX {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&bytes[..header_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length")?.parse().ok()?;
    let mut body = bytes[header_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some((header("tally-signature")?, body))
}

async fn create_webhook(app: &TestApp, banker: &TestUser, url: &str) -> Value {
    let response = app
        .post("/webhooks", &json!({ "url": url }), Some(&banker.token))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.unwrap()
}

#[actix_web::test]
async fn https_deliveries_reach_a_receiver_the_extra_root_vouches_for() {
    let (ca_pem, server_config) = certificates();
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca_pem.as_bytes()).unwrap();
    let ca_path = ca_file.path().to_str().unwrap().to_owned();
    let app = spawn_app_with(|settings| settings.webhooks.extra_root_cert = ca_path).await;
    let banker = app.create_banker().await;
    let (url, received) = https_receiver(server_config).await;
    // The webhook starts after the newest event: what committed before it must be numbered.
    let db = app.db().await;
    wait_until_every_change_is_numbered(&db, Duration::from_secs(30)).await;
    let webhook = create_webhook(&app, &banker, &url).await;
    let secret = webhook["secret"].as_str().unwrap().to_owned();

    let depositor = app.create_depositor().await;
    let account = app.funded_account(&depositor, &banker, "USD", 700).await;
    // account.opened, then the deposit's transfer.posted.
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the https deliveries did not arrive"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = received.lock().unwrap().clone();
    let mut events = Vec::new();
    for (signature, body) in &delivered {
        let unix: i64 = signature
            .split_once(',')
            .and_then(|(time, _)| time.strip_prefix("t="))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(*signature, tally::webhooks::signature(&secret, unix, body));
        events.push(serde_json::from_slice::<Value>(body).unwrap());
    }
    assert_eq!(events[0]["type"], "account.opened");
    assert_eq!(events[0]["data"]["id"], account);
    assert_eq!(events[1]["type"], "transfer.posted");
    assert_eq!(events[1]["data"]["amount"], 700);
    assert!(events[0]["id"].as_i64() < events[1]["id"].as_i64());
}

#[actix_web::test]
async fn an_https_receiver_no_root_vouches_for_gets_nothing() {
    let (_ca_pem, server_config) = certificates();
    let app = spawn_app().await;
    let banker = app.create_banker().await;
    let (url, received) = https_receiver(server_config).await;
    let webhook = create_webhook(&app, &banker, &url).await;
    let depositor = app.create_depositor().await;
    app.open_account(&depositor, "USD").await;

    let path = format!("/webhooks/{}", webhook["id"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let shown: Value = app
            .get(&path, Some(&banker.token))
            .await
            .json()
            .await
            .unwrap();
        if shown["failures"].as_i64().unwrap() >= 1 {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery neither failed nor ended"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["delivered_id"], webhook["delivered_id"]);
    assert!(shown["last_error"]
        .as_str()
        .unwrap()
        .starts_with("delivery"));
    assert!(received.lock().unwrap().is_empty());
}
