//! What a buyer submits when placing an order (the *form*), and what it becomes once
//! validated (the *draft*).
//!
//! The form keeps loosely typed fields (`String`, `i64`) on purpose: a negative quantity or an
//! empty SKU must reach validation, so it can be reported together with every other problem
//! instead of failing on the first one during parsing.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::ids::{CustomerId, LineId, Sku};
use crate::money::{Currency, Money};
use crate::text::Text;

pub use crate::text::Variant;

/// How the buyer pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Online payment through a provider (e.g. `wechat_pay`, `alipay`); confirmed by the
    /// provider's asynchronous notification.
    Online {
        /// The provider's name, as the host's payment gateway knows it.
        provider: String,
    },
    /// Cash on delivery: nothing is due before shipping; the carrier collects at the door.
    CashOnDelivery,
}

impl PaymentMethod {
    /// True for cash on delivery.
    pub fn is_cod(&self) -> bool {
        matches!(self, PaymentMethod::CashOnDelivery)
    }
}

/// One line of the placement form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineForm {
    /// The product's SKU.
    pub sku: String,
    /// Product name as shown to the buyer (and checked at packing).
    pub product_name: String,
    /// Variant attributes (colour, size, ...).
    #[serde(default)]
    pub variant: Variant,
    /// Units ordered; must be in `1..=max_quantity_per_line`.
    pub quantity: i64,
    /// Price of one unit.
    pub unit_price: Money,
}

/// The shipping address as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddressForm {
    /// Person who receives the parcel.
    pub recipient: String,
    /// Phone number of the recipient.
    pub phone: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `CN`, `US`.
    pub country: String,
    /// Province or state.
    pub province: String,
    /// City.
    pub city: String,
    /// District (optional in most countries).
    #[serde(default)]
    pub district: String,
    /// Street lines (at least one).
    #[serde(default)]
    pub street: Vec<String>,
    /// Postal code (required where the country uses one).
    #[serde(default)]
    pub postal_code: String,
}

/// The placement form: everything a buyer submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrderForm {
    /// The buyer the order is for.
    pub customer: String,
    /// Ordered lines.
    pub lines: Vec<LineForm>,
    /// Where to ship.
    pub shipping_address: AddressForm,
    /// How the buyer pays.
    pub payment: PaymentMethod,
    /// Shipping fee charged to the buyer.
    pub shipping_fee: Money,
    /// Discount off the goods (not below zero, not above the goods' subtotal).
    pub discount: Money,
    /// Free-text note from the buyer.
    #[serde(default)]
    pub buyer_note: String,
}

/// One validated order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Line number within the order.
    pub id: LineId,
    /// The product's SKU.
    pub sku: Sku,
    /// Product name (shared with the pick list and the order's copies).
    pub product_name: Text,
    /// Variant attributes.
    pub variant: Variant,
    /// Units ordered.
    pub quantity: u32,
    /// Price of one unit.
    pub unit_price: Money,
    /// `unit_price * quantity`.
    pub line_total: Money,
    /// The part of the order discount allocated to this line (proportionally).
    pub discount: Money,
    /// What the buyer pays for this line: `line_total - discount`. Refunds per line never
    /// exceed it.
    pub payable: Money,
}

/// Order totals, all in the order's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of line totals.
    pub subtotal: Money,
    /// Shipping fee.
    pub shipping_fee: Money,
    /// Discount off the goods.
    pub discount: Money,
    /// `subtotal + shipping_fee - discount`: what the buyer owes.
    pub total: Money,
}

/// A validated placement: what the `OrderPlaced` event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDraft {
    /// The buyer.
    pub customer: CustomerId,
    /// Currency of every amount of the order.
    pub currency: Currency,
    /// Lines, numbered from 1; duplicates already merged. Shared with the orders built from
    /// this draft.
    pub lines: Arc<[Line]>,
    /// Validated shipping address (shared like `lines`).
    pub shipping_address: Arc<Address>,
    /// How the buyer pays.
    pub payment: PaymentMethod,
    /// Totals.
    pub totals: Totals,
    /// Buyer's note (may be empty).
    pub buyer_note: String,
}
