//! Rules on the order lines: count, SKU, product name, variant, quantity, unit price and
//! duplicates.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use crate::ids::check_external_id;
use crate::money::Money;
use crate::placement::{LineForm, PlaceOrderForm, Variant};
use crate::text::Trim;

use super::fields::{Text, check_text_at, report_id_error, within};
use super::{Limits, Rule, ViolationRule, Violations};

pub(super) fn line_field(i: usize, name: &str) -> String {
    format!("lines[{i}].{name}")
}

pub(super) fn quantity_ok(quantity: i64, limits: &Limits) -> bool {
    (1..=i64::from(limits.max_quantity_per_line)).contains(&quantity)
}

pub(super) fn unit_price_ok(price: Money, limits: &Limits) -> bool {
    (0..=limits.max_unit_price_minor).contains(&price.minor)
}

/// Variant with keys and values trimmed (what the draft stores and duplicates compare on).
pub(super) fn trimmed_variant(variant: &Variant) -> Variant {
    variant.iter().map(|(k, v)| (k.trimmed(), v.trimmed())).collect()
}

/// What makes two lines "the same product": trimmed SKU and variant. `None` for an invalid
/// SKU, which is reported on its own and never merged. Borrowed from the form (the variant is
/// copied only when some attribute needs trimming), so comparing lines allocates nothing.
pub(super) fn line_key(line: &LineForm) -> Option<LineKey<'_>> {
    let sku = line.sku.trimmed();
    check_external_id(sku).ok()?;
    let trimmed = line.variant.iter().all(|(k, v)| k.trimmed().len() == k.len() && v.trimmed().len() == v.len());
    let variant = if trimmed { Cow::Borrowed(&line.variant) } else { Cow::Owned(trimmed_variant(&line.variant)) };
    Some((sku, variant))
}

/// True when no two lines have the same trimmed SKU, checked pair by pair for a short form
/// (the usual case) so the line grouping can be skipped; `false` means "maybe".
pub(super) fn skus_distinct(lines: &[LineForm]) -> bool {
    lines.len() <= 16
        && lines.iter().enumerate().all(|(i, a)| lines.iter().skip(i + 1).all(|b| a.sku.trimmed() != b.sku.trimmed()))
}

/// A line's identity for duplicate detection: see [`line_key`].
pub(super) type LineKey<'a> = (&'a str, Cow<'a, Variant>);

/// The order has at least one line.
#[derive(Debug, Clone, Copy, Default)]
pub struct HasLines;

impl Rule for HasLines {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        if form.lines.is_empty() {
            out.broke("lines", ViolationRule::NoLines);
        }
    }
}

/// The order has at most [`Limits::max_lines`] lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineCount;

impl Rule for LineCount {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        if form.lines.len() > limits.max_lines {
            out.broke("lines", ViolationRule::TooManyLines { max: limits.max_lines });
        }
    }
}

/// Every SKU is a valid [`Sku`](crate::ids::Sku): 1 to 64 characters, no whitespace (after trimming).
#[derive(Debug, Clone, Copy, Default)]
pub struct SkuFormat;

impl Rule for SkuFormat {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        for (i, line) in form.lines.iter().enumerate() {
            if let Err(e) = check_external_id(line.sku.trimmed()) {
                report_id_error(out, &line_field(i, "sku"), e);
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
                out.broke(field(), ViolationRule::TooManyVariantAttributes { max: limits.max_variant_attributes });
            }
            // Names are the keys of a map, so they can only clash once trimmed: without
            // surrounding spaces there is nothing to track.
            let may_clash = line.variant.keys().any(|k| k.trimmed().len() != k.len());
            let mut seen = HashSet::new();
            for (name, value) in &line.variant {
                let name = name.trimmed();
                if name.is_empty() {
                    out.broke(field(), ViolationRule::VariantNameBlank);
                    continue;
                }
                if !within(name, max) {
                    out.broke(field(), ViolationRule::VariantNameTooLong { max });
                    continue;
                }
                if name.chars().any(char::is_control) {
                    out.broke(field(), ViolationRule::VariantNameControl);
                    continue;
                }
                if may_clash && !seen.insert(name) {
                    out.broke(field(), ViolationRule::VariantNameDuplicate);
                }
                let at = || format!("{}[{name:?}]", field());
                check_text_at(out, at, value, true, max, Text::SingleLine);
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
                out.broke(line_field(i, "quantity"), ViolationRule::Quantity { max: limits.max_quantity_per_line });
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
                out.broke(line_field(i, "unit_price"), ViolationRule::UnitPrice { max });
            }
        }
    }
}

/// Lines with the same SKU and variant: merged when the unit price is equal (the combined
/// quantity must respect the per-line maximum, else `out_of_range` at the later line's
/// `quantity`); rejected with `duplicate_line` at the later line when the price differs. See
/// the [module docs](crate::validation#duplicate-lines) for why.
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
                        out.broke(format!("lines[{i}]"), ViolationRule::DuplicateLine { first: *first });
                        continue;
                    }
                    *combined = combined.saturating_add(quantity);
                    if quantity > 0 && *combined > i64::from(limits.max_quantity_per_line) {
                        out.broke(
                            line_field(i, "quantity"),
                            ViolationRule::CombinedQuantity { max: limits.max_quantity_per_line },
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::validation::fixtures::{form, line};
    use crate::validation::{Validator, ViolationCode};

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
}
