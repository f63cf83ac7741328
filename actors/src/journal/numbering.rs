//! Batch numbers and the watermark. A batch is numbered once it holds its row locks (a batch of
//! one round trip just before it is sent: the dispatcher keeps batches sharing an account apart),
//! so of two batches sharing an account the higher number always committed later; the watermark
//! is the highest number below which every batch has ended.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Batch numbering shared by the writers.
pub(crate) struct Numbering {
    state: Mutex<NumberingState>,
    /// Every batch numbered up to this one has committed or failed: an actor that reads it and
    /// then its row from PostgreSQL has every such batch in what it read, and ignores their
    /// settlements. (With several writers, batches end out of order: the highest committed
    /// number says nothing about the lower ones.)
    watermark: Arc<AtomicU64>,
}

struct NumberingState {
    /// The last number handed out (in row-lock order).
    issued: u64,
    /// Numbers handed out whose batch has not ended yet (at most one per writer).
    in_flight: BTreeSet<u64>,
}

impl Numbering {
    pub(crate) fn new(watermark: Arc<AtomicU64>) -> Numbering {
        Numbering {
            state: Mutex::new(NumberingState {
                issued: 0,
                in_flight: BTreeSet::new(),
            }),
            watermark,
        }
    }

    /// A number for a batch that holds its row locks now (or is about to take them, with no
    /// batch sharing an account in flight); the batch ends when it drops.
    pub(crate) fn issue(self: &Arc<Numbering>) -> BatchNumber {
        let mut state = self.state.lock().expect("the numbering lock");
        state.issued += 1;
        let number = state.issued;
        state.in_flight.insert(number);
        BatchNumber {
            number,
            numbering: self.clone(),
        }
    }

    fn end(&self, number: u64) {
        let mut state = self.state.lock().expect("the numbering lock");
        assert!(state.in_flight.remove(&number), "a batch ends once");
        let watermark = match state.in_flight.first() {
            Some(first) => first - 1,
            None => state.issued,
        };
        self.watermark.store(watermark, Ordering::Release);
    }
}

/// A batch's number while it is being written; dropping it ends the batch for the watermark.
pub(crate) struct BatchNumber {
    pub(crate) number: u64,
    numbering: Arc<Numbering>,
}

impl Drop for BatchNumber {
    fn drop(&mut self) {
        self.numbering.end(self.number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbering() -> Arc<Numbering> {
        Arc::new(Numbering::new(Arc::new(AtomicU64::new(0))))
    }

    fn watermark(numbering: &Numbering) -> u64 {
        numbering.watermark.load(Ordering::Acquire)
    }

    #[test]
    fn the_watermark_waits_for_the_oldest_batch_in_flight() {
        let numbering = numbering();
        let first = numbering.issue();
        let second = numbering.issue();
        drop(second);
        // Batch 2 committed before batch 1: a reload must not take 2 as the mark, or it
        // would ignore batch 1's settlement while reading a row without it.
        assert_eq!(watermark(&numbering), 0);
        drop(first);
        assert_eq!(watermark(&numbering), 2);
        let third = numbering.issue();
        assert_eq!(third.number, 3);
        drop(third);
        assert_eq!(watermark(&numbering), 3);
    }

    #[test]
    fn numbers_grow_by_one_in_issue_order() {
        let numbering = numbering();
        let numbers: Vec<u64> = (0..5).map(|_| numbering.issue().number).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
        assert_eq!(watermark(&numbering), 5, "each ended as it dropped");
    }

    #[test]
    fn the_watermark_stops_below_a_middle_batch_in_flight() {
        let numbering = numbering();
        let first = numbering.issue();
        let second = numbering.issue();
        let third = numbering.issue();
        drop(first);
        assert_eq!(watermark(&numbering), 1);
        drop(third);
        assert_eq!(watermark(&numbering), 1, "batch 2 has not ended");
        drop(second);
        assert_eq!(watermark(&numbering), 3);
    }

    #[test]
    fn a_lone_batch_moves_the_watermark_to_itself() {
        let numbering = numbering();
        let only = numbering.issue();
        assert_eq!(watermark(&numbering), 0);
        drop(only);
        assert_eq!(watermark(&numbering), 1);
    }
}
