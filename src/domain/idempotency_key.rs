//! The `Idempotency-Key` header: 1–255 visible ASCII characters, scoped to the caller.

use serde::Serialize;
use sha2::{Digest, Sha256};
use tally_actors::IdempotencyKey as EngineKey;

use super::{InvalidInput, Username};

pub struct IdempotencyKey;

impl IdempotencyKey {
    pub const LENGTH_MAX: usize = 255;
    pub const HEADER: &'static str = "Idempotency-Key";

    /// `operation` names the kind of request (`transfer`, `deposit`, ...); `request` is what was
    /// asked, as parsed (path and body), and its fingerprint tells the same key with another
    /// request apart.
    pub fn parse(
        header: &[u8],
        caller: &Username,
        operation: &str,
        request: &impl Serialize,
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
            request_hash: fingerprint(request),
            operation: operation.to_owned(),
        })
    }
}

/// SHA-256 of the request's JSON form. Serialising a struct writes every field, in declaration
/// order, so a field added to a request is in its fingerprint without anyone remembering to add
/// it, and an unchanged request has the same fingerprint in every process and build.
pub fn fingerprint(request: &impl Serialize) -> Vec<u8> {
    // Requests are structs of numbers, strings and options: serialising cannot fail.
    let json = serde_json::to_vec(request).expect("a request serialises to JSON");
    Sha256::digest(json).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Username {
        Username::parse("alice".to_owned()).expect("a username")
    }

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let parse = |header: &[u8]| IdempotencyKey::parse(header, &caller(), "transfer", &"r");
        assert!(parse(b"k").is_ok());
        assert!(parse(&[b'k'; 255]).is_ok());
        assert!(parse(&[b'k'; 256]).is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"with space").is_err());
        assert!(parse("clé".as_bytes()).is_err());
    }

    #[test]
    fn the_hash_tells_requests_apart() {
        let first = IdempotencyKey::parse(b"k", &caller(), "transfer", &"a").expect("a key");
        let same = IdempotencyKey::parse(b"k", &caller(), "transfer", &"a").expect("a key");
        let other = IdempotencyKey::parse(b"k", &caller(), "transfer", &"b").expect("a key");
        assert_eq!(first.request_hash, same.request_hash);
        assert_ne!(first.request_hash, other.request_hash);
        assert_eq!(
            (first.username.as_str(), first.key.as_str()),
            ("alice", "k")
        );
    }
}
