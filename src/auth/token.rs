//! PASETO v4.local tokens (encrypted and authenticated with the configured 32-byte key).
//!
//! Claims: `jti` token id, `sub` username, `role`, `sid` session id, `purpose` (`access` or
//! `refresh`, so neither can stand in for the other), `iat`/`nbf` issued-at and `exp` expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pasetors::claims::{Claims, ClaimsValidationRules};
use pasetors::errors::{ClaimValidationError, Error as PasetoError};
use pasetors::keys::SymmetricKey;
use pasetors::token::UntrustedToken;
use pasetors::version4::V4;
use pasetors::{local, Local};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Clock;
use crate::configuration::TokenSettings;
use crate::domain::{Role, Username};
use crate::error::ApiError;

/// How far a token's `iat`/`nbf` may lie in our future: replicas' clocks disagree a little, and
/// a token issued by a replica that runs ahead must still work on the others at once.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5);

/// Access tokens kept verified per process (about 400 bytes each, so at most about 13 MB): a
/// client sends the same token on every request, and decrypting it again was 62 % of the HTTP
/// side's instructions per request (docs/design.md, "The HTTP side's cost per request"). When
/// full, expired entries go, then all.
pub const VERIFIED_TOKENS_MAX: usize = 32_768;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Presented as `Authorization: Bearer` on every protected route; short-lived.
    Access,
    /// Presented to `POST /tokens/renew_access` only; tied to a `sessions` row.
    Refresh,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Access => "access",
            TokenPurpose::Refresh => "refresh",
        }
    }
}

/// What a genuine, unexpired token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPayload {
    pub token_id: Uuid,
    pub username: Username,
    pub role: Role,
    pub session_id: Uuid,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A freshly made token and what it carries.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub payload: TokenPayload,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Garbage, tampered, made with another key, or of the other purpose.
    #[error("the token is not valid")]
    Invalid,
    /// Genuine but past its expiry.
    #[error("the token has expired")]
    Expired,
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> ApiError {
        match error {
            TokenError::Invalid => ApiError::Unauthenticated(error.to_string()),
            TokenError::Expired => ApiError::TokenExpired,
        }
    }
}

pub struct TokenMaker {
    key: SymmetricKey<V4>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    clock: Clock,
    verified: VerifiedTokens,
}

impl TokenMaker {
    /// Issues and checks by the system's clock.
    pub fn new(settings: &TokenSettings) -> anyhow::Result<TokenMaker> {
        TokenMaker::with_clock(settings, Clock::system())
    }

    /// Issues and checks by `clock` (a test's, to step past a lifetime).
    pub fn with_clock(settings: &TokenSettings, clock: Clock) -> anyhow::Result<TokenMaker> {
        Ok(TokenMaker {
            clock,
            key: SymmetricKey::<V4>::from(settings.key.bytes())
                .map_err(|error| anyhow::anyhow!("token.key: {error}"))?,
            access_ttl: settings.access_ttl,
            refresh_ttl: settings.refresh_ttl,
            verified: VerifiedTokens::default(),
        })
    }

    /// Makes a token of `purpose` with a new token id, living for that purpose's TTL.
    pub fn issue(
        &self,
        purpose: TokenPurpose,
        username: &Username,
        role: Role,
        session_id: Uuid,
    ) -> Result<IssuedToken, ApiError> {
        self.issue_at(purpose, username, role, session_id, self.clock.now())
    }

    /// What the clock tokens are checked by reads now.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// [`TokenMaker::issue`] as if the clock read `now`.
    fn issue_at(
        &self,
        purpose: TokenPurpose,
        username: &Username,
        role: Role,
        session_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, ApiError> {
        let ttl = match purpose {
            TokenPurpose::Access => self.access_ttl,
            TokenPurpose::Refresh => self.refresh_ttl,
        };
        // Microseconds, as PostgreSQL keeps them: a refresh token's expiry equals its session's.
        let issued_at = now
            .replace_microsecond(now.microsecond())
            .map_err(ApiError::internal)?;
        let expires_at = time::Duration::try_from(ttl)
            .ok()
            .and_then(|ttl| issued_at.checked_add(ttl))
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("token TTL out of range")))?;
        let payload = TokenPayload {
            token_id: Uuid::new_v4(),
            username: username.clone(),
            role,
            session_id,
            issued_at,
            expires_at,
        };
        let token = self
            .encrypt(purpose, &payload)
            .map_err(|error| ApiError::internal(anyhow::anyhow!("making a token: {error}")))?;
        Ok(IssuedToken { token, payload })
    }

    fn encrypt(
        &self,
        purpose: TokenPurpose,
        payload: &TokenPayload,
    ) -> Result<String, PasetoError> {
        let format =
            |at: OffsetDateTime| at.format(&Rfc3339).map_err(|_| PasetoError::InvalidClaim);
        let mut claims = Claims::new()?;
        claims.token_identifier(&payload.token_id.to_string())?;
        claims.subject(payload.username.as_str())?;
        claims.issued_at(&format(payload.issued_at)?)?;
        claims.not_before(&format(payload.issued_at)?)?;
        claims.expiration(&format(payload.expires_at)?)?;
        claims.add_additional("role", payload.role.as_str())?;
        claims.add_additional("sid", payload.session_id.to_string())?;
        claims.add_additional("purpose", purpose.as_str())?;
        local::encrypt(&self.key, &claims, None, None)
    }

    /// Decrypts `token` and checks its expiry and purpose. Only a token that decrypts with our
    /// key can be `Expired`; everything else wrong is `Invalid`. An access token verified
    /// before is found by its whole text instead, and only its expiry is checked again (by the
    /// same clock): what it says cannot change, and the logged-out set is the caller's to check.
    pub fn verify(&self, purpose: TokenPurpose, token: &str) -> Result<TokenPayload, TokenError> {
        if purpose != TokenPurpose::Access {
            return self.decrypt(purpose, token);
        }
        let now = self.clock.now();
        if let Some(payload) = self.verified.get(token) {
            if payload.expires_at <= now {
                return Err(TokenError::Expired);
            }
            return Ok(payload);
        }
        let payload = self.decrypt(purpose, token)?;
        self.verified.insert(token, payload.clone(), now);
        Ok(payload)
    }

    fn decrypt(&self, purpose: TokenPurpose, token: &str) -> Result<TokenPayload, TokenError> {
        let untrusted =
            UntrustedToken::<Local, V4>::try_from(token).map_err(|_| TokenError::Invalid)?;
        // pasetors checks iat/nbf with no tolerance; they are checked below instead (it still
        // checks exp, which needs none).
        let mut rules = ClaimsValidationRules::new();
        rules.disable_valid_at();
        let trusted = local::decrypt(&self.key, &untrusted, &rules, None, None).map_err(
            |error| match error {
                PasetoError::ClaimValidation(ClaimValidationError::Exp) => TokenError::Expired,
                _ => TokenError::Invalid,
            },
        )?;
        let claims = trusted.payload_claims().ok_or(TokenError::Invalid)?;
        if text_claim(claims, "purpose")? != purpose.as_str() {
            return Err(TokenError::Invalid);
        }
        check_times(claims, self.clock.now())?;
        Ok(TokenPayload {
            token_id: uuid_claim(claims, "jti")?,
            username: Username::parse(text_claim(claims, "sub")?.to_owned())
                .map_err(|_| TokenError::Invalid)?,
            role: text_claim(claims, "role")?
                .parse()
                .map_err(|_| TokenError::Invalid)?,
            session_id: uuid_claim(claims, "sid")?,
            issued_at: time_claim(claims, "iat")?,
            expires_at: time_claim(claims, "exp")?,
        })
    }
}

/// Genuine access tokens by their whole text, at most [`VERIFIED_TOKENS_MAX`]. The whole text,
/// not a digest of it, is compared: only the very token that was decrypted is found (a SHA-256
/// of it cost as much as a third of the request), and the map's hasher is seeded at random, so
/// clients cannot aim tokens at one bucket.
#[derive(Default)]
struct VerifiedTokens {
    entries: Mutex<HashMap<Box<str>, TokenPayload>>,
}

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<TokenPayload> {
        self.lock().get(token).cloned()
    }

    fn insert(&self, token: &str, payload: TokenPayload, now: OffsetDateTime) {
        let mut entries = self.lock();
        if entries.len() >= VERIFIED_TOKENS_MAX {
            entries.retain(|_, payload| payload.expires_at > now);
        }
        if entries.len() >= VERIFIED_TOKENS_MAX {
            entries.clear();
        }
        entries.insert(token.into(), payload);
        assert!(entries.len() <= VERIFIED_TOKENS_MAX);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// A panic elsewhere while holding the lock leaves only whole entries behind.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, TokenPayload>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Expired once `exp` has passed (no tolerance: our own clock decides); not valid yet while
/// `iat` or `nbf` is more than [`CLOCK_SKEW`] ahead of our clock.
fn check_times(claims: &Claims, now: OffsetDateTime) -> Result<(), TokenError> {
    let latest_start = now + CLOCK_SKEW;
    if time_claim(claims, "iat")? > latest_start || time_claim(claims, "nbf")? > latest_start {
        return Err(TokenError::Invalid);
    }
    if time_claim(claims, "exp")? <= now {
        return Err(TokenError::Expired);
    }
    Ok(())
}

fn text_claim<'a>(claims: &'a Claims, name: &str) -> Result<&'a str, TokenError> {
    claims
        .get_claim(name)
        .and_then(Value::as_str)
        .ok_or(TokenError::Invalid)
}

fn uuid_claim(claims: &Claims, name: &str) -> Result<Uuid, TokenError> {
    Uuid::parse_str(text_claim(claims, name)?).map_err(|_| TokenError::Invalid)
}

fn time_claim(claims: &Claims, name: &str) -> Result<OffsetDateTime, TokenError> {
    OffsetDateTime::parse(text_claim(claims, name)?, &Rfc3339).map_err(|_| TokenError::Invalid)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::configuration::Settings;

    fn maker(key_hex: Option<&str>, access_ttl: Duration) -> TokenMaker {
        let mut environment = HashMap::new();
        if let Some(key) = key_hex {
            environment.insert("TALLY_TOKEN__KEY".to_owned(), key.to_owned());
        }
        let mut settings = Settings::load_with(None, &environment).unwrap();
        settings.token.access_ttl = access_ttl;
        TokenMaker::new(&settings.token).unwrap()
    }

    fn alice() -> Username {
        Username::parse("alice".to_owned()).unwrap()
    }

    #[test]
    fn a_token_round_trips_its_payload() {
        let maker = maker(None, Duration::from_secs(60));
        let session_id = Uuid::new_v4();
        let issued = maker
            .issue(TokenPurpose::Access, &alice(), Role::Banker, session_id)
            .unwrap();
        assert!(issued.token.starts_with("v4.local."));
        let payload = maker.verify(TokenPurpose::Access, &issued.token).unwrap();
        assert_eq!(payload, issued.payload);
        assert_eq!(payload.session_id, session_id);
        assert_eq!(
            payload.expires_at - payload.issued_at,
            time::Duration::seconds(60)
        );
    }

    #[test]
    fn a_token_of_one_purpose_is_invalid_as_the_other() {
        let maker = maker(None, Duration::from_secs(60));
        let refresh = maker
            .issue(
                TokenPurpose::Refresh,
                &alice(),
                Role::Depositor,
                Uuid::new_v4(),
            )
            .unwrap();
        let access = maker
            .issue(
                TokenPurpose::Access,
                &alice(),
                Role::Depositor,
                Uuid::new_v4(),
            )
            .unwrap();
        assert_eq!(
            maker.verify(TokenPurpose::Access, &refresh.token),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            maker.verify(TokenPurpose::Refresh, &access.token),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_few_seconds_of_clock_skew_are_accepted_more_are_not() {
        let maker = maker(None, Duration::from_secs(60));
        let issue_in = |seconds: i64| {
            let at = OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
            maker
                .issue_at(
                    TokenPurpose::Access,
                    &alice(),
                    Role::Depositor,
                    Uuid::new_v4(),
                    at,
                )
                .unwrap()
                .token
        };
        // A replica whose clock runs 3 s ahead issued it: valid here at once.
        assert!(maker.verify(TokenPurpose::Access, &issue_in(3)).is_ok());
        assert_eq!(
            maker.verify(TokenPurpose::Access, &issue_in(30)),
            Err(TokenError::Invalid),
            "half a minute ahead is not skew"
        );
        assert_eq!(
            maker.verify(TokenPurpose::Access, &issue_in(-61)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_verified_access_token_is_remembered_and_still_expires_by_the_clock() {
        let mut environment = HashMap::new();
        environment.insert("TALLY_TOKEN__KEY".to_owned(), "cd".repeat(32));
        let mut settings = Settings::load_with(None, &environment).unwrap();
        settings.token.access_ttl = Duration::from_secs(60);
        let clock = Clock::system();
        let maker = TokenMaker::with_clock(&settings.token, clock.clone()).unwrap();
        let issued = maker
            .issue(TokenPurpose::Access, &alice(), Role::Banker, Uuid::new_v4())
            .unwrap();
        assert_eq!(maker.verified.len(), 0, "issuing verifies nothing");
        let first = maker.verify(TokenPurpose::Access, &issued.token).unwrap();
        assert_eq!(maker.verified.len(), 1);
        let again = maker.verify(TokenPurpose::Access, &issued.token).unwrap();
        assert_eq!((&first, &again), (&issued.payload, &issued.payload));
        assert_eq!(maker.verified.len(), 1, "found, not added twice");
        // A remembered token is no refresh token, and a refresh token is never remembered.
        assert_eq!(
            maker.verify(TokenPurpose::Refresh, &issued.token),
            Err(TokenError::Invalid)
        );
        // One character changed: not found, decrypted, refused, not remembered.
        let mut tampered = issued.token.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            maker.verify(TokenPurpose::Access, &tampered),
            Err(TokenError::Invalid)
        );
        assert_eq!(maker.verified.len(), 1);
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            maker.verify(TokenPurpose::Access, &issued.token),
            Err(TokenError::Expired),
            "remembered, yet expired once the clock passes exp"
        );
    }

    #[test]
    fn the_verified_tokens_stay_bounded_dropping_expired_ones_first() {
        let verified = VerifiedTokens::default();
        let now = OffsetDateTime::now_utc();
        let payload = |expires_in: i64| TokenPayload {
            token_id: Uuid::new_v4(),
            username: alice(),
            role: Role::Depositor,
            session_id: Uuid::new_v4(),
            issued_at: now,
            expires_at: now + time::Duration::seconds(expires_in),
        };
        let token = |n: usize| format!("v4.local.{n}");
        // Full: half expired, half live.
        for n in 0..VERIFIED_TOKENS_MAX {
            let expires_in = if n % 2 == 0 { -1 } else { 60 };
            verified.insert(&token(n), payload(expires_in), now);
        }
        assert_eq!(verified.len(), VERIFIED_TOKENS_MAX);
        verified.insert(&token(VERIFIED_TOKENS_MAX), payload(60), now);
        assert_eq!(
            verified.len(),
            VERIFIED_TOKENS_MAX / 2 + 1,
            "the expired went"
        );
        assert!(verified.get(&token(1)).is_some(), "a live one stayed");
        assert!(verified.get(&token(0)).is_none());
        // Full of live ones: all go, the newest stays.
        for n in VERIFIED_TOKENS_MAX + 1..2 * VERIFIED_TOKENS_MAX {
            verified.insert(&token(n), payload(60), now);
            assert!(verified.len() <= VERIFIED_TOKENS_MAX);
        }
        assert!(verified.get(&token(2 * VERIFIED_TOKENS_MAX - 1)).is_some());
    }

    #[test]
    fn another_key_garbage_and_expiry_are_told_apart() {
        let ours = maker(None, Duration::from_millis(1));
        let theirs = maker(Some(&"ab".repeat(32)), Duration::from_secs(60));
        let foreign = theirs
            .issue(
                TokenPurpose::Access,
                &alice(),
                Role::Depositor,
                Uuid::new_v4(),
            )
            .unwrap();
        assert_eq!(
            ours.verify(TokenPurpose::Access, &foreign.token),
            Err(TokenError::Invalid)
        );
        for garbage in [
            "",
            "v4.local.",
            "v4.local.AAAA",
            "v2.local.abc",
            "not a token",
        ] {
            assert_eq!(
                ours.verify(TokenPurpose::Access, garbage),
                Err(TokenError::Invalid),
                "{garbage:?}"
            );
        }
        let short_lived = ours
            .issue(
                TokenPurpose::Access,
                &alice(),
                Role::Depositor,
                Uuid::new_v4(),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            ours.verify(TokenPurpose::Access, &short_lived.token),
            Err(TokenError::Expired)
        );
    }
}
