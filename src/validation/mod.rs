//! Placement validation: turns a [`PlaceOrderForm`] into an [`OrderDraft`], or reports every
//! problem at once.
//!
//! Fixing a form one error per round trip is miserable for a buyer, so
//! [`Validator::validate`] runs *every* [`Rule`] — the built-in ones and those the host adds
//! with [`Validator::with_rule`] — and collects all [`Violation`]s. Each names the offending
//! field by path (`lines[2].quantity`, `shipping_address.street[0]`, `discount`) and carries a
//! machine-readable [`ViolationCode`], so a front end can put the message next to the right
//! input and translate it if it wants.
//!
//! Only when nothing is wrong is the draft built: text trimmed, the country code upper-cased,
//! blank street lines dropped, lines numbered from 1, totals computed with checked arithmetic
//! and the discount spread over the lines. Nothing here panics, whatever the input.
//!
//! # Duplicate lines
//!
//! Two lines with the same SKU and the same variant are the same product entered twice
//! (a double click, a cart merged from two devices). The decision:
//!
//! - **Same unit price: merged.** The quantities are added into the first line (which keeps
//!   its position and product name). The combined quantity must still respect
//!   [`Limits::max_quantity_per_line`]; if not, `out_of_range` is reported at the later line's
//!   `quantity`, since that is the line that pushed it over.
//! - **Different unit price: rejected** with `duplicate_line` at the later line (`lines[i]`).
//!   The buyer saw two prices for the same thing; charging either would silently charge
//!   something they did not agree to, so the shop must re-price the cart.
//!
//! # Discount allocation
//!
//! The order discount is spread over the (merged) lines in proportion to their totals, by the
//! largest-remainder method in integer arithmetic: each line gets the floor of its exact share
//! (computed in `i128`), and the minor units still missing go one each to the lines with the
//! largest remainders (earlier lines first on ties). The shares therefore add up to the
//! discount exactly and never exceed a line's total, which keeps per-line refunds honest.
//!
//! # Example
//!
//! ```
//! use orderflow::placement::{AddressForm, LineForm, PaymentMethod, PlaceOrderForm};
//! use orderflow::validation::{Limits, Validator, ViolationCode, Violations, Violation};
//! use orderflow::{Currency, Money};
//!
//! let cny = |minor| Money::new(minor, Currency::CNY);
//! let form = PlaceOrderForm {
//!     customer: "c-42".into(),
//!     lines: vec![LineForm {
//!         sku: "TEA-001".into(),
//!         product_name: "Longjing tea".into(),
//!         variant: Default::default(),
//!         quantity: 2,
//!         unit_price: cny(5_000),
//!     }],
//!     shipping_address: AddressForm {
//!         recipient: "Li Lei".into(),
//!         phone: "13800138000".into(),
//!         country: "cn".into(),
//!         province: "Zhejiang".into(),
//!         city: "Hangzhou".into(),
//!         street: vec!["1 West Lake Rd".into()],
//!         postal_code: "310000".into(),
//!         ..Default::default()
//!     },
//!     payment: PaymentMethod::CashOnDelivery,
//!     shipping_fee: cny(800),
//!     discount: cny(1_000),
//!     buyer_note: String::new(),
//! };
//!
//! let draft = Validator::default().validate(&form).unwrap();
//! assert_eq!(draft.totals.total, cny(9_800));
//! assert_eq!(draft.shipping_address.country, "CN");
//!
//! // A host rule: this shop does not deliver cash on delivery orders.
//! let strict = Validator::new(Limits::default()).with_rule(
//!     |form: &PlaceOrderForm, _: &Limits, out: &mut Violations| {
//!         if form.payment.is_cod() {
//!             out.add("payment", ViolationCode::Custom, "cash on delivery is not offered");
//!         }
//!     },
//! );
//! let err = strict.validate(&form).unwrap_err();
//! assert!(err.has("payment", ViolationCode::Custom));
//! ```

mod address;
mod customer;
mod draft;
mod fields;
#[cfg(test)]
mod fixtures;
mod limits;
mod lines;
mod payment;
mod totals;
mod violations;

pub use address::{AddressFields, CountryCode, PhoneAndPostalCode};
pub use customer::{BuyerNoteLength, CustomerIdFormat};
pub use limits::Limits;
pub use lines::{
    DuplicateLines, HasLines, LineCount, ProductName, QuantityRange, SkuFormat, UnitPriceRange, VariantLimits,
};
pub use payment::PaymentProvider;
pub use totals::{DiscountRange, ShippingFeeRange, SingleCurrency, TotalsFit};
pub use violations::{Sum, Violation, ViolationCode, ViolationRule, Violations, field_name};

use std::fmt;

use crate::placement::{OrderDraft, PlaceOrderForm};

/// One check of a placement form. Hosts implement it (or pass a closure) to add their own
/// rules, e.g. "no cash on delivery above 5 000 CNY".
///
/// A rule reports every problem it sees into `out` and never stops at the first one; it must
/// not panic. Closures need their parameter types written out:
/// `|form: &PlaceOrderForm, limits: &Limits, out: &mut Violations| { .. }`.
pub trait Rule: Send + Sync {
    /// Checks `form` and records what is wrong in `out`.
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations);
}

impl<F> Rule for F
where
    F: Fn(&PlaceOrderForm, &Limits, &mut Violations) + Send + Sync,
{
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        self(form, limits, out)
    }
}

fn builtin_rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(CustomerIdFormat),
        Box::new(HasLines),
        Box::new(LineCount),
        Box::new(SkuFormat),
        Box::new(ProductName),
        Box::new(VariantLimits),
        Box::new(QuantityRange),
        Box::new(UnitPriceRange),
        Box::new(SingleCurrency),
        Box::new(DuplicateLines),
        Box::new(ShippingFeeRange),
        Box::new(DiscountRange),
        Box::new(TotalsFit),
        Box::new(AddressFields),
        Box::new(CountryCode),
        Box::new(PhoneAndPostalCode),
        Box::new(PaymentProvider),
        Box::new(BuyerNoteLength),
    ]
}

/// Turns placement forms into order drafts, checking every built-in rule and the host's.
///
/// Build it once and share it: it is `Send + Sync` and validation takes `&self`.
pub struct Validator {
    limits: Limits,
    rules: Vec<Box<dyn Rule>>,
}

impl Validator {
    /// A validator with every built-in rule and these limits.
    pub fn new(limits: Limits) -> Validator {
        Validator { limits, rules: builtin_rules() }
    }

    /// Adds a host rule; it runs after the built-in ones (and earlier host rules), on every
    /// form, and its violations are reported alongside theirs.
    pub fn with_rule(mut self, rule: impl Rule + 'static) -> Validator {
        self.rules.push(Box::new(rule));
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs every rule and returns what they found (empty when the form is fine), without
    /// building a draft. Useful for checking a form as the buyer types.
    pub fn check(&self, form: &PlaceOrderForm) -> Violations {
        let mut out = Violations::new();
        for rule in &self.rules {
            rule.check(form, &self.limits, &mut out);
        }
        out
    }

    /// Validates `form`: every problem at once, or the draft of the order.
    pub fn validate(&self, form: &PlaceOrderForm) -> Result<OrderDraft, Violations> {
        let violations = self.check(form);
        if !violations.is_empty() {
            return Err(violations);
        }
        self.build(form)
    }
}

impl Default for Validator {
    /// A validator with every built-in rule and [`Limits::default`].
    fn default() -> Validator {
        Validator::new(Limits::default())
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator").field("limits", &self.limits).field("rules", &self.rules.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validator_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Validator>();
        assert!(format!("{:?}", Validator::default()).contains("rules: 18"));
    }
}
