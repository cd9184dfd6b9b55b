//! The pure core: every stage, bad input, the model-based test, permissions, placement validation, order numbers, the saved fuzz corpus, and the docs generated from the tables.
//!
//! One test binary per area (fewer links, a faster suite); each file below is one module.

mod core_bad_input;
mod core_stages;
mod diagram;
mod error_codes;
mod fuzz_corpus;
mod messages;
mod model;
mod order_number;
mod permissions;
mod validation;
