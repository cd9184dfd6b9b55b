//! Checks shared by the rules: free-text fields (required, length in characters, control
//! characters) and host ids.

use crate::ids::IdError;
use crate::text::Trim;

use super::{ViolationRule, Violations};

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
    value: &str,
    required: bool,
    max: usize,
    kind: Text,
) {
    if !text_ok(value, required, max, kind) {
        check_text(out, &field(), value, required, max, kind);
    }
}

/// Checks one free-text field: required (when asked), length, control characters.
pub(super) fn check_text(out: &mut Violations, field: &str, value: &str, required: bool, max: usize, kind: Text) {
    let value = value.trimmed();
    if value.is_empty() {
        if required {
            out.broke(field, ViolationRule::Required);
        }
        return;
    }
    if !within(value, max) {
        out.broke(field, ViolationRule::TooLong { max });
    }
    let bad = match kind {
        Text::SingleLine => value.chars().any(char::is_control),
        Text::MultiLine => value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
    };
    if bad {
        out.broke(field, ViolationRule::ControlCharacters { line_breaks: kind == Text::MultiLine });
    }
}

/// Reports a host-id error (customer id, SKU) with the matching code.
pub(super) fn report_id_error(out: &mut Violations, field: &str, err: IdError) {
    let rule = match err {
        IdError::Empty => ViolationRule::Required,
        IdError::TooLong { max, .. } => ViolationRule::TooLong { max },
        IdError::BadCharacter => ViolationRule::WhitespaceOrControl,
    };
    out.broke(field, rule);
}
