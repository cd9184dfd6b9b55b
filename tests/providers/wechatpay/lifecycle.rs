//! Whole lifecycles through the engine against the loopback emulator, over
//! `ReqwestTransport`: place, pay in JSAPI, notification, ship, refund; a lost notification
//! found by the query; a platform certificate rotation; the documented error codes.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use orderflow::OrderId;
use orderflow::adapters::http::ReqwestTransport;
use orderflow::adapters::wechatpay::WechatPayGateway;
use orderflow::engine::EngineError;
use orderflow::order::RefundStatus;
use orderflow::ports::{Checkout, Clock, CloseOutcome, GatewayError, PaymentGateway, PaymentSession, RefundRequest};
use orderflow::testing::{buyer, customer_service};
use orderflow::{Action, Command, Currency, Money, OrderStatus, RefundId};
use rsa::pkcs8::DecodePublicKey;

use super::emulator::Emulator;
use super::*;
use crate::loopback::Serve;

type Gateway = WechatPayGateway<ReqwestTransport>;
type World = crate::shop::World<Gateway, Emulator>;

async fn world() -> World {
    let clock = clock();
    let emulator = Arc::new(Emulator::new(clock.clone()));
    let base_url = emulator.serve().await;
    let transport = ReqwestTransport::new(Duration::from_secs(10)).unwrap();
    let gateway =
        Arc::new(WechatPayGateway::new(config().with_base_url(base_url), transport).with_clock(clock.clone()));
    World::new(gateway, emulator, clock)
}

#[tokio::test]
async fn jsapi_payment_notification_and_refund_run_through_the_engine() {
    let w = world().await;
    let (id, number, total) = w.place("ada").await;
    let reference = number.provider_reference();

    // The buyer pays inside WeChat: signed parameters for wx.requestPayment.
    let session = w
        .engine
        .start_payment_in(&buyer("ada"), id, Checkout::Jsapi { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into() })
        .await
        .unwrap();
    let PaymentSession::Jsapi(params) = session else { panic!("{session:?}") };
    let merchant = rsa::PublicKey::from_public_key_pem(MERCHANT_PUBLIC_KEY).unwrap();
    let message = format!("{}\n{}\n{}\n{}\n", params.app_id, params.time_stamp, params.nonce_str, params.package);
    orderflow::adapters::wechatpay::verify::verify_signature(&merchant, message.as_bytes(), &params.pay_sign).unwrap();
    assert!(params.package.starts_with("prepay_id=wx"));
    // The first answer named a platform serial we did not know: the certificates were fetched.
    assert_eq!(
        w.emulator.calls(),
        vec!["POST /v3/pay/transactions/jsapi".to_owned(), "GET /v3/certificates".to_owned()]
    );
    assert_eq!(w.gateway.platform_keys().serials(), vec![SERIAL_A.to_owned()]);
    let opened = w.emulator.order(&reference).unwrap();
    assert_eq!((opened.total, opened.kind.as_str()), (total.minor, "jsapi"));

    // WeChat Pay notifies; the engine records the payment once and answers 204.
    w.emulator.pay(&reference, total.minor);
    let raw = w.emulator.notification(&reference);
    assert_eq!(w.engine.handle_payment_notification(&raw).await.unwrap().status, 204);
    assert_eq!(w.engine.handle_payment_notification(&raw).await.unwrap().status, 204, "a duplicate is answered too");
    let paid = w.engine.order(id).await.unwrap();
    assert_ne!(paid.status(), OrderStatus::AwaitingPayment);
    assert_eq!(paid.payment().received().unwrap(), total);

    // Cancelled after payment: the refund goes out with out_refund_no and the original total.
    w.engine.drain_outbox().await.unwrap();
    w.engine
        .execute(id, Command::new(customer_service(), Action::Cancel { reason: "out of stock".into() }))
        .await
        .unwrap();
    // WeChat allows one refund per order per minute: FREQUENCY_LIMITED is retried, not failed.
    w.emulator.fail_next(403, "FREQUENCY_LIMITED");
    let first = w.engine.dispatch_outbox().await.unwrap();
    assert_eq!(first.retrying, 1);
    assert!(w.emulator.refunds().is_empty());
    w.clock.advance(TimeDelta::minutes(1));
    w.engine.drain_outbox().await.unwrap();
    let refunds = w.emulator.refunds();
    assert_eq!(refunds.len(), 1);
    let (refund_no, record) = refunds.iter().next().unwrap();
    assert_eq!(refund_no, &orderflow::ports::refund_reference(&number, RefundId(1)));
    assert_eq!(record.refund, total.minor);
    let after = w.engine.order(id).await.unwrap();
    assert!(matches!(after.payment().refunds.first().map(|r| &r.status), Some(RefundStatus::Completed { .. })));

    // The same refund asked again (a retry) is the same refund at WeChat.
    let mut again = RefundRequest::new("k", number, RefundId(1), total, "wechatpay");
    again.paid_total = Some(total);
    let receipt = w.gateway.refund(&again).await.unwrap();
    assert_eq!(receipt.reference, record.refund_id);
    assert_eq!(w.emulator.refunds().len(), 1);
}

#[tokio::test]
async fn a_lost_notification_is_recovered_by_the_query_before_the_unpaid_order_is_cancelled() {
    let w = world().await;
    let (id, number, total) = w.place("bo").await;
    let session = w.engine.start_payment(&buyer("bo"), id).await.unwrap();
    assert!(matches!(&session, PaymentSession::QrCode { payload } if payload.starts_with("weixin://wxpay/bizpayurl")));
    // Paid, but the notification never arrives.
    w.emulator.pay(&number.provider_reference(), total.minor - 100);
    w.recover_lost_payment(id, &number, "wechatpay", total).await;
}

#[tokio::test]
async fn an_unpaid_order_is_closed_and_one_never_opened_has_nothing_to_close() {
    let w = world().await;
    let (id, number, _) = w.place("cy").await;
    let (_, never_opened, _) = w.place("di").await;
    assert_eq!(w.gateway.close_payment(&never_opened, "wechatpay").await, Ok(CloseOutcome::NothingToClose));
    assert_eq!(w.gateway.query_payment(&never_opened, "wechatpay").await, Ok(None));
    w.engine.start_payment_in(&buyer("cy"), id, Checkout::H5 { client_ip: "203.0.113.9".into() }).await.unwrap();
    assert_eq!(w.gateway.query_payment(&number, "wechatpay").await, Ok(None), "opened but not paid");
    w.clock.advance(TimeDelta::hours(2));
    w.engine.run_due(w.clock.now()).await.unwrap();
    w.engine.drain_outbox().await.unwrap();
    assert_eq!(w.engine.order(id).await.unwrap().status(), OrderStatus::Cancelled);
    assert_eq!(w.emulator.order(&number.provider_reference()).unwrap().state, "CLOSED");
    // A closed payment cannot be opened again.
    let again = w.engine.start_payment_in(&buyer("cy"), id, Checkout::App).await;
    assert!(again.is_err());
}

#[tokio::test]
async fn documented_error_codes_are_retryable_rate_limited_or_rejected() {
    let w = world().await;
    let (id, number, total) = w.place("ed").await;
    w.emulator.fail_next(500, "SYSTEM_ERROR");
    let down = w.engine.start_payment_in(&buyer("ed"), id, Checkout::App).await.unwrap_err();
    assert!(matches!(down, orderflow::engine::EngineError::Payment(GatewayError::Unavailable(_))), "{down:?}");
    let session = w.engine.start_payment_in(&buyer("ed"), id, Checkout::App).await.unwrap();
    assert!(matches!(session, PaymentSession::App(ref p) if p.partnerid == MCH_ID && p.package == "Sign=WXPay"));
    w.emulator.fail_next(429, "FREQUENCY_LIMITED");
    assert!(matches!(w.gateway.query_payment(&number, "wechatpay").await, Err(GatewayError::RateLimited(_))));
    w.emulator.pay(&number.provider_reference(), total.minor);
    assert!(
        matches!(w.gateway.close_payment(&number, "wechatpay").await, Err(GatewayError::Rejected(m)) if m.contains("ORDERPAID"))
    );
    w.emulator.refunds_processing(true);
    let mut refund = RefundRequest::new("k1", number, RefundId(1), Money::new(100, Currency::CNY), "wechatpay");
    refund.paid_total = Some(total);
    assert!(w.gateway.refund(&refund).await.unwrap().pending, "PROCESSING is a pending refund");
    let mut too_much = RefundRequest::new("k2", number, RefundId(2), total, "wechatpay");
    too_much.paid_total = Some(total);
    assert!(matches!(w.gateway.refund(&too_much).await, Err(GatewayError::Rejected(m)) if m.contains("NOT_ENOUGH")));
}

#[tokio::test]
async fn a_platform_certificate_rotation_is_followed_by_one_download() {
    let w = world().await;
    let (id, number, total) = w.place("fa").await;
    w.engine.start_payment(&buyer("fa"), id).await.unwrap();
    assert_eq!(w.gateway.platform_keys().serials(), vec![SERIAL_A.to_owned()]);
    // WeChat Pay publishes a new certificate and signs with it.
    w.clock.advance(TimeDelta::minutes(2));
    w.emulator.rotate();
    w.emulator.pay(&number.provider_reference(), total.minor);
    let raw = w.emulator.notification(&number.provider_reference());
    assert_eq!(w.engine.handle_payment_notification(&raw).await.unwrap().status, 204);
    assert_eq!(w.gateway.platform_keys().serials(), vec![SERIAL_A.to_owned(), SERIAL_B.to_owned()]);
    let downloads = w.emulator.calls().iter().filter(|c| c.as_str() == "GET /v3/certificates").count();
    assert_eq!(downloads, 2, "one download at start, one for the rotation");
    assert_eq!(w.engine.order(id).await.unwrap().payment().received().unwrap(), total);
    // Answers signed with the new key verify without another download.
    assert!(w.gateway.query_payment(&number, "wechatpay").await.unwrap().is_some());
    assert_eq!(w.emulator.calls().iter().filter(|c| c.as_str() == "GET /v3/certificates").count(), 2);
}

impl World {
    /// A paid order cancelled by customer service, its refund answered `PROCESSING`: pending on
    /// the order. Returns the order and the refund's `out_refund_no`.
    async fn refund_processing(&self, customer: &str) -> (OrderId, String) {
        let (id, number, total) = self.place(customer).await;
        self.engine.start_payment(&buyer(customer), id).await.unwrap();
        self.emulator.pay(&number.provider_reference(), total.minor);
        self.engine
            .handle_payment_notification(&self.emulator.notification(&number.provider_reference()))
            .await
            .unwrap();
        self.engine.drain_outbox().await.unwrap();
        self.emulator.refunds_processing(true);
        let cancel = Action::Cancel { reason: "out of stock".into() };
        self.engine.execute(id, Command::new(customer_service(), cancel)).await.unwrap();
        self.engine.drain_outbox().await.unwrap();
        let refund_no = orderflow::ports::refund_reference(&number, RefundId(1));
        assert_eq!(self.emulator.refunds()[&refund_no].status, "PROCESSING");
        assert_eq!(self.refund_status(id).await, RefundStatus::Pending, "accepted, not done");
        (id, refund_no)
    }

    async fn refund_status(&self, id: OrderId) -> RefundStatus {
        self.engine.order(id).await.unwrap().payment().refunds[0].status.clone()
    }
}

#[tokio::test]
async fn a_processing_refund_is_completed_by_its_refund_success_notification_once() {
    let w = world().await;
    let (id, refund_no) = w.refund_processing("eo").await;
    w.emulator.settle_refund(&refund_no, "SUCCESS");
    let raw = w.emulator.refund_notification(&refund_no, |_| {});
    // A payment notification's entry point does not take it, nor the reverse.
    assert!(w.engine.handle_payment_notification(&raw).await.is_err());
    assert_eq!(w.engine.handle_refund_notification(&raw).await.unwrap().status, 204);
    let refund_id = w.emulator.refunds()[&refund_no].refund_id.clone();
    assert_eq!(w.refund_status(id).await, RefundStatus::Completed { reference: refund_id });
    let events = w.engine.events(id).await.unwrap().len();
    assert_eq!(w.engine.handle_refund_notification(&raw).await.unwrap().status, 204, "a duplicate is answered too");
    assert_eq!(w.engine.events(id).await.unwrap().len(), events);
}

#[tokio::test]
async fn refund_notifications_that_are_tampered_or_for_another_merchant_change_nothing() {
    let w = world().await;
    let (id, refund_no) = w.refund_processing("fu").await;
    w.emulator.settle_refund(&refund_no, "SUCCESS");
    let raw = w.emulator.refund_notification(&refund_no, |_| {});
    let mut tampered = raw.clone();
    let at = tampered.body.len() / 2;
    tampered.body[at] ^= 1;
    assert!(matches!(w.engine.handle_refund_notification(&tampered).await, Err(EngineError::Payment(_))));
    let foreign = w.emulator.refund_notification(&refund_no, |r| r["mchid"] = "1230000109".into());
    assert!(matches!(w.engine.handle_refund_notification(&foreign).await, Err(EngineError::Payment(_))));
    let not_ours = w.emulator.refund_notification(&refund_no, |r| r["out_refund_no"] = "RF-by-hand".into());
    assert!(matches!(w.engine.handle_refund_notification(&not_ours).await, Err(EngineError::Payment(_))));
    assert_eq!(w.refund_status(id).await, RefundStatus::Pending);
}

#[tokio::test]
async fn an_abnormal_refund_is_recorded_failed() {
    let w = world().await;
    let (id, refund_no) = w.refund_processing("gi").await;
    w.emulator.settle_refund(&refund_no, "ABNORMAL");
    let raw = w.emulator.refund_notification(&refund_no, |_| {});
    assert_eq!(w.engine.handle_refund_notification(&raw).await.unwrap().status, 204);
    assert!(matches!(w.refund_status(id).await, RefundStatus::Failed { .. }));
}

#[tokio::test]
async fn reconciliation_settles_a_refund_and_a_payment_whose_notifications_were_lost() {
    let w = world().await;
    let (refunded, refund_no) = w.refund_processing("ha").await;
    let (unpaid, number, total) = w.place("io").await;
    w.engine.start_payment(&buyer("io"), unpaid).await.unwrap();
    w.emulator.pay(&number.provider_reference(), total.minor);
    w.emulator.settle_refund(&refund_no, "SUCCESS");
    // Minutes later, long before the unpaid deadline: both found by asking WeChat Pay.
    w.clock.advance(TimeDelta::minutes(40));
    let report = w.engine.reconcile_payments(w.clock.now(), 10).await.unwrap();
    assert_eq!(
        (report.payments_checked, report.found_paid, report.refunds_checked, report.refunds_settled, report.failed),
        (1, 1, 1, 1, 0)
    );
    assert!(matches!(w.refund_status(refunded).await, RefundStatus::Completed { .. }));
    let paid = w.engine.order(unpaid).await.unwrap();
    assert_eq!(paid.payment().received().unwrap(), total);
    assert!(w.emulator.calls().contains(&format!("GET /v3/refund/domestic/refunds/{refund_no}")));
    assert_eq!(w.gateway.query_refund(&number, RefundId(1), "wechatpay").await, Ok(None), "no such refund");
}
