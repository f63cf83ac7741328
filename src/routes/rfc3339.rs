//! RFC 3339 times in answers, formatted by `time` itself (so the text is exactly
//! `time::serde::rfc3339`'s) into a buffer on the stack: no String per time. An answer carries
//! five of them.

use serde::Serializer;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The longest RFC 3339 text `time` writes: `9999-12-31T23:59:59.999999999+23:59`.
const RFC3339_BYTES_MAX: usize = 35;

pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; RFC3339_BYTES_MAX];
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    at.format_into(&mut cursor, &Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    // The cursor's position, not format_into's count: time 0.3.55 leaves the fraction's
    // digits out of the count it returns.
    let written = usize::try_from(cursor.position()).expect("within the buffer");
    let text = std::str::from_utf8(&buffer[..written]).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(text)
}

pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        at: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use time::macros::datetime;

    use super::*;

    #[derive(Serialize)]
    struct Fast {
        #[serde(with = "super")]
        at: OffsetDateTime,
        #[serde(with = "super::option")]
        maybe: Option<OffsetDateTime>,
    }

    #[derive(Serialize)]
    struct Reference {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339::option")]
        maybe: Option<OffsetDateTime>,
    }

    #[test]
    fn the_text_is_exactly_times_own() {
        let times = [
            datetime!(2026-12-06 06:05:44.75722 UTC),
            datetime!(2026-12-06 06:05:44 UTC),
            datetime!(0000-01-01 00:00:00.000000001 UTC),
            datetime!(9999-12-31 23:59:59.999999999 -23:59),
            datetime!(2024-02-29 12:00:00.1 +05:30),
        ];
        for at in times {
            for maybe in [None, Some(at)] {
                let fast = serde_json::to_string(&Fast { at, maybe }).expect("JSON");
                let reference = serde_json::to_string(&Reference { at, maybe }).expect("JSON");
                assert_eq!(fast, reference);
            }
        }
    }
}
