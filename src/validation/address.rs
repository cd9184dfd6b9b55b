//! Rules on the shipping address: complete fields, country code, phone and postal code.

use crate::address::CountryFormat;
use crate::placement::PlaceOrderForm;
use crate::text::Trim;

use super::fields::{Text, check_text, check_text_at, within};
use super::{Limits, Rule, ViolationRule, Violations};

/// The trimmed country code if it is two ASCII letters (in either case).
fn country_code(country: &str) -> Option<&str> {
    let c = country.trimmed();
    (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())).then_some(c)
}

/// The format of the form's country: the permissive default for unlisted or invalid ones.
fn format_of(country: &str) -> &'static CountryFormat {
    // Formats are looked up ignoring case, so the code needs no upper-casing here.
    country_code(country).map_or(&CountryFormat::DEFAULT, CountryFormat::for_country)
}

/// Upper-cases a two-letter country code; `None` if it is not two ASCII letters.
pub(super) fn normalize_country(country: &str) -> Option<String> {
    country_code(country).map(str::to_ascii_uppercase)
}

/// The shipping address is complete (recipient, phone, country, at least one non-blank street
/// line, and the province and city where the country's [`CountryFormat`] asks for them) and
/// every field within its length limit. Shapes of country, phone and postal code are checked
/// by [`CountryCode`] and [`PhoneAndPostalCode`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressFields;

impl Rule for AddressFields {
    fn check(&self, form: &PlaceOrderForm, limits: &Limits, out: &mut Violations) {
        let a = &form.shipping_address;
        let format = format_of(&a.country);
        let field_max = limits.max_address_field_len;
        let text = [
            ("shipping_address.recipient", &a.recipient, true, limits.max_recipient_len),
            ("shipping_address.province", &a.province, format.province_required, field_max),
            ("shipping_address.city", &a.city, format.city_required, field_max),
            ("shipping_address.district", &a.district, false, field_max),
        ];
        for (field, value, required, max) in text {
            check_text(out, field, value, required, max, Text::SingleLine);
        }
        // Shapes (and so characters) of these are checked by CountryCode and
        // PhoneAndPostalCode; here only presence and length.
        let shaped = [
            ("shipping_address.phone", &a.phone, true, limits.max_phone_len),
            ("shipping_address.country", &a.country, true, usize::MAX),
            // Whether a postal code is needed depends on the country.
            ("shipping_address.postal_code", &a.postal_code, false, limits.max_postal_code_len),
        ];
        for (field, value, required, max) in shaped {
            let value = value.trimmed();
            if value.is_empty() {
                if required {
                    out.broke(field, ViolationRule::Required);
                }
            } else if !within(value, max) {
                out.broke(field, ViolationRule::TooLong { max });
            }
        }
        let mut non_blank = 0usize;
        for (i, line) in a.street.iter().enumerate() {
            if line.trimmed().is_empty() {
                continue;
            }
            non_blank = non_blank.saturating_add(1);
            check_text_at(out, || format!("shipping_address.street[{i}]"), line, false, field_max, Text::SingleLine);
        }
        if non_blank == 0 {
            out.broke("shipping_address.street", ViolationRule::NoStreetLine);
        } else if non_blank > limits.max_street_lines {
            out.broke("shipping_address.street", ViolationRule::TooManyStreetLines { max: limits.max_street_lines });
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
            out.broke("shipping_address.country", ViolationRule::CountryCode);
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
        let format = format_of(&a.country);
        // The country the messages name (its format's), built only when there is one to write.
        let country = || (format.country != "*").then(|| format.country.to_owned());
        let phone = a.phone.trimmed();
        if !phone.is_empty() && within(phone, limits.max_phone_len) && !format.accepts_phone(phone) {
            out.broke("shipping_address.phone", ViolationRule::PhoneShape { country: country() });
        }
        let postal = a.postal_code.trimmed();
        if postal.is_empty() {
            if format.postal_code_required {
                out.broke(
                    "shipping_address.postal_code",
                    ViolationRule::PostalCodeRequired { country: format.country.to_owned() },
                );
            }
        } else if within(postal, limits.max_postal_code_len) && !format.accepts_postal_code(postal) {
            out.broke("shipping_address.postal_code", ViolationRule::PostalCodeShape { country: country() });
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
