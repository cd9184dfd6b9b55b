//! The quickstart on a SQLite database file: one online-paid order through all eight stages,
//! stored durably by `SqliteStore` (payments through the Alipay adapter and tracking through
//! the Kuaidi100 adapter, each against its emulator in process; stock is in memory). Run it twice: the second run first lists the orders the earlier runs
//! left in the file.
//!
//! `cargo run --example sqlite_shop --features sqlite [-- path/to/shop.sqlite]`
//! (default file: `orderflow-shop.sqlite` in the current folder)

#[path = "common/walkthrough.rs"]
mod walkthrough;

use std::sync::Arc;

use orderflow::adapters::sqlite::SqliteStore;
use orderflow::ports::{OrderFilter, OrderRepository};
use orderflow::testing::t0;
use walkthrough::{DemoShop, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "orderflow-shop.sqlite".to_owned());
    let store = Arc::new(SqliteStore::open(&path)?);
    println!("Database: {path}");
    let mut after = None;
    let mut earlier = 0;
    loop {
        let page = store.list(&OrderFilter::default(), after, 50).await?;
        for summary in &page.items {
            if earlier == 0 {
                println!("Orders from earlier runs:");
            }
            earlier += 1;
            println!(
                "  {}  {:<18} {}  placed {}",
                summary.number,
                summary.status.as_str(),
                summary.total,
                summary.placed_at.format("%Y-%m-%d %H:%M")
            );
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if earlier == 0 {
        println!("No orders yet: this is the first run.");
    }
    println!();

    // A steppable clock starting now lets the demonstration jump over days.
    let shop = DemoShop::new(store.clone(), chrono::Utc::now().max(t0()))?;
    shop.walk_through(None).await?;
    println!("\n{} order(s) stored in {path}; run again to see them listed.", store.order_count()?);
    Ok(())
}
