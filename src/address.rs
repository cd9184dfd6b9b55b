//! Shipping addresses and their per-country format rules.

use serde::{Deserialize, Serialize};

use crate::text::Text;

/// A validated shipping address (built by [`crate::validation::Validator`] from an
/// [`crate::placement::AddressForm`]). Text fields are trimmed, and shared between the
/// order, its placed event and the shipment effect (a copy costs no allocation per field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Person who receives the parcel.
    pub recipient: Text,
    /// Phone number, as given (trimmed).
    pub phone: Text,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: Text,
    /// Province or state.
    pub province: Text,
    /// City.
    pub city: Text,
    /// District (may be empty).
    pub district: Text,
    /// Street lines (at least one).
    pub street: Vec<Text>,
    /// Postal code (may be empty where the country has none).
    pub postal_code: Text,
}

impl Address {
    /// The address on one line, for labels and notifications.
    pub fn one_line(&self) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(6);
        parts.extend(self.street.iter().map(Text::as_str));
        for part in [&self.district, &self.city, &self.province, &self.postal_code, &self.country] {
            if !part.is_empty() {
                parts.push(part);
            }
        }
        parts.join(", ")
    }
}

/// How one country writes phone numbers and postal codes.
///
/// Only the *shape* is checked, never whether the number or code exists. The table is small on
/// purpose; every other country gets [`CountryFormat::DEFAULT`], which is permissive: shipping to
/// an odd-looking but real number beats turning a buyer away.
///
/// ```
/// use orderflow::address::CountryFormat;
/// let cn = CountryFormat::for_country("cn");
/// assert!(cn.accepts_phone("+86 138 0013 8000"));
/// assert!(!cn.accepts_postal_code("1000"));
/// assert!(CountryFormat::for_country("FR").accepts_postal_code("75008"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CountryFormat {
    /// ISO 3166-1 alpha-2 code the format applies to (`"*"` for the default).
    pub country: &'static str,
    /// The phone-number shape in words, for messages ("10 digits, optionally ...").
    pub phone_rule: &'static str,
    /// Checks a trimmed phone number.
    pub phone: fn(&str) -> bool,
    /// Whether addresses in this country must carry a postal code.
    pub postal_code_required: bool,
    /// Whether addresses in this country must name a province, state or region (German and
    /// British checkouts have no such field; Japanese ones require the prefecture).
    pub province_required: bool,
    /// Whether addresses in this country must name a city (Japanese addresses carry it in the
    /// street lines, Hong Kong and Macau ones have none).
    pub city_required: bool,
    /// The postal-code shape in words, for messages.
    pub postal_code_rule: &'static str,
    /// Checks a trimmed, non-empty postal code.
    pub postal_code: fn(&str) -> bool,
}

impl CountryFormat {
    /// Used for countries without an entry in [`COUNTRY_FORMATS`]: phone 5 to 20 characters of
    /// digits, spaces and `+-()` with at least 5 digits; postal code and province optional,
    /// the postal code at most 12 letters, digits, spaces or dashes; a city required (as most
    /// countries' checkouts do).
    pub const DEFAULT: CountryFormat = CountryFormat {
        country: "*",
        phone_rule: "5 to 20 characters of digits, spaces and + - ( ), with at least 5 digits",
        phone: default_phone,
        postal_code_required: false,
        province_required: false,
        city_required: true,
        postal_code_rule: "at most 12 letters, digits, spaces or dashes",
        postal_code: default_postal_code,
    };

    /// The format for a country code (case-insensitive); [`CountryFormat::DEFAULT`] when the
    /// country has no entry.
    pub fn for_country(country: &str) -> &'static CountryFormat {
        COUNTRY_FORMATS.iter().find(|f| f.country.eq_ignore_ascii_case(country)).unwrap_or(&DEFAULT_FORMAT)
    }

    /// True when `phone` (trimmed) has this country's shape.
    pub fn accepts_phone(&self, phone: &str) -> bool {
        (self.phone)(phone.trim())
    }

    /// True when `code` (trimmed, non-empty) has this country's shape. Whether an empty code
    /// is acceptable is [`CountryFormat::postal_code_required`]'s business.
    pub fn accepts_postal_code(&self, code: &str) -> bool {
        let code = code.trim();
        !code.is_empty() && (self.postal_code)(code)
    }
}

static DEFAULT_FORMAT: CountryFormat = CountryFormat::DEFAULT;

/// The countries with their own phone and postal-code shapes.
pub static COUNTRY_FORMATS: &[CountryFormat] = &[
    CountryFormat {
        country: "CN",
        phone_rule: "a mobile number of 11 digits starting with 1, or a landline of 10 to 12 digits \
                     starting with its area code 0, optionally prefixed by +86",
        phone: cn_phone,
        // Chinese checkouts (Taobao, JD, WeChat's address book) do not ask for one; couriers
        // route by province, city and district. Refusing an address without one loses orders.
        postal_code_required: false,
        province_required: true,
        city_required: true,
        postal_code_rule: "6 digits",
        postal_code: |c| shape(c) == "999999",
    },
    CountryFormat {
        country: "US",
        phone_rule: "10 digits, optionally prefixed by +1 or 1 (spaces, dashes, dots and parentheses \
                     allowed)",
        phone: us_phone,
        postal_code_required: true,
        province_required: true,
        city_required: true,
        postal_code_rule: "a ZIP code like 12345 or 12345-6789",
        postal_code: |c| matches!(shape(c).as_str(), "99999" | "99999-9999"),
    },
    CountryFormat {
        country: "GB",
        phone_rule: CountryFormat::DEFAULT.phone_rule,
        phone: default_phone,
        postal_code_required: true,
        province_required: false,
        city_required: true,
        postal_code_rule: "a postcode like SW1A 1AA",
        postal_code: gb_postcode,
    },
    CountryFormat {
        country: "DE",
        phone_rule: CountryFormat::DEFAULT.phone_rule,
        phone: default_phone,
        postal_code_required: true,
        province_required: false,
        city_required: true,
        postal_code_rule: "5 digits",
        postal_code: |c| shape(c) == "99999",
    },
    CountryFormat {
        country: "JP",
        phone_rule: CountryFormat::DEFAULT.phone_rule,
        phone: default_phone,
        postal_code_required: true,
        province_required: true,
        city_required: false,
        postal_code_rule: "7 digits like 123-4567",
        postal_code: |c| matches!(shape(c).as_str(), "999-9999" | "9999999"),
    },
    // Hong Kong and Macau have no postal codes and no cities; a Hong Kong address names its
    // region (Hong Kong Island, Kowloon, New Territories), a Macau one only its street.
    CountryFormat {
        country: "HK",
        phone_rule: "8 digits, optionally prefixed by +852",
        phone: |p| eight_digits(p, "+852"),
        postal_code_required: false,
        province_required: true,
        city_required: false,
        postal_code_rule: CountryFormat::DEFAULT.postal_code_rule,
        postal_code: default_postal_code,
    },
    CountryFormat {
        country: "MO",
        phone_rule: "8 digits, optionally prefixed by +853",
        phone: |p| eight_digits(p, "+853"),
        postal_code_required: false,
        province_required: false,
        city_required: false,
        postal_code_rule: CountryFormat::DEFAULT.postal_code_rule,
        postal_code: default_postal_code,
    },
];

/// Maps ASCII digits to `9` and ASCII letters to `A`, keeping everything else, so shapes can be
/// compared as plain strings.
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_ascii_alphabetic() {
                'A'
            } else {
                c
            }
        })
        .collect()
}

/// The ASCII digits of `s`, or `None` if it holds anything besides digits and `separators`.
fn digits(s: &str, separators: &[char]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if !separators.contains(&c) {
            return None;
        }
    }
    Some(out)
}

/// A mobile number (11 digits from `1`) or a landline with its area code (`0571-88888888`: 10
/// to 12 digits from `0`); after `+86` the landline's leading `0` is left out.
/// `0086`, the international prefix dialled from within China, is taken as `+86`.
fn cn_phone(phone: &str) -> bool {
    let (international, rest) = match phone.strip_prefix("+86").or_else(|| phone.strip_prefix("0086")) {
        Some(rest) => (true, rest),
        None => (false, phone),
    };
    digits(rest, &[' ', '-']).is_some_and(|d| {
        let mobile = d.len() == 11 && d.starts_with('1');
        let landline = if international {
            (9..=11).contains(&d.len()) && !d.starts_with(['0', '1'])
        } else {
            (10..=12).contains(&d.len()) && d.starts_with('0')
        };
        mobile || landline
    })
}

/// Ten digits; written with dots (`555.123.4567`) or the country code without its plus
/// (`1-555-123-4567`) as often as with `+1`, and every common checkout takes all three.
fn us_phone(phone: &str) -> bool {
    let (plus, rest) = match phone.strip_prefix("+1") {
        Some(rest) => (true, rest),
        None => (false, phone),
    };
    digits(rest, &[' ', '-', '.', '(', ')'])
        .is_some_and(|d| d.len() == 10 || (!plus && d.len() == 11 && d.starts_with('1')))
}

/// Hong Kong and Macau: eight digits after an optional country prefix.
fn eight_digits(phone: &str, prefix: &str) -> bool {
    let rest = phone.strip_prefix(prefix).unwrap_or(phone);
    digits(rest, &[' ', '-']).is_some_and(|d| d.len() == 8)
}

fn default_phone(phone: &str) -> bool {
    (5..=20).contains(&phone.chars().count()) && digits(phone, &[' ', '+', '-', '(', ')']).is_some_and(|d| d.len() >= 5)
}

fn default_postal_code(code: &str) -> bool {
    code.chars().count() <= 12
        && code.chars().any(|c| c.is_ascii_alphanumeric())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
}

/// UK postcodes: an outward code (`A9`, `A99`, `AA9`, `AA99`, `A9A`, `AA9A`), an optional
/// space, and an inward code `9AA`; letters in either case.
fn gb_postcode(code: &str) -> bool {
    let upper = code.to_ascii_uppercase();
    let (outward, inward) = match upper.split_once(' ') {
        Some((o, i)) => (o, i),
        None => match upper.char_indices().rev().nth(2) {
            Some((at, _)) => upper.split_at(at),
            None => return false,
        },
    };
    if outward == "GIR" && inward == "0AA" {
        return true;
    }
    matches!(shape(outward).as_str(), "A9" | "A99" | "AA9" | "AA99" | "A9A" | "AA9A") && shape(inward) == "9AA"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_skips_empty_parts() {
        let a = Address {
            recipient: "Li Lei".into(),
            phone: "13800138000".into(),
            country: "CN".into(),
            province: "Zhejiang".into(),
            city: "Hangzhou".into(),
            district: Text::default(),
            street: vec!["1 West Lake Rd".into()],
            postal_code: "310000".into(),
        };
        assert_eq!(a.one_line(), "1 West Lake Rd, Hangzhou, Zhejiang, 310000, CN");
    }

    #[test]
    fn china() {
        let f = CountryFormat::for_country("CN");
        for ok in
            ["13800138000", "+8613800138000", "+86 138 0013 8000", "138-0013-8000", "0571-88888888", "010-12345678"]
        {
            assert!(f.accepts_phone(ok), "{ok}");
        }
        assert!(f.accepts_phone("+86 571 88888888"), "a landline after +86 drops its 0");
        for bad in [
            "23800138000",
            "1380013800",
            "+1 13800138000",
            "１３８００１３８０００",
            "",
            "0571-8888",
            "+86 0571 88888888",
        ] {
            assert!(!f.accepts_phone(bad), "{bad}");
        }
        assert!(f.accepts_phone("0086 138 0013 8000"), "0086 is +86 dialled from China");
        assert!(!f.postal_code_required, "Chinese checkouts do not ask for a postal code");
        assert!(f.province_required && f.city_required, "couriers route by province and city");
        assert!(f.accepts_postal_code("310000"));
        assert!(!f.accepts_postal_code("31000"));
        assert!(!f.accepts_postal_code("31000a"));
    }

    #[test]
    fn united_states() {
        let f = CountryFormat::for_country("us");
        for ok in ["(555) 123-4567", "+1 555 123 4567", "555-123-4567", "5551234567", "555.123.4567", "1-555-123-4567"]
        {
            assert!(f.accepts_phone(ok), "{ok}");
        }
        for bad in ["555-1234", "+44 20 7946 0958", "2-555-123-4567", "+1 1 555 123 4567", "555/123/4567"] {
            assert!(!f.accepts_phone(bad), "{bad}");
        }
        assert!(f.accepts_postal_code("94105"));
        assert!(f.accepts_postal_code("94105-1234"));
        assert!(!f.accepts_postal_code("9410"));
        assert!(!f.accepts_postal_code("94105-12"));
    }

    #[test]
    fn great_britain_germany_japan() {
        let gb = CountryFormat::for_country("GB");
        for ok in ["SW1A 1AA", "sw1a1aa", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "GIR 0AA"] {
            assert!(gb.accepts_postal_code(ok), "{ok}");
        }
        for bad in ["SW1A", "12345", "SW1A 1A", "SW1A  1AA", "1AA"] {
            assert!(!gb.accepts_postal_code(bad), "{bad}");
        }
        let de = CountryFormat::for_country("DE");
        assert!(de.accepts_postal_code("10115"));
        assert!(!de.accepts_postal_code("1011"));
        assert!(!gb.province_required && !de.province_required, "no county or Land field in their checkouts");
        let jp = CountryFormat::for_country("JP");
        assert!(jp.province_required && !jp.city_required, "the prefecture, the city in the street lines");
        assert!(jp.accepts_postal_code("100-0001"));
        assert!(jp.accepts_postal_code("1000001"));
        assert!(!jp.accepts_postal_code("100-001"));
    }

    #[test]
    fn hong_kong_and_macau_have_no_postal_codes_or_cities() {
        let hk = CountryFormat::for_country("HK");
        assert!(!hk.postal_code_required && !hk.city_required && hk.province_required);
        assert!(hk.accepts_phone("+852 9123 4567") && hk.accepts_phone("91234567"));
        assert!(!hk.accepts_phone("9123 456"));
        let mo = CountryFormat::for_country("MO");
        assert!(!mo.postal_code_required && !mo.city_required && !mo.province_required);
        assert!(mo.accepts_phone("+853 6612 3456"));
    }

    #[test]
    fn default_is_permissive_but_bounded() {
        let f = CountryFormat::for_country("FR");
        assert_eq!(f.country, "*");
        assert!(!f.postal_code_required && !f.province_required && f.city_required);
        assert!(f.accepts_phone("+33 1 23 45 67 89"));
        assert!(!f.accepts_phone("1234"));
        assert!(!f.accepts_phone("call me maybe"));
        assert!(!f.accepts_phone(&"1".repeat(21)));
        assert!(f.accepts_postal_code("75008"));
        assert!(f.accepts_postal_code("SE-123 45"));
        assert!(!f.accepts_postal_code("1234567890123"));
        assert!(!f.accepts_postal_code("--"));
        assert!(!f.accepts_postal_code("75008\u{0}"));
    }
}
