//! bcrypt hashing and verifying, run on the blocking thread pool: a hash costs tens to hundreds
//! of milliseconds of CPU, which must not stall the async workers serving other requests.

use tokio::sync::Semaphore;

use crate::domain::Password;
use crate::error::ApiError;

/// Password checks waiting for a core before callers are answered 503: a flood of logins
/// queues this far and no further.
const HASHES_WAITING_MAX: usize = 128;

pub struct PasswordHasher {
    cost: u32,
    /// bcrypt jobs running at once: one per core at most, so a flood of logins or sign-ups can
    /// slow them down but never take every core from transfers.
    running: Semaphore,
    /// Jobs running or waiting; beyond it, 503.
    admitted: Semaphore,
    /// A hash of a random password at the configured cost. Logins for unknown users verify
    /// against it, so they take as long as a wrong password and reveal nothing by timing.
    dummy_hash: String,
}

impl PasswordHasher {
    pub async fn new(cost: u32) -> anyhow::Result<PasswordHasher> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordHasher::with_limits(cost, cores, HASHES_WAITING_MAX).await
    }

    pub async fn with_limits(
        cost: u32,
        running_max: usize,
        waiting_max: usize,
    ) -> anyhow::Result<PasswordHasher> {
        let secret = uuid::Uuid::new_v4().to_string();
        let dummy_hash = tokio::task::spawn_blocking(move || bcrypt::hash(secret, cost)).await??;
        Ok(PasswordHasher {
            cost,
            running: Semaphore::new(running_max),
            admitted: Semaphore::new(running_max + waiting_max),
            dummy_hash,
        })
    }

    /// Runs a bcrypt job on the blocking pool, within the bounds above.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let Ok(_admitted) = self.admitted.try_acquire() else {
            return Err(ApiError::Unavailable(
                "too many password checks in progress; retry shortly".to_owned(),
            ));
        };
        let _running = self.running.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(ApiError::internal)
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        let cost = self.cost;
        // `Password` holds at most 72 bytes, so bcrypt truncates nothing (the truncating
        // `hash` is used because the non-truncating one also refuses exactly 72 bytes).
        self.run(move || bcrypt::hash(password.expose(), cost))
            .await?
            .map_err(ApiError::internal)
    }

    /// Whether `password` matches `stored_hash`; with no stored hash (an unknown user) it spends
    /// the same time on the dummy hash and answers false.
    pub async fn verify(
        &self,
        password: Password,
        stored_hash: Option<String>,
    ) -> Result<bool, ApiError> {
        let known = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| self.dummy_hash.clone());
        let matches = self
            .run(move || bcrypt::verify(password.expose(), &hash))
            .await?
            .map_err(ApiError::internal)?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::PasswordHasher;
    use crate::domain::Password;

    fn password(text: &str) -> Password {
        Password::parse(text.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(4).await.unwrap();
        let hash = hasher.hash(password("correct horse")).await.unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(hasher
            .verify(password("correct horse"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify(password("wrong horse"), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies_and_the_dummy_has_the_configured_cost() {
        let hasher = PasswordHasher::new(5).await.unwrap();
        assert!(hasher.dummy_hash.starts_with("$2b$05$"));
        assert!(!hasher
            .verify(password("anything at all"), None)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn checks_beyond_the_bounds_are_refused_not_queued() {
        // One may run and none wait: a second check while the first runs is answered 503.
        let hasher = PasswordHasher::with_limits(10, 1, 0).await.unwrap();
        let (first, second) = tokio::join!(
            hasher.verify(password("first password"), None),
            hasher.verify(password("second password"), None),
        );
        assert!(!first.unwrap(), "an unknown user never verifies");
        assert!(
            matches!(second, Err(crate::error::ApiError::Unavailable(_))),
            "{second:?}"
        );
        // Once the first is done, checks run again.
        assert!(!hasher
            .verify(password("third password"), None)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn all_72_bytes_count() {
        let hasher = PasswordHasher::new(4).await.unwrap();
        let long = "x".repeat(72);
        let hash = hasher.hash(password(&long)).await.unwrap();
        let last_byte_changed = format!("{}y", "x".repeat(71));
        assert!(!hasher
            .verify(password(&last_byte_changed), Some(hash))
            .await
            .unwrap());
    }
}
