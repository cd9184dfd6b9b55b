//! Rows exactly as the build before the stored codec wrote them (stored version 1, `v` inside
//! each event), for the upgrade tests of the durable stores.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

/// One order's history: placed, approved, paid, picking, cancelled by the buyer, refund
/// requested; one event per line.
pub const V1_EVENTS: &str = include_str!("../../src/stored/fixtures/v1_events.jsonl");
/// That order's snapshot.
pub const V1_SNAPSHOT: &str = include_str!("../../src/stored/fixtures/v1_snapshot.json");

/// The events of [`V1_EVENTS`] as the current build reads them (through the upcasters, as the
/// stores do), and their fold.
pub fn v1_history() -> (Vec<orderflow::Event>, orderflow::Order) {
    // The order id only names the event in an error message.
    let order = orderflow::OrderId::new_v7();
    let events: Vec<orderflow::Event> = V1_EVENTS
        .lines()
        .enumerate()
        .map(|(n, line)| orderflow::stored::StoredEvent::decode(line, 1, order, n + 1).unwrap())
        .collect();
    let order = orderflow::Order::from_events(&events).unwrap();
    (events, order)
}
