//! What a check finds: [`Violation`]s, each with a field path and a [`ViolationCode`],
//! collected in [`Violations`].

use std::fmt;

use serde::{Deserialize, Serialize};

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

/// One problem with a form: where, what kind, and a sentence naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    /// Path of the offending field, e.g. `lines[2].quantity` or `shipping_address.phone`.
    pub field: String,
    /// Machine-readable kind of problem.
    pub code: ViolationCode,
    /// Human sentence naming the rule, e.g. "quantity must be between 1 and 999". Never
    /// echoes the input, so it is safe to show and to log.
    pub message: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, code: ViolationCode, message: impl Into<String>) -> Violation {
        Violation { field: field.into(), code, message: message.into() }
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
