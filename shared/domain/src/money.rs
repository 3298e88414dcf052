use iso_currency::Currency as IsoCurrency;
use std::fmt;

/// An ISO 4217 currency that has minor units (EUR: 2, JPY: 0, KWD: 3). The table of minor
/// units is the `iso_currency` crate's, kept up to date with the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    iso: IsoCurrency,
    minor_units: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("must be an ISO 4217 currency code such as \"EUR\"")]
    Unknown,
    #[error("must be a currency with minor units, not a commodity or special code")]
    NoMinorUnits,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        let iso = IsoCurrency::from_code(code).ok_or(CurrencyError::Unknown)?;
        let minor_units = iso.exponent().ok_or(CurrencyError::NoMinorUnits)?;
        Ok(Self {
            iso,
            minor_units: u32::from(minor_units),
        })
    }

    pub fn code(&self) -> &'static str {
        self.iso.code()
    }

    pub fn minor_units(&self) -> u32 {
        self.minor_units
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An exact, non-negative amount of one currency, held as integer minor units (cents).
/// No float is involved anywhere: parsing, arithmetic and formatting work on digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a decimal string of digits such as \"12.50\"")]
    NotDecimal,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most {0} decimals for this currency")]
    TooManyDecimals(u32),
    #[error("is too large")]
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyArithmeticError {
    #[error("amounts in different currencies cannot be combined")]
    CurrencyMismatch,
    #[error("the amount is too large")]
    Overflow,
}

impl Money {
    /// Reads a decimal string such as `"12.50"` in `currency`, exactly.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, AmountError> {
        if amount.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let (whole, fraction) = match amount.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (amount, ""),
        };
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (amount.contains('.') && fraction.is_empty())
        {
            return Err(AmountError::NotDecimal);
        }
        let scale = currency.minor_units();
        if fraction.len() > scale as usize {
            return Err(AmountError::TooManyDecimals(scale));
        }
        let padded = format!("{whole}{fraction:0<width$}", width = scale as usize);
        let minor = padded.parse::<i64>().map_err(|_| AmountError::TooLarge)?;
        Ok(Self { minor, currency })
    }

    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, AmountError> {
        if minor < 0 {
            return Err(AmountError::Negative);
        }
        Ok(Self { minor, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyArithmeticError> {
        if self.currency != other.currency {
            return Err(MoneyArithmeticError::CurrencyMismatch);
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyArithmeticError::Overflow)?;
        Ok(Self {
            minor,
            currency: self.currency,
        })
    }

    pub fn checked_mul(&self, factor: u32) -> Result<Money, MoneyArithmeticError> {
        let minor = self
            .minor
            .checked_mul(i64::from(factor))
            .ok_or(MoneyArithmeticError::Overflow)?;
        Ok(Self {
            minor,
            currency: self.currency,
        })
    }

    /// The canonical decimal string: exactly as many decimals as the currency has.
    pub fn amount(&self) -> String {
        let scale = self.currency.minor_units() as usize;
        let digits = format!("{:0>width$}", self.minor, width = scale + 1);
        if scale == 0 {
            return digits;
        }
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        format!("{whole}.{fraction}")
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn money(amount: &str, code: &str) -> Result<Money, AmountError> {
        Money::parse(amount, currency(code))
    }

    #[test]
    fn minor_units_come_from_the_standard() {
        assert_eq!(currency("EUR").minor_units(), 2);
        assert_eq!(currency("JPY").minor_units(), 0);
        assert_eq!(currency("KWD").minor_units(), 3);
        assert_eq!(Currency::parse("XAU"), Err(CurrencyError::NoMinorUnits));
        assert_eq!(Currency::parse("EURO"), Err(CurrencyError::Unknown));
        assert_eq!(Currency::parse("eur"), Err(CurrencyError::Unknown));
        assert_eq!(Currency::parse(""), Err(CurrencyError::Unknown));
    }

    #[test]
    fn amounts_format_canonically() {
        assert_eq!(money("25", "EUR").unwrap().amount(), "25.00");
        assert_eq!(money("25.5", "EUR").unwrap().amount(), "25.50");
        assert_eq!(money("0.05", "EUR").unwrap().amount(), "0.05");
        assert_eq!(money("300", "JPY").unwrap().amount(), "300");
        assert_eq!(money("3.702", "KWD").unwrap().amount(), "3.702");
        assert_eq!(money("0", "KWD").unwrap().amount(), "0.000");
        assert_eq!(money("12.50", "EUR").unwrap().minor_units(), 1250);
    }

    #[test]
    fn malformed_negative_and_over_precise_amounts_are_refused() {
        assert_eq!(money("1.234", "EUR"), Err(AmountError::TooManyDecimals(2)));
        assert_eq!(money("1.5", "JPY"), Err(AmountError::TooManyDecimals(0)));
        assert_eq!(money("-1.00", "EUR"), Err(AmountError::Negative));
        for bad in [
            "", ".", "1.", ".5", "1,50", "1e3", "+1", " 1", "1 ", "0x10", "１", "1.2.3", "NaN",
        ] {
            assert_eq!(money(bad, "EUR"), Err(AmountError::NotDecimal), "{bad:?}");
        }
        assert_eq!(
            money("92233720368547758.08", "EUR"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            money("92233720368547758.07", "EUR").unwrap().minor_units(),
            i64::MAX
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let eur = money("1.10", "EUR").unwrap();
        assert_eq!(eur.checked_add(&eur).unwrap().amount(), "2.20");
        assert_eq!(eur.checked_mul(3).unwrap().amount(), "3.30");
        let usd = money("1.10", "USD").unwrap();
        assert_eq!(
            eur.checked_add(&usd),
            Err(MoneyArithmeticError::CurrencyMismatch)
        );
        let max = Money::from_minor(i64::MAX, currency("EUR")).unwrap();
        assert_eq!(max.checked_add(&eur), Err(MoneyArithmeticError::Overflow));
        assert_eq!(max.checked_mul(2), Err(MoneyArithmeticError::Overflow));
        assert_eq!(
            Money::from_minor(-1, currency("EUR")),
            Err(AmountError::Negative)
        );
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec!["EUR", "JPY", "KWD", "USD", "BHD", "CLF"]).prop_map(currency)
    }

    proptest! {
        #[test]
        fn parse_then_format_is_the_identity_on_canonical_strings(minor in 0..=i64::MAX, currency in any_currency()) {
            let canonical = Money::from_minor(minor, currency).unwrap().amount();
            let parsed = Money::parse(&canonical, currency).unwrap();
            prop_assert_eq!(parsed.minor_units(), minor);
            prop_assert_eq!(parsed.amount(), canonical);
        }

        #[test]
        fn sums_in_one_currency_are_associative(a in 0..=i64::MAX / 2, b in 0..=i64::MAX / 4, c in 0..=i64::MAX / 4) {
            let eur = currency("EUR");
            let [a, b, c] = [a, b, c].map(|minor| Money::from_minor(minor, eur).unwrap());
            let left = a.checked_add(&b).unwrap().checked_add(&c).unwrap();
            let right = a.checked_add(&b.checked_add(&c).unwrap()).unwrap();
            prop_assert_eq!(left, right);
        }

        #[test]
        fn overflow_is_always_reported_never_wrapped(a in 0..=i64::MAX, b in 0..=i64::MAX, factor in 0..=u32::MAX) {
            let eur = currency("EUR");
            let (x, y) = (Money::from_minor(a, eur).unwrap(), Money::from_minor(b, eur).unwrap());
            match a.checked_add(b) {
                Some(sum) => prop_assert_eq!(x.checked_add(&y).unwrap().minor_units(), sum),
                None => prop_assert_eq!(x.checked_add(&y), Err(MoneyArithmeticError::Overflow)),
            }
            match a.checked_mul(i64::from(factor)) {
                Some(product) => prop_assert_eq!(x.checked_mul(factor).unwrap().minor_units(), product),
                None => prop_assert_eq!(x.checked_mul(factor), Err(MoneyArithmeticError::Overflow)),
            }
        }

        #[test]
        fn any_string_either_parses_exactly_or_is_refused(raw in "[-+.0-9a-z ]{0,24}") {
            if let Ok(money) = Money::parse(&raw, currency("EUR")) {
                prop_assert!(money.minor_units() >= 0);
                let reparsed = Money::parse(&money.amount(), currency("EUR")).unwrap();
                prop_assert_eq!(reparsed, money);
            }
        }
    }
}
