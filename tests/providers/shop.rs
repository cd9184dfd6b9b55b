//! What every provider's tests share: a shop engine over any gateway, the test clock, a
//! loopback server for emulators, and the range of order numbers references are tested over.

use std::sync::Arc;

use chrono::TimeDelta;

use orderflow::engine::{Adapters, Engine};
use orderflow::order_number::MAX_VALUE;
use orderflow::ports::{Clock, PaymentGateway, PaymentNotification, PaymentStatus};
use orderflow::testing::shop::{SKUS, sku};
use orderflow::testing::{FakeCarrier, FixedClock, RecordingNotifier, buyer, sample_form, t0};
use orderflow::{Currency, MemoryInventory, MemoryStore, Money, OrderId, OrderNumber, OrderStatus, Workflow};

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(t0()))
}

/// The engine of a shop paid through gateway `G`.
pub type ShopEngine<G> = Engine<
    Adapters<Arc<MemoryStore>, Arc<G>, Arc<FakeCarrier>, Arc<MemoryInventory>, Arc<RecordingNotifier>, Arc<FixedClock>>,
>;

/// The engine on the memory store, every sample SKU stocked, paying through `gateway`.
pub fn engine<G: PaymentGateway>(gateway: Arc<G>, clock: Arc<FixedClock>) -> ShopEngine<G> {
    let inventory = Arc::new(MemoryInventory::new());
    for s in SKUS {
        inventory.set_stock(&sku(s), 100);
    }
    let adapters = Adapters {
        store: Arc::new(MemoryStore::new()),
        payments: gateway,
        logistics: Arc::new(FakeCarrier::new("SF", b"carrier-secret")),
        inventory,
        notifier: Arc::new(RecordingNotifier::new()),
        clock,
    };
    Engine::new(Workflow::default(), adapters)
}

/// A shop paying through gateway `G`, whose provider is emulated by `E`, on a shared clock.
pub struct World<G: PaymentGateway, E> {
    pub engine: ShopEngine<G>,
    pub gateway: Arc<G>,
    pub emulator: Arc<E>,
    pub clock: Arc<FixedClock>,
}

impl<G: PaymentGateway, E> World<G, E> {
    pub fn new(gateway: Arc<G>, emulator: Arc<E>, clock: Arc<FixedClock>) -> Self {
        World { engine: engine(gateway.clone(), clock.clone()), gateway, emulator, clock }
    }

    /// A sample order of `customer`: its id, number and total.
    pub async fn place(&self, customer: &str) -> (OrderId, OrderNumber, Money) {
        let placed = self.engine.place(&buyer(customer), &sample_form(customer), None).await.unwrap();
        (placed.order.id(), placed.order.number(), placed.order.totals().total)
    }
}

impl<G: PaymentGateway, E> World<G, E> {
    /// The buyer paid `total` less a 1.00 coupon through `provider` but the notification was
    /// lost: the query finds the payment, and the unpaid deadline two hours on records it
    /// instead of cancelling. Returns what the query answered.
    pub async fn recover_lost_payment(
        &self,
        id: OrderId,
        number: &OrderNumber,
        provider: &str,
        total: Money,
    ) -> PaymentNotification {
        let queried = self.gateway.query_payment(number, provider).await.unwrap().unwrap();
        assert_eq!((queried.status, queried.amount), (PaymentStatus::Succeeded, total));
        assert_eq!(queried.payer_total, Some(Money::new(total.minor - 100, Currency::CNY)));
        self.clock.advance(TimeDelta::hours(2));
        self.engine.run_due(self.clock.now()).await.unwrap();
        let order = self.engine.order(id).await.unwrap();
        assert_ne!(order.status(), OrderStatus::Cancelled);
        assert_eq!(order.payment().received().unwrap(), total);
        queried
    }
}

/// Every order number near both ends of the range, and 200,000 spread over the whole range
/// (an odd stride, so every check symbol, `*~$=U` included, is met).
pub fn sample_numbers() -> impl Iterator<Item = OrderNumber> {
    let stride = (MAX_VALUE / 200_000) | 1;
    (0..5_000)
        .chain((MAX_VALUE - 5_000)..=MAX_VALUE)
        .chain((0..200_000).map(move |i| i * stride))
        .map(|value| OrderNumber::from_value(value).unwrap())
}
