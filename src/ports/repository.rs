//! The order repository: orders (snapshot + version) and their events, written with the
//! outbox rows and dedupe keys of the same commit.
//!
//! The contract every implementation keeps (checked by `orderflow::testing::conformance`,
//! feature `testing`):
//! - [`OrderRepository::append`] writes the events, the new snapshot, the outbox entries and
//!   the dedupe keys in one transaction, only if the stored version still equals
//!   `expected_version`; otherwise it changes nothing and returns [`StoreError::Conflict`].
//! - Order numbers are unique ([`StoreError::DuplicateOrderNumber`]); so are dedupe keys
//!   ([`StoreError::DuplicateKey`], and the whole commit is refused).
//! - Waybills are indexed by `(carrier, waybill)` from [`Order::carrier_waybills`] and found
//!   with [`OrderRepository::find_by_waybill`]. A pair belongs to one order: a commit whose
//!   order lists a pair another order has is refused whole with [`StoreError::WaybillTaken`].
//!   The same number under two carriers is two parcels and may belong to two orders.
//! - [`OrderRepository::load`] sees every commit made before it, by any instance.
//!   [`OrderRepository::load_for_command`], the load of a command about to change the order,
//!   may instead answer from a copy the store keeps of its own last write, without asking its
//!   backend, at most once per write. Such a copy may miss another instance's writes; the
//!   engine stays correct because a commit's compare-and-set refuses a decision on a stale
//!   copy, and an answer that is not a commit (a refusal, nothing to do) is given only once a
//!   second load found the same version.

use std::future::Future;
use std::sync::Arc;

use super::feed::{FeedCursor, FeedPage};
use super::queries::{OrderQuery, QueryPage, StatusCounts};
use super::store::{Commit, OrderFilter, OrderPage, StoreError};
use crate::event::Event;
use crate::ids::OrderId;
use crate::order::Order;
use crate::order_number::OrderNumber;

/// Durable storage for orders and their histories.
#[dynosaur::dynosaur(pub DynOrderRepository = dyn(box) OrderRepository)]
pub trait OrderRepository: Send + Sync {
    /// Stores a new order (expected version 0). Fails on a taken number or dedupe key.
    fn create(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Appends to an existing order with compare-and-set on its version.
    fn append(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The current snapshot (its `version` included).
    fn load(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;
    /// The snapshot for a command about to change the order: [`OrderRepository::load`], or a
    /// copy of this store's own last write of it, served at most once per write (see the
    /// module docs). A store that keeps no copies leaves the default.
    fn load_for_command(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        self.load(id)
    }
    /// The order's full history, in sequence.
    fn events(&self, id: OrderId) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The order with this number.
    fn find_by_number(&self, number: &OrderNumber) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send;
    /// The order that has this waybill of this carrier (see [`Order::carrier_waybills`]; a
    /// return parcel's waybill is found under [`crate::order::UNKNOWN_CARRIER`]). Waybill
    /// numbers are unique per carrier only: the same number under another carrier is another
    /// parcel, possibly of another order.
    fn find_by_waybill(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send;
    /// The order that recorded this dedupe key.
    fn find_by_key(&self, key: &str) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send;
    /// Orders matching `filter`, after the id `after`, at most `limit`.
    fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderId>,
        limit: usize,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send;
    /// One page of a staff query (see [`super::queries`]): the orders matching `query`, in its
    /// order, after its cursor.
    fn query(&self, query: &OrderQuery) -> impl Future<Output = Result<QueryPage, StoreError>> + Send;
    /// How many orders are in each status.
    fn count_by_status(&self) -> impl Future<Output = Result<StatusCounts, StoreError>> + Send;
    /// At most `limit` events of every order after `after`, in the feed's order (see
    /// [`super::feed`]).
    fn events_after(
        &self,
        after: FeedCursor,
        limit: usize,
    ) -> impl Future<Output = Result<FeedPage, StoreError>> + Send;
}

impl<T: OrderRepository + ?Sized> OrderRepository for Arc<T> {
    fn create(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).create(commit)
    }
    fn append(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).append(commit)
    }
    fn load(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        (**self).load(id)
    }
    fn load_for_command(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        (**self).load_for_command(id)
    }
    fn events(&self, id: OrderId) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
        (**self).events(id)
    }
    fn find_by_number(&self, number: &OrderNumber) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send {
        (**self).find_by_number(number)
    }
    fn find_by_waybill(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send {
        (**self).find_by_waybill(carrier, waybill)
    }
    fn find_by_key(&self, key: &str) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send {
        (**self).find_by_key(key)
    }
    fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderId>,
        limit: usize,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send {
        (**self).list(filter, after, limit)
    }
    fn query(&self, query: &OrderQuery) -> impl Future<Output = Result<QueryPage, StoreError>> + Send {
        (**self).query(query)
    }
    fn count_by_status(&self) -> impl Future<Output = Result<StatusCounts, StoreError>> + Send {
        (**self).count_by_status()
    }
    fn events_after(
        &self,
        after: FeedCursor,
        limit: usize,
    ) -> impl Future<Output = Result<FeedPage, StoreError>> + Send {
        (**self).events_after(after, limit)
    }
}
