//! What a check finds: [`Violation`]s, each with a field path, a [`ViolationCode`] and the
//! [`ViolationRule`] it broke (typed, for any [`crate::locale::Catalogue`] to put into words),
//! collected in [`Violations`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::locale::{English, Localizer};
use crate::money::{Currency, Money};

/// What kind of problem a [`Violation`] is, for programs (the message is for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationCode {
    /// A required value is missing or blank.
    Required,
    /// A text is longer than its limit (counted in characters).
    TooLong,
    /// A number is outside its allowed range.
    OutOfRange,
    /// An amount is not in the order's currency.
    CurrencyMismatch,
    /// A sum or product does not fit in 64-bit minor units.
    Overflow,
    /// A value has the wrong shape (phone, postal code, characters, ...).
    BadFormat,
    /// A list has more entries than allowed.
    TooMany,
    /// The same product (SKU and variant) appears again at a different price.
    DuplicateLine,
    /// Reported by a host rule.
    Custom,
}

impl ViolationCode {
    /// The code as snake_case text, as it appears in JSON.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ViolationCode::Required => "required",
            ViolationCode::TooLong => "too_long",
            ViolationCode::OutOfRange => "out_of_range",
            ViolationCode::CurrencyMismatch => "currency_mismatch",
            ViolationCode::Overflow => "overflow",
            ViolationCode::BadFormat => "bad_format",
            ViolationCode::TooMany => "too_many",
            ViolationCode::DuplicateLine => "duplicate_line",
            ViolationCode::Custom => "custom",
        }
    }
}

impl fmt::Display for ViolationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which sum of a form does not fit in 64-bit minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sum {
    /// Unit price times quantity of a line.
    LineAmount,
    /// The goods subtotal with this line.
    Subtotal,
    /// Subtotal plus shipping fee.
    WithShipping,
    /// The total minus the discount.
    AfterDiscount,
    /// Any other amount.
    Amount,
}

/// The rule a [`Violation`] broke, with what is needed to say it. The field it is about is the
/// violation's `field`; catalogues name it from the path's last part (`lines[2].quantity` is
/// about a quantity).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationRule {
    /// The field is required.
    Required,
    /// The text is longer than `max` characters.
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// The text holds control characters (line breaks allowed where `line_breaks` says so).
    ControlCharacters {
        /// True for multi-line texts, where line breaks and tabs are fine.
        line_breaks: bool,
    },
    /// An id holds whitespace or control characters.
    WhitespaceOrControl,
    /// The value is not valid (a check the rules already made, repeated when the draft is built).
    Invalid,
    /// No street line that is not blank.
    NoStreetLine,
    /// More street lines than allowed.
    TooManyStreetLines {
        /// The limit.
        max: usize,
    },
    /// The country is not a two-letter ISO 3166-1 code.
    CountryCode,
    /// The phone number does not have the country's shape.
    PhoneShape {
        /// The country whose format applies (`None`: the permissive default).
        country: Option<String>,
    },
    /// The postal code does not have the country's shape.
    PostalCodeShape {
        /// The country whose format applies (`None`: the permissive default).
        country: Option<String>,
    },
    /// The country's addresses need a postal code.
    PostalCodeRequired {
        /// The country.
        country: String,
    },
    /// The order has no line.
    NoLines,
    /// More lines than allowed.
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// A line has more variant attributes than allowed.
    TooManyVariantAttributes {
        /// The limit.
        max: usize,
    },
    /// A variant attribute's name is blank.
    VariantNameBlank,
    /// A variant attribute's name is too long.
    VariantNameTooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// A variant attribute's name holds control characters.
    VariantNameControl,
    /// Two variant attribute names are the same once trimmed.
    VariantNameDuplicate,
    /// A quantity outside `1..=max`.
    Quantity {
        /// The largest allowed.
        max: u32,
    },
    /// A unit price outside `0..=max`.
    UnitPrice {
        /// The largest allowed.
        max: Money,
    },
    /// Same SKU and variant as an earlier line, at another price.
    DuplicateLine {
        /// The earlier line's index.
        first: usize,
    },
    /// Lines of one SKU and variant add up to more than `max` units.
    CombinedQuantity {
        /// The largest allowed.
        max: u32,
    },
    /// An amount in another currency than the first line's.
    CurrencyMismatch {
        /// The order's currency.
        currency: Currency,
    },
    /// An amount below zero.
    Negative,
    /// A discount above the goods subtotal.
    DiscountAboveSubtotal {
        /// The subtotal.
        subtotal: Money,
    },
    /// A sum too large for 64-bit minor units.
    Overflow {
        /// Which sum.
        sum: Sum,
    },
    /// A host rule's problem, in the host's words (the violation's `message`).
    Custom,
}

impl ViolationRule {
    /// The code programs match on.
    pub fn code(&self) -> ViolationCode {
        use ViolationRule as R;
        match self {
            R::Required | R::NoStreetLine | R::PostalCodeRequired { .. } | R::NoLines | R::VariantNameBlank => {
                ViolationCode::Required
            }
            R::TooLong { .. } | R::VariantNameTooLong { .. } => ViolationCode::TooLong,
            R::ControlCharacters { .. }
            | R::WhitespaceOrControl
            | R::Invalid
            | R::CountryCode
            | R::PhoneShape { .. }
            | R::PostalCodeShape { .. }
            | R::VariantNameControl
            | R::VariantNameDuplicate => ViolationCode::BadFormat,
            R::TooManyStreetLines { .. } | R::TooManyLines { .. } | R::TooManyVariantAttributes { .. } => {
                ViolationCode::TooMany
            }
            R::Quantity { .. }
            | R::UnitPrice { .. }
            | R::CombinedQuantity { .. }
            | R::Negative
            | R::DiscountAboveSubtotal { .. } => ViolationCode::OutOfRange,
            R::DuplicateLine { .. } => ViolationCode::DuplicateLine,
            R::CurrencyMismatch { .. } => ViolationCode::CurrencyMismatch,
            R::Overflow { .. } => ViolationCode::Overflow,
            R::Custom => ViolationCode::Custom,
        }
    }

    /// Every rule's name (see [`ViolationRule::kind`]): what a catalogue must put into words.
    pub const KINDS: &'static [&'static str] = &[
        "required",
        "too_long",
        "control_characters",
        "whitespace_or_control",
        "invalid",
        "no_street_line",
        "too_many_street_lines",
        "country_code",
        "phone_shape",
        "postal_code_shape",
        "postal_code_required",
        "no_lines",
        "too_many_lines",
        "too_many_variant_attributes",
        "variant_name_blank",
        "variant_name_too_long",
        "variant_name_control",
        "variant_name_duplicate",
        "quantity",
        "unit_price",
        "duplicate_line",
        "combined_quantity",
        "currency_mismatch",
        "negative",
        "discount_above_subtotal",
        "overflow",
        "custom",
    ];

    /// The rule's snake_case name.
    pub fn kind(&self) -> &'static str {
        use ViolationRule as R;
        match self {
            R::Required => "required",
            R::TooLong { .. } => "too_long",
            R::ControlCharacters { .. } => "control_characters",
            R::WhitespaceOrControl => "whitespace_or_control",
            R::Invalid => "invalid",
            R::NoStreetLine => "no_street_line",
            R::TooManyStreetLines { .. } => "too_many_street_lines",
            R::CountryCode => "country_code",
            R::PhoneShape { .. } => "phone_shape",
            R::PostalCodeShape { .. } => "postal_code_shape",
            R::PostalCodeRequired { .. } => "postal_code_required",
            R::NoLines => "no_lines",
            R::TooManyLines { .. } => "too_many_lines",
            R::TooManyVariantAttributes { .. } => "too_many_variant_attributes",
            R::VariantNameBlank => "variant_name_blank",
            R::VariantNameTooLong { .. } => "variant_name_too_long",
            R::VariantNameControl => "variant_name_control",
            R::VariantNameDuplicate => "variant_name_duplicate",
            R::Quantity { .. } => "quantity",
            R::UnitPrice { .. } => "unit_price",
            R::DuplicateLine { .. } => "duplicate_line",
            R::CombinedQuantity { .. } => "combined_quantity",
            R::CurrencyMismatch { .. } => "currency_mismatch",
            R::Negative => "negative",
            R::DiscountAboveSubtotal { .. } => "discount_above_subtotal",
            R::Overflow { .. } => "overflow",
            R::Custom => "custom",
        }
    }
}

/// The name a field path ends in, without indexes or keys: `shipping_address.street[1]` ends
/// in `street`, `lines[0].variant["size"]` in `variant`, `lines[2]` in `lines`. What
/// catalogues name a field by.
pub fn field_name(field: &str) -> &str {
    let last = field.rsplit('.').next().unwrap_or(field);
    last.split('[').next().unwrap_or(last)
}

/// One problem with a form: where, what kind, the rule it broke, and that rule in English.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    /// Path of the offending field, e.g. `lines[2].quantity` or `shipping_address.phone`.
    pub field: String,
    /// Machine-readable kind of problem.
    pub code: ViolationCode,
    /// Human sentence naming the rule in English, e.g. "quantity must be between 1 and 999"
    /// (other languages: [`Localizer::violation`]). Never echoes the input, so it is safe to
    /// show and to log.
    pub message: String,
    /// The rule, typed ([`ViolationRule::Custom`] for a host rule's own words).
    #[serde(default = "custom")]
    pub rule: ViolationRule,
}

fn custom() -> ViolationRule {
    ViolationRule::Custom
}

impl Violation {
    /// A violation of `field` in the host's own words (a host rule's; rendered as given in
    /// every language).
    pub fn new(field: impl Into<String>, code: ViolationCode, message: impl Into<String>) -> Violation {
        Violation { field: field.into(), code, message: message.into(), rule: ViolationRule::Custom }
    }

    /// A violation of `field` against one of the library's rules: the code follows from the
    /// rule, the message is the [`English`] catalogue's.
    pub fn broke(field: impl Into<String>, rule: ViolationRule) -> Violation {
        let mut violation = Violation { field: field.into(), code: rule.code(), message: String::new(), rule };
        violation.message = Localizer::new(English).violation(&violation);
        violation
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a form, in the order the rules reported them.
///
/// Serializes as a JSON array of `{field, code, message}` objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
#[error("{}", summary(.0))]
pub struct Violations(Vec<Violation>);

fn summary(list: &[Violation]) -> String {
    if list.is_empty() {
        return "no violations".to_owned();
    }
    list.iter().map(Violation::to_string).collect::<Vec<_>>().join("; ")
}

impl Violations {
    /// No violations yet.
    pub fn new() -> Violations {
        Violations(Vec::new())
    }

    /// Records a violation.
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    /// Records a violation of `field` (shorthand for `push(Violation::new(..))`).
    pub fn add(&mut self, field: impl Into<String>, code: ViolationCode, message: impl Into<String>) {
        self.push(Violation::new(field, code, message));
    }

    /// Records a violation of one of the library's rules (shorthand for
    /// `push(Violation::broke(..))`).
    pub fn broke(&mut self, field: impl Into<String>, rule: ViolationRule) {
        self.push(Violation::broke(field, rule));
    }

    /// The violations, in report order.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.0.iter()
    }

    /// Number of violations.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the form is fine.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when some violation has this `field` and `code`.
    pub fn has(&self, field: &str, code: ViolationCode) -> bool {
        self.0.iter().any(|v| v.field == field && v.code == code)
    }

    /// The violations as a vector.
    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }
}

impl From<Vec<Violation>> for Violations {
    fn from(list: Vec<Violation>) -> Violations {
        Violations(list)
    }
}

impl FromIterator<Violation> for Violations {
    fn from_iter<I: IntoIterator<Item = Violation>>(iter: I) -> Violations {
        Violations(iter.into_iter().collect())
    }
}

impl Extend<Violation> for Violations {
    fn extend<I: IntoIterator<Item = Violation>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_in_text_and_json() {
        assert_eq!(ViolationCode::OutOfRange.as_str(), "out_of_range");
        assert_eq!(serde_json::to_string(&ViolationCode::CurrencyMismatch).unwrap(), "\"currency_mismatch\"");
        assert_eq!(ViolationCode::DuplicateLine.to_string(), "duplicate_line");
    }

    #[test]
    fn violations_display_and_serialize_every_entry() {
        let mut v = Violations::new();
        assert_eq!(v.to_string(), "no violations");
        v.add("discount", ViolationCode::OutOfRange, "discount must not be negative");
        v.push(Violation::new("lines", ViolationCode::Required, "need a line"));
        assert_eq!(v.to_string(), "discount: discount must not be negative; lines: need a line");
        assert!(v.has("lines", ViolationCode::Required));
        assert!(!v.has("lines", ViolationCode::TooMany));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json[0]["code"], "out_of_range");
        assert_eq!(json[1]["field"], "lines");
        let back: Violations = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }
}
