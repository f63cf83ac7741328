//! A writer's pipeline: batches of plain transfers sent one behind another on its connection,
//! up to `journal_pipeline_max` in flight.
//!
//! On hot accounts every batch shares rows with the one before, so batches wait for each
//! other; without a pipeline each waited for a whole round trip through Tally (the commit's
//! answer read, the actors settled, the callers answered, the next batch planned and sent)
//! while PostgreSQL sat idle. PostgreSQL runs one connection's transactions in the order they
//! arrive, so a batch sent behind another starts the moment the one before commits, commits
//! after it, and answers after it: the batches of one connection are numbered, committed,
//! answered and settled in one order, the order the actors rely on (`synced_batch`).
//!
//! Only the first attempt of a batch is pipelined. When an attempt does not commit (an account
//! found stale, a server that took nothing, a failure), the pipeline takes no more batches,
//! the others in flight end first (their commits settled in order), and then the writer
//! handles each such batch as it handles any other, one attempt at a time.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use futures_util::future::{maybe_done, MaybeDone};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::dispatcher::Dispatched;
use super::plan;
use super::writer::{batch_span, write_plain, Committed, Exchange, Rejection, Writer};
use super::JournalItem;

/// The dispatcher has gone (the engine stopping): the writer ends.
pub(super) struct Closed;

/// A batch sent in the pipeline, and what became of that attempt.
type Attempt = (u64, Vec<JournalItem>, Instant, Result<Committed, Rejection>);

impl Writer {
    /// Writes `head` and the batches of plain transfers that join it while any is in flight;
    /// returns a batch received that may not join (not plain), to be written next.
    pub(super) async fn pipeline(
        &mut self,
        head: Dispatched,
        batches: &mut mpsc::Receiver<Dispatched>,
        finished: &mpsc::Sender<(usize, u64)>,
        index: usize,
    ) -> Result<Option<Dispatched>, Closed> {
        let connection = match self.reuse_or_open().await {
            Ok(connection) => connection,
            Err(rejection) => {
                let (ticket, items) = head;
                let span = batch_span(&items);
                self.commit(items, Some(rejection)).instrument(span).await;
                finished.send((index, ticket)).await.map_err(|_| Closed)?;
                return Ok(None);
            }
        };
        let mut failed: Vec<(u64, Vec<JournalItem>, Rejection)> = Vec::new();
        let mut held_back: Option<Dispatched> = None;
        {
            let exchange = Exchange {
                client: &connection.client,
                statements: &connection.statements,
                round_trips: &self.metrics.journal_round_trips,
            };
            let mut in_flight = VecDeque::with_capacity(self.pipeline_max);
            in_flight.push_back(Box::pin(maybe_done(self.attempt(&exchange, head))));
            loop {
                let joinable =
                    held_back.is_none() && failed.is_empty() && in_flight.len() < self.pipeline_max;
                // Biased: every attempt is polled (the newest one's exchange sent) before the
                // next batch can be received.
                tokio::select! {
                    biased;
                    (ticket, items, started, outcome) = oldest_ended(&mut in_flight) => {
                        match outcome {
                            Ok(committed) => {
                                self.metrics
                                    .journal_commit_duration_seconds
                                    .observe(started.elapsed().as_secs_f64());
                                self.committed(items, committed);
                                finished.send((index, ticket)).await.map_err(|_| Closed)?;
                            }
                            Err(rejection) => failed.push((ticket, items, rejection)),
                        }
                        if in_flight.is_empty() {
                            break;
                        }
                    }
                    Some(next) = batches.recv(), if joinable => {
                        if plan::one_round_trip(&next.1) {
                            self.metrics.journal_pipelined_batches.inc();
                            in_flight.push_back(Box::pin(maybe_done(self.attempt(&exchange, next))));
                        } else {
                            held_back = Some(next);
                        }
                    }
                }
            }
        }
        // A connection whose exchange found no server may reach a demoted one: a fresh one
        // next time, as `write` does.
        let unwritten = failed
            .iter()
            .any(|(_, _, rejection)| matches!(rejection, Rejection::Unwritten { .. }));
        if !unwritten && !connection.client.is_closed() {
            self.connection = Some(connection);
        }
        for (ticket, items, rejection) in failed {
            let span = batch_span(&items);
            self.commit(items, Some(rejection)).instrument(span).await;
            finished.send((index, ticket)).await.map_err(|_| Closed)?;
        }
        Ok(held_back)
    }

    /// One attempt at a batch of plain transfers on `exchange`, sent on its first poll.
    fn attempt<'a>(
        &'a self,
        exchange: &'a Exchange<'a>,
        (ticket, items): Dispatched,
    ) -> impl Future<Output = Attempt> + 'a {
        let span = batch_span(&items);
        async move {
            let started = Instant::now();
            let outcome = match plan::net_deltas(&items) {
                Some(deltas) => write_plain(exchange, &items, &deltas, &self.numbering).await,
                None => Err(Rejection::overflow()),
            };
            (ticket, items, started, outcome)
        }
        .instrument(span)
    }
}

/// The oldest attempt's outcome, once it has one. Every attempt is polled, oldest first, on
/// every wake: an attempt sends its exchange on its first poll, so exchanges leave in the
/// order the batches were received, whatever wakes first.
async fn oldest_ended<F: Future>(in_flight: &mut VecDeque<Pin<Box<MaybeDone<F>>>>) -> F::Output {
    poll_fn(|context| {
        for attempt in in_flight.iter_mut() {
            let _ = attempt.as_mut().poll(context);
        }
        let oldest = in_flight.front_mut().expect("an attempt in flight");
        match oldest.as_mut().take_output() {
            Some(output) => {
                in_flight.pop_front();
                Poll::Ready(output)
            }
            None => Poll::Pending,
        }
    })
    .await
}
