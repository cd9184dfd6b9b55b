//! One online-paid order through all eight stages, on the engine with in-memory adapters,
//! paying through the Alipay adapter and tracking through the Kuaidi100 adapter, each against
//! its provider's emulator in process (real formats and signatures, nothing leaves the
//! machine). Prints the buyer's timeline and the staff view, and ends with the follow-up visit
//! scheduled after completion.
//!
//! The steps themselves are in `examples/common/walkthrough.rs`, shared with `sqlite_shop`,
//! which runs the same story on a SQLite file.
//!
//! `cargo run --example quickstart`

#[path = "common/walkthrough.rs"]
mod walkthrough;

use orderflow::MemoryStore;
use orderflow::testing::t0;
use walkthrough::{DemoShop, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let shop = DemoShop::new(MemoryStore::new(), t0())?;
    shop.walk_through(Some("checkout-7f3a")).await
}
