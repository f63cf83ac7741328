//! The `Idempotency-Key` header: 1–255 visible ASCII characters, scoped to the caller.

use sha2::{Digest, Sha256};
use tally_actors::IdempotencyKey as EngineKey;

use super::{InvalidInput, Username};

pub struct IdempotencyKey;

impl IdempotencyKey {
    pub const LENGTH_MAX: usize = 255;
    pub const HEADER: &'static str = "Idempotency-Key";

    /// `request` identifies what was asked (method, path and the parsed body), so the same key
    /// with another request is told apart; `status` is what a committed request is answered.
    pub fn parse(
        header: &[u8],
        caller: &Username,
        request: &str,
        status: u16,
    ) -> Result<EngineKey, InvalidInput> {
        let visible = |byte: &u8| (0x21..=0x7e).contains(byte);
        if header.is_empty() || header.len() > Self::LENGTH_MAX || !header.iter().all(visible) {
            return Err(InvalidInput(format!(
                "{} must be 1 to {} visible ASCII characters",
                Self::HEADER,
                Self::LENGTH_MAX
            )));
        }
        Ok(EngineKey {
            username: caller.as_str().to_owned(),
            key: String::from_utf8_lossy(header).into_owned(),
            request_hash: Sha256::digest(request.as_bytes()).to_vec(),
            response_status: status as i16,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Username {
        Username::parse("alice".to_owned()).expect("a username")
    }

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse(b"k", &caller(), "r", 201).is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255], &caller(), "r", 201).is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 256], &caller(), "r", 201).is_err());
        assert!(IdempotencyKey::parse(b"", &caller(), "r", 201).is_err());
        assert!(IdempotencyKey::parse(b"with space", &caller(), "r", 201).is_err());
        assert!(IdempotencyKey::parse("clé".as_bytes(), &caller(), "r", 201).is_err());
    }

    #[test]
    fn the_hash_tells_requests_apart() {
        let first = IdempotencyKey::parse(b"k", &caller(), "a", 201).expect("a key");
        let same = IdempotencyKey::parse(b"k", &caller(), "a", 201).expect("a key");
        let other = IdempotencyKey::parse(b"k", &caller(), "b", 201).expect("a key");
        assert_eq!(first.request_hash, same.request_hash);
        assert_ne!(first.request_hash, other.request_hash);
        assert_eq!(
            (first.username.as_str(), first.key.as_str()),
            ("alice", "k")
        );
    }
}
