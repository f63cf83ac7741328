//! Failed logins per username: after `failures_max` within a window, that username answers 429
//! until the window (counted from its first failure) has passed.
//!
//! In memory, per process: with several replicas each counts separately, so the effective limit
//! is `failures_max` times the replica count. Every attempt counts as a failure from the moment
//! it starts and is forgiven only by a success (or undone when it ends in neither, e.g. the
//! database was down), so concurrent guesses cannot slip past the limit.

use std::time::{Duration, Instant};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

/// Usernames tracked at most. Each new one costs an attacker a bcrypt verification, so the bound
/// is far above what one process can be made to fill within a window.
pub const TRACKED_USERNAMES_MAX: usize = 100_000;

struct FailureWindow {
    started_at: Instant,
    failures: u32,
}

pub struct LoginLimiter {
    failures_max: u32,
    window: Duration,
    tracked_usernames_max: usize,
    windows: DashMap<String, FailureWindow>,
}

impl LoginLimiter {
    pub fn new(failures_max: u32, window: Duration) -> LoginLimiter {
        LoginLimiter::with_bound(failures_max, window, TRACKED_USERNAMES_MAX)
    }

    pub fn with_bound(
        failures_max: u32,
        window: Duration,
        tracked_usernames_max: usize,
    ) -> LoginLimiter {
        LoginLimiter {
            failures_max,
            window,
            tracked_usernames_max,
            windows: DashMap::new(),
        }
    }

    /// Starts a login attempt for `username`, or answers how long to wait when it is locked.
    pub fn begin<'a>(&'a self, username: &str) -> Result<LoginAttempt<'a>, Duration> {
        if !self.windows.contains_key(username) && !self.has_room() {
            // Fail open rather than lock out users we cannot track; see TRACKED_USERNAMES_MAX.
            tracing::warn!(
                bound = self.tracked_usernames_max,
                "login limiter full; attempt not counted"
            );
            return Ok(LoginAttempt::untracked(self, username));
        }
        let now = Instant::now();
        match self.windows.entry(username.to_owned()) {
            Entry::Occupied(mut occupied) => {
                let window = occupied.get_mut();
                let elapsed = now.duration_since(window.started_at);
                if elapsed >= self.window {
                    *window = FailureWindow {
                        started_at: now,
                        failures: 0,
                    };
                } else if window.failures >= self.failures_max {
                    return Err(self.window - elapsed);
                }
                window.failures += 1;
            }
            Entry::Vacant(vacant) => {
                vacant.insert(FailureWindow {
                    started_at: now,
                    failures: 1,
                });
            }
        }
        Ok(LoginAttempt {
            limiter: self,
            username: username.to_owned(),
            tracked: true,
            settled: false,
        })
    }

    /// Usernames currently tracked.
    pub fn tracked(&self) -> usize {
        self.windows.len()
    }

    /// Whether one more username fits, evicting expired windows first when full.
    fn has_room(&self) -> bool {
        if self.windows.len() < self.tracked_usernames_max {
            return true;
        }
        let now = Instant::now();
        self.windows
            .retain(|_, window| now.duration_since(window.started_at) < self.window);
        self.windows.len() < self.tracked_usernames_max
    }

    fn forgive(&self, username: &str) {
        self.windows.remove(username);
    }

    fn undo(&self, username: &str) {
        if let Some(mut window) = self.windows.get_mut(username) {
            window.failures = window.failures.saturating_sub(1);
        }
    }
}

/// One login in progress. Say how it ended with [`LoginAttempt::failed`] or
/// [`LoginAttempt::succeeded`]; dropped without either (an error on the way), it is not counted.
#[must_use]
pub struct LoginAttempt<'a> {
    limiter: &'a LoginLimiter,
    username: String,
    tracked: bool,
    settled: bool,
}

impl<'a> LoginAttempt<'a> {
    fn untracked(limiter: &'a LoginLimiter, username: &str) -> LoginAttempt<'a> {
        LoginAttempt {
            limiter,
            username: username.to_owned(),
            tracked: false,
            settled: true,
        }
    }

    /// Wrong credentials: the failure stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// Right credentials: earlier failures for this username are forgiven.
    pub fn succeeded(mut self) {
        self.settled = true;
        if self.tracked {
            self.limiter.forgive(&self.username);
        }
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if !self.settled && self.tracked {
            self.limiter.undo(&self.username);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::LoginLimiter;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn locks_after_the_maximum_failures_and_tells_how_long() {
        let limiter = LoginLimiter::new(3, MINUTE);
        for _ in 0..3 {
            limiter.begin("alice").expect("not locked yet").failed();
        }
        let wait = limiter.begin("alice").err().expect("locked");
        assert!(wait > Duration::from_secs(59) && wait <= MINUTE, "{wait:?}");
        assert!(
            limiter.begin("bob").is_ok(),
            "other usernames are unaffected"
        );
    }

    #[test]
    fn concurrent_attempts_count_before_they_finish() {
        let limiter = LoginLimiter::new(2, MINUTE);
        let first = limiter.begin("alice").unwrap();
        let second = limiter.begin("alice").unwrap();
        assert!(limiter.begin("alice").is_err(), "two are already in flight");
        first.failed();
        second.failed();
    }

    #[test]
    fn a_success_forgives_and_an_unsettled_attempt_is_undone() {
        let limiter = LoginLimiter::new(2, MINUTE);
        limiter.begin("alice").unwrap().failed();
        limiter.begin("alice").unwrap().succeeded();
        assert_eq!(limiter.tracked(), 0);
        limiter.begin("alice").unwrap().failed();
        drop(limiter.begin("alice").unwrap());
        limiter.begin("alice").unwrap().failed();
        assert!(limiter.begin("alice").is_err(), "two failures counted");
    }

    #[test]
    fn the_window_passes() {
        let limiter = LoginLimiter::new(1, Duration::from_millis(30));
        limiter.begin("alice").unwrap().failed();
        assert!(limiter.begin("alice").is_err());
        std::thread::sleep(Duration::from_millis(40));
        limiter.begin("alice").expect("a new window").failed();
    }

    #[test]
    fn memory_is_bounded_and_expired_windows_are_evicted() {
        let limiter = LoginLimiter::with_bound(1, Duration::from_millis(30), 2);
        limiter.begin("a").unwrap().failed();
        limiter.begin("b").unwrap().failed();
        limiter.begin("c").unwrap().failed();
        assert_eq!(limiter.tracked(), 2, "the third is not tracked");
        std::thread::sleep(Duration::from_millis(40));
        limiter.begin("d").unwrap().failed();
        assert_eq!(limiter.tracked(), 1, "expired windows were evicted");
    }
}
