//! SQLite store latency next to the memory store: create an order, append one decided event,
//! load an order, append with an outbox row then claim and complete it.
//!
//! `cargo bench --bench sqlite_store --features sqlite` (under `cargo test --all-targets` each
//! benchmark runs once, as a test).

mod common;

use std::cell::Cell;
use std::hint::black_box;

use chrono::TimeDelta;
use common::TempDb;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::ports::{Commit, OrderRepository, OutboxEntry, WorkQueue};
use orderflow::testing::{conformance, provider, t0};
use orderflow::{Action, Command, Ctx, Effect, Event, MemoryStore, Order, Workflow, evolve};

fn commit<'a>(order: &'a Order, expected: u64, events: &'a [Event], outbox: &'a [OutboxEntry]) -> Commit<'a> {
    Commit { order, expected_version: expected, events, outbox, dedupe_keys: &[] }
}

fn anomaly(wf: &Workflow, base: &Order, n: u64) -> (Order, Vec<Event>) {
    let action = Action::RecordPaymentAnomaly {
        txn_id: format!("A-{n}"),
        amount: base.totals().total,
        reason: orderflow::AnomalyReason::stated("bench"),
    };
    let decision = wf.decide(base, &Command::new(provider(), action), &Ctx::at(t0())).unwrap_or_else(|e| panic!("{e}"));
    let mut next = base.clone();
    for e in &decision.events {
        evolve(&mut next, e);
    }
    (next, decision.events)
}

fn bench_store<S: OrderRepository + WorkQueue>(c: &mut Criterion, name: &str, store: &S) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
    let wf = Workflow::default();
    let number = Cell::new(1_000_u64);

    c.bench_function(&format!("{name}/create_order"), |b| {
        b.iter_batched(
            || {
                number.set(number.get() + 1);
                conformance::sample_order("bench", number.get(), t0())
            },
            |(order, events)| {
                rt.block_on(store.create(commit(&order, 0, &events, &[]))).unwrap_or_else(|e| panic!("{e}"))
            },
            BatchSize::SmallInput,
        )
    });

    // Each append goes to a fresh order (created in the untimed setup), so the measured work
    // does not grow with a history that only the benchmark would build.
    let fresh = |outbox_key: Option<String>| {
        number.set(number.get() + 1);
        let (order, events) = conformance::sample_order("bench", number.get(), t0());
        rt.block_on(store.create(commit(&order, 0, &events, &[]))).unwrap_or_else(|e| panic!("{e}"));
        let (next, events) = anomaly(&wf, &order, number.get());
        let effect = Effect::ClosePayment { provider: "alipay".into() };
        let outbox: Vec<OutboxEntry> =
            outbox_key.into_iter().map(|key| OutboxEntry { key, effect: effect.clone() }).collect();
        (order.version(), next, events, outbox)
    };
    c.bench_function(&format!("{name}/decide_and_append"), |b| {
        b.iter_batched(
            || fresh(None),
            |(expected, next, events, outbox)| {
                rt.block_on(store.append(commit(&next, expected, &events, &outbox))).unwrap_or_else(|e| panic!("{e}"))
            },
            BatchSize::SmallInput,
        )
    });

    let (order, events) = conformance::sample_order("bench", 1, t0());
    rt.block_on(store.create(commit(&order, 0, &events, &[]))).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function(&format!("{name}/load"), |b| {
        b.iter(|| black_box(rt.block_on(store.load(order.id())).unwrap_or_else(|e| panic!("{e}"))))
    });

    c.bench_function(&format!("{name}/outbox_append_claim_complete"), |b| {
        b.iter_batched(
            || {
                let key = format!("bench/{}", number.get() + 1);
                fresh(Some(key))
            },
            |(expected, next, events, outbox)| {
                rt.block_on(store.append(commit(&next, expected, &events, &outbox))).unwrap_or_else(|e| panic!("{e}"));
                let claimed =
                    rt.block_on(store.claim_outbox(t0(), TimeDelta::seconds(30), 10)).unwrap_or_else(|e| panic!("{e}"));
                for item in claimed {
                    rt.block_on(store.complete_outbox(&item.key)).unwrap_or_else(|e| panic!("{e}"));
                }
            },
            BatchSize::SmallInput,
        )
    });
}

fn benches(c: &mut Criterion) {
    bench_store(c, "memory", &MemoryStore::new());

    let db = TempDb::new("sqlite-store");
    let store = SqliteStore::open(db.path()).unwrap_or_else(|e| panic!("{e}"));
    bench_store(c, "sqlite_file", &store);
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);
