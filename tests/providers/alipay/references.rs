//! The references orderflow sends fit Alipay's alphabet and map back exactly.

use orderflow::ids::RefundId;
use orderflow::ports::{parse_refund_reference, refund_reference};

use super::emulator::is_alipay_no;

#[test]
fn order_and_refund_references_fit_alipay_over_a_large_range_of_numbers() {
    for number in crate::shop::sample_numbers() {
        let reference = number.provider_reference();
        assert!(is_alipay_no(&reference), "{number} -> {reference}");
        assert!(!is_alipay_no(number.as_str()), "the canonical number {number} has hyphens Alipay refuses");
        for refund in [RefundId(1), RefundId(17), RefundId(u32::MAX)] {
            let out_request_no = refund_reference(&number, refund);
            assert!(is_alipay_no(&out_request_no), "{out_request_no}");
            assert_eq!(parse_refund_reference(&out_request_no), Some((number, refund)));
        }
    }
}
