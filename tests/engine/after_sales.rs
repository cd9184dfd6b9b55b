//! After-sales through the engine: every path, windows, money and unit limits, races, SLA.
//! `cargo test after_sales` selects these.

use crate::common;

use std::sync::Arc;

use chrono::TimeDelta;
use common::{Shop, sku};
use orderflow::engine::EngineError;
use orderflow::order::{CaseKind, CaseLine, CaseRequest, CaseState, ScannedItem, TrackingKind, UNKNOWN_CARRIER};
use orderflow::ports::OrderRepository;
use orderflow::testing::{Failure, buyer, customer_service, sample_cod_form, warehouse};
use orderflow::{Action, CaseId, Command, Error, LineId, OrderId, OrderStatus, StaffId, Workflow, WorkflowConfig};

fn request(kind: CaseKind, lines: &[(u32, u32)]) -> Action {
    Action::OpenCase {
        request: CaseRequest {
            kind,
            lines: lines.iter().map(|(line, quantity)| CaseLine { line: LineId(*line), quantity: *quantity }).collect(),
            reason_code: "damaged".into(),
            text: "the handle is cracked".into(),
            evidence: vec!["photo-1.jpg".into()],
        },
    }
}

fn shop_with_warranty() -> Shop {
    let mut config = WorkflowConfig::default();
    config.warranties.insert("MUG-CLAY".into(), TimeDelta::days(365));
    Shop::with_workflow(Workflow::new(config), 100)
}

/// Placed, paid, shipped, delivered and confirmed by the buyer.
async fn completed_order(shop: &Shop, customer: &str) -> OrderId {
    let id = shop.paid_order(customer).await;
    let waybill = shop.ship_all(id).await;
    shop.deliver(&waybill).await;
    shop.run(id, buyer(customer), Action::ConfirmReceipt).await;
    id
}

async fn open(shop: &Shop, id: OrderId, customer: &str, action: Action) -> Result<CaseId, EngineError> {
    let outcome = shop.engine.execute(id, Command::new(buyer(customer), action)).await?;
    Ok(outcome.order.cases().last().map(|c| c.id).unwrap())
}

async fn case_state(shop: &Shop, id: OrderId, case: CaseId) -> CaseState {
    shop.engine.order(id).await.unwrap().case(case).unwrap().state.clone()
}

async fn receive_and_inspect(shop: &Shop, id: OrderId, case: CaseId, passed: bool) {
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    shop.run(id, buyer_of(shop, id).await, Action::RecordReturnParcel { case, waybill: format!("RET-{case}") }).await;
    shop.run(id, warehouse(), Action::ReceiveReturn { case }).await;
    let note = if passed { String::new() } else { "water damage, not covered".into() };
    shop.run(id, warehouse(), Action::InspectReturn { case, passed, note }).await;
}

async fn buyer_of(shop: &Shop, id: OrderId) -> orderflow::Actor {
    orderflow::Actor::buyer(shop.engine.order(id).await.unwrap().customer().clone())
}

/// Refunds one unit of line 2 through a refund-only case on one order, and cancels another
/// paid order with `cancelled_because`: the case and the reasons the provider was sent.
async fn case_and_cancellation_refunds(shop: &Shop, cancelled_because: &str) -> (CaseId, Vec<String>) {
    let id = completed_order(shop, "mei").await;
    let case = open(shop, id, "mei", request(CaseKind::RefundOnly, &[(2, 1)])).await.unwrap();
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    shop.run(id, customer_service(), Action::RefundCase { case, manual_reference: None }).await;
    let paid = shop.paid_order("lan").await;
    shop.run(paid, customer_service(), Action::Cancel { reason: cancelled_because.into() }).await;
    shop.engine.drain_outbox().await.unwrap();
    (case, shop.gateway.refunds().into_iter().map(|r| r.reason).collect())
}

/// A Chinese shop tells the payment provider why it refunds in Chinese: the case's refund and
/// a cancellation's, as the buyer may see them in WeChat Pay or Alipay.
#[tokio::test]
async fn after_sales_refund_reasons_reach_the_provider_in_the_shops_language() {
    let config = WorkflowConfig { locale: orderflow::locale::Locale::ZhCn, ..WorkflowConfig::default() };
    let shop = Shop::with_workflow(Workflow::new(config), 100);
    let (case, reasons) = case_and_cancellation_refunds(&shop, "买家要求").await;
    assert_eq!(reasons, [format!("售后单 {case}：商品破损"), "订单已取消：买家要求".to_owned()]);
}

/// A host's own words for a refund reason (an override of kind `refund_reason`) are what the
/// provider is told, once the engine speaks through the host's localizer.
#[tokio::test]
async fn after_sales_refund_reasons_reach_the_provider_in_the_hosts_words() {
    use orderflow::locale::{Locale, Localizer, Message, Overrides, Rendered};
    let words = Overrides::new(Locale::En.catalogue()).with("refund_reason", |message, _| match message {
        Message::RefundReason(orderflow::RefundReason::OrderCancelled { .. }) => {
            Some(Rendered::new("Refund", "cancelled as you asked"))
        }
        _ => None,
    });
    let mut shop = Shop::new();
    let adapters = shop.engine.adapters().clone();
    shop.engine = orderflow::engine::Engine::new(Workflow::default(), adapters)
        .with_localizer(Localizer::for_shop(&WorkflowConfig::default()).with_catalogue(words));
    let (case, reasons) = case_and_cancellation_refunds(&shop, "out of stock").await;
    assert_eq!(reasons, [format!("after-sales case {case}: damaged"), "cancelled as you asked".to_owned()]);
}

#[tokio::test]
async fn after_sales_return_and_refund_goes_back_to_stock_and_refunds_the_line() {
    let shop = Shop::new();
    let id = completed_order(&shop, "amy").await;
    let case = open(&shop, id, "amy", request(CaseKind::ReturnAndRefund, &[(2, 1)])).await.unwrap();
    receive_and_inspect(&shop, id, case, true).await;
    shop.run(id, customer_service(), Action::RefundCase { case, manual_reference: None }).await;
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    let line = order.line(LineId(2)).unwrap().clone();
    assert_eq!(order.payment().refunded_for_line(line.id).unwrap(), line.payable);
    assert_eq!(shop.gateway.refunded_total(&order.number()), Some(line.payable));
    let reasons: Vec<String> = shop.gateway.refunds().into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons, [format!("after-sales case {case}: damaged")], "the provider is told why, in English");
    assert_eq!(shop.inventory.stock(&sku("MUG-CLAY")), (100, 0), "the returned mug is back on the shelf");
    shop.run(id, customer_service(), Action::CloseCase { case }).await;
    assert_eq!(case_state(&shop, id, case).await, CaseState::Closed);
    // A follow-up is scheduled after the case closes.
    shop.clock.advance(TimeDelta::days(3));
    shop.engine.run_due(shop.clock.now()).await.unwrap();
    shop.run(id, customer_service(), Action::RecordCaseFollowUp { case, score: 5, notes: "quick".into() }).await;
    let timeline = orderflow::timeline::case_timeline(&shop.engine.events(id).await.unwrap(), case, false);
    let titles: Vec<&str> = timeline.iter().map(|e| e.title.as_str()).collect();
    for expected in ["After-sales request", "Request accepted", "Return received", "Refund completed", "Case closed"] {
        assert!(titles.contains(&expected), "{expected} missing from {titles:?}");
    }
}

#[tokio::test]
async fn after_sales_failed_inspection_does_not_restock_or_refund() {
    let shop = Shop::new();
    let id = completed_order(&shop, "ben").await;
    let case = open(&shop, id, "ben", request(CaseKind::ReturnAndRefund, &[(2, 1)])).await.unwrap();
    receive_and_inspect(&shop, id, case, false).await;
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.inventory.stock(&sku("MUG-CLAY")), (99, 0));
    let refund = shop
        .engine
        .execute(id, Command::new(customer_service(), Action::RefundCase { case, manual_reference: None }))
        .await;
    assert!(matches!(refund, Err(EngineError::Rejected(Error::CaseState { .. }))));
    shop.run(id, customer_service(), Action::CloseCase { case }).await;
}

#[tokio::test]
async fn after_sales_exchange_ships_a_verified_replacement() {
    let shop = Shop::new();
    let id = completed_order(&shop, "cid").await;
    let case = open(&shop, id, "cid", request(CaseKind::Exchange, &[(2, 1)])).await.unwrap();
    receive_and_inspect(&shop, id, case, true).await;
    let line = shop.engine.order(id).await.unwrap().line(LineId(2)).unwrap().clone();
    let wrong = vec![ScannedItem {
        sku: line.sku.to_string(),
        product_name: line.product_name.to_string(),
        variant: Default::default(),
        quantity: 1,
    }];
    let refused =
        shop.engine.execute(id, Command::new(warehouse(), Action::PackReplacement { case, scanned: wrong })).await;
    assert!(matches!(refused, Err(EngineError::Rejected(Error::PackMismatch { .. }))));
    let right = vec![ScannedItem {
        sku: line.sku.to_string(),
        product_name: line.product_name.to_string(),
        variant: line.variant.clone(),
        quantity: 1,
    }];
    let packed = shop.run(id, warehouse(), Action::PackReplacement { case, scanned: right }).await;
    let parcel = packed.order.case(case).unwrap().replacement.unwrap();
    assert_eq!(shop.inventory.stock(&sku("MUG-CLAY")).1, 1, "the replacement is reserved");
    shop.engine.ship(&warehouse(), id, parcel).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.case(case).unwrap().state, CaseState::ReplacementShipped);
    assert_eq!(order.status(), OrderStatus::Completed, "the order's own status does not move");
    assert_eq!(order.fulfilment().shipped_quantity(LineId(2)), 1, "a replacement is not the order's goods");
    shop.run(id, customer_service(), Action::CloseCase { case }).await;
}

#[tokio::test]
async fn after_sales_warranty_repair_is_sent_back() {
    let shop = shop_with_warranty();
    let id = completed_order(&shop, "dan").await;
    shop.clock.advance(TimeDelta::days(100));
    let case = open(&shop, id, "dan", request(CaseKind::WarrantyRepair, &[(2, 1)])).await.unwrap();
    receive_and_inspect(&shop, id, case, true).await;
    shop.run(id, warehouse(), Action::RecordRepairReturned { case, waybill: "SF-REPAIR-1".into() }).await;
    assert_eq!(case_state(&shop, id, case).await, CaseState::RepairedAndReturned);
    shop.run(id, customer_service(), Action::CloseCase { case }).await;
}

#[tokio::test]
async fn after_sales_complaint_closes_after_its_follow_up() {
    let shop = Shop::new();
    let id = shop.paid_order("eva").await;
    let case = open(&shop, id, "eva", request(CaseKind::Complaint, &[])).await.unwrap();
    let assignee = StaffId::new("chen").unwrap();
    shop.run(id, customer_service(), Action::AssignCase { case, assignee }).await;
    shop.run(id, customer_service(), Action::ResolveCase { case, resolution: "apologised, coupon sent".into() }).await;
    let closing = shop.engine.execute(id, Command::new(customer_service(), Action::CloseCase { case })).await;
    assert!(matches!(closing, Err(EngineError::Rejected(Error::CaseState { .. }))), "closes only after the follow-up");
    shop.clock.advance(TimeDelta::days(3));
    shop.engine.run_due(shop.clock.now()).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    assert!(shop.notifier.kinds().contains(&"follow_up_due"));
    shop.run(id, customer_service(), Action::RecordCaseFollowUp { case, score: 4, notes: "happy now".into() }).await;
    assert_eq!(case_state(&shop, id, case).await, CaseState::Closed);
}

#[tokio::test]
async fn after_sales_refund_only_pays_without_a_return() {
    let shop = Shop::new();
    let id = completed_order(&shop, "fin").await;
    let case = open(&shop, id, "fin", request(CaseKind::RefundOnly, &[(3, 1)])).await.unwrap();
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    shop.run(id, customer_service(), Action::RefundCase { case, manual_reference: None }).await;
    let order = shop.engine.order(id).await.unwrap();
    let line = order.line(LineId(3)).unwrap();
    let expected = line.payable.minor / i64::from(line.quantity);
    assert_eq!(order.payment().refunded_for_line(LineId(3)).unwrap().minor, expected);
}

#[tokio::test]
async fn after_sales_window_expiry_too_late_to_return_still_under_warranty() {
    let shop = shop_with_warranty();
    let id = completed_order(&shop, "gia").await;
    shop.clock.advance(TimeDelta::days(8));
    let late = open(&shop, id, "gia", request(CaseKind::ReturnAndRefund, &[(2, 1)])).await;
    assert!(matches!(late, Err(EngineError::Rejected(Error::OutsideWindow { kind: CaseKind::ReturnAndRefund, .. }))));
    let no_warranty = open(&shop, id, "gia", request(CaseKind::WarrantyRepair, &[(1, 1)])).await;
    assert!(matches!(no_warranty, Err(EngineError::Rejected(Error::OutsideWindow { .. }))));
    assert!(open(&shop, id, "gia", request(CaseKind::WarrantyRepair, &[(2, 1)])).await.is_ok());
    shop.clock.advance(TimeDelta::days(400));
    assert!(open(&shop, id, "gia", request(CaseKind::Complaint, &[])).await.is_ok(), "complaints at any time");
}

#[tokio::test]
async fn after_sales_cannot_claim_more_units_than_delivered_or_refund_twice() {
    let shop = Shop::new();
    let id = completed_order(&shop, "hal").await;
    // Line 1 has 2 units.
    let too_many = open(&shop, id, "hal", request(CaseKind::ReturnAndRefund, &[(1, 3)])).await;
    assert!(matches!(too_many, Err(EngineError::Rejected(Error::TooManyUnits { requested: 3, claimable: 2, .. }))));
    let case = open(&shop, id, "hal", request(CaseKind::RefundOnly, &[(1, 2)])).await.unwrap();
    let second = open(&shop, id, "hal", request(CaseKind::Exchange, &[(1, 1)])).await;
    assert!(matches!(second, Err(EngineError::Rejected(Error::TooManyUnits { claimable: 0, .. }))));
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    shop.run(id, customer_service(), Action::RefundCase { case, manual_reference: None }).await;
    let again = shop
        .engine
        .execute(id, Command::new(customer_service(), Action::RefundCase { case, manual_reference: None }))
        .await;
    assert!(matches!(again, Err(EngineError::Rejected(Error::CaseState { .. }))));
    // Nor by hand above what is left for the line.
    let order = shop.engine.order(id).await.unwrap();
    let over = Action::RequestRefund {
        lines: vec![orderflow::order::LineRefund {
            line: LineId(1),
            amount: orderflow::Money::new(1, order.currency()),
        }],
        shipping: orderflow::Money::zero(order.currency()),
        reason: "goodwill".into(),
        manual_reference: None,
    };
    let refused = shop.engine.execute(id, Command::new(customer_service(), over)).await;
    assert!(matches!(refused, Err(EngineError::Rejected(Error::RefundExceedsRefundable { .. }))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sales_racing_requests_never_exceed_what_was_delivered() {
    let shop = Arc::new(Shop::new());
    let id = completed_order(&shop, "ida").await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let shop = shop.clone();
        tasks.push(tokio::spawn(async move {
            shop.engine.execute(id, Command::new(buyer("ida"), request(CaseKind::ReturnAndRefund, &[(1, 2)]))).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(shop.engine.order(id).await.unwrap().cases().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sales_two_staff_approving_refunds_for_the_same_line_refund_once() {
    let shop = Arc::new(Shop::new());
    let id = completed_order(&shop, "jon").await;
    let case = open(&shop, id, "jon", request(CaseKind::RefundOnly, &[(2, 1)])).await.unwrap();
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let shop = shop.clone();
        tasks.push(tokio::spawn(async move {
            shop.engine
                .execute(id, Command::new(customer_service(), Action::RefundCase { case, manual_reference: None }))
                .await
        }));
    }
    let results: Vec<_> = futures_join(tasks).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().refunds.len(), 1);
    assert_eq!(shop.gateway.refunds().len(), 1);
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn after_sales_refund_gateway_timeout_is_retried_with_the_same_key() {
    let shop = Shop::new();
    let id = completed_order(&shop, "kai").await;
    shop.engine.drain_outbox().await.unwrap();
    let case = open(&shop, id, "kai", request(CaseKind::RefundOnly, &[(2, 1)])).await.unwrap();
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    shop.faults.gateway.inject(Failure::timeouts_after_success(1).of(&["refund"]));
    shop.run(id, customer_service(), Action::RefundCase { case, manual_reference: None }).await;
    assert_eq!(shop.engine.dispatch_outbox().await.unwrap().retrying, 1);
    shop.clock.advance(TimeDelta::minutes(1));
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.gateway.refunds().len(), 1);
    let order = shop.engine.order(id).await.unwrap();
    assert!(matches!(order.payment().refunds[0].status, orderflow::order::RefundStatus::Completed { .. }));
}

#[tokio::test]
async fn after_sales_withdrawal_frees_the_units_only_while_requested() {
    let shop = Shop::new();
    let id = completed_order(&shop, "lia").await;
    let first = open(&shop, id, "lia", request(CaseKind::ReturnAndRefund, &[(1, 2)])).await.unwrap();
    shop.run(id, buyer("lia"), Action::WithdrawCase { case: first }).await;
    let second = open(&shop, id, "lia", request(CaseKind::ReturnAndRefund, &[(1, 2)])).await.unwrap();
    shop.run(id, customer_service(), Action::ApproveCase { case: second }).await;
    let late = shop.engine.execute(id, Command::new(buyer("lia"), Action::WithdrawCase { case: second })).await;
    assert!(matches!(late, Err(EngineError::Rejected(Error::CaseState { .. }))));
    let stranger = shop.engine.execute(id, Command::new(buyer("mallory"), Action::WithdrawCase { case: second })).await;
    assert!(matches!(stranger, Err(EngineError::Rejected(Error::NotYourOrder))));
}

#[tokio::test]
async fn after_sales_unanswered_requests_escalate_after_the_sla() {
    let shop = Shop::new();
    let id = completed_order(&shop, "mo").await;
    let case = open(&shop, id, "mo", request(CaseKind::ReturnAndRefund, &[(3, 1)])).await.unwrap();
    shop.clock.advance(TimeDelta::hours(47));
    shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert!(!shop.engine.order(id).await.unwrap().case(case).unwrap().escalated);
    shop.clock.advance(TimeDelta::hours(2));
    shop.engine.run_due(shop.clock.now()).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    assert!(shop.engine.order(id).await.unwrap().case(case).unwrap().escalated);
    assert!(shop.notifier.kinds().contains(&"case_escalated"));
}

#[tokio::test]
async fn after_sales_cash_on_delivery_refunds_need_a_transfer_reference() {
    let shop = Shop::new();
    let placed = shop.place_form("nia", sample_cod_form("nia")).await;
    let id = placed.order.id();
    let waybill = shop.ship_all(id).await;
    shop.deliver(&waybill).await;
    shop.run(id, orderflow::testing::carrier("SF"), Action::RecordCodCollected { amount: placed.order.totals().total })
        .await;
    let case = open(&shop, id, "nia", request(CaseKind::RefundOnly, &[(3, 1)])).await.unwrap();
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    let missing = shop
        .engine
        .execute(id, Command::new(customer_service(), Action::RefundCase { case, manual_reference: None }))
        .await;
    assert!(matches!(missing, Err(EngineError::Rejected(Error::InvalidField { field: "manual_reference", .. }))));
    let reference = Some("BANK-20261201-0042".into());
    shop.run(id, customer_service(), Action::RefundCase { case, manual_reference: reference }).await;
    let order = shop.engine.order(id).await.unwrap();
    assert!(matches!(order.payment().refunds[0].method, orderflow::order::RefundMethod::Manual { .. }));
}

#[tokio::test]
async fn after_sales_a_return_parcels_tracking_push_reaches_its_order_and_its_waybill_is_its_own() {
    let shop = Shop::new();
    let id = completed_order(&shop, "pia").await;
    let case = open(&shop, id, "pia", request(CaseKind::ReturnAndRefund, &[(2, 1)])).await.unwrap();
    shop.run(id, customer_service(), Action::ApproveCase { case }).await;
    shop.run(id, buyer("pia"), Action::RecordReturnParcel { case, waybill: "RET-0001".into() }).await;
    // The buyer named no carrier: the waybill is indexed under the unknown carrier, and a push
    // from any carrier with no parcel of that number finds it there.
    let store = &shop.engine.adapters().store;
    assert_eq!(store.find_by_waybill(UNKNOWN_CARRIER, "RET-0001").await.unwrap(), Some(id));
    let raw = shop.carrier.push("RET-0001", TrackingKind::InTransit, shop.clock.now(), "R1");
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1);
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.case(case).unwrap().return_tracking.len(), 1);

    // Another buyer's return parcel under the same number is refused, and changes nothing.
    let other = completed_order(&shop, "quin").await;
    let other_case = open(&shop, other, "quin", request(CaseKind::ReturnAndRefund, &[(2, 1)])).await.unwrap();
    shop.run(other, customer_service(), Action::ApproveCase { case: other_case }).await;
    let before = shop.engine.order(other).await.unwrap();
    let taken = Action::RecordReturnParcel { case: other_case, waybill: "RET-0001".into() };
    let err = shop.engine.execute(other, Command::new(buyer("quin"), taken)).await.unwrap_err();
    assert_eq!(err, EngineError::WaybillTaken { carrier: UNKNOWN_CARRIER.into(), waybill: "RET-0001".into() });
    assert_eq!(shop.engine.order(other).await.unwrap(), before);
    assert_eq!(store.find_by_waybill(UNKNOWN_CARRIER, "RET-0001").await.unwrap(), Some(id));
}
