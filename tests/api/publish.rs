//! `tally publish` against a real RabbitMQ (Debian's rabbitmq-server, started by
//! `scripts/rabbitmq start` on loopback): every event once, in order, persistent, routed by its
//! type, and continued from the stored cursor after the publisher is killed. Nothing is skipped:
//! without RabbitMQ this test fails.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

fn rabbitmq(command: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/rabbitmq");
    let output = Command::new(script)
        .arg(command)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/rabbitmq runs");
    assert!(
        output.status.success(),
        "scripts/rabbitmq {command} failed: RabbitMQ is required"
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn publisher(app: &TestApp, url: &str, exchange: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["publish", "--amqp", url, "--exchange", exchange])
        .env("TALLY_DATABASE__URL", app.database.url())
        .env("TALLY_LOG__LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tally publish starts")
}

#[actix_web::test]
async fn the_publisher_sends_every_event_once_in_order_and_resumes_after_a_kill() {
    rabbitmq("start");
    let url = rabbitmq("url");
    let app = spawn_app().await;
    let exchange = format!("tally.test.{}", app.database.name);

    // A queue bound to every routing key, before anything is published.
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ answers");
    let channel = connection.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            &exchange,
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .unwrap();
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare("", exclusive, FieldTable::default())
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().as_str(),
            &exchange,
            "#",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let mut consumer = channel
        .basic_consume(queue.name().as_str(), "test", no_ack, FieldTable::default())
        .await
        .unwrap();

    let banker = app.create_banker().await;
    let alice = app.create_depositor().await;
    let bob = app.create_depositor().await;
    let from = app.funded_account(&alice, &banker, "USD", 1_000).await;
    let to = app.funded_account(&bob, &banker, "USD", 1_000).await;
    // The 6 reserves, 2 accounts, 2 deposits.
    let mut running = publisher(&app, &url, &exchange);
    let mut received: Vec<Received> = Vec::new();
    receive_until(&mut consumer, 10, &mut received).await;
    running.kill().unwrap();
    running.wait().unwrap();

    for amount in [1, 2, 3] {
        assert_eq!(
            app.transfer(&alice, from, to, amount, "USD")
                .await
                .status()
                .as_u16(),
            201
        );
    }
    let mut running = publisher(&app, &url, &exchange);
    receive_until(&mut consumer, 13, &mut received).await;
    running.kill().unwrap();
    running.wait().unwrap();

    // In order, each id once (repeats of what was confirmed but not yet stored as the cursor
    // before the kill are allowed, never a step back to an id not seen), persistent, routed by
    // type, and the same as the stream.
    let mut ids: Vec<i64> = Vec::new();
    for (routing_key, delivery_mode, event) in &received {
        assert_eq!(event["type"].as_str().unwrap(), routing_key);
        assert_eq!(*delivery_mode, Some(2));
        let id = event["id"].as_i64().unwrap();
        if ids.contains(&id) {
            continue;
        }
        assert!(
            ids.last().map_or(true, |last| *last < id),
            "{id} after {ids:?}"
        );
        ids.push(id);
    }
    assert_eq!(ids, (1..=13).collect::<Vec<i64>>());
    let page: Value = app
        .get("/events?limit=13", Some(&banker.token))
        .await
        .json()
        .await
        .unwrap();
    let expected = page["events"].as_array().unwrap();
    let amounts: Vec<&Value> = received
        .iter()
        .rev()
        .take(3)
        .map(|(_, _, event)| &event["data"]["amount"])
        .collect();
    assert_eq!(amounts, [&Value::from(3), &Value::from(2), &Value::from(1)]);
    assert_eq!(expected.len(), 13);
    for event in expected {
        let id = event["id"].as_i64().unwrap();
        let sent = received
            .iter()
            .find(|(_, _, sent)| sent["id"] == id)
            .unwrap();
        assert_eq!(&sent.2, event);
    }
}

/// (routing key, delivery mode, the event).
type Received = (String, Option<u8>, Value);

/// Receives until `count` distinct event ids arrived, or 30 s pass.
async fn receive_until(consumer: &mut lapin::Consumer, count: usize, received: &mut Vec<Received>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while distinct(received) < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let delivery = actix_web::rt::time::timeout(remaining, consumer.next())
            .await
            .expect("the events within 30 s")
            .expect("the consumer goes on")
            .expect("a delivery");
        let event: Value = serde_json::from_slice(&delivery.data).unwrap();
        received.push((
            delivery.routing_key.as_str().to_owned(),
            *delivery.properties.delivery_mode(),
            event,
        ));
    }
}

fn distinct(received: &[Received]) -> usize {
    let ids: std::collections::BTreeSet<i64> = received
        .iter()
        .map(|(_, _, event)| event["id"].as_i64().unwrap())
        .collect();
    ids.len()
}
