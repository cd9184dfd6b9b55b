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

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::{Address, CountryFormat};
use crate::ids::{CustomerId, IdError, LineId, Sku, check_external_id};
use crate::money::{Currency, Money};
use crate::placement::{Line, LineForm, OrderDraft, PaymentMethod, PlaceOrderForm, Totals, Variant};
use crate::text::Trim;

// ---------------------------------------------------------------------------------------------
// Violations
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/// Size limits applied to a form. Every text field has one, counted in characters (not bytes)
/// after trimming, so a hostile form cannot make the order arbitrarily large.
///
/// Customer ids and SKUs are limited by [`crate::ids::MAX_EXTERNAL_ID_LEN`] instead.
/// New limits may be added, so build from [`Limits::default`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// Most lines an order may have (before duplicates are merged). Default 100.
    pub max_lines: usize,
    /// Most units one line may have (also after merging duplicates). Default 999.
    pub max_quantity_per_line: u32,
    /// Highest unit price, in minor units. Default 10_000_000_000 (100 million in a two-digit
    /// currency): generous, but it keeps totals far from overflow.
    pub max_unit_price_minor: i64,
    /// Longest product name. Default 200.
    pub max_product_name_len: usize,
    /// Most variant attributes per line. Default 10.
    pub max_variant_attributes: usize,
    /// Longest variant attribute name or value. Default 40.
    pub max_variant_text_len: usize,
    /// Longest recipient name. Default 60.
    pub max_recipient_len: usize,
    /// Longest phone number. Default 20.
    pub max_phone_len: usize,
    /// Longest province, city, district or street line. Default 120.
    pub max_address_field_len: usize,
    /// Most non-blank street lines. Default 3.
    pub max_street_lines: usize,
    /// Longest postal code. Default 12.
    pub max_postal_code_len: usize,
    /// Longest buyer note. Default 500.
    pub max_buyer_note_len: usize,
    /// Longest payment provider name. Default 40.
    pub max_provider_len: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_lines: 100,
            max_quantity_per_line: 999,
            max_unit_price_minor: 10_000_000_000,
            max_product_name_len: 200,
            max_variant_attributes: 10,
            max_variant_text_len: 40,
            max_recipient_len: 60,
            max_phone_len: 20,
            max_address_field_len: 120,
            max_street_lines: 3,
            max_postal_code_len: 12,
            max_buyer_note_len: 500,
            max_provider_len: 40,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

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

fn line_field(i: usize, name: &str) -> String {
    format!("lines[{i}].{name}")
}

fn quantity_ok(quantity: i64, limits: &Limits) -> bool {
    (1..=i64::from(limits.max_quantity_per_line)).contains(&quantity)
}

fn unit_price_ok(price: Money, limits: &Limits) -> bool {
    (0..=limits.max_unit_price_minor).contains(&price.minor)
}

/// The order's currency: the first line's, or the shipping fee's when there are no lines.
fn order_currency(form: &PlaceOrderForm) -> Currency {
    form.lines.first().map_or(form.shipping_fee.currency, |l| l.unit_price.currency)
}

/// The goods subtotal, when every line is individually valid and in one currency; `None` when
/// it would be meaningless (other rules report why).
fn clean_subtotal(form: &PlaceOrderForm, limits: &Limits) -> Option<Money> {
    let currency = form.lines.first()?.unit_price.currency;
    let mut sum = Money::zero(currency);
    for line in &form.lines {
        if !quantity_ok(line.quantity, limits) || !unit_price_ok(line.unit_price, limits) {
            return None;
        }
        sum = sum.checked_add(line.unit_price.checked_mul(line.quantity).ok()?).ok()?;
    }
    Some(sum)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    /// Must not contain any control character.
    SingleLine,
    /// May contain line breaks and tabs.
    MultiLine,
}

/// True when `value` has at most `max` characters (the byte length bounds the count, so most
/// values need no counting).
fn within(value: &str, max: usize) -> bool {
    value.len() <= max || value.chars().count() <= max
}

/// True when [`check_text`] would find nothing wrong: the common case, decided without
/// building the field's name or any message.
fn text_ok(value: &str, required: bool, max: usize, kind: Text) -> bool {
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
fn check_text_at(
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
fn check_text(out: &mut Violations, field: &str, what: &str, value: &str, required: bool, max: usize, kind: Text) {
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
fn report_id_error(out: &mut Violations, field: &str, what: &str, err: IdError) {
    let (code, message) = match err {
        IdError::Empty => (ViolationCode::Required, format!("{what} is required")),
        IdError::TooLong { max, .. } => (ViolationCode::TooLong, format!("{what} must be at most {max} characters")),
        IdError::BadCharacter => {
            (ViolationCode::BadFormat, format!("{what} must not contain whitespace or control characters"))
        }
    };
    out.add(field, code, message);
}

/// The trimmed country code if it is two ASCII letters (in either case).
fn country_code(country: &str) -> Option<&str> {
    let c = country.trimmed();
    (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())).then_some(c)
}

/// Upper-cases a two-letter country code; `None` if it is not two ASCII letters.
fn normalize_country(country: &str) -> Option<String> {
    country_code(country).map(str::to_ascii_uppercase)
}

/// Variant with keys and values trimmed (what the draft stores and duplicates compare on).
fn trimmed_variant(variant: &Variant) -> Variant {
    variant.iter().map(|(k, v)| (k.trimmed(), v.trimmed())).collect()
}

/// What makes two lines "the same product": trimmed SKU and variant. `None` for an invalid
/// SKU, which is reported on its own and never merged. Borrowed from the form (the variant is
/// copied only when some attribute needs trimming), so comparing lines allocates nothing.
fn line_key(line: &LineForm) -> Option<LineKey<'_>> {
    let sku = line.sku.trimmed();
    check_external_id(sku).ok()?;
    let trimmed = line.variant.iter().all(|(k, v)| k.trimmed().len() == k.len() && v.trimmed().len() == v.len());
    let variant = if trimmed { Cow::Borrowed(&line.variant) } else { Cow::Owned(trimmed_variant(&line.variant)) };
    Some((sku, variant))
}

/// True when no two lines have the same trimmed SKU, checked pair by pair for a short form
/// (the usual case) so the line grouping can be skipped; `false` means "maybe".
fn skus_distinct(lines: &[LineForm]) -> bool {
    lines.len() <= 16
        && lines.iter().enumerate().all(|(i, a)| lines.iter().skip(i + 1).all(|b| a.sku.trimmed() != b.sku.trimmed()))
}

/// A line's identity for duplicate detection: see [`line_key`].
type LineKey<'a> = (&'a str, Cow<'a, Variant>);

/// The order has at least one line.
#[derive(Debug, Clone, Copy, Default)]
pub struct HasLines;

impl Rule for HasLines {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        if form.lines.is_empty() {
            out.add("lines", ViolationCode::Required, "the order must have at least one line");
        }
    }
}

/// The order has at most [`Limits::max_lines`] lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineCount;

impl Rule for LineCount {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        if form.lines.len() > limits.max_lines {
            out.add("lines", ViolationCode::TooMany, format!("an order may have at most {} lines", limits.max_lines));
        }
    }
}

/// Every SKU is a valid [`Sku`]: 1 to 64 characters, no whitespace (after trimming).
#[derive(Debug, Clone, Copy, Default)]
pub struct SkuFormat;

impl Rule for SkuFormat {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        for (i, line) in form.lines.iter().enumerate() {
            if let Err(e) = check_external_id(line.sku.trimmed()) {
                report_id_error(out, &line_field(i, "sku"), "SKU", e);
            }
        }
    }
}

/// Every line has a product name of at most [`Limits::max_product_name_len`] characters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProductName;

impl Rule for ProductName {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        for (i, line) in form.lines.iter().enumerate() {
            check_text_at(
                out,
                || line_field(i, "product_name"),
                "product name",
                &line.product_name,
                true,
                limits.max_product_name_len,
                Text::SingleLine,
            );
        }
    }
}

/// Variant attributes: at most [`Limits::max_variant_attributes`], names and values non-blank,
/// at most [`Limits::max_variant_text_len`] characters, names unique once trimmed.
///
/// Problems with one attribute are reported at `lines[i].variant["name"]`; problems with the
/// name itself (blank, too long, clashing) at `lines[i].variant`, because a bad name makes a
/// poor path.
#[derive(Debug, Clone, Copy, Default)]
pub struct VariantLimits;

impl Rule for VariantLimits {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        let max = limits.max_variant_text_len;
        for (i, line) in form.lines.iter().enumerate() {
            let field = || line_field(i, "variant");
            if line.variant.len() > limits.max_variant_attributes {
                out.add(
                    field(),
                    ViolationCode::TooMany,
                    format!("a line may have at most {} variant attributes", limits.max_variant_attributes),
                );
            }
            // Names are the keys of a map, so they can only clash once trimmed: without
            // surrounding spaces there is nothing to track.
            let may_clash = line.variant.keys().any(|k| k.trimmed().len() != k.len());
            let mut seen = HashSet::new();
            for (name, value) in &line.variant {
                let name = name.trimmed();
                if name.is_empty() {
                    out.add(field(), ViolationCode::Required, "variant attribute names must not be blank");
                    continue;
                }
                if !within(name, max) {
                    out.add(
                        field(),
                        ViolationCode::TooLong,
                        format!("variant attribute names must be at most {max} characters"),
                    );
                    continue;
                }
                if name.chars().any(char::is_control) {
                    out.add(
                        field(),
                        ViolationCode::BadFormat,
                        "variant attribute names must not contain control characters",
                    );
                    continue;
                }
                if may_clash && !seen.insert(name) {
                    out.add(
                        field(),
                        ViolationCode::BadFormat,
                        "variant attribute names must be unique, ignoring surrounding spaces",
                    );
                }
                let at = || format!("{}[{name:?}]", field());
                check_text_at(out, at, "variant value", value, true, max, Text::SingleLine);
            }
        }
    }
}

/// Every quantity is in `1..=`[`Limits::max_quantity_per_line`].
#[derive(Debug, Clone, Copy, Default)]
pub struct QuantityRange;

impl Rule for QuantityRange {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        for (i, line) in form.lines.iter().enumerate() {
            if !quantity_ok(line.quantity, limits) {
                out.add(
                    line_field(i, "quantity"),
                    ViolationCode::OutOfRange,
                    format!("quantity must be between 1 and {}", limits.max_quantity_per_line),
                );
            }
        }
    }
}

/// Every unit price is in `0..=`[`Limits::max_unit_price_minor`] (free items are fine).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitPriceRange;

impl Rule for UnitPriceRange {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        for (i, line) in form.lines.iter().enumerate() {
            if !unit_price_ok(line.unit_price, limits) {
                let max = Money::new(limits.max_unit_price_minor, line.unit_price.currency);
                out.add(
                    line_field(i, "unit_price"),
                    ViolationCode::OutOfRange,
                    format!("unit price must be between 0 and {max}"),
                );
            }
        }
    }
}

/// Every amount (unit prices, shipping fee, discount) is in the first line's currency; each
/// offender is reported at its own field.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleCurrency;

impl Rule for SingleCurrency {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        let currency = order_currency(form);
        let message = || format!("currency must be {currency}, the currency of the first line");
        for (i, line) in form.lines.iter().enumerate() {
            if line.unit_price.currency != currency {
                out.add(line_field(i, "unit_price"), ViolationCode::CurrencyMismatch, message());
            }
        }
        if form.shipping_fee.currency != currency {
            out.add("shipping_fee", ViolationCode::CurrencyMismatch, message());
        }
        if form.discount.currency != currency {
            out.add("discount", ViolationCode::CurrencyMismatch, message());
        }
    }
}

/// The shipping fee is not negative.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShippingFeeRange;

impl Rule for ShippingFeeRange {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        if form.shipping_fee.is_negative() {
            out.add("shipping_fee", ViolationCode::OutOfRange, "shipping fee must not be negative");
        }
    }
}

/// The discount is not negative and not above the goods subtotal (checked only when the
/// subtotal is meaningful: valid lines, one currency).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscountRange;

impl Rule for DiscountRange {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        if form.discount.is_negative() {
            out.add("discount", ViolationCode::OutOfRange, "discount must not be negative");
            return;
        }
        if let Some(subtotal) = clean_subtotal(form, limits)
            && subtotal.currency == form.discount.currency
            && form.discount.minor > subtotal.minor
        {
            out.add(
                "discount",
                ViolationCode::OutOfRange,
                format!("discount must not exceed the goods subtotal ({subtotal})"),
            );
        }
    }
}

/// The totals fit in 64-bit minor units: each line total (`lines[i].quantity`), the subtotal
/// (`lines[i]`, the line whose addition overflows), subtotal plus shipping (`shipping_fee`)
/// and minus discount (`discount`). Works on the raw values, so it also catches absurd amounts
/// when a host raises the limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct TotalsFit;

impl Rule for TotalsFit {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        let mut line_totals = Vec::with_capacity(form.lines.len());
        let mut all_fit = true;
        for (i, line) in form.lines.iter().enumerate() {
            match line.unit_price.checked_mul(line.quantity) {
                Ok(total) => line_totals.push(total),
                Err(_) => {
                    all_fit = false;
                    out.add(
                        line_field(i, "quantity"),
                        ViolationCode::Overflow,
                        "unit price times quantity does not fit in 64-bit minor units",
                    );
                }
            }
        }
        if !all_fit {
            return;
        }
        let currency = order_currency(form);
        if line_totals.iter().any(|t| t.currency != currency) {
            return; // SingleCurrency reports it; there is no meaningful sum.
        }
        let mut subtotal = Money::zero(currency);
        for (i, total) in line_totals.into_iter().enumerate() {
            match subtotal.checked_add(total) {
                Ok(sum) => subtotal = sum,
                Err(_) => {
                    out.add(
                        format!("lines[{i}]"),
                        ViolationCode::Overflow,
                        "the order subtotal does not fit in 64-bit minor units with this line",
                    );
                    return;
                }
            }
        }
        if form.shipping_fee.currency != currency {
            return;
        }
        let Ok(with_shipping) = subtotal.checked_add(form.shipping_fee) else {
            out.add(
                "shipping_fee",
                ViolationCode::Overflow,
                "subtotal plus shipping fee does not fit in 64-bit minor units",
            );
            return;
        };
        if form.discount.currency == currency && with_shipping.checked_sub(form.discount).is_err() {
            out.add(
                "discount",
                ViolationCode::Overflow,
                "the order total minus the discount does not fit in 64-bit minor units",
            );
        }
    }
}

/// The customer id is a valid [`CustomerId`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerIdFormat;

impl Rule for CustomerIdFormat {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        if let Err(e) = check_external_id(form.customer.trimmed()) {
            report_id_error(out, "customer", "customer id", e);
        }
    }
}

/// The shipping address is complete (recipient, phone, country, province, city, at least one
/// non-blank street line) and every field within its length limit. Shapes of country, phone
/// and postal code are checked by [`CountryCode`] and [`PhoneAndPostalCode`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressFields;

impl Rule for AddressFields {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        let a = &form.shipping_address;
        let field_max = limits.max_address_field_len;
        let text = [
            ("shipping_address.recipient", "recipient", &a.recipient, true, limits.max_recipient_len),
            ("shipping_address.province", "province", &a.province, true, field_max),
            ("shipping_address.city", "city", &a.city, true, field_max),
            ("shipping_address.district", "district", &a.district, false, field_max),
        ];
        for (field, what, value, required, max) in text {
            check_text(out, field, what, value, required, max, Text::SingleLine);
        }
        // Shapes (and so characters) of these are checked by CountryCode and
        // PhoneAndPostalCode; here only presence and length.
        let shaped = [
            ("shipping_address.phone", "phone number", &a.phone, true, limits.max_phone_len),
            ("shipping_address.country", "country", &a.country, true, usize::MAX),
            // Whether a postal code is needed depends on the country.
            ("shipping_address.postal_code", "postal code", &a.postal_code, false, limits.max_postal_code_len),
        ];
        for (field, what, value, required, max) in shaped {
            let value = value.trimmed();
            if value.is_empty() {
                if required {
                    out.add(field, ViolationCode::Required, format!("{what} is required"));
                }
            } else if !within(value, max) {
                out.add(field, ViolationCode::TooLong, format!("{what} must be at most {max} characters"));
            }
        }
        let mut non_blank = 0usize;
        for (i, line) in a.street.iter().enumerate() {
            if line.trimmed().is_empty() {
                continue;
            }
            non_blank = non_blank.saturating_add(1);
            check_text_at(
                out,
                || format!("shipping_address.street[{i}]"),
                "street line",
                line,
                false,
                field_max,
                Text::SingleLine,
            );
        }
        if non_blank == 0 {
            out.add("shipping_address.street", ViolationCode::Required, "at least one street line is required");
        } else if non_blank > limits.max_street_lines {
            out.add(
                "shipping_address.street",
                ViolationCode::TooMany,
                format!("at most {} street lines are allowed", limits.max_street_lines),
            );
        }
    }
}

/// The country is a two-letter ISO 3166-1 code; lower case is accepted (and upper-cased).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountryCode;

impl Rule for CountryCode {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        let country = &form.shipping_address.country;
        if !country.trimmed().is_empty() && country_code(country).is_none() {
            out.add(
                "shipping_address.country",
                ViolationCode::BadFormat,
                "country must be a two-letter ISO 3166-1 code such as CN or US",
            );
        }
    }
}

/// Phone number and postal code have the shape of the country's [`CountryFormat`] (the
/// permissive default for unlisted or invalid countries); the postal code is required where
/// the format says so. Blank or over-long values are left to [`AddressFields`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PhoneAndPostalCode;

impl Rule for PhoneAndPostalCode {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        let a = &form.shipping_address;
        // Formats are looked up ignoring case, so the code needs no upper-casing here.
        let code = country_code(&a.country);
        let format = code.map_or(&CountryFormat::DEFAULT, CountryFormat::for_country);
        // " in CN" for the messages, built only when there is one to write.
        let place = || match code {
            Some(code) if format.country != "*" => format!(" in {}", code.to_ascii_uppercase()),
            _ => String::new(),
        };
        let phone = a.phone.trimmed();
        if !phone.is_empty() && within(phone, limits.max_phone_len) && !format.accepts_phone(phone) {
            out.add(
                "shipping_address.phone",
                ViolationCode::BadFormat,
                format!("phone number{} must be {}", place(), format.phone_rule),
            );
        }
        let postal = a.postal_code.trimmed();
        if postal.is_empty() {
            if format.postal_code_required {
                out.add(
                    "shipping_address.postal_code",
                    ViolationCode::Required,
                    format!("postal code is required{}", place()),
                );
            }
        } else if within(postal, limits.max_postal_code_len) && !format.accepts_postal_code(postal) {
            out.add(
                "shipping_address.postal_code",
                ViolationCode::BadFormat,
                format!("postal code{} must be {}", place(), format.postal_code_rule),
            );
        }
    }
}

/// The buyer note is at most [`Limits::max_buyer_note_len`] characters (line breaks allowed).
#[derive(Debug, Clone, Copy, Default)]
pub struct BuyerNoteLength;

impl Rule for BuyerNoteLength {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        check_text(
            out,
            "buyer_note",
            "buyer note",
            &form.buyer_note,
            false,
            limits.max_buyer_note_len,
            Text::MultiLine,
        );
    }
}

/// Online payment names its provider (1 to [`Limits::max_provider_len`] characters).
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentProvider;

impl Rule for PaymentProvider {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        if let PaymentMethod::Online { provider } = &form.payment {
            check_text(
                out,
                "payment.provider",
                "payment provider",
                provider,
                true,
                limits.max_provider_len,
                Text::SingleLine,
            );
        }
    }
}

/// Lines with the same SKU and variant: merged when the unit price is equal (the combined
/// quantity must respect the per-line maximum, else `out_of_range` at the later line's
/// `quantity`); rejected with `duplicate_line` at the later line when the price differs. See
/// the [module docs](self#duplicate-lines) for why.
#[derive(Debug, Clone, Copy, Default)]
pub struct DuplicateLines;

impl Rule for DuplicateLines {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        if skus_distinct(&form.lines) {
            return; // a duplicate needs two lines with one SKU
        }
        // key -> (index of first line, its unit price, combined valid quantity so far)
        let mut groups: HashMap<LineKey<'_>, (usize, Money, i64)> = HashMap::new();
        for (i, line) in form.lines.iter().enumerate() {
            let Some(key) = line_key(line) else { continue };
            let quantity = if quantity_ok(line.quantity, limits) {
                line.quantity
            } else {
                0 // reported by QuantityRange
            };
            match groups.entry(key) {
                Entry::Vacant(e) => {
                    e.insert((i, line.unit_price, quantity));
                }
                Entry::Occupied(mut e) => {
                    let (first, price, combined) = e.get_mut();
                    if *price != line.unit_price {
                        out.add(
                            format!("lines[{i}]"),
                            ViolationCode::DuplicateLine,
                            format!("same SKU and variant as lines[{first}] but a different unit price"),
                        );
                        continue;
                    }
                    *combined = combined.saturating_add(quantity);
                    if quantity > 0 && *combined > i64::from(limits.max_quantity_per_line) {
                        out.add(
                            line_field(i, "quantity"),
                            ViolationCode::OutOfRange,
                            format!(
                                "combined quantity of lines with this SKU and variant must be at most {}",
                                limits.max_quantity_per_line
                            ),
                        );
                    }
                }
            }
        }
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

// ---------------------------------------------------------------------------------------------
// Validator
// ---------------------------------------------------------------------------------------------

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

    /// Builds the draft of a form the rules accepted. Every step is still checked, so a
    /// mistake here becomes a violation rather than a panic or a wrong order.
    fn build(&self, form: &PlaceOrderForm) -> Result<OrderDraft, Violations> {
        let fail =
            |field: &str, code, message: &str| -> Violations { Violations(vec![Violation::new(field, code, message)]) };
        let overflow = |field: &str| fail(field, ViolationCode::Overflow, "amount does not fit in 64-bit minor units");

        let customer = CustomerId::new(form.customer.trimmed())
            .map_err(|_| fail("customer", ViolationCode::BadFormat, "invalid customer id"))?;
        let first = form
            .lines
            .first()
            .ok_or_else(|| fail("lines", ViolationCode::Required, "the order must have at least one line"))?;
        let currency = first.unit_price.currency;

        // Merge duplicates, keeping first-seen order.
        struct Merged {
            sku: Sku,
            variant: Variant,
            product_name: crate::text::Text,
            quantity: u32,
            unit_price: Money,
        }
        // Lines with distinct SKUs (seen cheaply in a short form) cannot merge: no hashing.
        let distinct = skus_distinct(&form.lines);
        let mut merged: Vec<Merged> = Vec::with_capacity(form.lines.len());
        let mut index: HashMap<LineKey<'_>, usize> = HashMap::new();
        for (i, line) in form.lines.iter().enumerate() {
            let (sku, variant) =
                line_key(line).ok_or_else(|| fail(&line_field(i, "sku"), ViolationCode::BadFormat, "invalid SKU"))?;
            let quantity = u32::try_from(line.quantity)
                .ok()
                .filter(|q| (1..=self.limits.max_quantity_per_line).contains(q))
                .ok_or_else(|| fail(&line_field(i, "quantity"), ViolationCode::OutOfRange, "quantity out of range"))?;
            let earlier = if distinct {
                None
            } else {
                match index.entry((sku, variant.clone())) {
                    Entry::Occupied(e) => Some(*e.get()),
                    Entry::Vacant(e) => {
                        e.insert(merged.len());
                        None
                    }
                }
            };
            if let Some(at) = earlier {
                let m = merged.get_mut(at).ok_or_else(|| overflow("lines"))?;
                if m.unit_price != line.unit_price {
                    return Err(fail(
                        &format!("lines[{i}]"),
                        ViolationCode::DuplicateLine,
                        "duplicate line with a different unit price",
                    ));
                }
                m.quantity = m
                    .quantity
                    .checked_add(quantity)
                    .filter(|q| *q <= self.limits.max_quantity_per_line)
                    .ok_or_else(|| {
                        fail(&line_field(i, "quantity"), ViolationCode::OutOfRange, "combined quantity out of range")
                    })?;
                continue;
            }
            merged.push(Merged {
                sku: Sku::new(sku).map_err(|_| fail(&line_field(i, "sku"), ViolationCode::BadFormat, "invalid SKU"))?,
                variant: variant.into_owned(),
                product_name: crate::text::Text::from(line.product_name.trimmed()),
                quantity,
                unit_price: line.unit_price,
            });
        }

        let line_totals = merged
            .iter()
            .map(|m| m.unit_price.checked_mul(i64::from(m.quantity)))
            .collect::<Result<Vec<Money>, _>>()
            .map_err(|_| overflow("lines"))?;
        let subtotal = Money::checked_sum(currency, line_totals.iter().copied()).map_err(|_| overflow("lines"))?;
        let total = subtotal
            .checked_add(form.shipping_fee)
            .map_err(|_| overflow("shipping_fee"))?
            .checked_sub(form.discount)
            .map_err(|_| overflow("discount"))?;
        let minors: Vec<i64> = line_totals.iter().map(|t| t.minor).collect();
        let shares = allocate(form.discount.minor, &minors)
            .ok_or_else(|| fail("discount", ViolationCode::OutOfRange, "discount cannot be allocated to the lines"))?;

        let mut lines = Vec::with_capacity(merged.len());
        for (n, ((m, line_total), share)) in merged.into_iter().zip(line_totals).zip(shares).enumerate() {
            let id = n.checked_add(1).and_then(|id| u32::try_from(id).ok()).ok_or_else(|| overflow("lines"))?;
            let discount = Money::new(share, currency);
            let payable = line_total.checked_sub(discount).map_err(|_| overflow("discount"))?;
            lines.push(Line {
                id: LineId(id),
                sku: m.sku,
                product_name: m.product_name,
                variant: m.variant,
                quantity: m.quantity,
                unit_price: m.unit_price,
                line_total,
                discount,
                payable,
            });
        }

        let a = &form.shipping_address;
        let shipping_address = Address {
            recipient: a.recipient.trimmed().into(),
            phone: a.phone.trimmed().into(),
            country: normalize_country(&a.country)
                .ok_or_else(|| fail("shipping_address.country", ViolationCode::BadFormat, "invalid country code"))?
                .into(),
            province: a.province.trimmed().into(),
            city: a.city.trimmed().into(),
            district: a.district.trimmed().into(),
            street: a.street.iter().map(|s| s.trimmed()).filter(|s| !s.is_empty()).map(Into::into).collect(),
            postal_code: a.postal_code.trimmed().into(),
        };
        let payment = match &form.payment {
            PaymentMethod::Online { provider } => PaymentMethod::Online { provider: provider.trimmed().to_owned() },
            PaymentMethod::CashOnDelivery => PaymentMethod::CashOnDelivery,
        };

        Ok(OrderDraft {
            customer,
            currency,
            lines: lines.into(),
            shipping_address: shipping_address.into(),
            payment,
            totals: Totals { subtotal, shipping_fee: form.shipping_fee, discount: form.discount, total },
            buyer_note: form.buyer_note.trimmed().to_owned(),
        })
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

/// Splits `discount` over `weights` (line totals) in proportion, by largest remainder: the
/// shares sum to `discount` exactly and none exceeds its weight. `None` when the inputs make
/// that impossible (negative values, discount above the sum).
fn allocate(discount: i64, weights: &[i64]) -> Option<Vec<i64>> {
    if discount < 0 || weights.iter().any(|w| *w < 0) {
        return None;
    }
    let sum = weights.iter().try_fold(0i128, |acc, w| acc.checked_add(i128::from(*w)))?;
    let d = i128::from(discount);
    if d > sum {
        return None;
    }
    if d == 0 {
        return Some(vec![0; weights.len()]);
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given = 0i128;
    for (i, w) in weights.iter().enumerate() {
        // Both factors are below 2^63, so the product fits in i128.
        let exact = i128::from(*w).checked_mul(d)?;
        let share = exact.checked_div(sum)?;
        remainders.push((exact.checked_rem(sum)?, i));
        given = given.checked_add(share)?;
        shares.push(share);
    }
    let mut left = d.checked_sub(given)?;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (rem, i) in remainders {
        if left <= 0 || rem == 0 {
            break;
        }
        let share = shares.get_mut(i)?;
        *share = share.checked_add(1)?;
        left = left.checked_sub(1)?;
    }
    if left != 0 {
        return None;
    }
    shares.into_iter().map(|s| i64::try_from(s).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::AddressForm;
    use proptest::prelude::*;

    fn cny(minor: i64) -> Money {
        Money::new(minor, Currency::CNY)
    }

    fn line(sku: &str, quantity: i64, price: i64) -> LineForm {
        LineForm {
            sku: sku.into(),
            product_name: format!("product {sku}"),
            variant: Variant::new(),
            quantity,
            unit_price: cny(price),
        }
    }

    fn form(lines: Vec<LineForm>) -> PlaceOrderForm {
        PlaceOrderForm {
            customer: "c-1".into(),
            lines,
            shipping_address: AddressForm {
                recipient: "Li Lei".into(),
                phone: "13800138000".into(),
                country: "CN".into(),
                province: "Zhejiang".into(),
                city: "Hangzhou".into(),
                district: String::new(),
                street: vec!["1 West Lake Rd".into()],
                postal_code: "310000".into(),
            },
            payment: PaymentMethod::Online { provider: "alipay".into() },
            shipping_fee: cny(0),
            discount: cny(0),
            buyer_note: String::new(),
        }
    }

    #[test]
    fn allocation_is_exact_and_uses_largest_remainders() {
        assert_eq!(allocate(100, &[100, 100, 100]), Some(vec![34, 33, 33]));
        assert_eq!(allocate(10, &[1, 2, 7]), Some(vec![1, 2, 7]));
        assert_eq!(allocate(5, &[0, 10]), Some(vec![0, 5]));
        assert_eq!(allocate(2, &[1, 1, 1]), Some(vec![1, 1, 0]));
        assert_eq!(allocate(0, &[0, 0]), Some(vec![0, 0]));
        assert_eq!(allocate(1, &[0, 0]), None);
        assert_eq!(allocate(-1, &[5]), None);
        assert_eq!(allocate(6, &[5]), None);
        let big = allocate(i64::MAX, &[i64::MAX, 0]).unwrap();
        assert_eq!(big, vec![i64::MAX, 0]);
    }

    proptest! {
        #[test]
        fn allocation_invariants(
            weights in proptest::collection::vec(0i64..=i64::MAX / 200, 1..20),
            pick in 0.0f64..=1.0,
        ) {
            let sum: i64 = weights.iter().sum();
            // `pick` only chooses a test discount; no floats reach the allocator.
            let discount = ((sum as f64) * pick) as i64;
            let discount = discount.clamp(0, sum);
            let shares = allocate(discount, &weights).unwrap();
            prop_assert_eq!(shares.iter().sum::<i64>(), discount);
            for (s, w) in shares.iter().zip(&weights) {
                prop_assert!(*s >= 0 && s <= w);
                // within one minor unit of the exact share
                let exact = i128::from(*w) * i128::from(discount);
                let s = i128::from(*s) * i128::from(sum);
                prop_assert!((s - exact).abs() < i128::from(sum).max(1));
            }
        }
    }

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

    #[test]
    fn country_codes_are_normalized() {
        assert_eq!(normalize_country(" cn "), Some("CN".into()));
        assert_eq!(normalize_country("CHN"), None);
        assert_eq!(normalize_country("C1"), None);
        assert_eq!(normalize_country("ÄB"), None);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let mut f = form(vec![line("A", 1, 100)]);
        f.lines[0].product_name = "茶".repeat(200); // 600 bytes, 200 chars
        assert!(Validator::default().validate(&f).is_ok());
        f.lines[0].product_name.push('茶');
        let err = Validator::default().validate(&f).unwrap_err();
        assert!(err.has("lines[0].product_name", ViolationCode::TooLong));
    }

    #[test]
    fn variant_problems_name_the_attribute() {
        let mut f = form(vec![line("A", 1, 100)]);
        let v = &mut f.lines[0].variant;
        v.insert("colour".into(), "x".repeat(41));
        v.insert(" colour".into(), "red".into());
        v.insert("  ".into(), "blue".into());
        v.insert("size".into(), " ".into());
        let err = Validator::default().check(&f);
        assert!(err.has("lines[0].variant[\"colour\"]", ViolationCode::TooLong));
        assert!(err.has("lines[0].variant", ViolationCode::BadFormat));
        assert!(err.has("lines[0].variant", ViolationCode::Required));
        assert!(err.has("lines[0].variant[\"size\"]", ViolationCode::Required));
    }

    #[test]
    fn draft_is_trimmed_and_normalized() {
        let mut f = form(vec![line(" A ", 2, 150)]);
        f.customer = " c-1 ".into();
        f.shipping_address.country = "cn".into();
        f.shipping_address.street = vec!["".into(), "  1 Road ".into(), " ".into()];
        f.lines[0].variant.insert(" size ".into(), " L ".into());
        f.buyer_note = "  ring twice \n".into();
        let d = Validator::default().validate(&f).unwrap();
        assert_eq!(d.customer.as_str(), "c-1");
        assert_eq!(d.lines[0].sku.as_str(), "A");
        assert_eq!(d.lines[0].variant.get("size"), Some("L"));
        assert_eq!(d.shipping_address.country, "CN");
        assert_eq!(d.shipping_address.street, vec!["1 Road".to_owned()]);
        assert_eq!(d.buyer_note, "ring twice");
        assert_eq!(d.lines[0].line_total, cny(300));
    }

    #[test]
    fn trimmed_duplicates_are_merged() {
        let f = form(vec![line("A", 2, 150), line(" A", 3, 150), line("B", 1, 1)]);
        let d = Validator::default().validate(&f).unwrap();
        assert_eq!(d.lines.len(), 2);
        assert_eq!(d.lines[0].quantity, 5);
        assert_eq!(d.lines[1].id, LineId(2));
        assert_eq!(d.totals.subtotal, cny(751));
    }

    #[test]
    fn validator_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Validator>();
        assert!(format!("{:?}", Validator::default()).contains("rules: 18"));
    }
}
