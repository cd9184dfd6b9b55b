//! [`Failing`]: a wrapper that makes any port fail on demand, steered by a shared
//! [`FailureSwitch`], so no fake or store carries its own failure injection.
//!
//! The wrapper forwards every call to the port inside unless a planned [`Failure`] applies to
//! it; then the call answers the port's own transient error ([`Fault`] turned into
//! `StoreError::Unavailable`, `GatewayError::Unavailable` or `RateLimited`, ...). A failure
//! planned "after the call" lets the call do its work and loses its answer: a timeout after
//! success. The test keeps a handle on the port inside (wrap an `Arc`) and a clone of the
//! switch, so it can both script the fake and break it.
//!
//! ```
//! use std::sync::Arc;
//! use orderflow::ports::{Inventory, InventoryError};
//! use orderflow::testing::{Failing, Failure};
//! use orderflow::{MemoryInventory, Sku, StockItem};
//!
//! # block_on(async {
//! let inventory = Arc::new(MemoryInventory::new());
//! inventory.set_stock(&Sku::new("TEA").unwrap(), 1);
//! let failing = Failing::new(inventory.clone());
//! failing.switch().inject(Failure::next(1).of(&["reserve"]));
//! let items = [StockItem { sku: Sku::new("TEA").unwrap(), quantity: 1 }];
//! assert!(matches!(failing.reserve("k", &items).await, Err(InventoryError::Unavailable(_))));
//! assert_eq!(failing.switch().calls(), 1);
//! assert!(failing.reserve("k", &items).await.is_ok()); // failed once; the stock is there
//! # });
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use super::gateway::lock;
use crate::address::Address;
use crate::effect::Notification;
use crate::effect::StockItem;
use crate::event::Event;
use crate::ids::{OrderId, RefundId};
use crate::order::{Order, TrackingUpdate};
use crate::order_number::OrderNumber;
use crate::ports::inventory::{Inventory, InventoryError};
use crate::ports::logistics::{Logistics, LogisticsError, Parcel, Quote, Shipment, ShipmentRequest, TrackingPush};
use crate::ports::notifier::{Notifier, NotifyError};
use crate::ports::payment::{
    CloseOutcome, GatewayError, PaymentGateway, PaymentNotification, PaymentRequest, PaymentSession, RawMessage,
    RefundNotification, RefundReceipt, RefundRequest, WebhookReply,
};
use crate::ports::{
    Commit, DeadLetterCursor, DeadLetterPage, DueDeadline, FeedCursor, FeedPage, OrderFilter, OrderPage, OrderQuery,
    OrderRepository, OutboxBacklog, OutboxItem, QueryPage, StatusCounts, StoreError, WorkQueue,
};

/// The store calls that commit an order (`create`, `append`): what a failed write hits.
pub const COMMITS: &[&str] = &["create", "append"];

/// What an injected failure answers, turned into the port's own error by [`FromFault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The port is down or timed out (every port's `Unavailable`).
    Unavailable(String),
    /// The provider asks to slow down (`GatewayError::RateLimited`; `Unavailable` elsewhere).
    RateLimited(String),
}

/// A port error an injected [`Fault`] can become.
pub trait FromFault {
    /// The error for `fault`.
    fn from_fault(fault: Fault) -> Self;
}

impl Fault {
    fn into_message(self) -> String {
        match self {
            Fault::Unavailable(m) | Fault::RateLimited(m) => m,
        }
    }
}

impl FromFault for StoreError {
    fn from_fault(fault: Fault) -> Self {
        StoreError::Unavailable(fault.into_message())
    }
}

impl FromFault for GatewayError {
    fn from_fault(fault: Fault) -> Self {
        match fault {
            Fault::Unavailable(m) => GatewayError::Unavailable(m),
            Fault::RateLimited(m) => GatewayError::RateLimited(m),
        }
    }
}

impl FromFault for LogisticsError {
    fn from_fault(fault: Fault) -> Self {
        LogisticsError::Unavailable(fault.into_message())
    }
}

impl FromFault for InventoryError {
    fn from_fault(fault: Fault) -> Self {
        InventoryError::Unavailable(fault.into_message())
    }
}

impl FromFault for NotifyError {
    fn from_fault(fault: Fault) -> Self {
        NotifyError::Unavailable(fault.into_message())
    }
}

/// One planned failure: how many calls, which ones, what they answer, and whether the call is
/// made first (its answer lost) or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    times: usize,
    only: Option<&'static [&'static str]>,
    fault: Fault,
    after_the_call: bool,
}

impl Failure {
    /// The next `times` calls (of any method) fail with `Unavailable("injected failure")`
    /// without reaching the port.
    pub fn next(times: usize) -> Failure {
        Failure { times, only: None, fault: Fault::Unavailable("injected failure".into()), after_the_call: false }
    }

    /// Every call fails until [`FailureSwitch::heal`]: an outage.
    pub fn until_healed() -> Failure {
        Failure::next(usize::MAX)
    }

    /// The next `times` successful calls do their work, then answer `Unavailable("timeout")`:
    /// a call that timed out after it was done, so a retry must find the work done.
    pub fn timeouts_after_success(times: usize) -> Failure {
        Failure { after_the_call: true, ..Failure::next(times) }.with(Fault::Unavailable("timeout".into()))
    }

    /// Only calls of these methods (by their trait method name, e.g. [`COMMITS`]) count.
    #[must_use]
    pub fn of(mut self, methods: &'static [&'static str]) -> Failure {
        self.only = Some(methods);
        self
    }

    /// Answer `fault` instead.
    #[must_use]
    pub fn with(mut self, fault: Fault) -> Failure {
        self.fault = fault;
        self
    }

    fn applies(&self, method: &str, after_the_call: bool) -> bool {
        self.after_the_call == after_the_call && self.only.is_none_or(|only| only.contains(&method))
    }
}

#[derive(Debug, Default)]
struct SwitchState {
    planned: Mutex<Vec<Failure>>,
    calls: AtomicUsize,
    injected: AtomicUsize,
}

/// The shared control of one or more [`Failing`] wrappers; a clone steers the same wrappers.
#[derive(Debug, Clone, Default)]
pub struct FailureSwitch {
    state: Arc<SwitchState>,
}

impl FailureSwitch {
    /// A switch with nothing planned.
    pub fn new() -> FailureSwitch {
        FailureSwitch::default()
    }

    /// Plans `failure`, after the ones already planned.
    pub fn inject(&self, failure: Failure) {
        if failure.times > 0 {
            lock(&self.state.planned).push(failure);
        }
    }

    /// The next `n` calls fail with `Unavailable` without reaching the port.
    pub fn fail_next(&self, n: usize) {
        self.inject(Failure::next(n));
    }

    /// Cancels every planned failure: the port is healthy again.
    pub fn heal(&self) {
        lock(&self.state.planned).clear();
    }

    /// Calls made through the wrappers, failed ones included.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::Relaxed)
    }

    /// Calls answered with an injected failure.
    pub fn injected(&self) -> usize {
        self.state.injected.load(Ordering::Relaxed)
    }

    /// The fault due for a call of `method` at this point, if any, used up.
    fn take(&self, method: &str, after_the_call: bool) -> Option<Fault> {
        let mut planned = lock(&self.state.planned);
        let at = planned.iter().position(|f| f.applies(method, after_the_call))?;
        let failure = planned.get_mut(at)?;
        failure.times -= 1;
        let fault = failure.fault.clone();
        if failure.times == 0 {
            planned.remove(at);
        }
        self.state.injected.fetch_add(1, Ordering::Relaxed);
        Some(fault)
    }
}

/// A port that fails when its [`FailureSwitch`] says so, and otherwise is `P`.
#[derive(Debug, Clone, Default)]
pub struct Failing<P> {
    inner: P,
    switch: FailureSwitch,
}

impl<P> Failing<P> {
    /// `inner` with a new switch.
    pub fn new(inner: P) -> Failing<P> {
        Failing::with_switch(inner, FailureSwitch::new())
    }

    /// `inner` steered by `switch` (shared with other wrappers).
    pub fn with_switch(inner: P, switch: FailureSwitch) -> Failing<P> {
        Failing { inner, switch }
    }

    /// The switch (a clone steers this wrapper).
    pub fn switch(&self) -> &FailureSwitch {
        &self.switch
    }

    /// The port inside.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The one path of every call: fail before it, or make it and maybe lose its answer.
    async fn call<T, E: FromFault, F: Future<Output = Result<T, E>>>(
        &self,
        method: &'static str,
        call: impl FnOnce() -> F,
    ) -> Result<T, E> {
        self.switch.state.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(fault) = self.switch.take(method, false) {
            return Err(E::from_fault(fault));
        }
        let answer = call().await?;
        match self.switch.take(method, true) {
            Some(fault) => Err(E::from_fault(fault)),
            None => Ok(answer),
        }
    }
}

/// The methods of a port impl, each one [`Failing::call`] named after itself.
macro_rules! failing_methods {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {$(
        async fn $method(&self, $($arg: $ty),*) -> $out {
            self.call(stringify!($method), || self.inner.$method($($arg),*)).await
        }
    )*};
}

impl<P: OrderRepository> OrderRepository for Failing<P> {
    failing_methods! {
        create(commit: Commit<'_>) -> Result<(), StoreError>;
        append(commit: Commit<'_>) -> Result<(), StoreError>;
        load(id: OrderId) -> Result<Option<Order>, StoreError>;
        load_for_command(id: OrderId) -> Result<Option<Order>, StoreError>;
        events(id: OrderId) -> Result<Vec<Event>, StoreError>;
        find_by_number(number: &OrderNumber) -> Result<Option<OrderId>, StoreError>;
        find_by_waybill(carrier: &str, waybill: &str) -> Result<Option<OrderId>, StoreError>;
        find_by_key(key: &str) -> Result<Option<OrderId>, StoreError>;
        list(filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> Result<OrderPage, StoreError>;
        query(query: &OrderQuery) -> Result<QueryPage, StoreError>;
        count_by_status() -> Result<StatusCounts, StoreError>;
        events_after(after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError>;
    }
}

impl<P: WorkQueue> WorkQueue for Failing<P> {
    failing_methods! {
        due_deadlines(now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDeadline>, StoreError>;
        claim_outbox(now: DateTime<Utc>, lease: TimeDelta, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;
        complete_outbox(key: &str) -> Result<(), StoreError>;
        fail_outbox(key: &str, now: DateTime<Utc>, retry_at: Option<DateTime<Utc>>, error: &str)
            -> Result<(), StoreError>;
        dead_letters(after: Option<DeadLetterCursor>, limit: usize) -> Result<DeadLetterPage, StoreError>;
        backlog(now: DateTime<Utc>) -> Result<OutboxBacklog, StoreError>;
        requeue_dead(key: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
    }
}

impl<P: PaymentGateway> PaymentGateway for Failing<P> {
    failing_methods! {
        create_payment(request: &PaymentRequest) -> Result<PaymentSession, GatewayError>;
        verify_notification(raw: &RawMessage, now: DateTime<Utc>) -> Result<PaymentNotification, GatewayError>;
        query_payment(order_number: &OrderNumber, provider: &str) -> Result<Option<PaymentNotification>, GatewayError>;
        close_payment(order_number: &OrderNumber, provider: &str) -> Result<CloseOutcome, GatewayError>;
        refund(request: &RefundRequest) -> Result<RefundReceipt, GatewayError>;
        verify_refund_notification(raw: &RawMessage, now: DateTime<Utc>) -> Result<RefundNotification, GatewayError>;
        query_refund(order_number: &OrderNumber, refund: RefundId, provider: &str)
            -> Result<Option<RefundNotification>, GatewayError>;
    }

    /// Never fails: the answer to a webhook is made here, not asked of the provider.
    fn reply(&self, handled: bool) -> WebhookReply {
        self.inner.reply(handled)
    }

    /// Never fails, as [`PaymentGateway::reply`].
    fn reply_to(&self, raw: &RawMessage, handled: bool) -> WebhookReply {
        self.inner.reply_to(raw, handled)
    }
}

impl<P: Logistics> Logistics for Failing<P> {
    failing_methods! {
        quote(parcel: &Parcel, to: &Address) -> Result<Vec<Quote>, LogisticsError>;
        create_shipment(request: &ShipmentRequest) -> Result<Shipment, LogisticsError>;
        verify_tracking_push(raw: &RawMessage, now: DateTime<Utc>) -> Result<Vec<TrackingPush>, LogisticsError>;
        query_tracking(carrier: &str, waybill: &str) -> Result<Vec<TrackingUpdate>, LogisticsError>;
        subscribe_tracking(carrier: &str, waybill: &str) -> Result<(), LogisticsError>;
    }
}

impl<P: Inventory> Inventory for Failing<P> {
    failing_methods! {
        reserve(key: &str, items: &[StockItem]) -> Result<(), InventoryError>;
        release(key: &str, items: &[StockItem]) -> Result<(), InventoryError>;
        commit(key: &str, items: &[StockItem]) -> Result<(), InventoryError>;
        restock(key: &str, items: &[StockItem]) -> Result<(), InventoryError>;
    }
}

impl<P: Notifier> Notifier for Failing<P> {
    failing_methods! {
        send(key: &str, notification: &Notification) -> Result<(), NotifyError>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_used_up_in_order_and_only_by_the_calls_they_name() {
        let switch = FailureSwitch::new();
        switch.inject(Failure::next(1).of(COMMITS));
        switch.inject(Failure::next(1).with(Fault::RateLimited("slow down".into())));
        switch.inject(Failure::timeouts_after_success(1));
        // A read skips the commit's failure and takes the next one.
        assert_eq!(switch.take("load", false), Some(Fault::RateLimited("slow down".into())));
        assert_eq!(switch.take("load", false), None);
        assert_eq!(switch.take("append", false), Some(Fault::Unavailable("injected failure".into())));
        assert_eq!(switch.take("append", false), None);
        // The timeout waits for a call that was made.
        assert_eq!(switch.take("append", true), Some(Fault::Unavailable("timeout".into())));
        assert_eq!(switch.take("append", true), None);
        assert_eq!(switch.injected(), 3);
    }

    #[test]
    fn an_outage_lasts_until_healed() {
        let switch = FailureSwitch::new();
        switch.inject(Failure::until_healed());
        for _ in 0..1_000 {
            assert!(switch.take("send", false).is_some());
        }
        switch.heal();
        assert_eq!(switch.take("send", false), None);
        // Nothing planned for zero calls.
        switch.fail_next(0);
        assert_eq!(switch.take("send", false), None);
    }
}
