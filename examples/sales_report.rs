//! A sales report kept up to date from the event feed (`OrderRepository::events_after`), the way
//! a projection or an ERP sync follows a shop: it reads the events after its saved cursor,
//! folds them into its figures, and saves figures and cursor together, so after a restart it
//! resumes where it stopped and counts nothing twice.
//!
//! The shop here is the in-memory test shop (paying through Alipay's emulator); on SQLite or PostgreSQL the reader is the same
//! (`events_after` is a method of every store).
//!
//! `cargo run --example sales_report`

use std::collections::BTreeMap;

use orderflow::money::{Currency, Money};
use orderflow::ports::{FeedCursor, OrderRepository, StoreError};
use orderflow::testing::buyer;
use orderflow::testing::shop::EmulatedShop;
use orderflow::{Action, Change, Event, Workflow};
use serde::{Deserialize, Serialize};

/// Events read per call.
const PAGE: usize = 100;

/// The report: orders placed and cancelled, and money placed and captured per currency (minor
/// units), as of the feed position `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SalesReport {
    /// Where the report is up to: the feed cursor's text form.
    cursor: String,
    placed: u64,
    cancelled: u64,
    /// Order totals placed, per currency.
    ordered: BTreeMap<String, i64>,
    /// Money captured, per currency.
    captured: BTreeMap<String, i64>,
}

impl SalesReport {
    /// Reads the feed from the saved cursor to its end, folding in every event.
    async fn catch_up(&mut self, store: &impl OrderRepository) -> Result<usize, Box<dyn std::error::Error>> {
        let mut cursor: FeedCursor = if self.cursor.is_empty() { FeedCursor::START } else { self.cursor.parse()? };
        let mut read = 0;
        loop {
            let page = store.events_after(cursor, PAGE).await.map_err(|e: StoreError| e.to_string())?;
            if page.events.is_empty() {
                break;
            }
            for fed in &page.events {
                self.apply(&fed.event);
            }
            read += page.events.len();
            cursor = page.next;
        }
        self.cursor = cursor.to_string();
        Ok(read)
    }

    /// Folds one event into the figures.
    fn apply(&mut self, event: &Event) {
        let add = |figures: &mut BTreeMap<String, i64>, money: Money| {
            let sum = figures.entry(money.currency.as_str().to_owned()).or_default();
            *sum = sum.saturating_add(money.minor);
        };
        match &event.change {
            Change::OrderPlaced { draft, .. } => {
                self.placed += 1;
                add(&mut self.ordered, draft.totals.total);
            }
            Change::PaymentCaptured { amount, .. } => add(&mut self.captured, *amount),
            Change::OrderCancelled { .. } => self.cancelled += 1,
            _ => {}
        }
    }

    fn print(&self, heading: &str) {
        let money = |figures: &BTreeMap<String, i64>| {
            figures
                .iter()
                .filter_map(|(code, minor)| {
                    Currency::parse(code).ok().map(|currency| Money { minor: *minor, currency })
                })
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{heading}: {} placed ({}), {} cancelled, captured {} [feed at {}]",
            self.placed,
            money(&self.ordered),
            self.cancelled,
            money(&self.captured),
            self.cursor
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shop = EmulatedShop::emulated(Workflow::default(), 100);
    let store = &*shop.store;

    // Morning: three orders, two paid, one cancelled by its buyer.
    let mut ids = Vec::new();
    for customer in ["ann", "bo", "cai"] {
        ids.push(shop.place(customer).await.order.id());
    }
    shop.pay(ids[0]).await;
    shop.pay(ids[1]).await;
    shop.run(ids[2], buyer("cai"), Action::Cancel { reason: "ordered twice".into() }).await;

    let mut report = SalesReport::default();
    let read = report.catch_up(store).await?;
    report.print(&format!("after {read} events"));
    // Saved with the figures it belongs to (a file, a row next to the report, ...).
    let saved = serde_json::to_string(&report)?;

    // Afternoon: more business while the report is not running.
    let late = shop.place("dee").await.order.id();
    shop.pay(late).await;
    shop.place("eli").await;

    // A restart: the report comes back from what was saved and reads only what is new.
    let mut resumed: SalesReport = serde_json::from_str(&saved)?;
    let read = resumed.catch_up(store).await?;
    resumed.print(&format!("resumed, {read} new events"));

    let mut rebuilt = SalesReport::default();
    rebuilt.catch_up(store).await?;
    assert_eq!(resumed, rebuilt, "resuming from the saved cursor counts every event once");
    println!("the resumed report equals one rebuilt from the start of the feed");
    Ok(())
}
