//! Shipping addresses and their per-country format rules.

use serde::{Deserialize, Serialize};

/// A validated shipping address (built by [`crate::validation::Validator`] from an
/// [`crate::placement::AddressForm`]). Text fields are trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Person who receives the parcel.
    pub recipient: String,
    /// Phone number, as given (trimmed).
    pub phone: String,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: String,
    /// Province or state.
    pub province: String,
    /// City.
    pub city: String,
    /// District (may be empty).
    pub district: String,
    /// Street lines (at least one).
    pub street: Vec<String>,
    /// Postal code (may be empty where the country has none).
    pub postal_code: String,
}

impl Address {
    /// The address on one line, for labels and notifications.
    pub fn one_line(&self) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(6);
        parts.extend(self.street.iter().map(String::as_str));
        for part in [&self.district, &self.city, &self.province, &self.postal_code, &self.country] {
            if !part.is_empty() {
                parts.push(part);
            }
        }
        parts.join(", ")
    }
}
