//! Security: no secret, signature or payment payload reaches error messages or tracing output.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use orderflow::ports::PaymentNotification;
use orderflow::testing::gateway::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use orderflow::testing::shop::Shop;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every span field and event field as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Text(&mut self.0.lock().unwrap()));
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Text(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        event.record(&mut Text(&mut self.0.lock().unwrap()));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn forged_replayed_and_mismatched_callbacks_leave_no_secret_in_errors_or_logs() {
    if !crate::in_own_process(
        "no_secrets_in_logs::forged_replayed_and_mismatched_callbacks_leave_no_secret_in_errors_or_logs",
    ) {
        return;
    }
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut leaked_candidates: Vec<String> = vec!["provider-secret".into()];
    let mut errors = String::new();
    runtime.block_on(async {
        let shop = Shop::new();
        let placed = shop.place("zoe").await;
        let n = PaymentNotification::new(
            placed.order.number(),
            "TXN-SECRET-PAYLOAD",
            orderflow::Money::new(1, placed.order.totals().total.currency),
            orderflow::ports::PaymentStatus::Succeeded,
        );
        let signed = shop.gateway.sign(&n, shop.clock.now());
        let forged = shop.gateway.forge(&n, shop.clock.now());
        let tampered = shop.gateway.tamper(&signed);
        for raw in [&signed, &forged, &tampered] {
            leaked_candidates.push(raw.header(SIGNATURE_HEADER).unwrap_or_default().to_owned());
            leaked_candidates.push(String::from_utf8_lossy(&raw.body).into_owned());
            let _ = raw.header(TIMESTAMP_HEADER);
            errors.push_str(&format!("{raw:?}"));
            if let Err(e) = shop.engine.handle_payment_notification(raw).await {
                errors.push_str(&format!("{e} {e:?}"));
            }
        }
    });
    let logs = capture.0.lock().unwrap().clone();
    assert!(logs.contains("payment notification refused"), "the refusals were logged: {logs}");
    for secret in leaked_candidates.iter().filter(|s| s.len() > 8) {
        assert!(!logs.contains(secret.as_str()), "tracing output leaks {secret:?}");
        assert!(!errors.contains(secret.as_str()), "an error leaks {secret:?}");
    }
}
