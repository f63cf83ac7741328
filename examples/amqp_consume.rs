//! The RabbitMQ side of `scripts/test-events` and of the benches: consumes a durable queue bound
//! to every routing key of the exchange `tally publish` writes to, and appends `EVENT_ID TYPE
//! DATA_ID` per message to a file. As a consumer of a busy queue should: RabbitMQ sends up to
//! `PREFETCH` messages ahead, and one ack (`multiple`) covers up to `ACK_EVERY` of them, sent
//! after the file is flushed (so a message is written at least once), or sooner when the queue
//! has been quiet for `ACK_IDLE`. A lost connection (a RabbitMQ restart) is made again every
//! 500 ms; unacked messages come back, so the file may repeat ids: the checker deduplicates
//! them and checks order and completeness.
//!
//!     amqp_consume URL EXCHANGE QUEUE OUT_FILE
//!
//! Creates `OUT_FILE.ready` once the queue is bound the first time. Stops by itself after
//! `RUN_MAX` (the script stops it sooner).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;

/// The longest this consumer runs.
const RUN_MAX: Duration = Duration::from_secs(600);
/// Messages RabbitMQ sends ahead of the acks.
const PREFETCH: u16 = 1000;
/// Messages one ack covers at most (well inside PREFETCH, so RabbitMQ never stalls on it).
const ACK_EVERY: u64 = 100;
/// Messages not yet acked are acked once no new one came for this long.
const ACK_IDLE: Duration = Duration::from_millis(20);
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

struct Target {
    url: String,
    exchange: String,
    queue: String,
    out: String,
}

fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [url, exchange, queue, out] = <[String; 4]>::try_from(arguments)
        .map_err(|_| anyhow::anyhow!("usage: amqp_consume URL EXCHANGE QUEUE OUT_FILE"))?;
    let target = Target {
        url,
        exchange,
        queue,
        out,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&target))
}

async fn run(target: &Target) -> anyhow::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&target.out)
        .with_context(|| format!("opening {}", target.out))?;
    let mut file = BufWriter::new(file);
    let started = Instant::now();
    while started.elapsed() < RUN_MAX {
        if let Err(error) = consume(target, &mut file).await {
            eprintln!("amqp_consume: {error:#}; connecting again");
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
    bail!("ran for {} s without being stopped", RUN_MAX.as_secs())
}

/// Consumes until the connection or the channel fails.
async fn consume(target: &Target, file: &mut BufWriter<File>) -> anyhow::Result<()> {
    let connection = Connection::connect(&target.url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            &target.exchange,
            ExchangeKind::Topic,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    // Durable, so the queue and its persistent messages outlive a RabbitMQ restart.
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(&target.queue, durable_queue, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            &target.queue,
            &target.exchange,
            "#",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            &target.queue,
            "test-events",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    File::create(format!("{}.ready", target.out))?;
    // The newest delivery written but not acked, and how many are waiting with it.
    let mut unacked: Option<(lapin::acker::Acker, u64)> = None;
    loop {
        let next = match unacked {
            Some(_) => match tokio::time::timeout(ACK_IDLE, consumer.next()).await {
                Ok(next) => next,
                Err(_quiet) => {
                    ack_through(file, unacked.take()).await?;
                    continue;
                }
            },
            None => consumer.next().await,
        };
        let Some(delivery) = next else {
            bail!("the consumer was cancelled")
        };
        let delivery = delivery?;
        let event: Value = serde_json::from_slice(&delivery.data).context("an event body")?;
        let kind = event["type"].as_str().context("an event type")?;
        writeln!(file, "{} {kind} {}", event["id"], event["data"]["id"])?;
        let waiting = unacked.map_or(1, |(_, waiting)| waiting + 1);
        unacked = Some((delivery.acker, waiting));
        if waiting >= ACK_EVERY {
            ack_through(file, unacked.take()).await?;
        }
    }
}

/// Flushes the file, then acks every delivery up to and including `newest`'s.
async fn ack_through(
    file: &mut BufWriter<File>,
    newest: Option<(lapin::acker::Acker, u64)>,
) -> anyhow::Result<()> {
    file.flush()?;
    if let Some((acker, _)) = newest {
        acker.ack(BasicAckOptions { multiple: true }).await?;
    }
    Ok(())
}
