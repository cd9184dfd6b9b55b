//! Checks shared by the rules: free-text fields (required, length in characters, control
//! characters) and host ids.

use crate::ids::IdError;
use crate::text::Trim;

use super::{ViolationCode, Violations};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    /// Must not contain any control character.
    SingleLine,
    /// May contain line breaks and tabs.
    MultiLine,
}

/// True when `value` has at most `max` characters (the byte length bounds the count, so most
/// values need no counting).
pub(super) fn within(value: &str, max: usize) -> bool {
    value.len() <= max || value.chars().count() <= max
}

/// True when [`check_text`] would find nothing wrong: the common case, decided without
/// building the field's name or any message.
pub(super) fn text_ok(value: &str, required: bool, max: usize, kind: Text) -> bool {
    let value = value.trimmed();
    if value.is_empty() {
        return !required;
    }
    within(value, max)
        && match kind {
            Text::SingleLine => !value.chars().any(char::is_control),
            Text::MultiLine => !value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
        }
}

/// [`check_text`] for a field whose name has to be built: builds it only for a bad value.
pub(super) fn check_text_at(
    out: &mut Violations,
    field: impl FnOnce() -> String,
    what: &str,
    value: &str,
    required: bool,
    max: usize,
    kind: Text,
) {
    if !text_ok(value, required, max, kind) {
        check_text(out, &field(), what, value, required, max, kind);
    }
}

/// Checks one free-text field: required (when asked), length, control characters.
pub(super) fn check_text(
    out: &mut Violations,
    field: &str,
    what: &str,
    value: &str,
    required: bool,
    max: usize,
    kind: Text,
) {
    let value = value.trimmed();
    if value.is_empty() {
        if required {
            out.add(field, ViolationCode::Required, format!("{what} is required"));
        }
        return;
    }
    if !within(value, max) {
        out.add(field, ViolationCode::TooLong, format!("{what} must be at most {max} characters"));
    }
    let bad = match kind {
        Text::SingleLine => value.chars().any(char::is_control),
        Text::MultiLine => value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
    };
    if bad {
        let msg = match kind {
            Text::SingleLine => format!("{what} must not contain control characters"),
            Text::MultiLine => {
                format!("{what} must not contain control characters other than line breaks")
            }
        };
        out.add(field, ViolationCode::BadFormat, msg);
    }
}

/// Reports a host-id error (customer id, SKU) with the matching code.
pub(super) fn report_id_error(out: &mut Violations, field: &str, what: &str, err: IdError) {
    let (code, message) = match err {
        IdError::Empty => (ViolationCode::Required, format!("{what} is required")),
        IdError::TooLong { max, .. } => (ViolationCode::TooLong, format!("{what} must be at most {max} characters")),
        IdError::BadCharacter => {
            (ViolationCode::BadFormat, format!("{what} must not contain whitespace or control characters"))
        }
    };
    out.add(field, code, message);
}
