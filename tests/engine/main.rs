//! The engine over the memory store and the fakes: every stage, callbacks, adapter failures, races, after-sales, dyn ports, the fakes themselves, the memory inventory, logs without secrets, and the deterministic simulation.
//!
//! One test binary per area (fewer links, a faster suite); each file below is one module.

#[path = "../common/mod.rs"]
mod common;

mod after_sales;
mod carrier_correction;
mod dyn_ports;
mod engine_callbacks;
mod engine_failures;
mod engine_metrics;
mod engine_races;
mod engine_stages;
mod fakes;
mod memory_inventory;
mod no_secrets_in_logs;
mod provider_switch;
mod settlement;
mod simulation;

/// Runs the test `name` (its path in this binary) again in a child process where it is the
/// only test, and says whether the caller is that child (then it runs its body). Tests that
/// install a tracing subscriber need it: tracing caches per callsite whether anyone listens,
/// and a callsite another test thread registers at the same moment can be cached as unheard.
fn in_own_process(name: &str) -> bool {
    const CHILD: &str = "ORDERFLOW_TEST_ALONE";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let binary = std::env::current_exe().unwrap();
    let run = std::process::Command::new(binary)
        .args([name, "--exact", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && out.contains("test result: ok. 1 passed"),
        "{name} in its own process:\n{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    false
}
