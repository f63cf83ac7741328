//! The `Idempotency-Key` header: 1–255 visible ASCII characters, scoped to the caller.

use sha2::{Digest, Sha256};
use tally_actors::IdempotencyKey as EngineKey;

use super::{InvalidInput, Username};

pub struct IdempotencyKey;

impl IdempotencyKey {
    pub const LENGTH_MAX: usize = 255;
    pub const HEADER: &'static str = "Idempotency-Key";

    /// `operation` names the kind of request (`transfer`, `deposit`, ...); `request` identifies
    /// what was asked (the parsed body and path), so the same key with another request is told
    /// apart.
    pub fn parse(
        header: &[u8],
        caller: &Username,
        operation: &str,
        request: &str,
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
            operation: operation.to_owned(),
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
        assert!(IdempotencyKey::parse(b"k", &caller(), "transfer", "r").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255], &caller(), "transfer", "r").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 256], &caller(), "transfer", "r").is_err());
        assert!(IdempotencyKey::parse(b"", &caller(), "transfer", "r").is_err());
        assert!(IdempotencyKey::parse(b"with space", &caller(), "transfer", "r").is_err());
        assert!(IdempotencyKey::parse("clé".as_bytes(), &caller(), "transfer", "r").is_err());
    }

    #[test]
    fn the_hash_tells_requests_apart() {
        let first = IdempotencyKey::parse(b"k", &caller(), "transfer", "a").expect("a key");
        let same = IdempotencyKey::parse(b"k", &caller(), "transfer", "a").expect("a key");
        let other = IdempotencyKey::parse(b"k", &caller(), "transfer", "b").expect("a key");
        assert_eq!(first.request_hash, same.request_hash);
        assert_ne!(first.request_hash, other.request_hash);
        assert_eq!(
            (first.username.as_str(), first.key.as_str()),
            ("alice", "k")
        );
    }
}
