//! Uniqueness of generated order numbers under concurrency and across nodes.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread;

use chrono::{DateTime, TimeZone, Utc};
use orderflow::order_number::{OrderNumber, OrderNumberGenerator, TimeOrderedNumbers};

const THREADS: usize = 16;
const PER_THREAD: usize = 20_000;

fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 30, 0).unwrap()
}

/// Draws `count` numbers on each of `threads` threads, all at the same instant.
fn draw_concurrently(generator: Arc<dyn OrderNumberGenerator>, threads: usize, count: usize) -> Vec<OrderNumber> {
    let now = fixed_now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let generator = Arc::clone(&generator);
            thread::spawn(move || (0..count).map(|_| generator.next_number(now)).collect::<Vec<_>>())
        })
        .collect();
    handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
}

#[test]
fn many_threads_in_the_same_millisecond_never_collide() {
    let generator: Arc<dyn OrderNumberGenerator> = Arc::new(TimeOrderedNumbers::new());
    let numbers = draw_concurrently(generator, THREADS, PER_THREAD);
    assert_eq!(numbers.len(), THREADS * PER_THREAD);

    let unique: HashSet<OrderNumber> = numbers.iter().copied().collect();
    assert_eq!(unique.len(), numbers.len(), "duplicate order numbers issued");

    let texts: HashSet<&str> = numbers.iter().map(OrderNumber::as_str).collect();
    assert_eq!(texts.len(), numbers.len(), "duplicate canonical texts");

    for number in &numbers {
        assert_eq!(OrderNumber::parse(number.as_str()).unwrap(), *number);
        assert_eq!(number.as_str().parse::<OrderNumber>().unwrap(), *number);
    }
}

#[test]
fn numbers_from_one_thread_increase() {
    let generator = TimeOrderedNumbers::new();
    let now = fixed_now();
    let numbers: Vec<_> = (0..1000).map(|_| generator.next_number(now)).collect();
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]));
    let later = generator.next_number(now + chrono::Duration::days(1));
    assert!(numbers.iter().all(|number| *number < later));
}

#[test]
fn different_nodes_use_disjoint_numbers() {
    let a: Arc<dyn OrderNumberGenerator> = Arc::new(TimeOrderedNumbers::with_node(3).unwrap());
    let b: Arc<dyn OrderNumberGenerator> = Arc::new(TimeOrderedNumbers::with_node(12).unwrap());
    let from_a: HashSet<OrderNumber> = draw_concurrently(a, 4, 10_000).into_iter().collect();
    let from_b: HashSet<OrderNumber> = draw_concurrently(b, 4, 10_000).into_iter().collect();
    assert_eq!(from_a.len(), 40_000);
    assert_eq!(from_b.len(), 40_000);
    assert!(from_a.is_disjoint(&from_b), "nodes 3 and 12 shared a number");
    assert!(from_a.iter().all(|n| n.value() & 0xF == 3));
    assert!(from_b.iter().all(|n| n.value() & 0xF == 12));
}

#[test]
fn every_node_is_disjoint_from_every_other() {
    let now = fixed_now();
    let mut seen = HashSet::new();
    for node in 0..=TimeOrderedNumbers::MAX_NODE {
        let generator = TimeOrderedNumbers::with_node(node).unwrap();
        for _ in 0..100 {
            assert!(seen.insert(generator.next_number(now)), "node {node} repeated a number");
        }
    }
    assert!(TimeOrderedNumbers::with_node(TimeOrderedNumbers::MAX_NODE + 1).is_err());
}

// Provider references: what WeChat Pay and Alipay are sent instead of the canonical text.

use orderflow::RefundId;
use orderflow::order_number::{MAX_VALUE, PROVIDER_REFERENCE_LEN};
use orderflow::ports::{parse_refund_reference, refund_reference};
use proptest::prelude::*;

/// WeChat Pay `out_trade_no`: 6 to 32 of letters, digits, `_ - | *`.
fn wechat_trade_no_ok(s: &str) -> bool {
    (6..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b))
}

/// WeChat Pay `out_refund_no`: 1 to 64 of letters, digits, `_ - | * @`.
fn wechat_refund_no_ok(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
}

/// Alipay `out_trade_no` and `out_request_no`: up to 64 of letters, digits and `_`.
fn alipay_no_ok(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_value(value: u64, refund: u32) {
    let number = OrderNumber::from_value(value).unwrap();
    let reference = number.provider_reference();
    assert_eq!(reference.len(), PROVIDER_REFERENCE_LEN);
    assert!(wechat_trade_no_ok(&reference) && alipay_no_ok(&reference), "{reference}");
    assert_eq!(OrderNumber::from_provider_reference(&reference), Ok(number));
    let refund_ref = refund_reference(&number, RefundId(refund));
    assert!(wechat_refund_no_ok(&refund_ref) && alipay_no_ok(&refund_ref), "{refund_ref}");
    assert_eq!(parse_refund_reference(&refund_ref), Some((number, RefundId(refund))));
}

#[test]
fn provider_references_fit_both_providers_and_map_back_at_the_edges() {
    for value in [0, 1, 31, 32, 36, 37, 1 << 25, MAX_VALUE - 1, MAX_VALUE] {
        for refund in [0, 1, 9, 10, u32::MAX] {
            check_value(value, refund);
        }
    }
    // The canonical text is not provider-safe: Alipay refuses its hyphens, WeChat Pay the
    // check symbols `~ $ =` (here 33 mod 37 gives `~`).
    let canonical = OrderNumber::from_value(33).unwrap();
    assert!(!alipay_no_ok(canonical.as_str()) && !wechat_trade_no_ok(canonical.as_str()), "{canonical}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn provider_references_fit_both_providers_and_map_back(value in 0..=MAX_VALUE, refund in any::<u32>()) {
        check_value(value, refund);
    }

    #[test]
    fn references_that_are_not_ours_are_refused(text in "\\PC{0,24}") {
        if let Ok(number) = OrderNumber::from_provider_reference(&text) {
            prop_assert_eq!(number.provider_reference(), text.clone());
        }
        if let Some((number, refund)) = parse_refund_reference(&text) {
            prop_assert_eq!(refund_reference(&number, refund), text);
        }
    }
}

#[test]
fn malformed_references_are_refused() {
    for bad in ["", "014D2PF2D", "014D2PF2DBB", "014d2pf2db", "014D-2PF2-", "014D2PF2D~", "014D2PF2DI"] {
        assert!(OrderNumber::from_provider_reference(bad).is_err(), "{bad:?}");
    }
    for bad in ["014D2PF2DB", "014D2PF2DBR", "014D2PF2DBR01", "014D2PF2DBR+1", "014D2PF2DBX1", "014D2PF2DBR1 "] {
        assert_eq!(parse_refund_reference(bad), None, "{bad:?}");
    }
}
