//! A buyer who switches provider at the payment page: the order was placed with WeChat Pay,
//! the buyer opens Alipay's session too and pays there, through the router. The order records
//! each session opened and the provider (and transaction) that paid, refunds go there, every
//! other session is closed, cancellation closes them all, reconciliation and the unpaid
//! deadline ask each provider, and repeated notifications from either provider change nothing.

use std::sync::Arc;

use chrono::TimeDelta;
use orderflow::adapters::router::PaymentRouter;
use orderflow::engine::{Adapters, Engine, EngineError};
use orderflow::ports::{Checkout, Clock, PaymentStatus};
use orderflow::testing::{FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, sample_form, t0};
use orderflow::{
    Action, Change, Command, CommandKind, Error, MemoryInventory, MemoryStore, OrderId, OrderNumber, OrderStatus,
    PaymentMethod, PlaceOrderForm, Workflow,
};

type RouterEngine = Engine<
    Adapters<
        Arc<MemoryStore>,
        Arc<PaymentRouter>,
        Arc<FakeCarrier>,
        Arc<MemoryInventory>,
        Arc<RecordingNotifier>,
        Arc<FixedClock>,
    >,
>;

/// A shop taking WeChat Pay and Alipay through one router.
struct TwoProviders {
    engine: RouterEngine,
    wechat: Arc<FakeGateway>,
    alipay: Arc<FakeGateway>,
    clock: Arc<FixedClock>,
}

impl TwoProviders {
    fn new() -> TwoProviders {
        let wechat = Arc::new(FakeGateway::new("wechatpay", "w-secret"));
        let alipay = Arc::new(FakeGateway::new("alipay", "a-secret"));
        let router = PaymentRouter::new().with("wechatpay", wechat.clone()).with("alipay", alipay.clone());
        let inventory = crate::common::stocked_inventory();
        let clock = Arc::new(FixedClock::new(t0()));
        let adapters = Adapters {
            store: Arc::new(MemoryStore::new()),
            payments: Arc::new(router),
            logistics: Arc::new(FakeCarrier::new("SF", b"carrier-secret")),
            inventory,
            notifier: Arc::new(RecordingNotifier::new()),
            clock: clock.clone(),
        };
        TwoProviders { engine: Engine::new(Workflow::default(), adapters), wechat, alipay, clock }
    }

    /// An order of `customer` placed with WeChat Pay, whose buyer opened both WeChat Pay's
    /// session and then Alipay's.
    async fn placed_with_wechat_opened_both(&self, customer: &str) -> (OrderId, OrderNumber) {
        let form =
            PlaceOrderForm { payment: PaymentMethod::Online { provider: "wechatpay".into() }, ..sample_form(customer) };
        let placed = self.engine.place(&buyer(customer), &form, None).await.unwrap();
        let (id, number) = (placed.order.id(), placed.order.number());
        self.engine.start_payment(&buyer(customer), id).await.unwrap();
        self.engine.start_payment_through(&buyer(customer), id, Some("alipay"), Checkout::Page).await.unwrap();
        assert_eq!(self.wechat.created_payments().len(), 1);
        assert_eq!(self.alipay.created_payments(), vec![(number, placed.order.totals().total)]);
        (id, number)
    }

    /// [`TwoProviders::placed_with_wechat_opened_both`], paid in Alipay, whose notification
    /// never arrives.
    async fn paid_through_alipay_unheard(&self, customer: &str) -> (OrderId, OrderNumber) {
        let (id, number) = self.placed_with_wechat_opened_both(customer).await;
        let total = self.engine.order(id).await.unwrap().totals().total;
        self.alipay.mark_paid(&number, total);
        (id, number)
    }

    /// `gateway`'s signed notification that the order's total was paid, routed to it.
    async fn paid_through(&self, gateway: &FakeGateway, number: &OrderNumber, id: OrderId) -> String {
        let total = self.engine.order(id).await.unwrap().totals().total;
        let raw = gateway.notify_paid(number, total, self.clock.now()).routed_to(gateway.provider());
        assert_eq!(self.engine.handle_payment_notification(&raw).await.unwrap().status, 200);
        // The same notification again, as providers resend until answered: nothing new.
        let events = self.engine.events(id).await.unwrap();
        assert_eq!(self.engine.handle_payment_notification(&raw).await.unwrap().status, 200);
        assert_eq!(self.engine.events(id).await.unwrap(), events);
        gateway.payment(number).unwrap().transactions.last().unwrap().0.clone()
    }
}

#[tokio::test]
async fn switch_and_pay_records_the_paying_provider_and_closes_the_chosen_session() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("amy").await;
    let txn = shop.paid_through(&shop.alipay, &number, id).await;

    let order = shop.engine.order(id).await.unwrap();
    assert_ne!(order.status(), OrderStatus::AwaitingPayment);
    assert!(order.payment().gate_open());
    assert_eq!(order.payment().chosen_provider(), Some("wechatpay"));
    assert_eq!(order.payment().provider(), Some("alipay"));
    assert_eq!(order.payment().paid_through(), Some(("alipay", txn.as_str())));
    let captured = shop.engine.events(id).await.unwrap().into_iter().find_map(|e| match e.change {
        Change::PaymentCaptured { txn_id, provider, .. } => Some((txn_id, provider)),
        _ => None,
    });
    assert_eq!(captured, Some((txn.clone(), Some("alipay".to_owned()))));

    // WeChat Pay's session, opened first, is closed through the outbox.
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Pending);
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Closed);
    assert_eq!(shop.alipay.payment(&number).unwrap().status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn the_refund_of_a_switched_payment_goes_to_the_provider_that_paid() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("bob").await;
    shop.paid_through(&shop.alipay, &number, id).await;
    shop.engine.drain_outbox().await.unwrap();

    let cancel = Command::new(buyer("bob"), Action::Cancel { reason: "changed my mind".into() });
    shop.engine.execute(id, cancel).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();

    let total = shop.engine.order(id).await.unwrap().totals().total;
    assert_eq!(shop.alipay.refunded_total(&number), Some(total));
    assert!(shop.wechat.refunds().is_empty(), "nothing was paid through WeChat Pay");
    let order = shop.engine.order(id).await.unwrap();
    assert!(matches!(
        &order.payment().refunds[0].status,
        orderflow::order::RefundStatus::Completed { reference } if reference.starts_with("alipay-RF")
    ));
}

#[tokio::test]
async fn a_second_payment_through_the_chosen_provider_goes_back_there_once() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("cat").await;
    shop.paid_through(&shop.alipay, &number, id).await;
    // The buyer also paid in WeChat before its session was closed.
    let wechat_txn = shop.paid_through(&shop.wechat, &number, id).await;
    shop.engine.drain_outbox().await.unwrap();

    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().provider(), Some("alipay"), "the first payment settled the order");
    assert_eq!(order.payment().captures.len(), 1);
    let anomaly = &order.payment().anomalies[0];
    assert_eq!((anomaly.txn_id.as_str(), anomaly.provider.as_str()), (wechat_txn.as_str(), "wechatpay"));
    // Sent back through WeChat Pay, which took it; Alipay's payment stands.
    assert_eq!(shop.wechat.refunded_total(&number), Some(order.totals().total));
    assert!(shop.alipay.refunds().is_empty());
}

/// Paid where it was placed: recorded under that provider, and the Alipay session the buyer
/// opened (recorded on the order) is closed, so it cannot take the money a second time.
#[tokio::test]
async fn paying_through_the_chosen_provider_closes_the_session_switched_to() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("dan").await;
    let txn = shop.paid_through(&shop.wechat, &number, id).await;
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().paid_through(), Some(("wechatpay", txn.as_str())));
    assert_eq!(order.payment().provider(), Some("wechatpay"));
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Succeeded);
    assert_eq!(shop.alipay.payment(&number).unwrap().status, PaymentStatus::Closed);
}

/// The `payment_session_opened` events of order `id`, by provider.
async fn sessions_recorded(shop: &TwoProviders, id: OrderId) -> Vec<String> {
    let events = shop.engine.events(id).await.unwrap();
    events
        .into_iter()
        .filter_map(|e| match e.change {
            Change::PaymentSessionOpened { provider } => Some(provider),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn each_session_is_recorded_once_before_the_provider_is_asked() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("fay").await;
    assert_eq!(sessions_recorded(&shop, id).await, ["wechatpay", "alipay"]);
    let opened =
        shop.engine.events(id).await.unwrap().into_iter().find(|e| e.change.name() == "payment_session_opened");
    assert_eq!(opened.map(|e| e.actor), Some(buyer("fay")));
    // The buyer goes back and forth: each provider is asked again, nothing more is recorded.
    let calls = (shop.wechat.calls(), shop.alipay.calls());
    shop.engine.start_payment(&buyer("fay"), id).await.unwrap();
    shop.engine.start_payment_through(&buyer("fay"), id, Some(" alipay "), Checkout::Page).await.unwrap();
    assert_eq!(sessions_recorded(&shop, id).await, ["wechatpay", "alipay"]);
    assert_eq!((shop.wechat.calls(), shop.alipay.calls()), (calls.0 + 1, calls.1 + 1));
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().session_providers().collect::<Vec<_>>(), ["wechatpay", "alipay"]);
    assert_eq!(order.status(), OrderStatus::AwaitingPayment);
    // The staff view says which sessions were opened; the buyer's timeline does not.
    let staff = shop.engine.staff_view(id).await.unwrap();
    assert_eq!(staff.iter().filter(|e| e.message.kind() == "payment_session_opened").count(), 2);
    let mine = shop.engine.buyer_timeline(id).await.unwrap();
    assert!(mine.iter().all(|e| e.message.kind() != "payment_session_opened"));
    assert!(shop.wechat.payment(&number).is_some());
}

#[tokio::test]
async fn a_refused_open_records_nothing_and_asks_no_provider() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("gil").await;
    shop.paid_through(&shop.alipay, &number, id).await;
    let (events, created) = (shop.engine.events(id).await.unwrap(), shop.alipay.created_payments().len());
    // Paid: no session may take money any more.
    for provider in [None, Some("alipay"), Some("unionpay")] {
        let refused = shop.engine.start_payment_through(&buyer("gil"), id, provider, Checkout::Page).await;
        assert!(
            matches!(
                refused,
                Err(EngineError::Rejected(Error::IllegalTransition { command: CommandKind::OpenPaymentSession, .. }))
            ),
            "{refused:?}"
        );
    }
    // Someone else's order is not found, and a carrier may not open one.
    let stranger = shop.engine.start_payment_through(&buyer("mallory"), id, None, Checkout::Page).await;
    assert!(matches!(stranger, Err(EngineError::NotFound)), "{stranger:?}");
    let carrier = orderflow::testing::carrier("SF");
    let forbidden = shop.engine.start_payment_through(&carrier, id, Some("alipay"), Checkout::Page).await;
    assert!(matches!(forbidden, Err(EngineError::Rejected(Error::Forbidden { .. }))), "{forbidden:?}");
    assert_eq!(shop.engine.events(id).await.unwrap(), events);
    assert_eq!(shop.alipay.created_payments().len(), created);

    // Cancelled: likewise.
    let placed = shop.engine.place(&buyer("hui"), &sample_form("hui"), None).await.unwrap().order;
    let cancel = Command::new(buyer("hui"), Action::Cancel { reason: "changed my mind".into() });
    shop.engine.execute(placed.id(), cancel).await.unwrap();
    let events = shop.engine.events(placed.id()).await.unwrap();
    let refused =
        shop.engine.start_payment_through(&buyer("hui"), placed.id(), Some("wechatpay"), Checkout::Page).await;
    assert!(matches!(refused, Err(EngineError::Rejected(Error::IllegalTransition { .. }))), "{refused:?}");
    assert_eq!(shop.engine.events(placed.id()).await.unwrap(), events);
    assert!(shop.wechat.payment(&placed.number()).is_none());
}

#[tokio::test]
async fn cancelling_after_a_switch_closes_both_sessions() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("ivy").await;
    let cancel = Command::new(buyer("ivy"), Action::Cancel { reason: "changed my mind".into() });
    shop.engine.execute(id, cancel).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Closed);
    assert_eq!(shop.alipay.payment(&number).unwrap().status, PaymentStatus::Closed);
    // Money that reaches Alipay anyway goes back through Alipay.
    let total = shop.engine.order(id).await.unwrap().totals().total;
    let late = shop.alipay.notify_paid(&number, total, shop.clock.now()).routed_to("alipay");
    shop.engine.handle_payment_notification(&late).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.alipay.refunded_total(&number), Some(total));
    assert!(shop.wechat.refunds().is_empty());
}

#[tokio::test]
async fn a_lost_notification_after_a_switch_is_found_by_reconciliation_through_the_provider_that_took_it() {
    let shop = TwoProviders::new();
    let (id, number) = shop.paid_through_alipay_unheard("jon").await;
    shop.clock.advance(TimeDelta::minutes(6));
    let report = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!((report.payments_checked, report.found_paid, report.failed), (1, 1, 0), "{report:?}");
    let order = shop.engine.order(id).await.unwrap();
    assert!(order.payment().gate_open());
    assert_eq!(order.payment().paid_through().map(|(provider, _)| provider), Some("alipay"));
    // WeChat Pay's session is closed; Alipay's payment stands.
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Closed);
    assert_eq!(shop.alipay.payment(&number).unwrap().status, PaymentStatus::Succeeded);
    let again = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!(again.payments_checked, 0, "paid orders are not asked about");
}

#[tokio::test]
async fn the_unpaid_deadline_finds_a_payment_through_the_provider_switched_to() {
    let shop = TwoProviders::new();
    let (id, number) = shop.paid_through_alipay_unheard("kit").await;
    shop.clock.advance(TimeDelta::minutes(31));
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.found_paid, report.failed), (1, 0), "{report:?}");
    let order = shop.engine.order(id).await.unwrap();
    assert!(order.cancellation().is_none());
    assert_eq!(order.payment().paid_through().map(|(provider, _)| provider), Some("alipay"));
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Closed);

    // Unpaid anywhere: both sessions are closed before the order is cancelled.
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("lee").await;
    shop.clock.advance(TimeDelta::minutes(31));
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.fired, report.failed), (1, 0), "{report:?}");
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Cancelled);
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Closed);
    assert_eq!(shop.alipay.payment(&number).unwrap().status, PaymentStatus::Closed);
}

/// A provider the router does not have: the session is recorded first (the order cannot know
/// the router's providers), the router refuses to create it, and the order is still
/// reconciled and cancelled at its deadline (the router's refusal to say anything about it
/// is taken as unpaid).
#[tokio::test]
async fn a_provider_the_router_lacks_cannot_open_a_session_nor_hold_the_order_up() {
    let shop = TwoProviders::new();
    let placed = shop.engine.place(&buyer("eve"), &sample_form("eve"), None).await.unwrap();
    let id = placed.order.id();
    let refused = shop.engine.start_payment_through(&buyer("eve"), id, Some("paypal"), Checkout::Page).await;
    assert!(matches!(
        refused,
        Err(orderflow::engine::EngineError::Payment(orderflow::ports::GatewayError::Rejected(_)))
    ));
    assert_eq!(sessions_recorded(&shop, id).await, ["paypal"]);
    shop.clock.advance(TimeDelta::minutes(6));
    let report = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!((report.payments_checked, report.found_paid, report.failed), (1, 0, 0), "{report:?}");
    shop.clock.advance(TimeDelta::minutes(25));
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.fired, report.failed), (1, 0), "{report:?}");
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Cancelled);
    // Closing the sessions: the router refuses the one it lacks outright, which no retry
    // mends, so it is done with rather than retried into a dead letter.
    let report = shop.engine.drain_outbox().await.unwrap();
    assert_eq!((report.retrying, report.dead), (0, 0), "{report:?}");
    assert!(report.delivered > 0, "{report:?}");
}
