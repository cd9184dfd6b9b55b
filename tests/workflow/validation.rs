//! Placement validation, end to end: valid forms, each kind of problem, many problems at once,
//! duplicate lines, host rules, per-country formats, and property tests.

use std::collections::BTreeMap;

use orderflow::placement::{AddressForm, LineForm, OrderDraft, PaymentMethod, PlaceOrderForm, Variant};
use orderflow::validation::{Limits, Rule, Validator, Violation, ViolationCode, Violations};
use orderflow::{Currency, LineId, Money};
use proptest::prelude::*;

use ViolationCode::*;

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::USD)
}

fn variant(pairs: &[(&str, &str)]) -> Variant {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn line(sku: &str, quantity: i64, unit_price: Money) -> LineForm {
    LineForm { sku: sku.into(), product_name: format!("Product {sku}"), variant: Variant::new(), quantity, unit_price }
}

fn cn_address() -> AddressForm {
    AddressForm {
        recipient: "李雷".into(),
        phone: "+86 138 0013 8000".into(),
        country: "CN".into(),
        province: "浙江省".into(),
        city: "杭州市".into(),
        district: "西湖区".into(),
        street: vec!["文三路 100 号".into()],
        postal_code: "310000".into(),
    }
}

/// Three lines: 2 × 50.00 + 1 × 33.33 + 3 × 0.01 = 133.36; shipping 8.00; discount 10.00.
fn cn_form() -> PlaceOrderForm {
    let mut tea = line("TEA-001", 2, cny(5_000));
    tea.product_name = "龙井茶".into();
    tea.variant = variant(&[("grade", "A")]);
    PlaceOrderForm {
        customer: "cust-42".into(),
        lines: vec![tea, line("CUP-7", 1, cny(3_333)), line("BOX", 3, cny(1))],
        shipping_address: cn_address(),
        payment: PaymentMethod::Online { provider: "alipay".into() },
        shipping_fee: cny(800),
        discount: cny(1_000),
        buyer_note: "请周末送货".into(),
    }
}

/// Two lines: 3 × 19.99 + 2 × 5.00 = 69.97; shipping 5.99; discount 7.00.
fn us_form() -> PlaceOrderForm {
    let mut shirt = line("SHIRT", 3, usd(1_999));
    shirt.variant = variant(&[("size", "M"), ("colour", "blue")]);
    PlaceOrderForm {
        customer: "jane@example.com".into(),
        lines: vec![shirt, line("SOCKS", 2, usd(500))],
        shipping_address: AddressForm {
            recipient: "Jane Doe".into(),
            phone: "+1 (415) 555-0132".into(),
            country: "us".into(),
            province: "CA".into(),
            city: "San Francisco".into(),
            district: String::new(),
            street: vec!["500 Howard St".into(), "Suite 300".into()],
            postal_code: "94105-1234".into(),
        },
        payment: PaymentMethod::CashOnDelivery,
        shipping_fee: usd(599),
        discount: usd(700),
        buyer_note: String::new(),
    }
}

fn ok(form: &PlaceOrderForm) -> OrderDraft {
    match Validator::default().validate(form) {
        Ok(draft) => draft,
        Err(v) => panic!("expected a valid form, got: {v}"),
    }
}

fn err(form: &PlaceOrderForm) -> Violations {
    err_with(&Validator::default(), form)
}

fn err_with(validator: &Validator, form: &PlaceOrderForm) -> Violations {
    match validator.validate(form) {
        Ok(_) => panic!("expected violations"),
        Err(v) => v,
    }
}

/// (field, code) pairs, sorted, duplicates kept: each problem must be reported exactly once.
fn pairs(v: &Violations) -> Vec<(String, ViolationCode)> {
    let mut p: Vec<_> = v.iter().map(|v| (v.field.clone(), v.code)).collect();
    p.sort();
    p
}

fn expect(list: &[(&str, ViolationCode)]) -> Vec<(String, ViolationCode)> {
    let mut p: Vec<_> = list.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect();
    p.sort();
    p
}

// ---------------------------------------------------------------------------------------------
// Valid forms
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_cn_form_produces_totals_and_allocates_the_discount() {
    let d = ok(&cn_form());
    assert_eq!(d.customer.as_str(), "cust-42");
    assert_eq!(d.currency, Currency::CNY);
    assert_eq!(d.totals.subtotal, cny(13_336));
    assert_eq!(d.totals.shipping_fee, cny(800));
    assert_eq!(d.totals.discount, cny(1_000));
    assert_eq!(d.totals.total, cny(13_136));

    let ids: Vec<_> = d.lines.iter().map(|l| l.id).collect();
    assert_eq!(ids, [LineId(1), LineId(2), LineId(3)]);
    let totals: Vec<_> = d.lines.iter().map(|l| l.line_total.minor).collect();
    assert_eq!(totals, [10_000, 3_333, 3]);
    // Exact shares 749.85, 249.93, 0.22: floors give 998, the two missing units go to the
    // largest remainders (line 2, then line 1).
    let discounts: Vec<_> = d.lines.iter().map(|l| l.discount.minor).collect();
    assert_eq!(discounts, [750, 250, 0]);
    let payable: Vec<_> = d.lines.iter().map(|l| l.payable.minor).collect();
    assert_eq!(payable, [9_250, 3_083, 3]);

    assert_eq!(d.lines[0].product_name, "龙井茶");
    assert_eq!(d.lines[0].variant, variant(&[("grade", "A")]));
    assert_eq!(d.shipping_address.country, "CN");
    assert_eq!(d.shipping_address.phone, "+86 138 0013 8000");
    assert_eq!(d.buyer_note, "请周末送货");
}

#[test]
fn valid_us_form_produces_totals_and_allocates_the_discount() {
    let d = ok(&us_form());
    assert_eq!(d.currency, Currency::USD);
    assert_eq!(d.totals.subtotal, usd(6_997));
    assert_eq!(d.totals.total, usd(6_896));
    let discounts: Vec<_> = d.lines.iter().map(|l| l.discount.minor).collect();
    assert_eq!(discounts, [600, 100]);
    assert_eq!(d.lines[0].payable, usd(5_397));
    assert_eq!(d.shipping_address.country, "US");
    assert_eq!(d.shipping_address.street.len(), 2);
    assert_eq!(d.payment, PaymentMethod::CashOnDelivery);
}

#[test]
fn free_items_and_a_full_discount_are_fine() {
    let mut f = cn_form();
    f.lines[2].unit_price = cny(0);
    f.discount = cny(13_333); // the whole subtotal
    f.shipping_fee = cny(0);
    let d = ok(&f);
    assert_eq!(d.totals.total, cny(0));
    assert!(d.lines.iter().all(|l| l.payable.is_zero()));
    assert_eq!(d.lines[2].discount, cny(0));
}

// ---------------------------------------------------------------------------------------------
// Single kinds of problem
// ---------------------------------------------------------------------------------------------

#[test]
fn an_empty_order_is_rejected() {
    let mut f = cn_form();
    f.lines.clear();
    assert_eq!(pairs(&err(&f)), expect(&[("lines", Required)]));
}

#[test]
fn zero_negative_and_huge_quantities_are_out_of_range() {
    let mut f = cn_form();
    f.discount = cny(0);
    f.lines = vec![
        line("A", 0, cny(100)),
        line("B", -5, cny(100)),
        line("C", 1_000, cny(100)),
        line("D", i64::MAX, cny(100)),
        line("E", i64::MIN, cny(100)),
        line("F", 1, cny(100)),
        line("G", 999, cny(100)),
    ];
    let v = err(&f);
    assert_eq!(
        pairs(&v),
        expect(&[
            ("lines[0].quantity", OutOfRange),
            ("lines[1].quantity", OutOfRange),
            ("lines[2].quantity", OutOfRange),
            ("lines[3].quantity", OutOfRange),
            ("lines[3].quantity", Overflow),
            ("lines[4].quantity", OutOfRange),
            ("lines[4].quantity", Overflow),
        ])
    );
    let msg = &v.iter().next().unwrap().message;
    assert_eq!(msg, "quantity must be between 1 and 999");
}

#[test]
fn a_lower_quantity_limit_is_honoured() {
    let mut limits = Limits::default();
    limits.max_quantity_per_line = 5;
    let v = err_with(&Validator::new(limits), &{
        let mut f = cn_form();
        f.lines[0].quantity = 6;
        f
    });
    assert_eq!(pairs(&v), expect(&[("lines[0].quantity", OutOfRange)]));
    assert!(v.to_string().contains("between 1 and 5"));
}

#[test]
fn mixed_currencies_are_reported_at_each_offending_field() {
    let mut f = cn_form();
    f.lines[1].unit_price = usd(3_333);
    f.shipping_fee = usd(800);
    f.discount = Money::new(1_000, Currency::EUR);
    assert_eq!(
        pairs(&err(&f)),
        expect(&[
            ("lines[1].unit_price", CurrencyMismatch),
            ("shipping_fee", CurrencyMismatch),
            ("discount", CurrencyMismatch),
        ])
    );
}

#[test]
fn negative_prices_fees_and_discounts_are_out_of_range() {
    let mut f = cn_form();
    f.lines[0].unit_price = cny(-1);
    f.shipping_fee = cny(-1);
    f.discount = cny(-1);
    assert_eq!(
        pairs(&err(&f)),
        expect(&[("lines[0].unit_price", OutOfRange), ("shipping_fee", OutOfRange), ("discount", OutOfRange),])
    );
}

#[test]
fn a_discount_above_the_subtotal_is_out_of_range() {
    let mut f = cn_form();
    f.discount = cny(13_337);
    let v = err(&f);
    assert_eq!(pairs(&v), expect(&[("discount", OutOfRange)]));
    assert!(v.to_string().contains("CNY 133.36"), "{v}");
}

#[test]
fn overflowing_totals_are_reported_where_they_happen() {
    // Default limits: the price is also above the maximum unit price.
    let mut f = cn_form();
    f.lines = vec![line("BIG", 3, cny(i64::MAX / 2))];
    f.discount = cny(0);
    assert_eq!(pairs(&err(&f)), expect(&[("lines[0].unit_price", OutOfRange), ("lines[0].quantity", Overflow),]));

    // With the price limit lifted only the overflow remains.
    let mut limits = Limits::default();
    limits.max_unit_price_minor = i64::MAX;
    let loose = Validator::new(limits);
    assert_eq!(pairs(&err_with(&loose, &f)), expect(&[("lines[0].quantity", Overflow)]));

    // Each line fits, their sum does not.
    f.lines = vec![line("A", 1, cny(i64::MAX / 2 + 1)), line("B", 1, cny(i64::MAX / 2 + 1))];
    assert_eq!(pairs(&err_with(&loose, &f)), expect(&[("lines[1]", Overflow)]));

    // The goods fit, the shipping fee pushes the total over.
    f.lines = vec![line("A", 1, cny(100))];
    f.shipping_fee = cny(i64::MAX);
    assert_eq!(pairs(&err(&f)), expect(&[("shipping_fee", Overflow)]));
}

#[test]
fn an_empty_address_reports_every_missing_field() {
    let mut f = cn_form();
    f.shipping_address = AddressForm::default();
    assert_eq!(
        pairs(&err(&f)),
        expect(&[
            ("shipping_address.recipient", Required),
            ("shipping_address.phone", Required),
            ("shipping_address.country", Required),
            // Without a country, only what every country asks for: the province is optional
            // where no format says otherwise, the city required.
            ("shipping_address.city", Required),
            ("shipping_address.street", Required),
        ])
    );
}

#[test]
fn blank_street_lines_do_not_count() {
    let mut f = cn_form();
    f.shipping_address.street = vec![" ".into(), "\t".into()];
    assert_eq!(pairs(&err(&f)), expect(&[("shipping_address.street", Required)]));
}

#[test]
fn over_long_address_fields_are_reported_individually() {
    let mut f = cn_form();
    let a = &mut f.shipping_address;
    a.recipient = "名".repeat(61);
    a.province = "p".repeat(121);
    a.city = "c".repeat(121);
    a.district = "d".repeat(121);
    a.phone = "1".repeat(21);
    a.postal_code = "3".repeat(13);
    a.street = vec!["s".repeat(121), "ok".into(), "".into(), "ok".into(), "too many".into()];
    assert_eq!(
        pairs(&err(&f)),
        expect(&[
            ("shipping_address.recipient", TooLong),
            ("shipping_address.province", TooLong),
            ("shipping_address.city", TooLong),
            ("shipping_address.district", TooLong),
            ("shipping_address.phone", TooLong),
            ("shipping_address.postal_code", TooLong),
            ("shipping_address.street[0]", TooLong),
            ("shipping_address.street", TooMany),
        ])
    );

    // At the limits exactly, everything passes.
    let mut f = cn_form();
    let a = &mut f.shipping_address;
    a.recipient = "名".repeat(60);
    a.province = "p".repeat(120);
    a.street = vec!["s".repeat(120), "b".into(), "c".into()];
    ok(&f);
}

#[test]
fn one_hundred_lines_pass_and_one_hundred_and_one_do_not() {
    let mut f = cn_form();
    f.discount = cny(0);
    f.lines = (0..100).map(|i| line(&format!("SKU-{i}"), 1, cny(100))).collect();
    assert_eq!(ok(&f).lines.len(), 100);
    f.lines.push(line("SKU-100", 1, cny(100)));
    assert_eq!(pairs(&err(&f)), expect(&[("lines", TooMany)]));
}

#[test]
fn ids_texts_and_payment_are_checked() {
    let mut f = cn_form();
    f.customer = "  ".into();
    f.lines[0].sku = "TEA 001".into();
    f.lines[1].sku = "X".repeat(65);
    f.lines[2].product_name = "Box\u{7}".into();
    f.buyer_note = "第一行\n第二行".repeat(100); // 700 characters, line breaks allowed
    f.payment = PaymentMethod::Online { provider: "p".repeat(41) };
    assert_eq!(
        pairs(&err(&f)),
        expect(&[
            ("customer", Required),
            ("lines[0].sku", BadFormat),
            ("lines[1].sku", TooLong),
            ("lines[2].product_name", BadFormat),
            ("buyer_note", TooLong),
            ("payment.provider", TooLong),
        ])
    );
    f.payment = PaymentMethod::Online { provider: " ".into() };
    assert!(err(&f).has("payment.provider", Required));
}

#[test]
fn variant_limits_are_enforced() {
    let mut f = cn_form();
    f.lines[0].variant = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    f.lines[1].variant = variant(&[("size", &"L".repeat(41))]);
    f.lines[2].variant = Variant::from([("k".repeat(41), "v".to_owned())]);
    assert_eq!(
        pairs(&err(&f)),
        expect(&[
            ("lines[0].variant", TooMany),
            ("lines[1].variant[\"size\"]", TooLong),
            ("lines[2].variant", TooLong),
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// Many problems at once
// ---------------------------------------------------------------------------------------------

#[test]
fn a_form_with_many_problems_reports_each_at_its_field() {
    let mut f = cn_form();
    f.customer = "bad id".into();
    f.lines[0].quantity = 0;
    f.lines[0].variant = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    f.lines[1].sku = String::new();
    f.lines[1].unit_price = usd(3_333);
    f.lines[2].product_name = "   ".into();
    f.lines[2].unit_price = cny(-1);
    f.shipping_fee = cny(-5);
    f.discount = cny(-1);
    f.shipping_address.phone = "12345".into();
    f.shipping_address.postal_code = "3100".into();
    f.shipping_address.city = String::new();
    f.shipping_address.street = vec!["x".repeat(121)];
    f.buyer_note = "n".repeat(501);
    f.payment = PaymentMethod::Online { provider: String::new() };

    let v = err(&f);
    assert_eq!(
        pairs(&v),
        expect(&[
            ("customer", BadFormat),
            ("lines[0].quantity", OutOfRange),
            ("lines[0].variant", TooMany),
            ("lines[1].sku", Required),
            ("lines[1].unit_price", CurrencyMismatch),
            ("lines[2].product_name", Required),
            ("lines[2].unit_price", OutOfRange),
            ("shipping_fee", OutOfRange),
            ("discount", OutOfRange),
            ("shipping_address.phone", BadFormat),
            ("shipping_address.postal_code", BadFormat),
            ("shipping_address.city", Required),
            ("shipping_address.street[0]", TooLong),
            ("buyer_note", TooLong),
            ("payment.provider", Required),
        ])
    );

    // Display lists every one; JSON carries field, code and message.
    let text = v.to_string();
    assert_eq!(text.split("; ").count(), v.len());
    assert!(text.contains("lines[0].quantity: quantity must be between 1 and 999"));
    let json = serde_json::to_value(&v).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 15);
    assert!(arr.iter().any(|e| e["field"] == "lines[1].unit_price"
        && e["code"] == "currency_mismatch"
        && e["message"].as_str().is_some_and(|m| m.contains("CNY"))));
}

// ---------------------------------------------------------------------------------------------
// Duplicate lines
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_lines_at_the_same_price_are_merged() {
    let mut f = cn_form();
    let mut again = f.lines[0].clone(); // TEA-001 {grade: A} @ 50.00
    again.quantity = 4;
    again.product_name = "another name".into();
    f.lines.push(again);
    // Same SKU, other variant: a different product.
    let mut other = f.lines[0].clone();
    other.variant = variant(&[("grade", "B")]);
    f.lines.push(other);

    let d = ok(&f);
    assert_eq!(d.lines.len(), 4);
    assert_eq!(d.lines[0].quantity, 6);
    assert_eq!(d.lines[0].product_name, "龙井茶");
    assert_eq!(d.lines[0].line_total, cny(30_000));
    assert_eq!(d.lines[3].id, LineId(4));
    assert_eq!(d.lines[3].variant, variant(&[("grade", "B")]));
    assert_eq!(d.totals.subtotal, cny(43_336));
    let allocated: i64 = d.lines.iter().map(|l| l.discount.minor).sum();
    assert_eq!(allocated, 1_000);
}

#[test]
fn merged_quantity_must_respect_the_line_maximum() {
    let mut f = cn_form();
    f.lines = vec![line("A", 500, cny(100)), line("A", 499, cny(100)), line("A", 1, cny(100)), line("A", 5, cny(100))];
    f.discount = cny(0);
    assert_eq!(pairs(&err(&f)), expect(&[("lines[2].quantity", OutOfRange), ("lines[3].quantity", OutOfRange),]));
    f.lines.truncate(2);
    assert_eq!(ok(&f).lines[0].quantity, 999);
}

#[test]
fn duplicate_lines_at_different_prices_are_rejected() {
    let mut f = cn_form();
    let mut again = f.lines[1].clone(); // CUP-7 @ 33.33
    again.unit_price = cny(3_000);
    f.lines.push(again);
    let v = err(&f);
    assert_eq!(pairs(&v), expect(&[("lines[3]", DuplicateLine)]));
    assert!(v.to_string().contains("lines[1]"));
}

// ---------------------------------------------------------------------------------------------
// Host rules
// ---------------------------------------------------------------------------------------------

struct NoCodAbove(i64);

impl Rule for NoCodAbove {
    fn check(&self, form: &PlaceOrderForm, _: &Limits, out: &mut Violations) {
        let goods: i64 =
            form.lines.iter().map(|l| l.unit_price.minor.saturating_mul(l.quantity)).fold(0, i64::saturating_add);
        if form.payment.is_cod() && goods > self.0 {
            out.push(Violation::new("payment", Custom, "cash on delivery is not offered for orders this large"));
        }
    }
}

#[test]
fn host_rules_add_their_violations_alongside_built_in_ones() {
    let validator = Validator::default()
        .with_rule(|form: &PlaceOrderForm, _: &Limits, out: &mut Violations| {
            if form.buyer_note.contains("http") {
                out.add("buyer_note", Custom, "links are not allowed in notes");
            }
        })
        .with_rule(NoCodAbove(5_000));

    let mut f = us_form();
    f.buyer_note = "see http://example.com".into();
    f.lines[1].quantity = 0;
    assert_eq!(
        pairs(&err_with(&validator, &f)),
        expect(&[("buyer_note", Custom), ("payment", Custom), ("lines[1].quantity", OutOfRange),])
    );

    // Host rules also run (and alone decide) on otherwise valid forms.
    let f = us_form();
    assert_eq!(pairs(&err_with(&validator, &f)), expect(&[("payment", Custom)]));
    assert!(Validator::default().with_rule(NoCodAbove(1_000_000)).validate(&f).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Per-country formats
// ---------------------------------------------------------------------------------------------

fn address_problems(country: &str, phone: &str, postal_code: &str) -> Vec<(String, ViolationCode)> {
    let mut f = cn_form();
    f.shipping_address.country = country.into();
    f.shipping_address.phone = phone.into();
    f.shipping_address.postal_code = postal_code.into();
    match Validator::default().validate(&f) {
        Ok(_) => Vec::new(),
        Err(v) => pairs(&v),
    }
}

#[test]
fn phone_and_postal_code_follow_the_country() {
    let phone = || ("shipping_address.phone".to_owned(), BadFormat);
    let postal = |code| ("shipping_address.postal_code".to_owned(), code);

    // China: a mobile (11 digits from 1) or a landline with its area code, optional +86; a
    // postal code is optional, as Chinese checkouts do not ask for one, but has 6 digits.
    assert_eq!(address_problems("CN", "13800138000", "310000"), []);
    assert_eq!(address_problems("cn", "+8613800138000", "310000"), []);
    assert_eq!(address_problems("CN", "010-12345678", "310000"), []);
    assert_eq!(address_problems("CN", "010-1234", "310000"), [phone()]);
    assert_eq!(address_problems("CN", "13800138000", ""), []);
    assert_eq!(address_problems("CN", "13800138000", "31000"), [postal(BadFormat)]);

    // United States: 10 digits, optional +1; ZIP or ZIP+4 required.
    assert_eq!(address_problems("US", "(415) 555-0132", "94105"), []);
    assert_eq!(address_problems("US", "+1 415-555-0132", "94105-1234"), []);
    assert_eq!(address_problems("US", "555-0132", "94105"), [phone()]);
    assert_eq!(address_problems("US", "4155550132", "9410"), [postal(BadFormat)]);
    assert_eq!(address_problems("US", "4155550132", ""), [postal(Required)]);
    assert_eq!(address_problems("US", "415.555.0132", "94105"), [], "dots, as US buyers write them");
    assert_eq!(address_problems("US", "1-415-555-0132", "94105"), [], "the country code without +");

    // Great Britain, Germany, Japan: postcode shapes, permissive phones.
    assert_eq!(address_problems("GB", "+44 20 7946 0958", "SW1A 1AA"), []);
    assert_eq!(address_problems("gb", "020 7946 0958", "ec1a1bb"), []);
    assert_eq!(address_problems("GB", "+44 20 7946 0958", "12345"), [postal(BadFormat)]);
    assert_eq!(address_problems("DE", "+49 30 123456", "10115"), []);
    assert_eq!(address_problems("DE", "+49 30 123456", "1011"), [postal(BadFormat)]);
    assert_eq!(address_problems("JP", "03-1234-5678", "100-0001"), []);
    assert_eq!(address_problems("JP", "03-1234-5678", "100-001"), [postal(BadFormat)]);
    assert_eq!(address_problems("JP", "03-1234-5678", ""), [postal(Required)]);

    // Anywhere else: permissive defaults, postal code optional.
    assert_eq!(address_problems("FR", "+33 1 23 45 67 89", ""), []);
    assert_eq!(address_problems("FR", "+33 1 23 45 67 89", "75008"), []);
    assert_eq!(address_problems("FR", "1234", ""), [phone()]);
    assert_eq!(address_problems("FR", "call me", "75_008"), [phone(), postal(BadFormat)]);

    // A bad country code is reported; phone and postal code get the default checks.
    assert_eq!(
        address_problems("China", "13800138000", "310000"),
        [("shipping_address.country".to_owned(), BadFormat)]
    );
}

/// The form's address moved to `country`, with its province and city set or blanked.
fn regional_problems(
    country: &str,
    phone: &str,
    postal: &str,
    province: &str,
    city: &str,
) -> Vec<(String, ViolationCode)> {
    let mut f = cn_form();
    let a = &mut f.shipping_address;
    (a.country, a.phone, a.postal_code, a.province, a.city) =
        (country.into(), phone.into(), postal.into(), province.into(), city.into());
    match Validator::default().validate(&f) {
        Ok(_) => Vec::new(),
        Err(v) => pairs(&v),
    }
}

#[test]
fn a_chinese_address_without_a_postal_code_is_an_order() {
    let mut f = cn_form();
    f.shipping_address.postal_code = String::new();
    let draft = ok(&f);
    assert!(draft.shipping_address.postal_code.is_empty());
    assert_eq!(draft.shipping_address.one_line(), "文三路 100 号, 西湖区, 杭州市, 浙江省, CN");
    // Dialled from within China, +86 is written 0086.
    f.shipping_address.phone = "0086 138 0013 8000".into();
    ok(&f);
    // Province and city are what Chinese couriers route by: still required.
    let problems = regional_problems("CN", "13800138000", "", "", "");
    let required = |field: &str| (format!("shipping_address.{field}"), Required);
    assert_eq!(problems, [required("city"), required("province")]);
}

#[test]
fn province_and_city_are_required_where_the_country_asks_for_them() {
    let required = |field: &str| (format!("shipping_address.{field}"), Required);
    // Germany and Great Britain: no state or county field in their checkouts.
    assert_eq!(regional_problems("DE", "+49 30 123456", "10115", "", "Berlin"), []);
    assert_eq!(regional_problems("GB", "020 7946 0958", "SW1A 1AA", "", "London"), []);
    assert_eq!(regional_problems("DE", "+49 30 123456", "10115", "", ""), [required("city")]);
    // Japan: the prefecture, the city written in the street lines.
    assert_eq!(regional_problems("JP", "03-1234-5678", "100-0001", "東京都", ""), []);
    assert_eq!(regional_problems("JP", "03-1234-5678", "100-0001", "", "千代田区"), [required("province")]);
    // United States: the state.
    assert_eq!(regional_problems("US", "4155550132", "94105", "", "San Francisco"), [required("province")]);
    // Hong Kong: a region, no city, no postal code; Macau: the street is enough.
    assert_eq!(regional_problems("HK", "+852 9123 4567", "", "九龍", ""), []);
    assert_eq!(regional_problems("HK", "9123 4567", "", "", ""), [required("province")]);
    assert_eq!(regional_problems("MO", "+853 6612 3456", "", "", ""), []);
    assert_eq!(regional_problems("MO", "6612 345", "", "", ""), [("shipping_address.phone".to_owned(), BadFormat)]);
    // Elsewhere: the city, as most checkouts ask; the province optional.
    assert_eq!(regional_problems("FR", "+33 1 23 45 67 89", "75008", "", "Paris"), []);
    assert_eq!(regional_problems("FR", "+33 1 23 45 67 89", "75008", "", ""), [required("city")]);
}

#[test]
fn country_specific_messages_name_the_rule() {
    let mut f = cn_form();
    f.shipping_address.phone = "12345".into();
    let v = err(&f);
    let m = &v.iter().next().unwrap().message;
    assert_eq!(
        m,
        "phone number in CN must be a mobile number of 11 digits starting with 1, or a landline of 10 \
         to 12 digits starting with its area code 0, optionally prefixed by +86"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn check_draft(form: &PlaceOrderForm, d: &OrderDraft) -> Result<(), TestCaseError> {
    let t = &d.totals;
    let allocated = d.lines.iter().try_fold(0i64, |acc, l| acc.checked_add(l.discount.minor)).unwrap();
    prop_assert_eq!(allocated, t.discount.minor);
    prop_assert_eq!(
        i128::from(t.total.minor),
        i128::from(t.subtotal.minor) + i128::from(t.shipping_fee.minor) - i128::from(t.discount.minor)
    );
    let subtotal: i128 = d.lines.iter().map(|l| i128::from(l.line_total.minor)).sum();
    prop_assert_eq!(subtotal, i128::from(t.subtotal.minor));
    let units: i128 = form.lines.iter().map(|l| i128::from(l.quantity)).sum();
    let merged_units: i128 = d.lines.iter().map(|l| i128::from(l.quantity)).sum();
    prop_assert_eq!(units, merged_units);
    for (n, l) in d.lines.iter().enumerate() {
        prop_assert_eq!(l.id, LineId(n as u32 + 1));
        prop_assert_eq!(i128::from(l.line_total.minor), i128::from(l.unit_price.minor) * i128::from(l.quantity));
        prop_assert!(l.discount.minor >= 0 && l.discount.minor <= l.line_total.minor);
        prop_assert_eq!(l.payable.minor, l.line_total.minor - l.discount.minor);
        // Within one minor unit of the exact proportional share.
        if t.subtotal.is_positive() {
            let exact = i128::from(l.line_total.minor) * i128::from(t.discount.minor);
            let got = i128::from(l.discount.minor) * i128::from(t.subtotal.minor);
            prop_assert!((got - exact).abs() < i128::from(t.subtotal.minor));
        }
        prop_assert_eq!(l.line_total.currency, d.currency);
    }
    Ok(())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,70}",
        "[a-zA-Z0-9 +()-]{0,14}",
        "1[0-9]{10}",
        Just(String::new()),
        Just(" ".to_owned()),
    ]
}

fn any_money() -> impl Strategy<Value = Money> {
    let currency = prop_oneof![Just(Currency::CNY), Just(Currency::USD), Just(Currency::JPY)];
    let minor = prop_oneof![any::<i64>(), -10i64..100_000, Just(i64::MAX), Just(i64::MIN), Just(i64::MAX / 2 + 1),];
    (currency, minor).prop_map(|(c, m)| Money::new(m, c))
}

fn any_line() -> impl Strategy<Value = LineForm> {
    (
        prop_oneof![any_text(), "[A-C]"],
        any_text(),
        proptest::collection::btree_map(any_text(), any_text(), 0..12),
        prop_oneof![any::<i64>(), -2i64..1_002],
        any_money(),
    )
        .prop_map(|(sku, product_name, variant, quantity, unit_price)| LineForm {
            sku,
            product_name,
            variant: variant.into(),
            quantity,
            unit_price,
        })
}

fn any_form() -> impl Strategy<Value = PlaceOrderForm> {
    let address =
        (
            (any_text(), any_text(), prop_oneof![any_text(), "[a-zA-Z]{2}"]),
            (any_text(), any_text(), any_text()),
            proptest::collection::vec(any_text(), 0..5),
            any_text(),
        )
            .prop_map(|((recipient, phone, country), (province, city, district), street, postal_code)| {
                AddressForm { recipient, phone, country, province, city, district, street, postal_code }
            });
    let payment = prop_oneof![
        Just(PaymentMethod::CashOnDelivery),
        any_text().prop_map(|provider| PaymentMethod::Online { provider }),
    ];
    (any_text(), proptest::collection::vec(any_line(), 0..8), address, payment, any_money(), any_money(), any_text())
        .prop_map(|(customer, lines, shipping_address, payment, shipping_fee, discount, buyer_note)| PlaceOrderForm {
            customer,
            lines,
            shipping_address,
            payment,
            shipping_fee,
            discount,
            buyer_note,
        })
}

/// Forms that are valid apart from amounts, quantities and duplicates, so many pass.
fn mostly_valid_form() -> impl Strategy<Value = PlaceOrderForm> {
    let line = (
        "[A-D]",
        prop_oneof![Just(Variant::new()), Just(variant(&[("size", "M")]))],
        1i64..60,
        prop_oneof![Just(0i64), Just(1), Just(999), Just(5_000), 0i64..1_000_000],
    )
        .prop_map(|(sku, variant, quantity, price)| LineForm {
            product_name: format!("Product {sku}"),
            sku,
            variant,
            quantity,
            unit_price: cny(price),
        });
    (proptest::collection::vec(line, 1..10), 0i64..10_000, 0u16..=1_100).prop_map(|(lines, shipping, per_mille)| {
        let mut f = cn_form();
        f.lines = lines;
        f.shipping_fee = cny(shipping);
        let subtotal: i64 = f.lines.iter().map(|l| l.unit_price.minor * l.quantity).sum();
        // Up to 110 % of the subtotal, so some discounts are too large.
        f.discount = cny(subtotal * i64::from(per_mille) / 1_000);
        f
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_forms_never_panic(form in any_form()) {
        let mut loose = Limits::default();
        loose.max_unit_price_minor = i64::MAX;
        loose.max_quantity_per_line = u32::MAX;
        loose.max_lines = usize::MAX;
        for validator in [Validator::default(), Validator::new(loose)] {
            match validator.validate(&form) {
                Ok(draft) => check_draft(&form, &draft)?,
                Err(v) => {
                    prop_assert!(!v.is_empty());
                    // The message names every violation, in report order (split on nothing: field paths
                    // may carry variant keys with any characters).
                    let each: Vec<String> = v.iter().map(ToString::to_string).collect();
                    prop_assert_eq!(v.to_string(), each.join("; "));
                    let json = serde_json::to_string(&v).unwrap();
                    let back: Violations = serde_json::from_str(&json).unwrap();
                    prop_assert_eq!(back, v);
                }
            }
        }
    }

    #[test]
    fn valid_forms_allocate_the_discount_exactly(form in mostly_valid_form()) {
        let mut seen: BTreeMap<(String, Variant), i64> = BTreeMap::new();
        let mut conflict = false;
        for l in &form.lines {
            let price = *seen.entry((l.sku.clone(), l.variant.clone())).or_insert(l.unit_price.minor);
            conflict |= price != l.unit_price.minor;
        }
        let subtotal: i64 = form.lines.iter().map(|l| l.unit_price.minor * l.quantity).sum();
        let result = Validator::default().validate(&form);
        prop_assert_eq!(result.is_ok(), form.discount.minor <= subtotal && !conflict, "{:?}", result);
        if let Ok(draft) = result {
            check_draft(&form, &draft)?;
            prop_assert_eq!(draft.lines.len(), seen.len());
        }
    }
}
