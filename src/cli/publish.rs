//! `tally publish --amqp URL [--exchange tally.events]`: the change stream to RabbitMQ, in order
//! and at least once. Each event is published persistent to a durable topic exchange with the
//! event type as routing key, and its id becomes the cursor (table `publisher_cursors`) only once
//! RabbitMQ confirmed it. One publisher per exchange runs at a time (a PostgreSQL advisory lock;
//! a second one waits as a standby). A lost connection is made again after 1 s, 2 s, … 30 s.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use deadpool_postgres::Pool;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use tally_actors::events;

use crate::configuration::Settings;
use crate::db;
use crate::routes::events::event_view;

#[derive(clap::Args, Clone, Debug)]
pub struct PublishOptions {
    /// The RabbitMQ server, e.g. amqp://user:password@rabbitmq:5672/%2f
    #[arg(long, value_name = "URL")]
    pub amqp: String,
    /// The durable topic exchange to publish to (declared when missing).
    #[arg(long, default_value = "tally.events", value_name = "NAME")]
    pub exchange: String,
}

/// Events read, published and confirmed per round (one cursor write each): after a crash, at
/// most this many confirmed events are sent again.
pub const PUBLISH_BATCH_MAX: i64 = 500;
/// The pause when there is nothing new.
pub const PUBLISH_IDLE: Duration = Duration::from_millis(100);
const RECONNECT_FIRST: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// Persistent (delivery mode 2): written to disk by RabbitMQ before it confirms.
const PERSISTENT: u8 = 2;

/// Publishes until the process is stopped.
pub async fn run(settings: &Settings, options: PublishOptions) -> anyhow::Result<()> {
    if options.exchange.is_empty() || options.exchange.len() > 127 {
        bail!("--exchange must be 1 to 127 bytes");
    }
    let pool = db::build_pool(&settings.database)?;
    let mut retry = RECONNECT_FIRST;
    loop {
        let error = publish_until_error(&pool, &options).await;
        tracing::warn!(error = %format!("{error:#}"), "publisher: starting again");
        eprintln!("tally publish: {error:#}; again in {}s", retry.as_secs());
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RECONNECT_MAX);
    }
}

async fn publish_until_error(pool: &Pool, options: &PublishOptions) -> anyhow::Error {
    match publish(pool, options).await {
        Ok(never) => match never {},
        Err(error) => error,
    }
}

enum Never {}

async fn publish(pool: &Pool, options: &PublishOptions) -> anyhow::Result<Never> {
    // Held for this attempt's life: the advisory lock is this session's. Taken out of the pool,
    // so that when the attempt fails (RabbitMQ restarted) the session closes and the lock goes
    // with it; back in the pool, an idle session would keep it and the next attempt would
    // wait for it for ever.
    let lock = deadpool_postgres::Object::take(pool.get().await.context("PostgreSQL")?);
    while !lock
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('tally.publish:' || $1))",
            &[&options.exchange],
        )
        .await?
        .get::<_, bool>(0)
    {
        tokio::time::sleep(RECONNECT_FIRST).await;
    }
    let connection = Connection::connect(&options.amqp, ConnectionProperties::default())
        .await
        .context("RabbitMQ")?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            &options.exchange,
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    let mut cursor = load_cursor(pool, &options.exchange).await?;
    eprintln!(
        "tally publish: to {} after event {cursor}",
        options.exchange
    );
    loop {
        let page = events::read(pool, cursor, PUBLISH_BATCH_MAX)
            .await
            .map_err(|error| anyhow!(error))?;
        if page.events.is_empty() {
            tokio::time::sleep(PUBLISH_IDLE).await;
            continue;
        }
        cursor = publish_page(&channel, &options.exchange, &page.events).await?;
        store_cursor(pool, &options.exchange, cursor).await?;
    }
}

/// Publishes a page of events in order without waiting between them, then waits for every
/// confirm: one RabbitMQ fsync and one cursor write per page, not per event. Answers the last
/// id, to be stored only now that every event up to it is confirmed.
///
/// A publish's first poll takes its delivery tag and queues its frames on the channel, and its
/// future then waits for lapin's I/O thread to have written them: awaited one by one, that is
/// two thread hand-offs per event. So every publish of the page is polled once, in order (the
/// order of the frames and tags), before any is awaited: the I/O thread writes the page in a
/// few large writes.
async fn publish_page(
    channel: &lapin::Channel,
    exchange: &str,
    page: &[events::Event],
) -> anyhow::Result<i64> {
    assert!(!page.is_empty() && page.len() <= PUBLISH_BATCH_MAX as usize);
    let mut bodies = Vec::with_capacity(page.len());
    for event in page {
        let view = event_view(event, None).expect("every event is visible to the publisher");
        bodies.push(serde_json::to_vec(&view)?);
    }
    let mut sends = Vec::with_capacity(page.len());
    for (event, body) in page.iter().zip(&bodies) {
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type(ShortString::from("application/json"))
            .with_message_id(ShortString::from(event.id.to_string()))
            .with_type(ShortString::from(event.kind.as_str()));
        let mut send = Box::pin(channel.basic_publish(
            exchange,
            event.kind.as_str(),
            BasicPublishOptions::default(),
            body,
            properties,
        ));
        // The first poll queues the frames; whether it is already done does not matter here.
        let first = std::future::poll_fn(|context| Poll::Ready(send.as_mut().poll(context))).await;
        sends.push((event.id, first, send));
    }
    let mut confirmations = Vec::with_capacity(page.len());
    for (id, first, send) in sends {
        let confirmation = match first {
            Poll::Ready(sent) => sent?,
            Poll::Pending => send.await?,
        };
        confirmations.push((id, confirmation));
    }
    let mut last_id = 0;
    for (id, confirmation) in confirmations {
        if !confirmation.await?.is_ack() {
            bail!("RabbitMQ did not confirm event {id}");
        }
        assert!(id > last_id, "a page is in id order");
        last_id = id;
    }
    Ok(last_id)
}

async fn load_cursor(pool: &Pool, exchange: &str) -> anyhow::Result<i64> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO publisher_cursors (exchange, published_id) VALUES ($1, 0)
             ON CONFLICT (exchange) DO UPDATE SET exchange = EXCLUDED.exchange
             RETURNING published_id",
            &[&exchange],
        )
        .await?;
    Ok(row.get(0))
}

async fn store_cursor(pool: &Pool, exchange: &str, published_id: i64) -> anyhow::Result<()> {
    let client = pool.get().await?;
    let updated = client
        .execute(
            "UPDATE publisher_cursors SET published_id = $2, updated_at = now()
             WHERE exchange = $1 AND published_id < $2",
            &[&exchange, &published_id],
        )
        .await?;
    assert!(updated <= 1);
    Ok(())
}
