//! Two limits in front of the password checks (bcrypt), which are the costliest thing a caller
//! can ask for without an account:
//!
//! - [`LoginLimiter`]: failed logins per username, counted in PostgreSQL (`login_failures`) so
//!   the limit holds across every replica: after `failures_max` within a window, that username
//!   answers 429 until the window (counted from its first failure) has passed. Every attempt
//!   counts from the moment it starts and is forgiven only by a success (or taken back when it
//!   ends in neither), so concurrent guesses cannot slip past. It never fails open: when
//!   PostgreSQL cannot count an attempt, the attempt is refused (503).
//! - [`AddressLimiter`]: sign-ups and logins per client address, in memory per process, so one
//!   address flooding the password checks gets 429 while everyone else still gets in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use crate::store::login_failures::{self, LoginFailureStoreError};

/// Why a login may not go on.
#[derive(Debug, thiserror::Error)]
pub enum LoginRefused {
    #[error("too many failed logins for this username")]
    RateLimited { retry_after: Duration },
    #[error("the attempt could not be counted: {0}")]
    Uncounted(#[from] LoginFailureStoreError),
}

pub struct LoginLimiter {
    pool: Pool,
    failures_max: u32,
    window: Duration,
}

impl LoginLimiter {
    pub fn new(pool: Pool, failures_max: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            pool,
            failures_max,
            window,
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Counts a login attempt for `username`, or refuses it when the username is locked.
    pub async fn begin(&self, username: &str) -> Result<LoginAttempt<'_>, LoginRefused> {
        let counted =
            login_failures::count_attempt(&self.pool, username, self.window, self.failures_max)
                .await?;
        if counted.failures > i32::try_from(self.failures_max).unwrap_or(i32::MAX) {
            return Err(LoginRefused::RateLimited {
                retry_after: counted.remaining,
            });
        }
        Ok(LoginAttempt {
            limiter: self,
            username: username.to_owned(),
            settled: false,
        })
    }
}

/// One login in progress. Say how it ended with [`LoginAttempt::failed`] or
/// [`LoginAttempt::succeeded`]; dropped without either (an error on the way), it is taken back.
#[must_use]
pub struct LoginAttempt<'a> {
    limiter: &'a LoginLimiter,
    username: String,
    settled: bool,
}

impl LoginAttempt<'_> {
    /// Wrong credentials: the failure stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// Right credentials: earlier failures for this username are forgiven.
    pub async fn succeeded(mut self) {
        self.settled = true;
        if let Err(error) = login_failures::forgive(&self.limiter.pool, &self.username).await {
            // The failures stay counted and lapse with their window: safe, merely strict.
            tracing::warn!(%error, "could not forgive login failures");
        }
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (pool, username) = (
            self.limiter.pool.clone(),
            std::mem::take(&mut self.username),
        );
        tokio::spawn(async move {
            if let Err(error) = login_failures::uncount_attempt(&pool, &username).await {
                tracing::warn!(%error, "could not take back an unfinished login attempt");
            }
        });
    }
}

/// Client addresses tracked at most. Beyond it, new addresses share one window (fail closed:
/// a flood from very many addresses slows new clients down, it never lifts the limit).
pub const ADDRESSES_TRACKED_MAX: usize = 100_000;

/// Sign-ups and logins per client address within a window (IPv6 by /64, which one host owns).
pub struct AddressLimiter {
    attempts_max: u32,
    window: Duration,
    addresses_max: usize,
    windows: Mutex<HashMap<AddressKey, AttemptWindow>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    Address(IpAddr),
    /// Every address that found the map full.
    Overflow,
}

struct AttemptWindow {
    started_at: Instant,
    attempts: u32,
}

impl AddressLimiter {
    pub fn new(attempts_max: u32, window: Duration) -> AddressLimiter {
        AddressLimiter::with_bound(attempts_max, window, ADDRESSES_TRACKED_MAX)
    }

    pub fn with_bound(attempts_max: u32, window: Duration, addresses_max: usize) -> AddressLimiter {
        AddressLimiter {
            attempts_max,
            window,
            addresses_max,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `address`, or answers how long to wait.
    pub fn admit(&self, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut key = AddressKey::Address(host_part(address));
        if !windows.contains_key(&key) && windows.len() >= self.addresses_max {
            windows.retain(|_, window| now.duration_since(window.started_at) < self.window);
            if windows.len() >= self.addresses_max {
                key = AddressKey::Overflow;
            }
        }
        let window = windows.entry(key).or_insert(AttemptWindow {
            started_at: now,
            attempts: 0,
        });
        let elapsed = now.duration_since(window.started_at);
        if elapsed >= self.window {
            *window = AttemptWindow {
                started_at: now,
                attempts: 0,
            };
        } else if window.attempts >= self.attempts_max {
            return Err(self.window - elapsed);
        }
        window.attempts += 1;
        Ok(())
    }
}

/// The part of an address one client controls: all of an IPv4 address, the /64 of an IPv6 one.
fn host_part(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::AddressLimiter;

    const MINUTE: Duration = Duration::from_secs(60);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_limited_and_others_are_not() {
        let limiter = AddressLimiter::new(2, MINUTE);
        limiter.admit(ip("10.0.0.1")).unwrap();
        limiter.admit(ip("10.0.0.1")).unwrap();
        let wait = limiter.admit(ip("10.0.0.1")).unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= MINUTE, "{wait:?}");
        limiter.admit(ip("10.0.0.2")).expect("another address");
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64() {
        let limiter = AddressLimiter::new(1, MINUTE);
        limiter.admit(ip("2001:db8:1:2::1")).unwrap();
        assert!(limiter.admit(ip("2001:db8:1:2:ffff::9")).is_err());
        limiter.admit(ip("2001:db8:1:3::1")).expect("another /64");
    }

    #[test]
    fn the_window_passes() {
        let limiter = AddressLimiter::new(1, Duration::from_millis(30));
        limiter.admit(ip("10.0.0.1")).unwrap();
        assert!(limiter.admit(ip("10.0.0.1")).is_err());
        std::thread::sleep(Duration::from_millis(40));
        limiter.admit(ip("10.0.0.1")).expect("a new window");
    }

    #[test]
    fn a_full_map_never_fails_open() {
        let limiter = AddressLimiter::with_bound(1, MINUTE, 2);
        limiter.admit(ip("10.0.0.1")).unwrap();
        limiter.admit(ip("10.0.0.2")).unwrap();
        // Untracked addresses share one window, limited like any address.
        limiter.admit(ip("10.0.0.3")).unwrap();
        assert!(limiter.admit(ip("10.0.0.4")).is_err());
        assert!(
            limiter.admit(ip("10.0.0.1")).is_err(),
            "tracked ones stay limited"
        );
    }
}
