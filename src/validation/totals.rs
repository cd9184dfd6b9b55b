//! Rules on the amounts: one currency, shipping fee, discount, totals that fit; and the
//! allocation of the discount to the lines.

use crate::money::{Currency, Money};
use crate::placement::PlaceOrderForm;

use super::lines::{line_field, quantity_ok, unit_price_ok};
use super::violations::Sum;
use super::{Limits, Rule, ViolationRule, Violations};

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

/// Every amount (unit prices, shipping fee, discount) is in the first line's currency; each
/// offender is reported at its own field.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleCurrency;

impl Rule for SingleCurrency {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        let currency = order_currency(form);
        let rule = || ViolationRule::CurrencyMismatch { currency };
        for (i, line) in form.lines.iter().enumerate() {
            if line.unit_price.currency != currency {
                out.broke(line_field(i, "unit_price"), rule());
            }
        }
        if form.shipping_fee.currency != currency {
            out.broke("shipping_fee", rule());
        }
        if form.discount.currency != currency {
            out.broke("discount", rule());
        }
    }
}

/// The shipping fee is not negative.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShippingFeeRange;

impl Rule for ShippingFeeRange {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        if form.shipping_fee.is_negative() {
            out.broke("shipping_fee", ViolationRule::Negative);
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
            out.broke("discount", ViolationRule::Negative);
            return;
        }
        if let Some(subtotal) = clean_subtotal(form, limits)
            && subtotal.currency == form.discount.currency
            && form.discount.minor > subtotal.minor
        {
            out.broke("discount", ViolationRule::DiscountAboveSubtotal { subtotal });
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
                    out.broke(line_field(i, "quantity"), ViolationRule::Overflow { sum: Sum::LineAmount });
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
                    out.broke(format!("lines[{i}]"), ViolationRule::Overflow { sum: Sum::Subtotal });
                    return;
                }
            }
        }
        if form.shipping_fee.currency != currency {
            return;
        }
        let Ok(with_shipping) = subtotal.checked_add(form.shipping_fee) else {
            out.broke("shipping_fee", ViolationRule::Overflow { sum: Sum::WithShipping });
            return;
        };
        if form.discount.currency == currency && with_shipping.checked_sub(form.discount).is_err() {
            out.broke("discount", ViolationRule::Overflow { sum: Sum::AfterDiscount });
        }
    }
}

/// Splits `discount` over `weights` (line totals) in proportion, by largest remainder: the
/// shares sum to `discount` exactly and none exceeds its weight. `None` when the inputs make
/// that impossible (negative values, discount above the sum).
pub(super) fn allocate(discount: i64, weights: &[i64]) -> Option<Vec<i64>> {
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
    use proptest::prelude::*;

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
}
