//! Money as integer minor units with an ISO 4217 currency code.
//!
//! There is no float anywhere: amounts are `i64` minor units (cents, fen, ...), every sum is
//! checked, and mixing currencies is an error rather than a silent conversion.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Two amounts in different currencies were combined. Convert explicitly first.
    #[error("currency mismatch: {left} and {right} cannot be combined")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in 64-bit minor units. The input is absurdly large; reject it.
    #[error("amount overflow: the result does not fit in 64-bit minor units")]
    Overflow,
    /// The text is not a three-letter upper-case ISO 4217 code.
    #[error("invalid currency code {0:?}: expected three upper-case letters (ISO 4217)")]
    InvalidCurrency(String),
}

/// Why a decimal amount (`"88.88"`) was refused by [`Money::parse_decimal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// Not plain digits with an optional point and fraction: a sign, a space, an exponent, an
    /// empty part or another character.
    #[error("amount is not a plain decimal number")]
    Syntax,
    /// More fraction digits than the currency's minor unit has (`1.005` yuan).
    #[error("amount has more decimals than the currency's minor unit ({0})")]
    TooManyDecimals(u32),
    /// The amount does not fit in 64-bit minor units.
    #[error("amount does not fit in 64-bit minor units")]
    Overflow,
}

/// An ISO 4217 alphabetic currency code such as `CNY` or `USD`.
///
/// Only the shape is checked (three upper-case ASCII letters), so hosts can use codes this
/// crate does not list.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency(*b"CNY");
    /// United States dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency(*b"JPY");

    /// Parses a three-letter upper-case code.
    ///
    /// ```
    /// use orderflow::Currency;
    /// assert_eq!(Currency::parse("CNY").unwrap(), Currency::CNY);
    /// assert!(Currency::parse("cny").is_err());
    /// ```
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Currency([a, b, c])),
            _ => Err(MoneyError::InvalidCurrency(code.chars().take(16).collect())),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII by construction; the fallback is unreachable but keeps us panic-free.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Number of decimal digits of the minor unit (2 unless ISO 4217 says otherwise).
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"JPY" | b"KRW" | b"VND" | b"CLP" | b"ISK" | b"UGX" | b"XAF" | b"XOF" => 0,
            b"BHD" | b"KWD" | b"OMR" | b"JOD" | b"TND" | b"LYD" | b"IQD" => 3,
            _ => 2,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

/// The code as a string, written from the three letters in place (every amount of a stored
/// order has one).
impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: integer minor units plus currency.
///
/// ```
/// use orderflow::{Currency, Money};
/// let price = Money::new(1999, Currency::CNY);
/// let total = price.checked_mul(3).unwrap().checked_add(Money::new(800, Currency::CNY)).unwrap();
/// assert_eq!(total.to_string(), "67.97 CNY");
/// assert!(price.checked_add(Money::new(1, Currency::USD)).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units (for CNY: fen; for USD: cents).
    pub minor: i64,
    /// Currency of the amount.
    pub currency: Currency,
}

impl Money {
    /// An amount of `minor` units of `currency`.
    pub const fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// True when the amount is zero.
    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// True when the amount is below zero.
    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// True when the amount is above zero.
    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    /// `self + other`, refusing mixed currencies and overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self - other`, refusing mixed currencies and overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self * factor` (a quantity), refusing overflow.
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// Sums amounts that must all be in `currency`.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(currency: Currency, items: I) -> Result<Money, MoneyError> {
        items.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }

    /// The amount, or zero when it is negative.
    pub const fn max_zero(self) -> Money {
        if self.minor < 0 { Money::zero(self.currency) } else { self }
    }

    /// Reads a non-negative decimal amount in major units (`"88.88"` yuan is 8888 fen), as
    /// payment providers write them: digits, then optionally a point and at most as many
    /// digits as the currency's minor unit has (`"1.5"` is 150 fen). Exact, with no float;
    /// signs, spaces, exponents and overflow are refused.
    ///
    /// ```
    /// use orderflow::{Currency, Money};
    /// assert_eq!(Money::parse_decimal("88.88", Currency::CNY), Ok(Money::new(8888, Currency::CNY)));
    /// assert!(Money::parse_decimal("1.005", Currency::CNY).is_err());
    /// ```
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Money, DecimalError> {
        let exponent = currency.exponent();
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
            Some(_) => return Err(DecimalError::Syntax),
            None => (text, ""),
        };
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) {
            return Err(DecimalError::Syntax);
        }
        let places = u32::try_from(fraction.len()).map_err(|_| DecimalError::TooManyDecimals(exponent))?;
        if places > exponent {
            return Err(DecimalError::TooManyDecimals(exponent));
        }
        let mut minor: i64 = 0;
        let padding = std::iter::repeat_n(b'0', usize::try_from(exponent - places).unwrap_or(0));
        for digit in whole.bytes().chain(fraction.bytes()).chain(padding) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or(DecimalError::Overflow)?;
        }
        Ok(Money::new(minor, currency))
    }

    /// The amount in major units with exactly the currency's decimals (`"88.88"`, `"-0.05"`,
    /// `"1200"` yen), as providers expect it; [`Money::parse_decimal`] reads it back.
    pub fn to_decimal_string(&self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exp);
        format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = exp as usize)
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.minor < self.minor { other } else { self })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_uses_the_currency_exponent() {
        assert_eq!(Money::new(-5, Currency::USD).to_string(), "-0.05 USD");
        assert_eq!(Money::new(1200, Currency::JPY).to_string(), "1200 JPY");
        let bhd = Currency::parse("BHD").unwrap();
        assert_eq!(Money::new(1001, bhd).to_string(), "1.001 BHD");
    }

    #[test]
    fn mixing_currencies_is_refused() {
        let err = Money::new(1, Currency::CNY).checked_sub(Money::new(1, Currency::EUR));
        assert_eq!(err, Err(MoneyError::CurrencyMismatch { left: Currency::CNY, right: Currency::EUR }));
    }

    #[test]
    fn overflow_is_an_error() {
        let big = Money::new(i64::MAX, Currency::CNY);
        assert_eq!(big.checked_add(Money::new(1, Currency::CNY)), Err(MoneyError::Overflow));
        assert_eq!(big.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(i64::MIN, Currency::CNY).checked_sub(Money::new(1, Currency::CNY)),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn currency_round_trips_through_json_and_rejects_bad_codes() {
        let json = serde_json::to_string(&Money::new(5, Currency::CNY)).unwrap();
        assert_eq!(json, r#"{"minor":5,"currency":"CNY"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"minor":5,"currency":"yuan"}"#).is_err());
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("ÄBC").is_err());
    }

    #[test]
    fn decimals_are_parsed_exactly_and_junk_is_refused() {
        let cny = |minor| Ok(Money::new(minor, Currency::CNY));
        assert_eq!(Money::parse_decimal("0.01", Currency::CNY), cny(1));
        assert_eq!(Money::parse_decimal("100000000.00", Currency::CNY), cny(10_000_000_000));
        assert_eq!(Money::parse_decimal("1.5", Currency::CNY), cny(150));
        assert_eq!(Money::parse_decimal("7", Currency::CNY), cny(700));
        assert_eq!(Money::parse_decimal("1200", Currency::JPY), Ok(Money::new(1200, Currency::JPY)));
        assert_eq!(Money::parse_decimal("1.005", Currency::CNY), Err(DecimalError::TooManyDecimals(2)));
        assert_eq!(Money::parse_decimal("1.0", Currency::JPY), Err(DecimalError::TooManyDecimals(0)));
        for junk in ["", ".5", "5.", "-1.00", "+1.00", " 1.00", "1,00", "1e3", "1.0.0", "NaN", "１.00"] {
            assert_eq!(Money::parse_decimal(junk, Currency::CNY), Err(DecimalError::Syntax), "{junk:?}");
        }
        assert_eq!(Money::parse_decimal("92233720368547758.08", Currency::CNY), Err(DecimalError::Overflow));
        assert_eq!(Money::parse_decimal("92233720368547758.07", Currency::CNY), cny(i64::MAX));
        assert_eq!(Money::new(8888, Currency::CNY).to_decimal_string(), "88.88");
        assert_eq!(Money::new(-5, Currency::USD).to_decimal_string(), "-0.05");
    }

    proptest! {
        #[test]
        fn decimal_string_round_trips(minor in 0i64..=i64::MAX) {
            let money = Money::new(minor, Currency::CNY);
            prop_assert_eq!(Money::parse_decimal(&money.to_decimal_string(), Currency::CNY), Ok(money));
        }

        #[test]
        fn add_then_sub_is_identity(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let x = Money::new(a, Currency::CNY);
            let y = Money::new(b, Currency::CNY);
            prop_assert_eq!(x.checked_add(y).unwrap().checked_sub(y).unwrap(), x);
        }

        #[test]
        fn checked_ops_never_panic(a in any::<i64>(), b in any::<i64>()) {
            let x = Money::new(a, Currency::USD);
            let _ = x.checked_add(Money::new(b, Currency::USD));
            let _ = x.checked_sub(Money::new(b, Currency::USD));
            let _ = x.checked_mul(b);
            let _ = x.to_string();
        }
    }
}
