//! Deterministic simulation with injected faults, on the providers' real formats (the Alipay
//! and Kuaidi100 adapters over their emulators): a bounded number of seeds in CI. A failure
//! prints its seed; `cargo run --release --example simulate -- --seed N --orders M` replays it.

use orderflow::testing::simulation::{SimConfig, simulate};

#[tokio::test]
async fn simulated_orders_with_faults_keep_every_invariant() {
    for seed in 1..=8 {
        let report = simulate(SimConfig { seed, orders: 60, batch: 30, ..SimConfig::default() }).await;
        assert!(report.violations.is_empty(), "seed {seed} broke invariants:\n{}", report.violations.join("\n"));
        assert!(report.faults.values().sum::<usize>() > 0, "seed {seed}: no fault was injected");
        assert_eq!(report.orders, 60);
        // Most orders are paid online, through the Alipay emulator (15 % are cash on delivery,
        // about 8 % never paid).
        assert!(report.payments_confirmed >= 30, "seed {seed}: {} payments confirmed", report.payments_confirmed);
    }
}

#[tokio::test]
async fn the_same_seed_replays_the_same_run() {
    let config = SimConfig { seed: 42, orders: 40, batch: 40, ..SimConfig::default() };
    let first = simulate(config).await;
    let second = simulate(config).await;
    assert_eq!(first.faults, second.faults);
    assert_eq!(first.checks, second.checks);
    assert_eq!(first.violations.len(), second.violations.len());
}
