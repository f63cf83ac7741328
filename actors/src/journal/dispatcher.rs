//! Hands waiting items to writers in batches that touch nothing a batch in flight on another
//! writer touches (the choices themselves are `plan::choose_batch` and `plan::choose_follower`).
//! An idle writer gets any such batch; a writer whose batches in flight are all plain transfers
//! may also get a follower of plain transfers, pipelined behind them on its connection, up to
//! `journal_pipeline_max` batches in flight.

use std::collections::VecDeque;

use tokio::sync::mpsc;

use super::plan::{choose_batch, choose_follower, one_round_trip, Busy, InFlight};
use super::JournalItem;

/// A batch handed to a writer, and the ticket the writer gives back when it has ended.
pub(crate) type Dispatched = (u64, Vec<JournalItem>);

/// A batch in flight, as the dispatcher tracks it.
struct Given {
    ticket: u64,
    in_flight: InFlight,
    /// A batch of plain transfers (one round trip): another may follow it on its connection.
    plain: bool,
}

pub(crate) struct Dispatcher {
    receiver: mpsc::Receiver<Vec<JournalItem>>,
    closed: bool,
    /// Submissions taken from the queue and not yet in a batch (bounded by `backlog_max`).
    backlog: VecDeque<Vec<JournalItem>>,
    backlog_max: usize,
    batch_size_max: usize,
    pipeline_max: usize,
    busy: Busy,
    /// The first submissions of the backlog, known to fit no batch since the last batch
    /// finished: not looked at again until one does (hot accounts would make every arrival
    /// rescan the whole backlog).
    blocked_prefix: usize,
    /// Per writer, its batches in flight, oldest first.
    in_flight: Vec<Vec<Given>>,
    next_ticket: u64,
    batch_senders: Vec<mpsc::Sender<Dispatched>>,
}

impl Dispatcher {
    pub(crate) fn new(
        receiver: mpsc::Receiver<Vec<JournalItem>>,
        backlog_max: usize,
        batch_size_max: usize,
        pipeline_max: usize,
        batch_senders: Vec<mpsc::Sender<Dispatched>>,
    ) -> Dispatcher {
        let writers = batch_senders.len();
        Dispatcher {
            receiver,
            closed: false,
            backlog: VecDeque::new(),
            backlog_max,
            batch_size_max,
            pipeline_max: pipeline_max.max(1),
            busy: Busy::default(),
            blocked_prefix: 0,
            in_flight: (0..writers).map(|_| Vec::new()).collect(),
            next_ticket: 0,
            batch_senders,
        }
    }

    pub(crate) async fn run(mut self, mut finished: mpsc::Receiver<(usize, u64)>) {
        let mut incoming = Vec::with_capacity(self.batch_size_max);
        loop {
            let room = self.backlog_max.saturating_sub(self.backlog.len());
            tokio::select! {
                biased;
                done = finished.recv() => match done {
                    Some((writer, ticket)) => self.finish(writer, ticket),
                    None => return,
                },
                received = self.receiver.recv_many(&mut incoming, room),
                    if room > 0 && !self.closed => {
                    self.closed = received == 0;
                    self.backlog.extend(incoming.drain(..));
                }
            }
            self.dispatch();
            let idle = self.in_flight.iter().all(Vec::is_empty);
            if self.closed && self.backlog.is_empty() && idle {
                return;
            }
        }
    }

    fn finish(&mut self, writer: usize, ticket: u64) {
        let given = &mut self.in_flight[writer];
        let position = given
            .iter()
            .position(|batch| batch.ticket == ticket)
            .expect("a writer finishes only a batch it was given");
        let done = given.remove(position);
        self.busy.give_back(done.in_flight);
        self.blocked_prefix = 0;
    }

    fn dispatch(&mut self) {
        while self.backlog.len() > self.blocked_prefix {
            let Some(writer) = self.in_flight.iter().position(Vec::is_empty) else {
                break;
            };
            let batch = choose_batch(
                &mut self.backlog,
                self.blocked_prefix,
                &self.busy,
                self.batch_size_max,
            );
            if batch.is_empty() {
                break;
            }
            // The batch took items from anywhere in the backlog: look at all of it next time.
            self.blocked_prefix = 0;
            self.give(writer, batch);
        }
        if self.backlog.len() > self.blocked_prefix {
            self.dispatch_followers();
        }
        // What is left fits no writer until a batch finishes.
        self.blocked_prefix = self.backlog.len();
    }

    /// Followers for the writers whose batches in flight are all plain, below the pipeline's
    /// bound.
    fn dispatch_followers(&mut self) {
        for writer in 0..self.in_flight.len() {
            let given = &self.in_flight[writer];
            let may_follow = !given.is_empty()
                && given.len() < self.pipeline_max
                && given.iter().all(|batch| batch.plain);
            if !may_follow || self.backlog.is_empty() {
                continue;
            }
            let batch = choose_follower(&mut self.backlog, &self.busy, writer, self.batch_size_max);
            if !batch.is_empty() {
                self.give(writer, batch);
            }
        }
    }

    fn give(&mut self, writer: usize, batch: Vec<JournalItem>) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.in_flight[writer].push(Given {
            ticket,
            in_flight: self.busy.take(writer, &batch),
            plain: one_round_trip(&batch),
        });
        // A writer's channel holds `pipeline_max` batches, and it never has more in flight.
        let sent = self.batch_senders[writer].try_send((ticket, batch));
        assert!(sent.is_ok(), "a writer has room for each batch it is given");
    }
}
