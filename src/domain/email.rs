use std::fmt;

use super::InvalidInput;

/// A plausible address, trimmed and lowercased so `Ada@Example.com` and `ada@example.com` are one
/// user. Not RFC 5322 in full: a local part without spaces, `@`, and a dotted domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP can carry.
    pub const BYTES_MAX: usize = 254;
    const LOCAL_PART_BYTES_MAX: usize = 64;

    pub fn parse(text: String) -> Result<Email, InvalidInput> {
        let email = text.trim().to_lowercase();
        if email.len() <= Self::BYTES_MAX && Self::is_plausible(&email) {
            Ok(Email(email))
        } else {
            Err(InvalidInput(
                "email must be an address like name@example.com".to_owned(),
            ))
        }
    }

    fn is_plausible(email: &str) -> bool {
        let Some((local, domain)) = email.split_once('@') else {
            return false;
        };
        let local_ok = !local.is_empty()
            && local.len() <= Self::LOCAL_PART_BYTES_MAX
            && !local.contains(|c: char| c.is_whitespace() || c.is_control() || c == '@');
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        let labels: Vec<&str> = domain.split('.').collect();
        local_ok && labels.len() >= 2 && labels.iter().all(|label| label_ok(label))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_and_lowercases_plausible_addresses() {
        assert_eq!(
            Email::parse(" Ada.Lovelace+bank@Example.co.uk ".to_owned())
                .unwrap()
                .as_str(),
            "ada.lovelace+bank@example.co.uk"
        );
    }

    #[test]
    fn refuses_implausible_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        for text in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "ada@example..com",
            long.as_str(),
        ] {
            assert!(Email::parse(text.to_owned()).is_err(), "{text:?}");
        }
    }
}
