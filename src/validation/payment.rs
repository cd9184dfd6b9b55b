//! Rules on the payment method.

use crate::placement::{PaymentMethod, PlaceOrderForm};

use super::fields::{Text, check_text};
use super::{Limits, Rule, Violations};

/// Online payment names its provider (1 to [`Limits::max_provider_len`] characters).
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentProvider;

impl Rule for PaymentProvider {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        if let PaymentMethod::Online { provider } = &form.payment {
            check_text(out, "payment.provider", provider, true, limits.max_provider_len, Text::SingleLine);
        }
    }
}
