//! Rules on what the buyer says about themselves: customer id and buyer note.

use crate::ids::check_external_id;
use crate::placement::PlaceOrderForm;
use crate::text::Trim;

use super::fields::{Text, check_text, report_id_error};
use super::{Limits, Rule, Violations};

/// The customer id is a valid [`CustomerId`](crate::ids::CustomerId).
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerIdFormat;

impl Rule for CustomerIdFormat {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        if let Err(e) = check_external_id(form.customer.trimmed()) {
            report_id_error(out, "customer", e);
        }
    }
}

/// The buyer note is at most [`Limits::max_buyer_note_len`] characters (line breaks allowed).
#[derive(Debug, Clone, Copy, Default)]
pub struct BuyerNoteLength;

impl Rule for BuyerNoteLength {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        check_text(out, "buyer_note", &form.buyer_note, false, limits.max_buyer_note_len, Text::MultiLine);
    }
}
