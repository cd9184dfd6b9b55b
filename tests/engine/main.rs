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
