//! Ship requests at the same time: each answer carries its own order's waybill, even when the
//! booking is held by another dispatcher (a concurrent request, the worker or an instance that
//! went away) when the request comes to deliver it.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use orderflow::ports::{
    Commit, DeadLetterCursor, DeadLetterPage, DueDeadline, DynOrderStore, FeedCursor, FeedPage, OrderFilter, OrderPage,
    OrderQuery, OrderRepository, OutboxBacklog, OutboxItem, QueryPage, StatusCounts, StoreError, SystemClock,
    WorkQueue,
};
use orderflow::{Effect, Event, MemoryStore, Order, OrderId, OrderNumber};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::server::{AppState, ShopOptions};
use super::start_with;

/// A memory store where another dispatcher always gets to a booking first: right after the
/// commit that books a shipment, everything due is claimed for [`HELD_FOR`] and never
/// completed (an instance that went away), so the request's own delivery finds its booking
/// leased and must wait for the lease to run out.
struct HeldBookings {
    inner: Arc<MemoryStore>,
}

/// How long the vanished dispatcher's lease holds a booking.
const HELD_FOR: TimeDelta = TimeDelta::milliseconds(100);

impl OrderRepository for HeldBookings {
    async fn create(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.inner.create(commit).await
    }
    async fn append(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        let books = commit.outbox.iter().any(|entry| matches!(entry.effect, Effect::CreateShipment { .. }));
        self.inner.append(commit).await?;
        if books {
            self.inner.claim_outbox(Utc::now(), HELD_FOR, usize::MAX).await?;
        }
        Ok(())
    }
    async fn load(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.inner.load(id).await
    }
    async fn load_for_command(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.inner.load_for_command(id).await
    }
    async fn events(&self, id: OrderId) -> Result<Vec<Event>, StoreError> {
        self.inner.events(id).await
    }
    async fn find_by_number(&self, number: &OrderNumber) -> Result<Option<OrderId>, StoreError> {
        self.inner.find_by_number(number).await
    }
    async fn find_by_waybill(&self, carrier: &str, waybill: &str) -> Result<Option<OrderId>, StoreError> {
        self.inner.find_by_waybill(carrier, waybill).await
    }
    async fn find_by_key(&self, key: &str) -> Result<Option<OrderId>, StoreError> {
        self.inner.find_by_key(key).await
    }
    async fn list(&self, filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> Result<OrderPage, StoreError> {
        self.inner.list(filter, after, limit).await
    }
    async fn query(&self, query: &OrderQuery) -> Result<QueryPage, StoreError> {
        self.inner.query(query).await
    }
    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        self.inner.count_by_status().await
    }
    async fn events_after(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        self.inner.events_after(after, limit).await
    }
}

impl WorkQueue for HeldBookings {
    async fn due_deadlines(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDeadline>, StoreError> {
        self.inner.due_deadlines(now, limit).await
    }
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.claim_outbox(now, lease, limit).await
    }
    async fn complete_outbox(&self, key: &str) -> Result<(), StoreError> {
        self.inner.complete_outbox(key).await
    }
    async fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.inner.fail_outbox(key, now, retry_at, error).await
    }
    async fn dead_letters(&self, after: Option<DeadLetterCursor>, limit: usize) -> Result<DeadLetterPage, StoreError> {
        self.inner.dead_letters(after, limit).await
    }
    async fn backlog(&self, now: DateTime<Utc>) -> Result<OutboxBacklog, StoreError> {
        self.inner.backlog(now).await
    }
    async fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.inner.requeue_dead(key, now).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ship_answer_carries_its_waybill_under_concurrent_ships() {
    let store = HeldBookings { inner: Arc::new(MemoryStore::new()) };
    let h =
        start_with(AppState::demo_on(ShopOptions::default(), DynOrderStore::new(store), Arc::new(SystemClock))).await;
    let mut packed = Vec::new();
    for _ in 0..12 {
        let id = h.paid().await;
        let package = h.pack(&id).await;
        packed.push((id, package));
    }
    let mut tasks = Vec::new();
    for (id, package) in &packed {
        let (http, url) = (h.http.clone(), h.url(&format!("/orders/{id}/packages/{package}/ship")));
        tasks.push(tokio::spawn(async move {
            let res = http.post(url).bearer_auth("warehouse-token").json(&json!({})).send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }));
    }
    let mut waybills = BTreeSet::new();
    for task in tasks {
        let (status, text) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let waybill = body["package"]["waybill"].as_str();
        assert!(waybill.is_some(), "a ship answer without its waybill: {text}");
        assert_eq!(body["order"]["status"], "shipped", "{text}");
        waybills.extend(waybill.map(str::to_owned));
    }
    assert_eq!(waybills.len(), packed.len(), "one waybill per order");
    h.stop().await;
}
