//! The order stores: the conformance suite on every store, bad stored input, SQLite (several processes, crashes) and PostgreSQL (several engines and processes).
//!
//! One test binary per area (fewer links, a faster suite); each file below is one module.

mod admin_cli;
mod old_rows;
mod postgres_hosting;
mod postgres_store;
mod sqlite_store;
mod store_bad_input;
mod store_conformance;
mod v1_rows;
