//! The references orderflow sends fit WeChat Pay's alphabets and map back exactly.

use orderflow::OrderNumber;
use orderflow::ids::RefundId;
use orderflow::ports::{parse_refund_reference, refund_reference};

/// `out_trade_no`: 6 to 32 of letters, digits, `_-|*`.
fn is_out_trade_no(text: &str) -> bool {
    (6..=32).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-|*".contains(c))
}

/// `out_refund_no`: 1 to 64 of letters, digits, `_-|*@`.
fn is_out_refund_no(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-|*@".contains(c))
}

#[test]
fn order_and_refund_references_fit_wechat_pay_over_a_large_range_of_numbers() {
    let mut seen_awkward_check = false;
    for number in crate::shop::sample_numbers() {
        seen_awkward_check |= number.as_str().ends_with(['*', '~', '$', '=']);
        let reference = number.provider_reference();
        assert!(is_out_trade_no(&reference), "{number} -> {reference}");
        assert_eq!(OrderNumber::from_provider_reference(&reference), Ok(number));
        for refund in [RefundId(1), RefundId(17), RefundId(u32::MAX)] {
            let refund_no = refund_reference(&number, refund);
            assert!(is_out_refund_no(&refund_no), "{refund_no}");
            assert_eq!(parse_refund_reference(&refund_no), Some((number, refund)));
        }
    }
    assert!(seen_awkward_check, "the range must include numbers whose check symbol WeChat refuses");
}
