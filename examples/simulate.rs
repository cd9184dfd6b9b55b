//! Deterministic simulation of many orders with injected faults, paying through the Alipay
//! adapter and tracking through the Kuaidi100 adapter against their emulators (the providers'
//! real formats and signatures); prints orders per second and the verdict of every invariant.
//!
//! `--fakes` runs it on the scripted fakes instead (HMAC-signed JSON): the engine's own
//! throughput, without the providers' RSA signatures.
//!
//! `cargo run --release --example simulate -- --orders 100000 [--seed 7] [--no-faults] [--refund-attempts 12] [--fakes]`

use orderflow::testing::shop::Shop;
use orderflow::testing::simulation::{INVARIANTS, SimConfig, simulate, simulate_on};

fn arg(args: &[String], name: &str) -> Option<u64> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = SimConfig {
        seed: arg(&args, "--seed").unwrap_or(1),
        orders: arg(&args, "--orders").map(|n| n as usize).unwrap_or(10_000),
        batch: 2_000,
        faults: !args.iter().any(|a| a == "--no-faults"),
        max_refund_attempts: arg(&args, "--refund-attempts")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(SimConfig::default().max_refund_attempts),
    };
    let report = if args.iter().any(|a| a == "--fakes") {
        simulate_on(config, Shop::with_workflow).await
    } else {
        simulate(config).await
    };
    println!(
        "seed {}: {} orders in {:.1?} ({:.0} orders/s)",
        report.seed,
        report.orders,
        report.elapsed,
        report.orders_per_second()
    );
    println!("faults injected:");
    for (fault, n) in &report.faults {
        println!("  {n:>8}  {fault}");
    }
    println!("dead letters requeued by the operator after the outages: {}", report.requeued);
    println!("payments confirmed by the provider: {}", report.payments_confirmed);
    println!("pending refunds found settled by the reconciliation: {}", report.refunds_reconciled);
    println!("invariants:");
    for invariant in INVARIANTS {
        let checks = report.checks.get(invariant).copied().unwrap_or(0);
        let broken = report.violations.iter().filter(|v| v.contains(invariant)).count();
        println!("  {checks:>8} checks, {broken} violations  {invariant}");
    }
    println!("violations: {}", report.violations.len());
    for v in report.violations.iter().take(20) {
        println!("  {v}");
    }
    if !report.violations.is_empty() {
        std::process::exit(1);
    }
}
