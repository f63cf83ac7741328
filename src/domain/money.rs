//! Money input: amounts and currencies, parsed once into the engine's own types.

use tally_actors::{Amount as EngineAmount, Currency};

use super::InvalidInput;

/// A positive amount in minor units. JSON numbers beyond `i64` never reach here: they fail to
/// deserialise and are refused as `validation_failed` by the JSON extractor.
pub struct Amount;

impl Amount {
    pub fn parse(minor_units: i64) -> Result<EngineAmount, InvalidInput> {
        EngineAmount::new(minor_units).map_err(|_| {
            InvalidInput("amount must be a positive integer number of minor units".to_owned())
        })
    }
}

/// One of the currencies docs/api.md lists.
pub struct CurrencyCode;

impl CurrencyCode {
    pub fn parse(code: &str) -> Result<Currency, InvalidInput> {
        Currency::parse(code).ok_or_else(|| {
            let known: Vec<&str> = Currency::ALL.iter().map(|c| c.as_str()).collect();
            InvalidInput(format!("currency must be one of {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_must_be_positive() {
        assert_eq!(Amount::parse(1).map(|a| a.get()), Ok(1));
        assert_eq!(Amount::parse(i64::MAX).map(|a| a.get()), Ok(i64::MAX));
        assert!(Amount::parse(0).is_err());
        assert!(Amount::parse(-1).is_err());
        assert!(Amount::parse(i64::MIN).is_err());
    }

    #[test]
    fn currencies_are_the_six_listed_in_upper_case() {
        for code in ["USD", "EUR", "CAD", "KRW", "JPY", "GBP"] {
            assert_eq!(CurrencyCode::parse(code).map(|c| c.as_str()), Ok(code));
        }
        for code in ["usd", "BTC", "", "US D", "USDX"] {
            assert!(CurrencyCode::parse(code).is_err(), "{code}");
        }
    }
}
