//! Stages 1–7 of one online-paid order driven through the pure core alone: no engine, no
//! storage, no I/O. Shows what `Workflow::decide` returns at each step and prints the buyer's
//! timeline. (`cargo run --example pure_core --features testing`)

use chrono::TimeDelta;
use orderflow::order::{TrackingKind, TrackingUpdate};
use orderflow::testing::{Scenario, buyer, carrier, pack_remaining, provider, sample_form, warehouse};
use orderflow::{Action, LineId, PackageId, buyer_timeline};

fn main() -> Result<(), orderflow::Error> {
    // 1. Placed (and auto-reviewed: stage 2 rules approve it).
    let mut s = Scenario::placed(sample_form("alice"));
    let total = s.order().totals().total;
    println!("placed order {} for {total}, status {}", s.order().number(), s.order().status());

    // 3. The provider's verified notification.
    s.advance(TimeDelta::minutes(3));
    s.when(provider(), Action::CapturePayment { txn_id: "ALI-0001".into(), amount: total })?;

    // 4. Pick and pack, verified against what was scanned.
    s.when(warehouse(), Action::IssuePickList)?;
    let pack = pack_remaining(s.order());
    s.when(warehouse(), pack)?;

    // 5. Carrier chosen, shipment created, waybill recorded.
    let package = PackageId(1);
    let reason = orderflow::ChoiceReason::stated("cheapest of 2 quotes");
    s.when(warehouse(), Action::BookShipment { package, carrier: "SF".into(), service: "standard".into(), reason })?;
    s.when(carrier("SF"), Action::RecordWaybill { package, waybill: "SF00000001".into() })?;

    // 6. Tracking, delivered.
    for (hours, kind) in [(4, TrackingKind::PickedUp), (20, TrackingKind::InTransit), (40, TrackingKind::Delivered)] {
        let at = s.now + TimeDelta::hours(hours);
        let update = TrackingUpdate {
            kind,
            at,
            event_id: format!("E{hours}").into(),
            location: "Hangzhou".into(),
            description: Default::default(),
        };
        s.when(carrier("SF"), Action::RecordTracking { waybill: "SF00000001".into(), update })?;
    }

    // 7. The buyer confirms receipt.
    s.advance(TimeDelta::days(2));
    s.when(buyer("alice"), Action::ConfirmReceipt)?;
    println!(
        "final status {}, line {} shipped {}",
        s.order().status(),
        LineId(1),
        s.order().fulfilment().shipped_quantity(LineId(1))
    );
    println!("\nbuyer timeline:");
    for entry in buyer_timeline(s.history()) {
        println!("  {entry}");
    }
    Ok(())
}
