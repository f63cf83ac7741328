use std::fmt;

use super::InvalidInput;

/// 8 to 72 bytes. bcrypt reads at most 72 bytes and would silently ignore the rest, so a longer
/// password is refused rather than truncated. Never printed: its `Debug` is redacted and it has
/// no `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const BYTES_MIN: usize = 8;
    pub const BYTES_MAX: usize = 72;

    pub fn parse(text: String) -> Result<Password, InvalidInput> {
        if !(Self::BYTES_MIN..=Self::BYTES_MAX).contains(&text.len()) {
            return Err(InvalidInput(format!(
                "password must be {} to {} bytes long (UTF-8)",
                Self::BYTES_MIN,
                Self::BYTES_MAX
            )));
        }
        // Other bcrypt implementations stop at a NUL byte; refusing it keeps hashes portable.
        if text.contains('\0') {
            return Err(InvalidInput(
                "password must not contain a NUL character".to_owned(),
            ));
        }
        Ok(Password(text))
    }

    /// The secret itself, for hashing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn accepts_8_to_72_bytes() {
        for text in ["12345678".to_owned(), "x".repeat(72), "é".repeat(36)] {
            assert!(
                Password::parse(text.clone()).is_ok(),
                "{} bytes",
                text.len()
            );
        }
    }

    #[test]
    fn refuses_short_long_and_nul() {
        for text in [
            String::new(),
            "1234567".to_owned(),
            "x".repeat(73),
            // 37 characters but 74 bytes: the limit is in bytes.
            "é".repeat(37),
            "password\0".to_owned(),
        ] {
            assert!(Password::parse(text.clone()).is_err(), "{text:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let password = Password::parse("correct horse".to_owned()).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
