//! The size limits applied to a placement form.

use serde::{Deserialize, Serialize};

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
