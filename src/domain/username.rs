use std::fmt;

use super::InvalidInput;

/// 3 to 64 characters of `[a-z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub const LENGTH_MIN: usize = 3;
    pub const LENGTH_MAX: usize = 64;

    pub fn parse(text: String) -> Result<Username, InvalidInput> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        // All allowed characters are ASCII, so the byte length is the character count.
        if (Self::LENGTH_MIN..=Self::LENGTH_MAX).contains(&text.len()) && text.chars().all(allowed)
        {
            Ok(Username(text))
        } else {
            Err(InvalidInput(format!(
                "username must be {} to {} characters of a-z, 0-9 and _",
                Self::LENGTH_MIN,
                Self::LENGTH_MAX
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn accepts_lowercase_digits_and_underscores_within_the_length() {
        for name in ["abc", "alice_01", &"a".repeat(64)] {
            assert!(Username::parse(name.to_owned()).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_anything_else() {
        for name in [
            "",
            "ab",
            &"a".repeat(65),
            "Alice",
            "al ice",
            "al-ice",
            "éva",
            "bob\n",
        ] {
            assert!(Username::parse(name.to_owned()).is_err(), "{name:?}");
        }
    }
}
