//! Entry points for coverage-guided fuzzing of everything that parses outside bytes. Each one
//! must never panic, whatever the input. The fuzz targets under `fuzz/fuzz_targets/` call them,
//! and `tests/workflow/fuzz_corpus.rs` replays every saved corpus file through them as an ordinary test,
//! so a crash once found stays fixed.

use chrono::TimeZone;

use crate::decide::{Ctx, Workflow};
use crate::event::Event;
use crate::order::Order;
use crate::order_number::OrderNumber;
use crate::placement::PlaceOrderForm;
use crate::ports::{Logistics, PaymentGateway, RawMessage};
use crate::testing::{FakeCarrier, FakeGateway, t0};
use crate::{Command, Currency};

#[cfg(any(feature = "wechatpay", feature = "alipay", feature = "kuaidi100"))]
pub mod providers;

/// The targets, by name (also the corpus folder names); the provider notification parsers'
/// only with their provider's feature.
pub const TARGETS: &[&str] = &[
    "payment_notification",
    "tracking_push",
    "command",
    "events",
    "order_snapshot",
    "place_form",
    "order_number",
    #[cfg(feature = "wechatpay")]
    "wechatpay_notification",
    #[cfg(feature = "alipay")]
    "alipay_notification",
    #[cfg(feature = "kuaidi100")]
    "kuaidi100_push",
    #[cfg(all(feature = "alipay", feature = "kuaidi100"))]
    "engine_alipay_notification",
    #[cfg(all(feature = "alipay", feature = "kuaidi100"))]
    "engine_kuaidi100_push",
];

/// Runs target `name` on `data`. Unknown names do nothing.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "payment_notification" => payment_notification(data),
        "tracking_push" => tracking_push(data),
        "command" => command(data),
        "events" => events(data),
        "order_snapshot" => order_snapshot(data),
        "place_form" => place_form(data),
        "order_number" => order_number(data),
        #[cfg(feature = "wechatpay")]
        "wechatpay_notification" => providers::wechatpay_notification(data),
        #[cfg(feature = "alipay")]
        "alipay_notification" => providers::alipay_notification(data),
        #[cfg(feature = "kuaidi100")]
        "kuaidi100_push" => providers::kuaidi100_push(data),
        #[cfg(all(feature = "alipay", feature = "kuaidi100"))]
        "engine_alipay_notification" => providers::engine_alipay_notification(data),
        #[cfg(all(feature = "alipay", feature = "kuaidi100"))]
        "engine_kuaidi100_push" => providers::engine_kuaidi100_push(data),
        _ => {}
    }
}

pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    // The fakes, the memory store and the emulators in process never await anything real:
    // polling finishes them.
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// A payment notification: first the raw bytes as they come (headers missing or forged), then
/// the same body correctly signed, so the parser behind the signature check is reached too.
pub fn payment_notification(data: &[u8]) {
    let gateway = FakeGateway::new("alipay", b"fuzz-secret");
    let raw = RawMessage {
        headers: vec![("X-Signature".into(), String::from_utf8_lossy(data).into_owned())],
        body: data.to_vec(),
    };
    let _ = block_on(gateway.verify_notification(&raw, t0()));
    let signed = gateway.sign_body(data.to_vec(), t0());
    if let Ok(n) = block_on(gateway.verify_notification(&signed, t0())) {
        let _ = n.amount.to_string();
    }
}

/// A carrier's tracking push, raw and correctly signed.
pub fn tracking_push(data: &[u8]) {
    let carrier = FakeCarrier::new("SF", b"fuzz-secret");
    let raw = RawMessage { headers: Vec::new(), body: data.to_vec() };
    let _ = block_on(carrier.verify_tracking_push(&raw, t0()));
    let signed = carrier.sign_body(data.to_vec(), t0());
    let _ = block_on(carrier.verify_tracking_push(&signed, t0()));
}

fn sample_order() -> Option<Order> {
    let workflow = Workflow::default();
    let form = crate::testing::sample_form("alice");
    let new = crate::decide::NewOrder {
        id: crate::OrderId::from_uuid(uuid::Uuid::nil()),
        number: OrderNumber::from_value(1).ok()?,
    };
    let placed = workflow.place(&crate::testing::buyer("alice"), &form, new, &Ctx::at(t0())).ok()?;
    Order::from_events(&placed.events).ok()
}

/// A serialized command, decided against a placed order.
pub fn command(data: &[u8]) {
    let Ok(command) = serde_json::from_slice::<Command>(data) else { return };
    let Some(order) = sample_order() else { return };
    let _ = Workflow::default().decide(&order, &command, &Ctx::at(t0()));
}

/// A serialized event history, replayed (and each event applied to a placed order).
pub fn events(data: &[u8]) {
    let Ok(events) = serde_json::from_slice::<Vec<Event>>(data) else { return };
    let _ = Order::from_events(&events);
    if let Some(mut order) = sample_order() {
        for event in &events {
            crate::decide::evolve(&mut order, event);
        }
        let _ = order.status();
        let _ = order.next_deadline();
    }
}

/// A serialized order snapshot, read back and used.
pub fn order_snapshot(data: &[u8]) {
    let Ok(order) = serde_json::from_slice::<Order>(data) else { return };
    let _ = order.status();
    let _ = order.next_deadline();
    let _ = order.payment.state();
    let _ = order.payment.refundable();
}

/// A placement form, validated and placed.
pub fn place_form(data: &[u8]) {
    let Ok(form) = serde_json::from_slice::<PlaceOrderForm>(data) else { return };
    let Ok(number) = OrderNumber::from_value(7) else { return };
    let new = crate::decide::NewOrder { id: crate::OrderId::from_uuid(uuid::Uuid::nil()), number };
    let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_else(t0);
    let _ = Workflow::default().place(
        &crate::testing::staff("cs", &[crate::Role::CustomerService]),
        &form,
        new,
        &Ctx::at(now),
    );
}

/// An order number or currency code typed by a person.
pub fn order_number(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(number) = OrderNumber::parse(&text) {
        let _ = OrderNumber::parse(number.as_str());
    }
    let _ = Currency::parse(&text);
}
