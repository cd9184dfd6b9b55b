//! After-sales on one delivered order: a return and refund, an exchange, a warranty repair and
//! a complaint with its follow-up, printing each case's timeline.
//!
//! `cargo run --example after_sales`

use chrono::TimeDelta;
use orderflow::order::{CaseKind, CaseLine, CaseRequest, ScannedItem};
use orderflow::testing::shop::EmulatedShop;
use orderflow::testing::{buyer, customer_service, warehouse};
use orderflow::timeline::case_timeline;
use orderflow::{Action, CaseId, LineId, OrderId, StaffId, Workflow, WorkflowConfig};

fn ask(kind: CaseKind, line: u32, quantity: u32, reason: &str, text: &str) -> Action {
    let lines = if quantity == 0 { Vec::new() } else { vec![CaseLine { line: LineId(line), quantity }] };
    let request = CaseRequest {
        kind,
        lines,
        reason_code: reason.into(),
        text: text.into(),
        evidence: vec![format!("photo-{reason}.jpg")],
    };
    Action::OpenCase { request }
}

async fn open(shop: &EmulatedShop, id: OrderId, action: Action) -> CaseId {
    let outcome = shop.run(id, buyer("alice"), action).await;
    outcome.order.cases().last().map(|c| c.id).unwrap_or(CaseId(0))
}

/// Approved, parcel sent back by the buyer, received and inspected (passed).
async fn returned(shop: &EmulatedShop, id: OrderId, case: CaseId) {
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    let waybill = format!("YT-RETURN-{case}");
    shop.run(id, buyer("alice"), Action::RecordReturnParcel { case, waybill }).await;
    shop.run(id, warehouse(), Action::ReceiveReturn { case }).await;
    shop.run(id, warehouse(), Action::InspectReturn { case, passed: true, note: "as described".into() }).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The mug has a one-year warranty in this shop.
    let mut config = WorkflowConfig::default();
    config.warranties.insert("MUG-CLAY".into(), TimeDelta::days(365));
    let shop = EmulatedShop::emulated(Workflow::new(config), 50);

    // One order, delivered and confirmed.
    let id = shop.paid_order("alice").await;
    let waybill = shop.ship_all(id).await;
    shop.deliver(&waybill).await;
    shop.run(id, buyer("alice"), Action::ConfirmReceipt).await;
    let number = shop.engine.order(id).await.map(|o| o.number().to_string()).unwrap_or_default();
    println!("order {number} delivered and confirmed\n");

    // 1. Return and refund: one tasting cup arrived chipped.
    let refund = open(&shop, id, ask(CaseKind::ReturnAndRefund, 3, 1, "damaged", "one cup arrived chipped")).await;
    returned(&shop, id, refund).await;
    shop.run(id, customer_service(), Action::RefundCase { case: refund, manual_reference: None }).await;
    shop.engine.drain_outbox().await.ok();
    shop.run(id, customer_service(), Action::CloseCase { case: refund }).await;

    // 2. Exchange: the wrong grade of tea; the same goods go out again, verified at packing.
    let exchange = open(&shop, id, ask(CaseKind::Exchange, 1, 1, "wrong_item", "got the standard grade")).await;
    returned(&shop, id, exchange).await;
    let order = shop.engine.order(id).await.ok();
    let scanned: Vec<ScannedItem> =
        order.iter().flat_map(|o| o.line(LineId(1))).map(|l| ScannedItem::of(l, 1)).collect();
    let packed = shop.run(id, warehouse(), Action::PackReplacement { case: exchange, scanned }).await;
    if let Some(parcel) = packed.order.case(exchange).and_then(|c| c.replacement) {
        shop.engine.ship(&warehouse(), id, parcel).await.ok();
        shop.engine.drain_outbox().await.ok();
        let replacement = shop.waybill(id, parcel).await;
        shop.deliver(&replacement).await;
    }
    shop.run(id, customer_service(), Action::CloseCase { case: exchange }).await;

    // 3. Warranty repair, four months later: the mug's glaze cracked.
    shop.clock.advance(TimeDelta::days(120));
    let repair = open(&shop, id, ask(CaseKind::WarrantyRepair, 2, 1, "defect", "glaze cracked")).await;
    returned(&shop, id, repair).await;
    let waybill = "SF-REPAIRED-0001".to_string();
    shop.run(id, warehouse(), Action::RecordRepairReturned { case: repair, waybill }).await;
    shop.run(id, customer_service(), Action::CloseCase { case: repair }).await;

    // 4. A complaint about the courier, handled, resolved and followed up.
    let complaint = open(&shop, id, ask(CaseKind::Complaint, 0, 0, "courier", "the courier was rude")).await;
    let assignee = StaffId::new("chen").unwrap_or_else(|_| unreachable!("a valid id"));
    shop.run(id, customer_service(), Action::AssignCase { case: complaint, assignee }).await;
    let resolution = "apologised, feedback passed to the carrier, coupon sent".to_string();
    shop.run(id, customer_service(), Action::ResolveCase { case: complaint, resolution }).await;
    shop.clock.advance(TimeDelta::days(3));
    shop.engine.run_due(shop.clock.now()).await.ok();
    let notes = "satisfied with the answer".to_string();
    shop.run(id, customer_service(), Action::RecordCaseFollowUp { case: complaint, score: 4, notes }).await;
    shop.engine.drain_outbox().await.ok();

    let events = shop.engine.events(id).await.unwrap_or_default();
    for (title, case) in
        [("Return and refund", refund), ("Exchange", exchange), ("Warranty repair", repair), ("Complaint", complaint)]
    {
        println!("{title} (case {case}):");
        for entry in case_timeline(&events, case, false) {
            println!("  {entry}");
        }
        println!();
    }
    if let Ok(order) = shop.engine.order(id).await {
        println!("refunded in total: {}", order.payment().refunded().map(|m| m.to_string()).unwrap_or_default());
    }
}
