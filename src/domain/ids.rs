//! Path ids and paging parameters: bounded integers, refused with 400 otherwise.

use super::InvalidInput;

/// An id from a path: a positive 64-bit integer (non-integers are refused by the path extractor),
/// returned as the id type the caller names (`AccountId`, `TransferId`, a plain `i64`).
pub struct ResourceId;

impl ResourceId {
    pub fn parse<Id: From<i64>>(id: i64) -> Result<Id, InvalidInput> {
        if id > 0 {
            Ok(Id::from(id))
        } else {
            Err(InvalidInput("ids are positive integers".to_owned()))
        }
    }
}

/// `page_id` ≥ 1 and `page_size` 1–100 of `GET /accounts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Page {
    pub const SIZE_DEFAULT: i64 = 10;
    pub const SIZE_MAX: i64 = 100;
    /// Deep offsets cost a scan each; no caller has a billion accounts.
    pub const ID_MAX: i64 = 1_000_000_000;

    pub fn parse(page_id: Option<i64>, page_size: Option<i64>) -> Result<Page, InvalidInput> {
        let page_id = page_id.unwrap_or(1);
        let page_size = page_size.unwrap_or(Self::SIZE_DEFAULT);
        if !(1..=Self::ID_MAX).contains(&page_id) {
            return Err(InvalidInput(format!(
                "page_id must be between 1 and {}",
                Self::ID_MAX
            )));
        }
        if !(1..=Self::SIZE_MAX).contains(&page_size) {
            return Err(InvalidInput(format!(
                "page_size must be between 1 and {}",
                Self::SIZE_MAX
            )));
        }
        Ok(Page {
            offset: (page_id - 1) * page_size,
            limit: page_size,
        })
    }
}

/// `limit` 1–100 (default 20) and an optional `before_id` cursor of a statement or a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementPage {
    pub limit: i64,
    pub before_id: i64,
}

impl StatementPage {
    pub const LIMIT_DEFAULT: i64 = 20;
    pub const LIMIT_MAX: i64 = 100;

    pub fn parse(
        limit: Option<i64>,
        before_id: Option<i64>,
    ) -> Result<StatementPage, InvalidInput> {
        let limit = limit.unwrap_or(Self::LIMIT_DEFAULT);
        if !(1..=Self::LIMIT_MAX).contains(&limit) {
            return Err(InvalidInput(format!(
                "limit must be between 1 and {}",
                Self::LIMIT_MAX
            )));
        }
        let before_id = match before_id {
            None => i64::MAX,
            Some(id) if id > 0 => id,
            Some(_) => return Err(InvalidInput("before_id must be a positive id".to_owned())),
        };
        Ok(StatementPage { limit, before_id })
    }
}

/// An instant given as RFC 3339 text (`2026-11-29T10:00:00Z`), in a query string.
pub struct Instant;

impl Instant {
    pub fn parse(field: &str, text: &str) -> Result<time::OffsetDateTime, InvalidInput> {
        let parsed =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    InvalidInput(format!(
                        "{field} must be an RFC 3339 instant such as 2026-11-29T10:00:00Z \
                     (in a URL, write a `+` offset as %2B)"
                    ))
                })?;
        // PostgreSQL's timestamptz spans years 4713 BC to 294276 AD; keep well inside it.
        if !(1..=9998).contains(&parsed.year()) {
            return Err(InvalidInput(format!(
                "{field} must be between the years 1 and 9998"
            )));
        }
        Ok(parsed.to_offset(time::UtcOffset::UTC))
    }

    pub fn parse_optional(
        field: &str,
        text: Option<&str>,
    ) -> Result<Option<time::OffsetDateTime>, InvalidInput> {
        text.map(|text| Instant::parse(field, text)).transpose()
    }
}

/// `pending` and `timeout_seconds` of `POST /transfers`: how long a pending transfer holds its
/// money, or `None` for an ordinary transfer.
pub struct PendingTimeout;

impl PendingTimeout {
    pub const SECONDS_DEFAULT: i64 = 86_400;
    /// A week: a hold longer than that is an account freeze, not a payment.
    pub const SECONDS_MAX: i64 = 604_800;

    pub fn parse(
        pending: Option<bool>,
        timeout_seconds: Option<i64>,
    ) -> Result<Option<std::time::Duration>, InvalidInput> {
        match (pending.unwrap_or(false), timeout_seconds) {
            (false, None) => Ok(None),
            (false, Some(_)) => Err(InvalidInput(
                "timeout_seconds is only for pending transfers".to_owned(),
            )),
            (true, seconds) => {
                let seconds = seconds.unwrap_or(Self::SECONDS_DEFAULT);
                if !(1..=Self::SECONDS_MAX).contains(&seconds) {
                    return Err(InvalidInput(format!(
                        "timeout_seconds must be between 1 and {}",
                        Self::SECONDS_MAX
                    )));
                }
                Ok(Some(std::time::Duration::from_secs(seconds as u64)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_bound() {
        assert_eq!(
            Page::parse(None, None),
            Ok(Page {
                offset: 0,
                limit: 10
            })
        );
        assert_eq!(
            Page::parse(Some(3), Some(25)),
            Ok(Page {
                offset: 50,
                limit: 25
            })
        );
        assert!(Page::parse(Some(0), None).is_err());
        assert!(Page::parse(None, Some(0)).is_err());
        assert!(Page::parse(None, Some(101)).is_err());
        assert!(Page::parse(Some(Page::ID_MAX + 1), None).is_err());
        assert!(
            Page::parse(Some(Page::ID_MAX), Some(100)).is_ok(),
            "no overflow at the bounds"
        );
    }

    #[test]
    fn statement_pages_default_and_bound() {
        assert_eq!(
            StatementPage::parse(None, None),
            Ok(StatementPage {
                limit: 20,
                before_id: i64::MAX
            })
        );
        assert!(StatementPage::parse(Some(101), None).is_err());
        assert!(StatementPage::parse(Some(0), None).is_err());
        assert!(StatementPage::parse(None, Some(0)).is_err());
        assert_eq!(
            StatementPage::parse(Some(5), Some(9)).map(|p| p.before_id),
            Ok(9)
        );
    }

    #[test]
    fn ids_are_positive() {
        assert_eq!(ResourceId::parse::<i64>(1), Ok(1));
        assert_eq!(ResourceId::parse(7), Ok(tally_actors::AccountId::new(7)));
        assert!(ResourceId::parse::<i64>(0).is_err());
        assert!(ResourceId::parse::<i64>(-3).is_err());
    }

    #[test]
    fn pending_timeouts_default_and_bound() {
        assert_eq!(PendingTimeout::parse(None, None), Ok(None));
        assert_eq!(
            PendingTimeout::parse(Some(true), None),
            Ok(Some(std::time::Duration::from_secs(86_400)))
        );
        assert_eq!(
            PendingTimeout::parse(Some(true), Some(604_800)),
            Ok(Some(std::time::Duration::from_secs(604_800)))
        );
        assert!(PendingTimeout::parse(Some(true), Some(0)).is_err());
        assert!(PendingTimeout::parse(Some(true), Some(604_801)).is_err());
        assert!(PendingTimeout::parse(Some(false), Some(60)).is_err());
        assert!(PendingTimeout::parse(None, Some(60)).is_err());
    }
}
