//! Hands waiting items to idle writers in batches that touch nothing a batch in flight touches
//! (the choice itself is `plan::choose_batch`).

use std::collections::VecDeque;

use tokio::sync::mpsc;

use super::plan::{choose_batch, Busy, InFlight};
use super::JournalItem;

pub(crate) struct Dispatcher {
    receiver: mpsc::Receiver<Vec<JournalItem>>,
    closed: bool,
    /// Submissions taken from the queue and not yet in a batch (bounded by `backlog_max`).
    backlog: VecDeque<Vec<JournalItem>>,
    backlog_max: usize,
    batch_size_max: usize,
    busy: Busy,
    /// The first submissions of the backlog, known to touch a busy account since the last
    /// batch finished: not looked at again until one does (hot accounts would make every
    /// arrival rescan the whole backlog).
    blocked_prefix: usize,
    in_flight: Vec<Option<InFlight>>,
    idle: Vec<usize>,
    batch_senders: Vec<mpsc::Sender<Vec<JournalItem>>>,
}

impl Dispatcher {
    pub(crate) fn new(
        receiver: mpsc::Receiver<Vec<JournalItem>>,
        backlog_max: usize,
        batch_size_max: usize,
        batch_senders: Vec<mpsc::Sender<Vec<JournalItem>>>,
    ) -> Dispatcher {
        let writers = batch_senders.len();
        Dispatcher {
            receiver,
            closed: false,
            backlog: VecDeque::new(),
            backlog_max,
            batch_size_max,
            busy: Busy::default(),
            blocked_prefix: 0,
            in_flight: vec![None; writers],
            idle: (0..writers).rev().collect(),
            batch_senders,
        }
    }

    pub(crate) async fn run(mut self, mut finished: mpsc::Receiver<usize>) {
        let mut incoming = Vec::with_capacity(self.batch_size_max);
        loop {
            let room = self.backlog_max.saturating_sub(self.backlog.len());
            tokio::select! {
                biased;
                writer = finished.recv() => match writer {
                    Some(writer) => self.finish(writer),
                    None => return,
                },
                received = self.receiver.recv_many(&mut incoming, room),
                    if room > 0 && !self.closed => {
                    self.closed = received == 0;
                    self.backlog.extend(incoming.drain(..));
                }
            }
            self.dispatch();
            if self.closed && self.backlog.is_empty() && self.idle.len() == self.in_flight.len() {
                return;
            }
        }
    }

    fn finish(&mut self, writer: usize) {
        let done = self.in_flight[writer]
            .take()
            .expect("a writer finishes only a batch it was given");
        self.busy.give_back(done);
        self.blocked_prefix = 0;
        self.idle.push(writer);
    }

    fn dispatch(&mut self) {
        while self.backlog.len() > self.blocked_prefix {
            let Some(writer) = self.idle.pop() else {
                return;
            };
            let batch = choose_batch(
                &mut self.backlog,
                self.blocked_prefix,
                &self.busy,
                self.batch_size_max,
            );
            if batch.is_empty() {
                self.blocked_prefix = self.backlog.len();
                self.idle.push(writer);
                return;
            }
            // The batch took items from anywhere in the backlog: look at all of it next time.
            self.blocked_prefix = 0;
            self.in_flight[writer] = Some(self.busy.take(&batch));
            let sent = self.batch_senders[writer].try_send(batch);
            assert!(sent.is_ok(), "an idle writer has room for a batch");
        }
    }
}
