//! Rules on the shipping address: complete fields, country code, phone and postal code.

use crate::address::CountryFormat;
use crate::placement::PlaceOrderForm;
use crate::text::Trim;

use super::fields::{Text, check_text, check_text_at, within};
use super::{Limits, Rule, ViolationCode, Violations};

/// The trimmed country code if it is two ASCII letters (in either case).
fn country_code(country: &str) -> Option<&str> {
    let c = country.trimmed();
    (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())).then_some(c)
}

/// Upper-cases a two-letter country code; `None` if it is not two ASCII letters.
pub(super) fn normalize_country(country: &str) -> Option<String> {
    country_code(country).map(str::to_ascii_uppercase)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_normalized() {
        assert_eq!(normalize_country(" cn "), Some("CN".into()));
        assert_eq!(normalize_country("CHN"), None);
        assert_eq!(normalize_country("C1"), None);
        assert_eq!(normalize_country("ÄB"), None);
    }
}
