//! The clock tokens are issued and checked by: the system's, plus an offset that only tests move
//! (`advance`), so a test of expiry steps past a token's lifetime instead of sleeping through it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

/// Cloning shares the offset: the test that holds a clone moves the app's clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system's clock (offset zero until a test advances it).
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> OffsetDateTime {
        let offset_ms = self.offset_ms.load(Ordering::Relaxed);
        OffsetDateTime::now_utc() + time::Duration::milliseconds(offset_ms)
    }

    /// Moves this clock (and its clones) `by` forward. For tests only: production never calls it.
    pub fn advance(&self, by: Duration) {
        let by_ms = i64::try_from(by.as_millis()).expect("an advance of under 292 million years");
        self.offset_ms.fetch_add(by_ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let clone = clock.clone();
        let before = clone.now();
        clock.advance(Duration::from_secs(3600));
        let moved = clone.now() - before;
        assert!(moved >= time::Duration::seconds(3600), "{moved}");
        assert!(moved < time::Duration::seconds(3660), "{moved}");
    }
}
