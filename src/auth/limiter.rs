//! Two limits in front of the password checks (bcrypt), which are the costliest thing a caller
//! can ask for without an account:
//!
//! - [`LoginLimiter`]: failed logins counted in PostgreSQL (`login_failures`), so the limits
//!   hold across every replica, per subject: a username from one address and an address alone
//!   answer 429 past their limits until their window has passed; a username alone is only
//!   slowed down (a growing delay, capped), and a right password from an address without
//!   failures for it goes through at once, so nobody can lock another user out. Every attempt
//!   counts from the moment it starts and is forgiven only by a success (or taken back when it
//!   is refused or ends in neither), so concurrent guesses cannot slip past. It never fails
//!   open: when PostgreSQL cannot count an attempt, the attempt is refused (503).
//! - [`AddressLimiter`]: sign-ups and logins per client address, in memory per process, so one
//!   address flooding the password checks gets 429 while everyone else still gets in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use crate::store::login_failures::{self, LoginFailureStoreError};

/// The first delay once a username's failures (from every address) pass the pair limit; it
/// doubles with each further failure, up to `auth.login_delay_max`.
const LOGIN_DELAY_FIRST: Duration = Duration::from_millis(100);

/// Why a login may not go on.
#[derive(Debug, thiserror::Error)]
pub enum LoginRefused {
    #[error("too many failed logins")]
    RateLimited {
        reason: &'static str,
        retry_after: Duration,
    },
    #[error("the attempt could not be counted: {0}")]
    Uncounted(#[from] LoginFailureStoreError),
}

/// The login limits (`auth.*` in the settings).
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures for one username from one address before that pair answers 429.
    pub pair_failures_max: u32,
    /// Failures from one address, whatever the usernames, before it answers 429.
    pub address_failures_max: u32,
    pub window: Duration,
    /// The longest a username's failures slow its logins down.
    pub delay_max: Duration,
}

pub struct LoginLimiter {
    pool: Pool,
    limits: LoginLimits,
}

/// What one attempt counts against.
struct Subjects {
    pair: String,
    address: String,
    user: String,
}

impl Subjects {
    fn new(username: &str, address: IpAddr) -> Subjects {
        let address = host_part(address);
        Subjects {
            pair: format!("pair:{address} {username}"),
            address: format!("address:{address}"),
            user: format!("user:{username}"),
        }
    }

    fn all(&self) -> [String; 3] {
        [self.pair.clone(), self.address.clone(), self.user.clone()]
    }
}

impl LoginLimiter {
    pub fn new(pool: Pool, limits: LoginLimits) -> LoginLimiter {
        LoginLimiter { pool, limits }
    }

    pub fn window(&self) -> Duration {
        self.limits.window
    }

    /// Counts a login attempt for `username` from `address`, or refuses it when that pair or
    /// that address is over its limit.
    pub async fn begin(
        &self,
        username: &str,
        address: IpAddr,
    ) -> Result<LoginAttempt<'_>, LoginRefused> {
        let subjects = Subjects::new(username, address);
        let counted =
            login_failures::count_attempt(&self.pool, &subjects.all(), self.limits.window).await?;
        let count_of = |subject: &str| {
            counted
                .iter()
                .find(|window| window.subject == subject)
                .map_or((1, Duration::ZERO), |window| {
                    (window.failures.max(1) as u32, window.remaining)
                })
        };
        let (pair, pair_remaining) = count_of(&subjects.pair);
        let (address, address_remaining) = count_of(&subjects.address);
        let (user, _) = count_of(&subjects.user);
        let refused = match () {
            _ if pair > self.limits.pair_failures_max => Some((
                "too many failed logins for this username from this address",
                pair_remaining,
            )),
            _ if address > self.limits.address_failures_max => Some((
                "too many failed logins from this address",
                address_remaining,
            )),
            _ => None,
        };
        if let Some((reason, retry_after)) = refused {
            // A refused attempt is taken back: it never counts.
            if let Err(error) = login_failures::uncount_attempt(&self.pool, &subjects.all()).await {
                tracing::warn!(%error, "could not take back a refused login attempt");
            }
            return Err(LoginRefused::RateLimited {
                reason,
                retry_after,
            });
        }
        Ok(LoginAttempt {
            limiter: self,
            subjects,
            settled: false,
            delay: login_delay(user - 1, self.limits),
            first_from_address: pair == 1,
        })
    }
}

/// How long a login waits after `failures` failures for its username from every address: none
/// up to the pair limit, then doubling, capped.
pub fn login_delay(failures: u32, limits: LoginLimits) -> Duration {
    let Some(past) = failures.checked_sub(limits.pair_failures_max) else {
        return Duration::ZERO;
    };
    if past == 0 {
        return Duration::ZERO;
    }
    LOGIN_DELAY_FIRST
        .saturating_mul(1_u32 << (past - 1).min(20))
        .min(limits.delay_max)
}

/// One login in progress. Say how it ended with [`LoginAttempt::failed`] or
/// [`LoginAttempt::succeeded`], and wait what they answer before answering; dropped without
/// either (an error on the way), it is taken back.
#[must_use]
pub struct LoginAttempt<'a> {
    limiter: &'a LoginLimiter,
    subjects: Subjects,
    settled: bool,
    /// The username's slow-down.
    delay: Duration,
    /// No failure for this username from this address in the window.
    first_from_address: bool,
}

impl LoginAttempt<'_> {
    /// Wrong credentials: the failure stays counted. Answer after the returned delay.
    pub fn failed(mut self) -> Duration {
        self.settled = true;
        self.delay
    }

    /// Right credentials: the failures of this username (from here and everywhere) are
    /// forgiven, and this attempt is not held against the address. Answer after the returned
    /// delay: none from an address without failures for this username.
    pub async fn succeeded(mut self) -> Duration {
        self.settled = true;
        let pool = &self.limiter.pool;
        let forgiven = [self.subjects.pair.clone(), self.subjects.user.clone()];
        if let Err(error) = login_failures::forgive(pool, &forgiven).await {
            // The failures stay counted and lapse with their window: safe, merely strict.
            tracing::warn!(%error, "could not forgive login failures");
        }
        let address = [self.subjects.address.clone()];
        if let Err(error) = login_failures::uncount_attempt(pool, &address).await {
            tracing::warn!(%error, "could not take back a successful login attempt");
        }
        match self.first_from_address {
            true => Duration::ZERO,
            false => self.delay,
        }
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // No runtime: the process is stopping, and the count lapses with its window.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (pool, subjects) = (self.limiter.pool.clone(), self.subjects.all());
        runtime.spawn(async move {
            if let Err(error) = login_failures::uncount_attempt(&pool, &subjects).await {
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
pub fn host_part(address: IpAddr) -> IpAddr {
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

    use super::{login_delay, AddressLimiter, LoginLimits};

    const MINUTE: Duration = Duration::from_secs(60);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_usernames_failures_slow_it_down_growing_and_capped() {
        let limits = LoginLimits {
            pair_failures_max: 10,
            address_failures_max: 100,
            window: MINUTE,
            delay_max: Duration::from_secs(5),
        };
        assert_eq!(login_delay(0, limits), Duration::ZERO);
        assert_eq!(login_delay(10, limits), Duration::ZERO);
        assert_eq!(login_delay(11, limits), Duration::from_millis(100));
        assert_eq!(login_delay(12, limits), Duration::from_millis(200));
        assert_eq!(login_delay(14, limits), Duration::from_millis(800));
        assert_eq!(login_delay(20, limits), Duration::from_secs(5));
        assert_eq!(login_delay(u32::MAX, limits), Duration::from_secs(5));
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
