//! What the engine records through the `metrics` facade, read back with a test recorder
//! (metrics-util's `DebuggingRecorder`, installed for this thread only), and the spans of
//! `dispatch_outbox`, `run_due` and the webhooks.

use crate::common;

use std::collections::BTreeMap;

use chrono::TimeDelta;
use common::Shop;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use orderflow::engine::metrics as m;
use orderflow::testing::{Failure, Fault, buyer};
use orderflow::{Action, Command};

/// Runs `test` on a current-thread runtime with a fresh recorder installed for this thread.
fn recorded<F: std::future::Future<Output = ()>>(test: impl FnOnce(Snapshotter) -> F) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(snapshotter)));
}

/// Every metric of the snapshot: name and sorted labels to value.
fn values(snapshotter: &Snapshotter) -> BTreeMap<(String, Vec<(String, String)>), DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> =
                key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    labels.sort();
    labels
}

fn counter(snapshotter: &Snapshotter, name: &str, pairs: &[(&str, &str)]) -> u64 {
    match values(snapshotter).get(&(name.to_owned(), labels(pairs))) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{name} {pairs:?} is not a counter: {other:?}"),
    }
}

fn gauge(snapshotter: &Snapshotter, name: &str) -> f64 {
    match values(snapshotter).get(&(name.to_owned(), Vec::new())) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

#[test]
fn commands_are_counted_by_kind_and_result() {
    recorded(|metrics| async move {
        let shop = Shop::new();
        let id = shop.paid_order("amy").await;
        assert_eq!(counter(&metrics, m::COMMANDS, &[("kind", "place"), ("result", "applied")]), 1);
        assert_eq!(counter(&metrics, m::COMMANDS, &[("kind", "capture_payment"), ("result", "applied")]), 1);
        // The same notification again: answered, nothing changed.
        let order = shop.engine.order(id).await.unwrap();
        let total = order.totals().total;
        let raw = shop.gateway.notify_paid(&order.number(), total, shop.clock.now());
        shop.engine.handle_payment_notification(&raw).await.unwrap();
        assert_eq!(counter(&metrics, m::COMMANDS, &[("kind", "capture_payment"), ("result", "unchanged")]), 1);
        // Refused: counted under the error's code.
        let refused = shop.engine.execute(id, Command::new(buyer("amy"), Action::ConfirmReceipt)).await.unwrap_err();
        let code = refused.code();
        assert_eq!(counter(&metrics, m::COMMANDS, &[("kind", "confirm_receipt"), ("result", code)]), 1, "{code}");
        // The store down: counted as such.
        shop.faults.store.inject(Failure::next(1).with(Fault::Unavailable("down".into())).of(&["load_for_command"]));
        let failed = shop.engine.execute(id, Command::new(buyer("amy"), Action::ConfirmReceipt)).await.unwrap_err();
        assert_eq!(counter(&metrics, m::COMMANDS, &[("kind", "confirm_receipt"), ("result", failed.code())]), 1);
    });
}

#[test]
fn deliveries_are_counted_by_effect_and_result_and_the_backlog_is_gauged() {
    recorded(|metrics| async move {
        let shop = Shop::new();
        shop.place("bea").await;
        shop.faults.notifier.inject(Failure::next(1).with(Fault::Unavailable("smtp down".into())));
        let first = shop.engine.dispatch_outbox().await.unwrap();
        assert_eq!((first.delivered, first.retrying), (0, 1), "{first:?}");
        assert_eq!(counter(&metrics, m::OUTBOX, &[("effect", "notify"), ("result", "retrying")]), 1);

        let backlog = shop.engine.outbox_backlog().await.unwrap();
        assert_eq!(gauge(&metrics, m::OUTBOX_PENDING), backlog.pending as f64);
        assert_eq!((backlog.pending, backlog.ready, backlog.dead), (1, 0, 0), "waiting for its retry: {backlog:?}");
        shop.clock.advance(TimeDelta::minutes(2));
        shop.engine.outbox_backlog().await.unwrap();
        assert_eq!(gauge(&metrics, m::OUTBOX_READY), 1.0);
        assert_eq!(gauge(&metrics, m::OUTBOX_OLDEST_PENDING), 120.0, "written at placement, two minutes ago");

        let report = shop.engine.drain_outbox().await.unwrap();
        assert_eq!(counter(&metrics, m::OUTBOX, &[("effect", "notify"), ("result", "delivered")]), 1);
        assert_eq!(report.delivered, 1);
        shop.engine.outbox_backlog().await.unwrap();
        assert_eq!(gauge(&metrics, m::OUTBOX_PENDING), 0.0);
        assert_eq!(gauge(&metrics, m::OUTBOX_OLDEST_PENDING), 0.0);
        assert_eq!(gauge(&metrics, m::OUTBOX_DEAD), 0.0);
    });
}

#[test]
fn deadlines_record_how_late_they_fired() {
    recorded(|metrics| async move {
        let shop = Shop::new();
        shop.place("cat").await;
        // Pay-by is 30 minutes after placement; the timer runs 5 minutes after that.
        shop.clock.advance(TimeDelta::minutes(35));
        let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
        assert_eq!(report.fired, 1, "{report:?}");
        let all = values(&metrics);
        match all.get(&(m::DEADLINE_LAG.to_owned(), labels(&[("kind", "pay_by")]))) {
            Some(DebugValue::Histogram(samples)) => {
                assert_eq!(samples.iter().map(|s| s.into_inner()).collect::<Vec<_>>(), [300.0]);
            }
            other => panic!("no pay-by lag recorded: {other:?}"),
        }
        assert_eq!(counter(&metrics, m::COMMANDS, &[("kind", "cancel_unpaid"), ("result", "applied")]), 1);
    });
}

/// The spans around the outbox, the timers and the webhooks, as a subscriber sees them.
#[test]
fn the_outbox_the_timers_and_the_webhooks_run_in_spans() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::Registry;

    #[derive(Clone, Default)]
    struct Spans(Arc<Mutex<Vec<String>>>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
        fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, _: &tracing::span::Id, _: Context<'_, S>) {
            let mut name = attrs.metadata().name().to_owned();
            struct Hook<'a>(&'a mut String);
            impl tracing::field::Visit for Hook<'_> {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                    if field.name() == "hook" {
                        self.0.push_str(&format!(" {value:?}"));
                    }
                }
            }
            attrs.record(&mut Hook(&mut name));
            self.0.lock().unwrap().push(name);
        }
    }

    let spans = Spans::default();
    let subscriber = Registry::default().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let shop = Shop::new();
            shop.paid_order("dan").await;
            shop.engine.dispatch_outbox().await.unwrap();
            shop.engine.run_due(shop.clock.now()).await.unwrap();
        });
    });
    let seen = spans.0.lock().unwrap().clone();
    for expected in ["orderflow.webhook \"payment_notification\"", "orderflow.dispatch_outbox", "orderflow.run_due"] {
        assert!(seen.iter().any(|s| s == expected), "no span {expected}: {seen:?}");
    }
}
