//! A buyer who switches provider at the payment page: the order was placed with WeChat Pay,
//! the buyer pays with Alipay through the router. The order records the provider (and
//! transaction) that paid, refunds go there, the chosen provider's session is closed, and
//! repeated notifications from either provider change nothing.

use std::sync::Arc;

use orderflow::adapters::router::PaymentRouter;
use orderflow::engine::{Adapters, Engine};
use orderflow::ports::{Checkout, Clock, PaymentStatus};
use orderflow::testing::{FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, sample_form, t0};
use orderflow::{
    Action, Change, Command, MemoryInventory, MemoryStore, OrderId, OrderNumber, OrderStatus, PaymentMethod,
    PlaceOrderForm, Workflow,
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

/// Paid where it was placed: recorded under that provider. The Alipay session the buyer
/// opened is not known to the order, so it is left to expire at the pay-by deadline it was
/// opened with; a payment through it would be sent back as above.
#[tokio::test]
async fn paying_through_the_chosen_provider_records_it_and_closes_no_session() {
    let shop = TwoProviders::new();
    let (id, number) = shop.placed_with_wechat_opened_both("dan").await;
    let txn = shop.paid_through(&shop.wechat, &number, id).await;
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().paid_through(), Some(("wechatpay", txn.as_str())));
    assert_eq!(order.payment().provider(), Some("wechatpay"));
    assert_eq!(shop.wechat.payment(&number).unwrap().status, PaymentStatus::Succeeded);
    assert_eq!(shop.alipay.payment(&number).unwrap().status, PaymentStatus::Pending);
}

#[tokio::test]
async fn a_provider_the_router_lacks_cannot_open_a_session() {
    let shop = TwoProviders::new();
    let placed = shop.engine.place(&buyer("eve"), &sample_form("eve"), None).await.unwrap();
    let refused =
        shop.engine.start_payment_through(&buyer("eve"), placed.order.id(), Some("paypal"), Checkout::Page).await;
    assert!(matches!(
        refused,
        Err(orderflow::engine::EngineError::Payment(orderflow::ports::GatewayError::Rejected(_)))
    ));
}
