//! Forms for the unit tests of the validation module: the sample form of `testing`, with the
//! lines each test needs and no fees, so totals are the lines' alone.

use crate::money::{Currency, Money};
use crate::placement::{LineForm, PlaceOrderForm, Variant};

pub(super) fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

pub(super) fn line(sku: &str, quantity: i64, price: i64) -> LineForm {
    LineForm {
        sku: sku.into(),
        product_name: format!("product {sku}"),
        variant: Variant::new(),
        quantity,
        unit_price: cny(price),
    }
}

pub(super) fn form(lines: Vec<LineForm>) -> PlaceOrderForm {
    PlaceOrderForm {
        lines,
        shipping_fee: cny(0),
        discount: cny(0),
        buyer_note: String::new(),
        ..crate::testing::sample_form("c-1")
    }
}
