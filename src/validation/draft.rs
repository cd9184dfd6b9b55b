//! Building the order draft from a form the rules accepted: trimmed, normalized, duplicates
//! merged, totals computed and the discount allocated.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::address::Address;
use crate::ids::{CustomerId, LineId, Sku};
use crate::money::Money;
use crate::placement::{Line, OrderDraft, PaymentMethod, PlaceOrderForm, Totals, Variant};
use crate::text::Trim;

use super::address::normalize_country;
use super::lines::{LineKey, line_field, line_key, skus_distinct};
use super::totals::allocate;
use super::violations::Sum;
use super::{Validator, Violation, ViolationRule, Violations};

impl Validator {
    /// Builds the draft of a form the rules accepted. Every step is still checked, so a
    /// mistake here becomes a violation rather than a panic or a wrong order.
    pub(super) fn build(&self, form: &PlaceOrderForm) -> Result<OrderDraft, Violations> {
        let fail = |field: &str, rule| -> Violations { Violations::from(vec![Violation::broke(field, rule)]) };
        let overflow = |field: &str| fail(field, ViolationRule::Overflow { sum: Sum::Amount });

        let customer =
            CustomerId::new(form.customer.trimmed()).map_err(|_| fail("customer", ViolationRule::Invalid))?;
        let first = form.lines.first().ok_or_else(|| fail("lines", ViolationRule::NoLines))?;
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
            let (sku, variant) = line_key(line).ok_or_else(|| fail(&line_field(i, "sku"), ViolationRule::Invalid))?;
            let quantity = u32::try_from(line.quantity)
                .ok()
                .filter(|q| (1..=self.limits.max_quantity_per_line).contains(q))
                .ok_or_else(|| {
                    fail(&line_field(i, "quantity"), ViolationRule::Quantity { max: self.limits.max_quantity_per_line })
                })?;
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
                    return Err(fail(&format!("lines[{i}]"), ViolationRule::DuplicateLine { first: at }));
                }
                m.quantity =
                    m.quantity.checked_add(quantity).filter(|q| *q <= self.limits.max_quantity_per_line).ok_or_else(
                        || {
                            let max = self.limits.max_quantity_per_line;
                            fail(&line_field(i, "quantity"), ViolationRule::CombinedQuantity { max })
                        },
                    )?;
                continue;
            }
            merged.push(Merged {
                sku: Sku::new(sku).map_err(|_| fail(&line_field(i, "sku"), ViolationRule::Invalid))?,
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
        let shares = allocate(form.discount.minor, &minors).ok_or_else(|| fail("discount", ViolationRule::Invalid))?;

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
                .ok_or_else(|| fail("shipping_address.country", ViolationRule::CountryCode))?
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

#[cfg(test)]
mod tests {
    use crate::ids::LineId;
    use crate::validation::Validator;
    use crate::validation::fixtures::{cny, form, line};

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
}
