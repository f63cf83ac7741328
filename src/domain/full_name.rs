use std::fmt;

use super::InvalidInput;

/// 1 to 100 characters once trimmed, without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub const CHARS_MAX: usize = 100;

    pub fn parse(text: String) -> Result<FullName, InvalidInput> {
        let trimmed = text.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > Self::CHARS_MAX || trimmed.chars().any(char::is_control) {
            return Err(InvalidInput(format!(
                "full_name must be 1 to {} characters, not blank, without control characters",
                Self::CHARS_MAX
            )));
        }
        Ok(FullName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for FullName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::FullName;

    #[test]
    fn trims_and_accepts_up_to_100_characters() {
        assert_eq!(
            FullName::parse("  Ada Lovelace ".to_owned())
                .unwrap()
                .as_str(),
            "Ada Lovelace"
        );
        assert!(FullName::parse("é".repeat(100)).is_ok());
    }

    #[test]
    fn refuses_blank_long_and_control_characters() {
        for text in [
            String::new(),
            "   ".to_owned(),
            "x".repeat(101),
            "Ada\nL".to_owned(),
        ] {
            assert!(FullName::parse(text.clone()).is_err(), "{text:?}");
        }
    }
}
