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
