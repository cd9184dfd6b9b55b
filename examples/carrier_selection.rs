//! Quotes from two fake carriers for one parcel, and what each selection policy chooses and
//! why (in English and in Chinese); the chosen reason is recorded, typed, in the shipping event
//! (of an order paid through the Alipay adapter against its emulator).
//!
//! `cargo run --example carrier_selection`

use std::sync::Arc;

use orderflow::address::Address;
use orderflow::carrier_choice::{CarrierRule, CarrierSelector, Cheapest, Fastest, RuleBased};
use orderflow::effect::StockItem;
use orderflow::engine::{Adapters, Engine};
use orderflow::locale::{English, Localizer, SimplifiedChinese};
use orderflow::ports::{Logistics, Parcel};
use orderflow::testing::emulators::alipay;
use orderflow::testing::{FakeCarrier, MultiCarrier};
use orderflow::testing::{
    FixedClock, RecordingNotifier, TestPayments, buyer, pack_remaining, sample_form, t0, warehouse,
};
use orderflow::{Action, Command, MemoryInventory, MemoryStore, PackageId};
use orderflow::{Sku, Workflow};

fn address(province: &str) -> Address {
    Address {
        recipient: "Li Lei".into(),
        phone: "13800138000".into(),
        country: "CN".into(),
        province: province.into(),
        city: "-".into(),
        district: Default::default(),
        street: vec!["1 Main Road".into()],
        postal_code: "100000".into(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (english, chinese) = (Localizer::new(English), Localizer::new(SimplifiedChinese));
    // SF ships from Zhejiang; YTO from Guangdong with cheaper far-zone rates.
    let sf = Arc::new(FakeCarrier::new("SF", b"sf-secret"));
    let yto = Arc::new(FakeCarrier::new("YTO", b"yto-secret").with_origin(
        "CN",
        "Guangdong",
        ["Guangxi", "Fujian", "Hunan", "Jiangxi"],
    ));
    let carriers = MultiCarrier::new().with_fake(sf.clone()).with_fake(yto.clone());
    let sku = Sku::new("TEA-OOLONG").unwrap_or_else(|_| unreachable!("valid sku"));
    let parcel = Parcel { items: vec![StockItem { sku, quantity: 2 }], weight_grams: 2_500 };

    for province in ["Zhejiang", "Guangxi", "Beijing"] {
        let to = address(province);
        let quotes = carriers.quote(&parcel, &to).await.unwrap_or_default();
        println!("to {province}:");
        for q in &quotes {
            println!("  {:<4} {:<9} {:>10}  {} day(s)", q.carrier, q.service, q.cost.to_string(), q.estimated_days);
        }
        let rules = RuleBased {
            rules: vec![CarrierRule {
                provinces: vec!["Beijing".into()],
                min_weight_grams: 0,
                max_weight_grams: u32::MAX,
                carrier: "SF".into(),
                because: "SF has the contract for the capital".into(),
            }],
            fallback: Box::new(Cheapest),
        };
        let policies: [(&str, &dyn CarrierSelector); 3] =
            [("cheapest", &Cheapest), ("fastest", &Fastest), ("rules", &rules)];
        for (name, policy) in policies {
            if let Some(choice) = policy.select(&quotes, &parcel, &to) {
                println!("  {name:>8}: {}", english.carrier_choice(&choice.reason));
                println!("  {:>8}  {}", "", chinese.carrier_choice(&choice.reason));
            }
        }
        println!();
    }

    // Through the engine: the selector's reason lands in the shipment_booked event.
    let inventory = MemoryInventory::new();
    for s in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
        inventory.set_stock(&Sku::new(s).unwrap_or_else(|_| unreachable!("valid sku")), 10);
    }
    let clock = Arc::new(FixedClock::new(t0()));
    let gateway = Arc::new(alipay::gateway(Arc::new(alipay::Emulator::new(clock.clone()))));
    let engine = Engine::new(
        Workflow::default(),
        Adapters {
            store: MemoryStore::new(),
            payments: gateway.clone(),
            logistics: carriers,
            inventory,
            notifier: RecordingNotifier::new(),
            clock,
        },
    )
    .with_carrier_selector(Fastest)
    .with_weights(|_| 400);
    let Ok(placed) = engine.place(&buyer("alice"), &sample_form("alice"), None).await else { return };
    let id = placed.order.id();
    engine.start_payment(&buyer("alice"), id).await.ok();
    if let Some(paid) = gateway.buyer_pays(&placed.order.number(), placed.order.totals().total, t0()) {
        engine.handle_payment_notification(&paid).await.ok();
    }
    engine.execute(id, Command::new(warehouse(), Action::IssuePickList)).await.ok();
    let Ok(order) = engine.order(id).await else { return };
    let pack = pack_remaining(&order);
    engine.execute(id, Command::new(warehouse(), pack)).await.ok();
    if let Ok(booked) = engine.ship(&warehouse(), id, PackageId(1)).await {
        for event in booked.events {
            if let orderflow::Change::ShipmentBooked { carrier, service, reason, .. } = event.change {
                println!("engine booked {carrier} {service}: {}", english.carrier_choice(&reason));
            }
        }
    }
}
