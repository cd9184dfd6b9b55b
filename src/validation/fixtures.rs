//! Forms for the unit tests of the validation module.

use crate::money::{Currency, Money};
use crate::placement::{AddressForm, LineForm, PaymentMethod, PlaceOrderForm, Variant};

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
