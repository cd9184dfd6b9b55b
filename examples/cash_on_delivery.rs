//! A cash-on-delivery order: nothing is due before shipping, the carrier collects the amount
//! at the door and reports it, and the order completes.
//!
//! `cargo run --example cash_on_delivery`

use chrono::TimeDelta;
use orderflow::testing::shop::EmulatedShop;
use orderflow::testing::{buyer, carrier, sample_cod_form};
use orderflow::{Action, Workflow, buyer_timeline};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let shop = EmulatedShop::emulated(Workflow::default(), 100);
    let placed = shop.place_form("bob", sample_cod_form("bob")).await;
    let id = placed.order.id();
    let total = placed.order.totals().total;
    println!(
        "placed {} ({}): {} due at the door, no pay-by deadline: {:?}",
        placed.order.number(),
        placed.order.status(),
        total,
        placed.order.deadlines().pay_by
    );

    // Approved automatically, and cash on delivery opens the payment gate: straight to the warehouse.
    let waybill = shop.ship_all(id).await;
    shop.clock.advance(TimeDelta::hours(30));
    shop.deliver(&waybill).await;

    // The courier collected the cash and the carrier reports the amount.
    shop.run(id, carrier("SF"), Action::RecordCodCollected { amount: total }).await;
    shop.run(id, buyer("bob"), Action::ConfirmReceipt).await;
    shop.engine.drain_outbox().await.ok();

    if let Ok(order) = shop.engine.order(id).await {
        println!(
            "status {}, payment {:?}, collected {:?}\n",
            order.status(),
            order.payment().state(),
            order.payment().cod_collected
        );
        for entry in buyer_timeline(&shop.engine.events(id).await.unwrap_or_default()) {
            println!("  {entry}");
        }
    }
}
