//! What the engine records through the `metrics` facade, read back with a test recorder
//! (metrics-util's `DebuggingRecorder`, installed for this thread only; each snapshot hands out
//! what was recorded since the previous one), and the spans of
//! `dispatch_outbox`, `run_due` and the webhooks.

use crate::common;

use std::collections::BTreeMap;

use chrono::TimeDelta;
use common::Shop;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use orderflow::engine::metrics as m;
use orderflow::testing::{Failure, Fault, buyer, warehouse};
use orderflow::{Action, Command};

/// Runs `test` on a current-thread runtime with a fresh recorder installed for this thread.
fn recorded<F: std::future::Future<Output = ()>>(test: impl FnOnce(Snapshotter) -> F) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(snapshotter)));
}

/// One snapshot of the recorder: what was recorded since the last one (the recorder hands each
/// counter's and gauge's value out once, resetting it).
struct Readings(BTreeMap<(String, Vec<(String, String)>), DebugValue>);

fn read(snapshotter: &Snapshotter) -> Readings {
    Readings(
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
            .collect(),
    )
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    labels.sort();
    labels
}

impl Readings {
    fn get(&self, name: &str, pairs: &[(&str, &str)]) -> Option<&DebugValue> {
        self.0.get(&(name.to_owned(), labels(pairs)))
    }

    fn counter(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        match self.get(name, pairs) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name} {pairs:?} is not a counter: {other:?}"),
        }
    }

    fn gauge(&self, name: &str) -> f64 {
        match self.get(name, &[]) {
            Some(DebugValue::Gauge(v)) => v.into_inner(),
            other => panic!("{name} is not a gauge: {other:?}"),
        }
    }
}

#[test]
fn commands_are_counted_by_kind_and_result() {
    recorded(|metrics| async move {
        let shop = Shop::new();
        let id = shop.paid_order("amy").await;
        // The same request twice: the second is answered as applied before, nothing changed.
        for _ in 0..2 {
            let pick = Command::new(warehouse(), Action::IssuePickList);
            shop.engine.execute_idempotent(id, pick, "pick-1").await.unwrap();
        }
        // Refused: counted under the error's code.
        let refused = shop.engine.execute(id, Command::new(buyer("amy"), Action::ConfirmReceipt)).await.unwrap_err();
        // The store down: counted as such.
        shop.faults.store.inject(Failure::next(1).with(Fault::Unavailable("down".into())).of(&["load_for_command"]));
        let failed = shop.engine.execute(id, Command::new(buyer("amy"), Action::ConfirmReceipt)).await.unwrap_err();
        assert_ne!(refused.code(), failed.code());

        let seen = read(&metrics);
        assert_eq!(seen.counter(m::COMMANDS, &[("kind", "place"), ("result", "applied")]), 1);
        assert_eq!(seen.counter(m::COMMANDS, &[("kind", "capture_payment"), ("result", "applied")]), 1);
        assert_eq!(seen.counter(m::COMMANDS, &[("kind", "issue_pick_list"), ("result", "applied")]), 1);
        assert_eq!(seen.counter(m::COMMANDS, &[("kind", "issue_pick_list"), ("result", "unchanged")]), 1);
        assert_eq!(seen.counter(m::COMMANDS, &[("kind", "confirm_receipt"), ("result", refused.code())]), 1);
        assert_eq!(seen.counter(m::COMMANDS, &[("kind", "confirm_receipt"), ("result", failed.code())]), 1);
        assert_eq!(seen.counter(m::RETRIES, &[("kind", "confirm_receipt"), ("cause", "conflict")]), 0);
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
        let backlog = shop.engine.outbox_backlog().await.unwrap();
        assert_eq!((backlog.pending, backlog.ready, backlog.dead), (1, 0, 0), "waiting for its retry: {backlog:?}");
        let seen = read(&metrics);
        assert_eq!(seen.counter(m::OUTBOX, &[("effect", "notify"), ("result", "retrying")]), 1);
        assert_eq!(seen.gauge(m::OUTBOX_PENDING), 1.0);
        assert_eq!(seen.gauge(m::OUTBOX_READY), 0.0);

        shop.clock.advance(TimeDelta::minutes(2));
        shop.engine.outbox_backlog().await.unwrap();
        let seen = read(&metrics);
        assert_eq!(seen.gauge(m::OUTBOX_READY), 1.0);
        assert_eq!(seen.gauge(m::OUTBOX_OLDEST_PENDING), 120.0, "written at placement, two minutes ago");

        let report = shop.engine.drain_outbox().await.unwrap();
        assert_eq!(report.delivered, 1);
        shop.engine.outbox_backlog().await.unwrap();
        let seen = read(&metrics);
        assert_eq!(seen.counter(m::OUTBOX, &[("effect", "notify"), ("result", "delivered")]), 1);
        assert_eq!(seen.counter(m::OUTBOX, &[("effect", "notify"), ("result", "retrying")]), 0, "counted once");
        assert_eq!(seen.gauge(m::OUTBOX_PENDING), 0.0);
        assert_eq!(seen.gauge(m::OUTBOX_OLDEST_PENDING), 0.0);
        assert_eq!(seen.gauge(m::OUTBOX_DEAD), 0.0);
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
        let seen = read(&metrics);
        match seen.get(m::DEADLINE_LAG, &[("kind", "pay_by")]) {
            Some(DebugValue::Histogram(samples)) => {
                assert_eq!(samples.iter().map(|s| s.into_inner()).collect::<Vec<_>>(), [300.0]);
            }
            other => panic!("no pay-by lag recorded: {other:?}"),
        }
        assert_eq!(seen.counter(m::COMMANDS, &[("kind", "cancel_unpaid"), ("result", "applied")]), 1);
    });
}

/// The spans around the outbox, the timers and the webhooks, as a subscriber sees them.
#[test]
fn the_outbox_the_timers_and_the_webhooks_run_in_spans() {
    if !crate::in_own_process("engine_metrics::the_outbox_the_timers_and_the_webhooks_run_in_spans") {
        return;
    }
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
