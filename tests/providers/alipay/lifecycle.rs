//! Whole lifecycles through the engine against the loopback emulator, over
//! `ReqwestTransport`: place, QR code, notification, cancel, refund; a lost notification
//! found by the query; closing a trade that was never opened; the documented error codes.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use orderflow::adapters::alipay::AlipayGateway;
use orderflow::adapters::http::ReqwestTransport;
use orderflow::engine::EngineError;
use orderflow::order::RefundStatus;
use orderflow::ports::{
    Checkout, Clock, CloseOutcome, GatewayError, PaymentGateway, PaymentSession, RefundRequest, refund_reference,
};
use orderflow::testing::{buyer, customer_service};
use orderflow::{Action, Command, Currency, Money, OrderStatus, RefundId};

use super::config;
use super::emulator::Emulator;
use crate::loopback::Serve;
use crate::shop::clock;

type Gateway = AlipayGateway<ReqwestTransport>;

type World = crate::shop::World<Gateway, Emulator>;

async fn world() -> World {
    let clock = clock();
    let emulator = Arc::new(Emulator::new(clock.clone()));
    let gateway_url = format!("{}{}", emulator.serve().await, super::emulator::GATEWAY_PATH);
    let transport = ReqwestTransport::new(Duration::from_secs(10)).unwrap();
    let gateway =
        Arc::new(AlipayGateway::new(config().with_gateway_url(gateway_url), transport).with_clock(clock.clone()));
    World::new(gateway, emulator, clock)
}

#[tokio::test]
async fn qr_payment_notification_and_refund_run_through_the_engine() {
    let w = world().await;
    let (id, number, total) = w.place("ada").await;
    let reference = number.provider_reference();

    // The buyer scans a QR code (alipay.trade.precreate).
    let session = w.engine.start_payment(&buyer("ada"), id).await.unwrap();
    assert!(matches!(&session, PaymentSession::QrCode { payload } if payload.starts_with("https://qr.alipay.com/")));
    assert_eq!(w.emulator.calls(), vec!["alipay.trade.precreate".to_owned()]);
    let opened = w.emulator.trade(&reference).unwrap();
    assert_eq!((opened.total, opened.method.as_str()), (total.minor, "alipay.trade.precreate"));

    // Alipay notifies; the engine records the payment once and answers `success`.
    w.emulator.pay(&reference, total.minor);
    let raw = w.emulator.notification(&reference);
    assert_eq!(w.engine.handle_payment_notification(&raw).await.unwrap().body, "success");
    assert_eq!(w.engine.handle_payment_notification(&raw).await.unwrap().body, "success", "a duplicate too");
    let paid = w.engine.order(id).await.unwrap();
    assert_ne!(paid.status(), OrderStatus::AwaitingPayment);
    assert_eq!(paid.payment().received().unwrap(), total);

    // Cancelled after payment: the refund goes out with out_request_no. Alipay's rate limit is
    // retried, not failed.
    w.engine.drain_outbox().await.unwrap();
    w.engine
        .execute(id, Command::new(customer_service(), Action::Cancel { reason: "out of stock".into() }))
        .await
        .unwrap();
    w.emulator.fail_next("40004", "ACQ.TRADE_REFUND_FREQUENCY_LIMITED");
    let first = w.engine.dispatch_outbox().await.unwrap();
    assert_eq!(first.retrying, 1);
    assert!(w.emulator.refunds().is_empty());
    w.clock.advance(TimeDelta::minutes(1));
    w.engine.drain_outbox().await.unwrap();
    let refunds = w.emulator.refunds();
    let out_request_no = refund_reference(&number, RefundId(1));
    assert_eq!(refunds.keys().collect::<Vec<_>>(), vec![&out_request_no]);
    assert_eq!(refunds[&out_request_no].amount, total.minor);
    let after = w.engine.order(id).await.unwrap();
    assert!(matches!(after.payment().refunds.first().map(|r| &r.status), Some(RefundStatus::Completed { .. })));
    assert_eq!(w.emulator.trade(&reference).unwrap().status, "TRADE_CLOSED", "refunded in full");

    // The same refund asked again is the same refund at Alipay: no money moves.
    let again = RefundRequest::new("k", number, RefundId(1), total, "alipay");
    let receipt = w.gateway.refund(&again).await.unwrap();
    assert_eq!((receipt.reference.as_str(), receipt.pending), (out_request_no.as_str(), true));
    assert_eq!(w.emulator.refunds().len(), 1);

    // Alipay's refund notification is read by the refund entry point.
    let notice = w.emulator.signed(w.emulator.refund_params(&out_request_no));
    let refunded = w.gateway.verify_refund_notification(&notice, w.clock.now()).await.unwrap();
    assert_eq!((refunded.order_number, refunded.refund, refunded.amount), (number, RefundId(1), total));
}

#[tokio::test]
async fn a_lost_notification_is_recovered_by_the_query_before_the_unpaid_order_is_cancelled() {
    let w = world().await;
    let (id, number, total) = w.place("bo").await;
    w.engine.start_payment(&buyer("bo"), id).await.unwrap();
    assert_eq!(w.gateway.query_payment(&number, "alipay").await, Ok(None), "waiting for the buyer");
    // Paid with a coupon, but the notification never arrives.
    w.emulator.pay(&number.provider_reference(), total.minor - 100);
    let paid_at = w.clock.now();
    let queried = w.recover_lost_payment(id, &number, "alipay", total).await;
    assert_eq!(queried.succeeded_at, Some(paid_at));
}

#[tokio::test]
async fn an_unpaid_trade_is_closed_and_one_never_opened_has_nothing_to_close() {
    let w = world().await;
    let (id, number, _) = w.place("cy").await;
    let (_, never_opened, _) = w.place("di").await;
    assert_eq!(w.gateway.close_payment(&never_opened, "alipay").await, Ok(CloseOutcome::NothingToClose));
    assert_eq!(w.gateway.query_payment(&never_opened, "alipay").await, Ok(None));
    w.engine.start_payment_in(&buyer("cy"), id, Checkout::Native).await.unwrap();
    w.clock.advance(TimeDelta::hours(2));
    w.engine.run_due(w.clock.now()).await.unwrap();
    w.engine.drain_outbox().await.unwrap();
    assert_eq!(w.engine.order(id).await.unwrap().status(), OrderStatus::Cancelled);
    assert_eq!(w.emulator.trade(&number.provider_reference()).unwrap().status, "TRADE_CLOSED");
    assert!(w.emulator.calls().contains(&"alipay.trade.close".to_owned()));
}

#[tokio::test]
async fn documented_error_codes_are_retryable_rate_limited_or_rejected() {
    let w = world().await;
    let (id, number, total) = w.place("ed").await;
    w.emulator.fail_next("40004", "ACQ.SYSTEM_ERROR");
    let down = w.engine.start_payment(&buyer("ed"), id).await.unwrap_err();
    assert!(matches!(down, EngineError::Payment(GatewayError::Unavailable(_))), "{down:?}");
    w.emulator.fail_next("20000", "isp.unknow-error");
    assert!(matches!(w.gateway.query_payment(&number, "alipay").await, Err(GatewayError::Unavailable(_))));
    w.emulator.fail_next("20000", "isp.rate-limit");
    assert!(matches!(w.gateway.query_payment(&number, "alipay").await, Err(GatewayError::RateLimited(_))));
    w.engine.start_payment(&buyer("ed"), id).await.unwrap();
    w.emulator.pay(&number.provider_reference(), total.minor);
    let paid_close = w.gateway.close_payment(&number, "alipay").await;
    assert!(matches!(paid_close, Err(GatewayError::Rejected(m)) if m.contains("ACQ.TRADE_STATUS_ERROR")));
    let again = w.engine.start_payment(&buyer("ed"), id).await;
    assert!(again.is_err(), "a paid trade cannot be opened again");
    let too_much = RefundRequest::new("k", number, RefundId(1), Money::new(total.minor + 1, Currency::CNY), "alipay");
    assert!(matches!(w.gateway.refund(&too_much).await, Err(GatewayError::Rejected(_))));
    assert!(w.emulator.refunds().is_empty());
}

/// A paid order of `customer` whose two first lines were refunded apart, each accepted by
/// Alipay (`fund_change=N`) and still pending; their `out_request_no` and amounts.
async fn two_pending_partial_refunds(w: &World, customer: &str) -> (orderflow::OrderId, [(String, Money); 2]) {
    let (id, number, total) = w.place(customer).await;
    w.engine.start_payment(&buyer(customer), id).await.unwrap();
    let reference = number.provider_reference();
    w.emulator.pay(&reference, total.minor);
    w.engine.handle_payment_notification(&w.emulator.notification(&reference)).await.unwrap();
    w.engine.drain_outbox().await.unwrap();
    w.emulator.hold_refunds(true);
    let lines = w.engine.order(id).await.unwrap().lines().to_vec();
    for line in &lines[..2] {
        let refund = Action::RequestRefund {
            lines: vec![orderflow::order::LineRefund { line: line.id, amount: line.payable }],
            shipping: Money::zero(Currency::CNY),
            reason: "damaged".into(),
            manual_reference: None,
        };
        w.engine.execute(id, Command::new(customer_service(), refund)).await.unwrap();
    }
    w.engine.drain_outbox().await.unwrap();
    let order = w.engine.order(id).await.unwrap();
    assert!(order.payment().refunds.iter().all(|r| r.status == RefundStatus::Pending), "accepted, not done");
    let refund = |n: u32, amount| (refund_reference(&number, RefundId(n)), amount);
    (id, [refund(1, lines[0].payable), refund(2, lines[1].payable)])
}

fn refund_status(order: &orderflow::Order, n: usize) -> &RefundStatus {
    &order.payment().refunds[n].status
}

#[tokio::test]
async fn partial_refund_notifications_record_each_refund_with_its_own_amount() {
    let w = world().await;
    let (id, [(first, first_amount), (second, second_amount)]) = two_pending_partial_refunds(&w, "fay").await;
    assert_ne!(first_amount, second_amount, "told apart by amount");

    // Not yet done at Alipay: the query does not confirm it, so the notification is answered
    // as not handled (Alipay sends it again) and changes nothing.
    let early = w.emulator.signed(w.emulator.refund_params(&first));
    let refused = w.engine.handle_refund_notification(&early).await.unwrap_err();
    assert!(matches!(refused, EngineError::Payment(GatewayError::Unavailable(_))), "{refused:?}");
    assert_eq!(refund_status(&w.engine.order(id).await.unwrap(), 0), &RefundStatus::Pending);

    w.emulator.settle_refund(&first);
    let notice = w.emulator.signed(w.emulator.refund_params(&first));
    assert_eq!(w.engine.handle_refund_notification(&notice).await.unwrap().body, "success");
    w.emulator.settle_refund(&second);
    // The second notification's refund_fee is the trade's refunded total: both refunds.
    let params = w.emulator.refund_params(&second);
    let both = first_amount.checked_add(second_amount).unwrap();
    assert_eq!(params["refund_fee"], both.to_decimal_string());
    let notice = w.emulator.signed(params);
    let read = w.gateway.verify_refund_notification(&notice, w.clock.now()).await.unwrap();
    assert_eq!((read.refund, read.amount), (RefundId(2), second_amount));
    assert_eq!(w.engine.handle_refund_notification(&notice).await.unwrap().body, "success");
    assert_eq!(w.engine.handle_refund_notification(&notice).await.unwrap().body, "success", "a duplicate too");

    let order = w.engine.order(id).await.unwrap();
    assert!(matches!(refund_status(&order, 0), RefundStatus::Completed { reference } if *reference == first));
    assert!(matches!(refund_status(&order, 1), RefundStatus::Completed { reference } if *reference == second));
    assert!(w.emulator.calls().iter().filter(|m| *m == "alipay.trade.fastpay.refund.query").count() >= 3);
}

#[tokio::test]
async fn a_lost_refund_notification_is_settled_by_the_refund_query() {
    let w = world().await;
    let (id, [(first, first_amount), (second, _)]) = two_pending_partial_refunds(&w, "gus").await;
    let number = w.engine.order(id).await.unwrap().number();
    // Asked before Alipay is done: no refund there yet.
    assert_eq!(w.gateway.query_refund(&number, RefundId(1), "alipay").await, Ok(None));
    w.emulator.settle_refund(&first);
    let found = w.gateway.query_refund(&number, RefundId(1), "alipay").await.unwrap().unwrap();
    assert_eq!((found.amount, found.succeeded_at), (first_amount, Some(w.clock.now())));
    // A trade Alipay does not know has no refund; its outage is retried.
    let (_, never_paid, _) = w.place("hal").await;
    assert_eq!(w.gateway.query_refund(&never_paid, RefundId(1), "alipay").await, Ok(None));
    w.emulator.fail_next("40004", "ACQ.SYSTEM_ERROR");
    let down = w.gateway.query_refund(&number, RefundId(1), "alipay").await;
    assert!(matches!(down, Err(GatewayError::Unavailable(_))));

    // The notification never comes: reconciliation asks and records the one that is done.
    w.clock.advance(TimeDelta::minutes(31));
    let report = w.engine.reconcile_payments(w.clock.now(), 50).await.unwrap();
    assert_eq!((report.refunds_checked, report.refunds_settled), (2, 1));
    let order = w.engine.order(id).await.unwrap();
    assert!(matches!(refund_status(&order, 0), RefundStatus::Completed { .. }));
    assert_eq!(refund_status(&order, 1), &RefundStatus::Pending, "{second} is not done at Alipay");
}

#[tokio::test]
async fn a_mini_program_checkout_opens_a_trade_for_my_trade_pay() {
    let w = world().await;
    let (id, number, total) = w.place("ivy").await;
    let reference = number.provider_reference();
    // By OpenID (buyer_open_id).
    let open_id = "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5";
    let checkout = Checkout::MiniProgram { payer: open_id.into() };
    let session = w.engine.start_payment_in(&buyer("ivy"), id, checkout).await.unwrap();
    let PaymentSession::TradeNo { trade_no } = session else { panic!("{session:?}") };
    let opened = w.emulator.trade(&reference).unwrap();
    assert_eq!(
        (opened.method.as_str(), opened.total, opened.trade_no.as_str()),
        ("alipay.trade.create", total.minor, trade_no.as_str())
    );
    // The buyer pays in my.tradePay; the notification settles the order as any other.
    w.emulator.pay(&reference, total.minor);
    let raw = w.emulator.notification(&reference);
    assert_eq!(w.engine.handle_payment_notification(&raw).await.unwrap().body, "success");
    assert_eq!(w.engine.order(id).await.unwrap().payment().paid_through(), Some(("alipay", trade_no.as_str())));

    // By Alipay user id (buyer_id).
    let (id, number, _) = w.place("jo").await;
    let checkout = Checkout::MiniProgram { payer: "2088102146225135".into() };
    assert!(matches!(w.engine.start_payment_in(&buyer("jo"), id, checkout).await, Ok(PaymentSession::TradeNo { .. })));
    assert!(w.emulator.trade(&number.provider_reference()).is_some());
    // A payer id that is neither is refused before any call.
    let (id, number, _) = w.place("kim").await;
    let calls = w.emulator.calls().len();
    let checkout = Checkout::MiniProgram { payer: "not an id!".into() };
    let refused = w.engine.start_payment_in(&buyer("kim"), id, checkout).await;
    assert!(matches!(refused, Err(EngineError::Payment(GatewayError::Rejected(_)))), "{refused:?}");
    assert_eq!(w.emulator.calls().len(), calls);
    assert!(w.emulator.trade(&number.provider_reference()).is_none());
}
