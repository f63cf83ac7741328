//! What a transfer says about itself: a description both parties see, and the payer's own
//! reference and metadata. Parsed here once into the engine's `TransferDetails`.

use std::collections::BTreeMap;

use tally_actors::TransferDetails;

use super::InvalidInput;

/// Free text shown to both parties: at most `LENGTH_MAX` characters.
pub struct Description;

impl Description {
    pub const LENGTH_MAX: usize = 140;

    pub fn parse(description: Option<&str>) -> Result<Option<String>, InvalidInput> {
        let Some(description) = description else {
            return Ok(None);
        };
        if description.chars().count() > Self::LENGTH_MAX {
            return Err(InvalidInput(format!(
                "description must be at most {} characters",
                Self::LENGTH_MAX
            )));
        }
        Ok(Some(description.to_owned()))
    }
}

/// The payer's reference: 1 to `LENGTH_MAX` visible ASCII characters, unique per paying account.
pub struct Reference;

impl Reference {
    pub const LENGTH_MAX: usize = 64;

    pub fn parse(reference: Option<&str>) -> Result<Option<String>, InvalidInput> {
        let Some(reference) = reference else {
            return Ok(None);
        };
        let visible = |byte: &u8| (0x21..=0x7e).contains(byte);
        let bytes = reference.as_bytes();
        if bytes.is_empty() || bytes.len() > Self::LENGTH_MAX || !bytes.iter().all(visible) {
            return Err(InvalidInput(format!(
                "reference must be 1 to {} visible ASCII characters",
                Self::LENGTH_MAX
            )));
        }
        Ok(Some(reference.to_owned()))
    }
}

/// The payer's metadata: at most `KEYS_MAX` keys of `^[a-z0-9_]{1,KEY_LENGTH_MAX}$`, each a
/// string of at most `VALUE_LENGTH_MAX` characters (a non-string value fails to deserialise).
pub struct Metadata;

impl Metadata {
    pub const KEYS_MAX: usize = 16;
    pub const KEY_LENGTH_MAX: usize = 40;
    pub const VALUE_LENGTH_MAX: usize = 200;

    /// The key rule as a pattern, for the OpenAPI document.
    pub fn key_pattern() -> String {
        format!("^[a-z0-9_]{{1,{}}}$", Self::KEY_LENGTH_MAX)
    }

    pub fn parse(
        metadata: Option<&BTreeMap<String, String>>,
    ) -> Result<Option<BTreeMap<String, String>>, InvalidInput> {
        let Some(metadata) = metadata else {
            return Ok(None);
        };
        if metadata.len() > Self::KEYS_MAX {
            return Err(InvalidInput(format!(
                "metadata must have at most {} keys",
                Self::KEYS_MAX
            )));
        }
        for (key, value) in metadata {
            Self::check_key(key)?;
            if value.chars().count() > Self::VALUE_LENGTH_MAX {
                return Err(InvalidInput(format!(
                    "metadata values must be at most {} characters",
                    Self::VALUE_LENGTH_MAX
                )));
            }
        }
        Ok(Some(metadata.clone()))
    }

    /// A key by the rule (also a search filter's `metadata.KEY`).
    pub fn check_key(key: &str) -> Result<(), InvalidInput> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if key.is_empty() || key.len() > Self::KEY_LENGTH_MAX || !key.chars().all(allowed) {
            return Err(InvalidInput(format!(
                "metadata keys must match {}",
                Self::key_pattern()
            )));
        }
        Ok(())
    }
}

/// All three, parsed.
pub fn parse_details(
    description: Option<&str>,
    reference: Option<&str>,
    metadata: Option<&BTreeMap<String, String>>,
) -> Result<TransferDetails, InvalidInput> {
    Ok(TransferDetails {
        description: Description::parse(description)?,
        reference: Reference::parse(reference)?,
        metadata: Metadata::parse(metadata)?,
        reversal_of: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_count_characters_not_bytes() {
        assert_eq!(Description::parse(None), Ok(None));
        let longest = "é".repeat(Description::LENGTH_MAX);
        assert_eq!(
            Description::parse(Some(&longest)),
            Ok(Some(longest.clone()))
        );
        assert!(Description::parse(Some(&format!("{longest}x"))).is_err());
    }

    #[test]
    fn references_are_visible_ascii_of_bounded_length() {
        assert_eq!(
            Reference::parse(Some("INV-7")),
            Ok(Some("INV-7".to_owned()))
        );
        assert!(Reference::parse(Some(&"a".repeat(64))).is_ok());
        for bad in ["", "a b", "tab\t", "é", &"a".repeat(65)] {
            assert!(Reference::parse(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata_keys_values_and_count_are_bounded() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let good = map(&[("order_id", "42"), ("a1", &"v".repeat(200))]);
        assert_eq!(Metadata::parse(Some(&good)), Ok(Some(good.clone())));
        for bad in [
            map(&[("Order", "1")]),
            map(&[("", "1")]),
            map(&[("a-b", "1")]),
            map(&[(&"k".repeat(41), "1")]),
            map(&[("k", &"v".repeat(201))]),
        ] {
            assert!(Metadata::parse(Some(&bad)).is_err(), "{bad:?}");
        }
        let many: BTreeMap<String, String> =
            (0..17).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(Metadata::parse(Some(&many)).is_err());
        let sixteen: BTreeMap<String, String> = many.into_iter().take(16).collect();
        assert!(Metadata::parse(Some(&sixteen)).is_ok());
    }
}
