//! The `http_shop` example's server driven over real HTTP on 127.0.0.1 (port 0): a whole order,
//! webhook security (forged, stale, tampered, replayed, concurrent duplicates, wrong amount),
//! authorization, validation errors, illegal transitions, graceful shutdown, the limits that
//! keep one client from taking the server down (timeouts, body size, connection and in-flight
//! caps, over raw TCP where a well-behaved client cannot show them), the command line, and
//! ship answers carrying their waybill under concurrent ships (concurrent_ships.rs).

#[path = "../../examples/http_shop/cli.rs"]
mod cli;
mod concurrent_ships;
mod provider_shops;
#[path = "../../examples/http_shop/providers.rs"]
mod providers;
#[path = "../../examples/http_shop/server.rs"]
mod server;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use orderflow::order::TrackingKind;
use orderflow::ports::{PaymentNotification, PaymentStatus, RawMessage};
use orderflow::testing::sample_form;
use orderflow::{Currency, Money, OrderNumber};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{AppState, Authenticator, Running, ShopOptions, StaticTokens};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

struct Harness {
    running: Running,
    state: AppState,
    http: reqwest::Client,
}

async fn start(options: ShopOptions) -> Harness {
    start_with(AppState::demo(options)).await
}

async fn start_with(state: AppState) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server::spawn(listener, state.clone()).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    Harness { running, state, http }
}

async fn shop() -> Harness {
    start(ShopOptions { tick: Duration::from_millis(200), ..ShopOptions::default() }).await
}

struct Answer {
    status: StatusCode,
    body: Value,
    text: String,
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.url())
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    async fn get(&self, token: &str, path: &str) -> Answer {
        self.send(self.http.get(self.url(path)).bearer_auth(token)).await
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).bearer_auth(token).json(&body)).await
    }

    async fn webhook(&self, path: &str, raw: &RawMessage) -> Answer {
        let mut req = self.http.post(self.url(path));
        for (name, value) in &raw.headers {
            req = req.header(name, value);
        }
        self.send(req.body(raw.body.clone())).await
    }

    /// Alice places the sample order; returns (id, number, total).
    async fn place(&self, token: &str, customer: &str) -> (String, OrderNumber, Money) {
        let form = serde_json::to_value(sample_form(customer)).unwrap();
        let placed = self.post(token, "/orders", form).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let order = &placed.body["order"];
        let number: OrderNumber = serde_json::from_value(order["number"].clone()).unwrap();
        let total: Money = serde_json::from_value(order["totals"]["total"].clone()).unwrap();
        (order["id"].as_str().unwrap().to_owned(), number, total)
    }

    async fn order(&self, token: &str, id: &str) -> Value {
        let answer = self.get(token, &format!("/orders/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["order"].clone()
    }

    /// The warehouse reads the pick list (three lines), packs what was scanned and ships the
    /// parcel with the selected carrier (SF): the order is shipped; returns the waybill.
    async fn pack_and_ship(&self, id: &str) -> String {
        let package = self.pack(id).await;
        let shipped = self.post("warehouse-token", &format!("/orders/{id}/packages/{package}/ship"), json!({})).await;
        assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.text);
        assert_eq!(shipped.body["package"]["carrier"], "SF");
        assert_eq!(shipped.body["order"]["status"], "shipped");
        shipped.body["package"]["waybill"].as_str().expect("waybill").to_owned()
    }

    /// The warehouse reads the pick list (three lines) and packs what was scanned; returns
    /// the package.
    async fn pack(&self, id: &str) -> u64 {
        let picked = self.get("warehouse-token", &format!("/orders/{id}/pick-list")).await;
        assert_eq!(picked.status, StatusCode::OK, "{}", picked.text);
        let pick_list = picked.body["pick_list"].as_array().unwrap().clone();
        assert_eq!(pick_list.len(), 3);
        let scanned: Vec<Value> = pick_list
            .iter()
            .map(|p| json!({"sku": p["sku"], "product_name": p["product_name"], "variant": p["variant"], "quantity": p["quantity"]}))
            .collect();
        let packed =
            self.post("warehouse-token", &format!("/orders/{id}/packages"), json!({ "scanned": scanned })).await;
        assert_eq!(packed.status, StatusCode::CREATED, "{}", packed.text);
        packed.body["package"].as_u64().unwrap()
    }

    async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(10), self.running.shutdown())
            .await
            .expect("graceful shutdown within 10 s")
            .expect("server stopped cleanly");
    }
}

fn paid_notification(number: OrderNumber, amount: Money, txn: &str) -> PaymentNotification {
    PaymentNotification::new(number, txn, amount, PaymentStatus::Succeeded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_order_over_http() {
    let h =
        start(ShopOptions { tick: Duration::from_millis(200), manual_review: true, ..ShopOptions::default() }).await;

    // 1. Placed, with an idempotency key: the retry gets the same order.
    let form = serde_json::to_value(sample_form("alice")).unwrap();
    let send = |key: &'static str| {
        h.http.post(h.url("/orders")).bearer_auth("alice-token").header("Idempotency-Key", key).json(&form)
    };
    let placed = h.send(send("checkout-1")).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let again = h.send(send("checkout-1")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["order"]["id"], placed.body["order"]["id"]);
    assert_eq!(again.body["already_applied"], true);
    let order = &placed.body["order"];
    let id = order["id"].as_str().unwrap().to_owned();
    let number: OrderNumber = serde_json::from_value(order["number"].clone()).unwrap();
    let total: Money = serde_json::from_value(order["totals"]["total"].clone()).unwrap();
    assert_eq!(total, Money::new(27_000, Currency::CNY));
    assert_eq!(order["status"], "awaiting_payment");

    // 2. Review by a person.
    let buyer_tries = h.post("alice-token", &format!("/orders/{id}/review"), json!({"decision": "approve"})).await;
    assert_eq!(buyer_tries.status, StatusCode::FORBIDDEN, "{}", buyer_tries.text);
    assert_eq!(buyer_tries.body["error"], "forbidden");
    let approved = h
        .post("reviewer-token", &format!("/orders/{id}/review"), json!({"decision": "approve", "note": "looks fine"}))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);

    // 3. Payment: the session, then the provider's signed notification, made with the very
    // gateway the server verifies with.
    let session = h.post("alice-token", &format!("/orders/{id}/payment"), json!({})).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    assert_eq!(session.body["kind"], "qr_code");
    let raw = h.state.gateway.notify_paid(&number, total, Utc::now());
    let reply = h.webhook("/webhooks/payment", &raw).await;
    assert_eq!((reply.status, reply.text.as_str()), (StatusCode::OK, "success"));
    let order = h.order("alice-token", &id).await;
    assert_eq!(order["status"], "ready_to_ship");
    assert_eq!(order["captures"].as_array().unwrap().len(), 1);

    // 4-5. Pick list, pack what was scanned, ship with the selected carrier.
    let waybill = h.pack_and_ship(&id).await;

    // 6. The carrier's signed push: delivered (twice: applied once).
    let push = h.state.carrier.push(&waybill, TrackingKind::Delivered, Utc::now(), "E-1");
    let tracked = h.webhook("/webhooks/tracking", &push).await;
    assert_eq!(tracked.status, StatusCode::OK, "{}", tracked.text);
    assert_eq!(tracked.body["applied"], 1);
    let again = h.webhook("/webhooks/tracking", &push).await;
    assert_eq!(again.body["applied"], 0);
    let forged = h.state.carrier.forge_push(&waybill, TrackingKind::Exception, Utc::now(), "E-2");
    assert_eq!(h.webhook("/webhooks/tracking", &forged).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.order("alice-token", &id).await["status"], "delivered");

    // 7. The buyer confirms receipt.
    let confirmed = h.post("alice-token", &format!("/orders/{id}/confirm"), json!({})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert_eq!(confirmed.body["order"]["status"], "completed");

    // Timelines: the buyer's leaves staff names out, the staff view has them.
    let timeline = h.get("alice-token", &format!("/orders/{id}/timeline")).await;
    let entries = timeline.body["timeline"].as_array().unwrap();
    let titles: Vec<&str> = entries.iter().filter_map(|e| e["title"].as_str()).collect();
    assert!(titles.contains(&"Order placed") && titles.contains(&"Receipt confirmed"), "{titles:?}");
    assert!(entries.iter().all(|e| e["actor"].is_null()));
    let staff_view = h.get("service-token", &format!("/orders/{id}/timeline")).await;
    assert!(staff_view.body["timeline"].as_array().unwrap().iter().any(|e| e["actor"].is_string()));

    // 8. After-sales: one tasting cup (line 3) came chipped: return and refund.
    let case = h
        .post(
            "alice-token",
            &format!("/orders/{id}/cases"),
            json!({"kind": "return_and_refund", "lines": [{"line": 3, "quantity": 1}], "reason_code": "damaged",
                   "text": "one cup arrived chipped", "evidence": ["photo-1.jpg"]}),
        )
        .await;
    assert_eq!(case.status, StatusCode::CREATED, "{}", case.text);
    let c = case.body["case"].as_u64().unwrap();
    let not_for_buyers = h.post("alice-token", &format!("/orders/{id}/cases/{c}/approve"), json!({})).await;
    assert_eq!(not_for_buyers.status, StatusCode::FORBIDDEN, "{}", not_for_buyers.text);
    for (token, step, body) in [
        ("service-token", "approve", json!({})),
        ("alice-token", "return-parcel", json!({"waybill": "YT-RETURN-1"})),
        ("warehouse-token", "receive", json!({})),
        ("warehouse-token", "inspect", json!({"passed": true, "note": "chipped as described"})),
        ("service-token", "refund", json!({})),
    ] {
        let answer = h.post(token, &format!("/orders/{id}/cases/{c}/{step}"), body).await;
        assert_eq!(answer.status, StatusCode::OK, "{step}: {}", answer.text);
    }
    // The refund goes to the provider from the outbox (background worker), then the case closes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.state.gateway.refunds().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refunds = h.state.gateway.refunds();
    assert_eq!(refunds.len(), 1);
    // One cup: its price less its share of the order discount.
    assert_eq!(refunds[0].amount.currency, Currency::CNY);
    assert!(refunds[0].amount.minor > 0 && refunds[0].amount.minor <= 1_500, "{:?}", refunds[0].amount);
    let closed = h.post("service-token", &format!("/orders/{id}/cases/{c}/close"), json!({})).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    let unknown_step = h.post("service-token", &format!("/orders/{id}/cases/{c}/teleport"), json!({})).await;
    assert_eq!(unknown_step.status, StatusCode::NOT_FOUND);

    // The background worker delivered the outbox: the buyer's messages went out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.state.notifier.sent().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!h.state.notifier.sent().is_empty(), "the worker delivers notifications");

    h.stop().await;
}

#[tokio::test]
async fn forged_stale_and_tampered_notifications_are_401_and_change_nothing() {
    let h = shop().await;
    let (id, number, total) = h.place("alice-token", "alice").await;
    let good = paid_notification(number, total, "T-1");

    let forged = h.state.gateway.forge(&good, Utc::now());
    let stale = h.state.gateway.sign(&good, Utc::now() - TimeDelta::minutes(10));
    let tampered = h.state.gateway.tamper(&h.state.gateway.sign(&good, Utc::now()));
    let unsigned = RawMessage { headers: Vec::new(), body: forged.body.clone() };
    for (what, raw, status) in [
        ("forged", &forged, StatusCode::UNAUTHORIZED),
        ("stale", &stale, StatusCode::UNAUTHORIZED),
        ("tampered", &tampered, StatusCode::UNAUTHORIZED),
        ("unsigned", &unsigned, StatusCode::BAD_REQUEST),
    ] {
        let answer = h.webhook("/webhooks/payment", raw).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.text);
        assert!(answer.body["error"].is_string(), "{what}: JSON error body");
        // Nothing secret or signed is echoed back.
        let signature = raw.header("X-Signature").unwrap_or("no signature here");
        assert!(!answer.text.contains(signature), "{what}");
        assert!(!answer.text.contains("provider-secret") && !answer.text.contains("T-1"), "{what}: {}", answer.text);
    }
    let order = h.order("service-token", &id).await;
    assert_eq!(order["status"], "awaiting_payment");
    assert!(order["captures"].as_array().unwrap().is_empty());
    assert!(order["anomalies"].as_array().unwrap().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_replayed_notification_is_answered_success_and_captured_once() {
    let h = shop().await;
    let (id, number, total) = h.place("alice-token", "alice").await;
    let raw = h.state.gateway.notify_paid(&number, total, Utc::now());
    for _ in 0..3 {
        let reply = h.webhook("/webhooks/payment", &raw).await;
        assert_eq!((reply.status, reply.text.as_str()), (StatusCode::OK, "success"));
    }
    let order = h.order("alice-token", &id).await;
    assert_eq!(order["captures"].as_array().unwrap().len(), 1);
    assert_eq!(order["payment_state"], "paid");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_duplicate_notifications_capture_once() {
    let h = shop().await;
    let (id, number, total) = h.place("alice-token", "alice").await;
    let raw = h.state.gateway.notify_paid(&number, total, Utc::now());
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (http, url, raw) = (h.http.clone(), h.url("/webhooks/payment"), raw.clone());
        tasks.push(tokio::spawn(async move {
            let mut req = http.post(url);
            for (name, value) in &raw.headers {
                req = req.header(name, value);
            }
            let res = req.body(raw.body.clone()).send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }));
    }
    for task in tasks {
        let (status, text) = task.await.unwrap();
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    }
    let order = h.order("service-token", &id).await;
    assert_eq!(order["captures"].as_array().unwrap().len(), 1);
    assert!(order["anomalies"].as_array().unwrap().is_empty());
    assert_eq!(order["status"], "ready_to_ship");
    h.stop().await;
}

#[tokio::test]
async fn a_wrong_amount_is_not_paid_but_recorded_as_an_anomaly() {
    let h = shop().await;
    let (id, number, total) = h.place("alice-token", "alice").await;
    // More than is owed, and the right amount in the wrong currency.
    let too_much = Money::new(total.minor + 1, total.currency);
    let wrong_currency = Money::new(total.minor, Currency::USD);
    for amount in [too_much, wrong_currency] {
        let raw = h.state.gateway.notify_paid(&number, amount, Utc::now());
        let reply = h.webhook("/webhooks/payment", &raw).await;
        // Handled (the provider must stop retrying), but not paid.
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let order = h.order("service-token", &id).await;
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["payment_state"], "unpaid");
    assert!(order["captures"].as_array().unwrap().is_empty());
    let anomalies = order["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 2, "{anomalies:?}");
    assert_eq!(anomalies[0]["amount"]["minor"], total.minor + 1);
    assert_eq!(anomalies[1]["amount"]["currency"], "USD");
    // Buyers do not see staff-only details.
    assert!(h.order("alice-token", &id).await.get("anomalies").is_none());
    h.stop().await;
}

#[tokio::test]
async fn another_buyers_order_is_not_found_and_tokens_are_checked() {
    let h = shop().await;
    let (id, _, _) = h.place("alice-token", "alice").await;

    for path in [format!("/orders/{id}"), format!("/orders/{id}/timeline")] {
        let answer = h.get("bob-token", &path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {}", answer.text);
        assert_eq!(answer.body["error"], "not_found");
    }
    for (path, body) in [
        (format!("/orders/{id}/payment"), json!({})),
        (format!("/orders/{id}/confirm"), json!({})),
        (format!("/orders/{id}/cancel"), json!({"reason": "mine now"})),
        (format!("/orders/{id}/commands"), json!({"action": "cancel", "reason": "mine now"})),
    ] {
        let answer = h.post("bob-token", &path, body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {}", answer.text);
    }
    // The same answer as an order that does not exist at all, or an id that is not one.
    let missing = h.get("bob-token", "/orders/01939e7a-0000-7000-8000-000000000000").await;
    assert_eq!(
        (missing.status, &missing.body),
        (StatusCode::NOT_FOUND, &h.get("bob-token", &format!("/orders/{id}")).await.body)
    );
    assert_eq!(h.get("bob-token", "/orders/not-an-id").await.status, StatusCode::NOT_FOUND);
    // Staff may look; alice's order is unchanged.
    assert_eq!(h.order("service-token", &id).await["status"], "awaiting_payment");

    // Tokens.
    let none = h.send(h.http.get(h.url(&format!("/orders/{id}")))).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["error"], "unauthorized");
    assert_eq!(h.get("made-up-token", &format!("/orders/{id}")).await.status, StatusCode::UNAUTHORIZED);
    // Placing for someone else is forbidden; staff roles are checked.
    let for_bob = h.post("alice-token", "/orders", serde_json::to_value(sample_form("bob")).unwrap()).await;
    assert_eq!(for_bob.status, StatusCode::FORBIDDEN, "{}", for_bob.text);
    let packer_reviews =
        h.post("warehouse-token", &format!("/orders/{id}/review"), json!({"decision": "reject", "reason": "no"})).await;
    assert_eq!(packer_reviews.status, StatusCode::FORBIDDEN, "{}", packer_reviews.text);
    // The demo helpers are off unless asked for.
    assert_eq!(
        h.post("alice-token", &format!("/dev/simulate-payment/{id}"), json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    h.stop().await;
}

#[tokio::test]
async fn validation_errors_are_400_listing_every_problem() {
    let h = shop().await;
    let mut form = serde_json::to_value(sample_form("alice")).unwrap();
    form["lines"][0]["quantity"] = json!(0);
    form["lines"][1]["sku"] = json!("");
    form["shipping_address"]["phone"] = json!("");
    form["shipping_address"]["recipient"] = json!("");
    let answer = h.post("alice-token", "/orders", form).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(answer.body["error"], "invalid");
    let fields: Vec<&str> =
        answer.body["violations"].as_array().unwrap().iter().filter_map(|v| v["field"].as_str()).collect();
    for field in ["lines[0].quantity", "lines[1].sku", "shipping_address.phone", "shipping_address.recipient"] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(
        answer.body["violations"].as_array().unwrap().iter().all(|v| v["code"].is_string() && v["message"].is_string())
    );

    // Not JSON, or the wrong shape: 400 in the same format.
    let garbage = h.send(h.http.post(h.url("/orders")).bearer_auth("alice-token").body("{not json")).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(garbage.body["error"], "bad_request");
    let shape = h.post("alice-token", "/orders", json!({"lines": 3})).await;
    assert_eq!(shape.status, StatusCode::BAD_REQUEST);

    // A command's own field rules: 400 with the field named.
    let (id, _, _) = h.place("alice-token", "alice").await;
    let no_reason = h.post("alice-token", &format!("/orders/{id}/cancel"), json!({"reason": ""})).await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST, "{}", no_reason.text);
    assert!(no_reason.body["violations"][0]["field"].is_string());
    h.stop().await;
}

#[tokio::test]
async fn illegal_transitions_are_422() {
    let h = shop().await;
    let (id, _, _) = h.place("alice-token", "alice").await;
    // Not paid yet: the warehouse cannot start.
    let early = h.get("warehouse-token", &format!("/orders/{id}/pick-list")).await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", early.text);
    assert_eq!(early.body["error"], "not_ready_to_fulfil");
    // Nothing shipped: nothing to confirm.
    let confirm = h.post("alice-token", &format!("/orders/{id}/confirm"), json!({})).await;
    assert_eq!(confirm.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", confirm.text);
    // Cancelled: cannot be paid any more.
    let cancelled = h.post("alice-token", &format!("/orders/{id}/cancel"), json!({"reason": "changed my mind"})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["order"]["status"], "cancelled");
    let pay = h.post("alice-token", &format!("/orders/{id}/payment"), json!({})).await;
    assert_eq!(pay.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", pay.text);
    assert_eq!(pay.body["error"], "illegal_transition");
    let approve = h.post("reviewer-token", &format!("/orders/{id}/review"), json!({"decision": "approve"})).await;
    assert_eq!(approve.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", approve.text);
    // Unknown parcel: 404.
    let ship = h.post("warehouse-token", &format!("/orders/{id}/packages/9/ship"), json!({})).await;
    assert_eq!(ship.status, StatusCode::NOT_FOUND, "{}", ship.text);
    h.stop().await;
}

#[tokio::test]
async fn error_bodies_carry_the_librarys_code_beside_the_kind() {
    let h = shop().await;
    let (id, _, _) = h.place("alice-token", "alice").await;
    let mut form = serde_json::to_value(sample_form("alice")).unwrap();
    form["lines"][0]["quantity"] = json!(0);
    let invalid = h.post("alice-token", "/orders", form).await;
    assert_eq!((&invalid.body["error"], &invalid.body["code"]), (&json!("invalid"), &json!("invalid_form")));
    let early = h.get("warehouse-token", &format!("/orders/{id}/pick-list")).await;
    assert_eq!(early.body["code"], "not_ready_to_fulfil");
    // Another buyer's order answers the code of a missing one, so ids cannot be probed.
    let other = h.get("bob-token", &format!("/orders/{id}")).await;
    assert_eq!((&other.body["error"], &other.body["code"]), (&json!("not_found"), &json!("order_not_found")));
    // Errors of the server itself (no route, no token) have no library code.
    assert!(h.get("alice-token", "/no-such-route").await.body.get("code").is_none());
    assert!(h.send(h.http.get(h.url(&format!("/orders/{id}")))).await.body.get("code").is_none());
    h.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_and_closes_the_port() {
    let h = shop().await;
    let (id, _, _) = h.place("alice-token", "alice").await;
    assert_eq!(h.order("alice-token", &id).await["status"], "awaiting_payment");
    let url = h.url("/orders");
    let http = h.http.clone();
    h.stop().await;
    assert!(http.get(url).send().await.is_err(), "nothing listens after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_worker_fires_due_deadlines() {
    let clock = std::sync::Arc::new(orderflow::testing::FixedClock::new(Utc::now()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = ShopOptions { tick: Duration::from_millis(200), ..ShopOptions::default() };
    let state = AppState::demo_with_clock(options, clock.clone());
    let running = server::spawn(listener, state.clone()).unwrap();
    let h = Harness { running, state, http: reqwest::Client::new() };
    let (id, _, _) = h.place("alice-token", "alice").await;

    // Nobody pays; 31 minutes later the pay-by deadline is due and the worker cancels the order.
    clock.advance(TimeDelta::minutes(31));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut status = Value::Null;
    while tokio::time::Instant::now() < deadline {
        status = h.order("alice-token", &id).await["status"].clone();
        if status == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "cancelled");
    h.stop().await;
}

/// The example's default store: orders placed over HTTP are in the SQLite file after the server
/// stops, and a new server on the same file serves them (status, history and timeline).
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_outlive_a_restart_on_the_sqlite_store() {
    use std::sync::Arc;

    use orderflow::adapters::sqlite::SqliteStore;
    use orderflow::ports::{DynOrderStore, SystemClock};

    let path = std::env::temp_dir().join(format!("orderflow-http-shop-{}.sqlite", uuid::Uuid::now_v7()));
    let open = || -> AppState {
        let store = DynOrderStore::new(SqliteStore::open(&path).unwrap());
        AppState::demo_on(ShopOptions::default(), store, Arc::new(SystemClock))
    };

    let first = start_with(open()).await;
    let (id, number, total) = first.place("alice-token", "alice").await;
    let raw = first.state.gateway.sign(&paid_notification(number, total, "T-restart"), Utc::now());
    assert_eq!(first.webhook("/webhooks/payment", &raw).await.status, StatusCode::OK);
    let before = first.order("alice-token", &id).await;
    let timeline_before = first.get("alice-token", &format!("/orders/{id}/timeline")).await.body;
    first.stop().await;

    let second = start_with(open()).await;
    let after = second.order("alice-token", &id).await;
    assert_eq!(after["status"], before["status"]);
    assert_eq!(after["status"], "ready_to_ship");
    assert_eq!(after["captures"], before["captures"]);
    assert_eq!(after["captures"].as_array().map(Vec::len), Some(1));
    assert_eq!(second.get("alice-token", &format!("/orders/{id}/timeline")).await.body, timeline_before);
    // The replayed notification is still known: no second capture after the restart.
    assert_eq!(second.webhook("/webhooks/payment", &raw).await.status, StatusCode::OK);
    assert_eq!(second.order("alice-token", &id).await["captures"], before["captures"]);
    second.stop().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

// ---------------------------------------------------------------------------------------------
// Limits: one client cannot take the server down
// ---------------------------------------------------------------------------------------------

/// How long a test waits for something that should happen much sooner.
const BOUND: Duration = Duration::from_secs(5);

/// A short timeout the tests set, and the least time they accept before it fires.
const SHORT: Duration = Duration::from_millis(300);
const NOT_BEFORE: Duration = Duration::from_millis(250);

/// A raw connection from `from` (an address of the loopback range, port 0).
async fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(to).await
}

/// Reads until the server closes the connection (or resets it); `None` if it is still open
/// after `bound`.
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    match tokio::time::timeout(bound, stream.read_to_end(&mut data)).await {
        Ok(_) => Some(data),
        Err(_) => None,
    }
}

/// Reads one HTTP response (head and a `content-length` body) within `bound`.
async fn read_response(stream: &mut TcpStream, bound: Duration) -> String {
    let mut data = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return text;
                }
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before a whole response: {text:?}");
            data.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(bound, read).await.expect("a response in time")
}

#[tokio::test]
async fn an_oversized_body_is_413_and_changes_nothing() {
    let h = start(ShopOptions { max_body_bytes: 8 * 1024, ..ShopOptions::default() }).await;
    // Within the limit, an order is placed as usual.
    let (id, number, total) = h.place("alice-token", "alice").await;

    // A valid order padded past the limit, a webhook and a command.
    let mut form = serde_json::to_string(&sample_form("alice")).unwrap();
    form.push_str(&" ".repeat(8 * 1024));
    let padded = h.http.post(h.url("/orders")).bearer_auth("alice-token").header("content-type", "application/json");
    let raw = h.state.gateway.notify_paid(&number, total, Utc::now());
    let mut big_webhook = raw.body.clone();
    big_webhook.extend(std::iter::repeat_n(b' ', 8 * 1024));
    let signed_big = h.state.gateway.sign_body(big_webhook, Utc::now());
    for (what, answer) in [
        ("order", h.send(padded.body(form.clone())).await),
        ("payment webhook", h.webhook("/webhooks/payment", &signed_big).await),
        (
            "command",
            h.post("alice-token", &format!("/orders/{id}/cancel"), json!({"reason": "x".repeat(9 * 1024)})).await,
        ),
    ] {
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{what}: {}", answer.text);
        assert_eq!(answer.body["error"], "payload_too_large", "{what}");
    }
    // The same without a content-length (chunked).
    let mut conn = TcpStream::connect(h.running.addr).await.unwrap();
    let head = "POST /orders HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer alice-token\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunked = format!("{head}{:x}\r\n{form}\r\n0\r\n\r\n", form.len());
    conn.write_all(chunked.as_bytes()).await.unwrap();
    let answer = read_response(&mut conn, BOUND).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""error":"payload_too_large""#), "{answer}");
    let order = h.order("service-token", &id).await;
    assert_eq!(order["status"], "awaiting_payment");
    assert!(order["captures"].as_array().unwrap().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_client_sending_half_a_request_head_is_disconnected_after_the_header_timeout() {
    let h = start(ShopOptions { header_read_timeout: SHORT, ..ShopOptions::default() }).await;
    let began = Instant::now();
    let mut half = TcpStream::connect(h.running.addr).await.unwrap();
    half.write_all(b"POST /orders HTTP/1.1\r\nHost: shop\r\nAuthorization: Bea").await.unwrap();
    let mut silent = TcpStream::connect(h.running.addr).await.unwrap();
    assert!(closed_within(&mut half, BOUND).await.is_some(), "half a head: still open after {BOUND:?}");
    assert!(closed_within(&mut silent, BOUND).await.is_some(), "nothing sent: still open after {BOUND:?}");
    assert!(began.elapsed() >= NOT_BEFORE, "closed before the timeout: {:?}", began.elapsed());
    // The server goes on serving.
    let (id, _, _) = h.place("alice-token", "alice").await;
    assert_eq!(h.order("alice-token", &id).await["status"], "awaiting_payment");
    h.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let h = start(ShopOptions { idle_timeout: SHORT, ..ShopOptions::default() }).await;
    let mut conn = TcpStream::connect(h.running.addr).await.unwrap();
    conn.write_all(b"GET /orders/none HTTP/1.1\r\nHost: shop\r\n\r\n").await.unwrap();
    let answer = read_response(&mut conn, BOUND).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let answered = Instant::now();
    // Kept alive (header timeout 10 s), then closed when idle for the idle timeout.
    let rest = closed_within(&mut conn, BOUND).await.expect("closed when idle");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(answered.elapsed() >= NOT_BEFORE, "closed before the idle timeout: {:?}", answered.elapsed());
    h.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_is_408() {
    let h = start(ShopOptions { body_timeout: SHORT, ..ShopOptions::default() }).await;
    let began = Instant::now();
    let mut conn = TcpStream::connect(h.running.addr).await.unwrap();
    conn.write_all(b"POST /webhooks/payment HTTP/1.1\r\nHost: shop\r\nContent-Length: 100\r\n\r\n{\"notif")
        .await
        .unwrap();
    let answer = read_response(&mut conn, BOUND).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
    assert!(began.elapsed() >= NOT_BEFORE, "answered before the timeout: {:?}", began.elapsed());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_half_open_connections_from_one_client_do_not_take_the_server_down() {
    const CAP: usize = 50;
    const HELD: usize = 300;
    let h = start(ShopOptions { max_connections_per_client: CAP, ..ShopOptions::default() }).await;
    let (id, _, _) = h.place("alice-token", "alice").await;

    // One client (127.0.0.2) opens 300 connections and sends half a request head on each.
    let mut held = Vec::new();
    for _ in 0..HELD {
        let mut conn = connect_from("127.0.0.2", h.running.addr).await.unwrap();
        // The server may already have closed a connection over the cap.
        let _ = conn.write_all(b"GET /orders HTTP/1.1\r\nHost: shop\r\nX-Slow: ").await;
        held.push(conn);
    }
    // Everybody else is still served, at once.
    let answer = tokio::time::timeout(BOUND, h.get("alice-token", &format!("/orders/{id}"))).await.unwrap();
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    // The server kept the client's first 50 connections (until the header timeout) and closed
    // the others at once.
    let checks = held.into_iter().map(|mut conn| {
        tokio::spawn(async move { (closed_within(&mut conn, Duration::from_millis(1_500)).await, conn) })
    });
    let mut closed = 0;
    let mut still_open = Vec::new();
    for check in checks.collect::<Vec<_>>() {
        let (ended, conn) = check.await.unwrap();
        match ended {
            Some(answer) => {
                closed += 1;
                let answer = String::from_utf8_lossy(&answer);
                assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 503"), "{answer}");
            }
            None => still_open.push(conn),
        }
    }
    assert_eq!((closed, still_open.len()), (HELD - CAP, CAP));
    drop(still_open);
    h.stop().await;
}

/// Sends `GET path` as alice on a fresh connection until the answer has `status`, for at most
/// [`BOUND`] (a connection refused over the cap may be closed before it is answered).
async fn until_status(h: &Harness, path: &str, status: StatusCode) -> Answer {
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(BOUND).build().unwrap();
    let deadline = Instant::now() + BOUND;
    loop {
        if let Ok(res) = http.get(h.url(path)).bearer_auth("alice-token").send().await {
            let (got, text) = (res.status(), res.text().await.unwrap_or_default());
            if got == status || Instant::now() > deadline {
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                return Answer { status: got, body, text };
            }
        }
        assert!(Instant::now() < deadline, "no answer {status} within {BOUND:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_cap_are_503_at_once() {
    let h = start(ShopOptions { max_in_flight: 2, ..ShopOptions::default() }).await;
    // Two requests in flight: their heads are in, their bodies never come.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut conn = TcpStream::connect(h.running.addr).await.unwrap();
        conn.write_all(b"POST /webhooks/payment HTTP/1.1\r\nHost: shop\r\nContent-Length: 100\r\n\r\n").await.unwrap();
        stalled.push(conn);
    }
    // A third request is answered 503 at once (asked again until the two are in flight).
    let overloaded = until_status(&h, "/orders/none", StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(overloaded.status, StatusCode::SERVICE_UNAVAILABLE, "{}", overloaded.text);
    assert_eq!(overloaded.body["error"], "overloaded");
    // Once they are gone, requests are served again.
    drop(stalled);
    let served = until_status(&h, "/orders/none", StatusCode::NOT_FOUND).await;
    assert_eq!(served.status, StatusCode::NOT_FOUND, "{}", served.text);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_answered_503_and_closed() {
    let h = start(ShopOptions { max_connections: 4, ..ShopOptions::default() }).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(TcpStream::connect(h.running.addr).await.unwrap());
    }
    let mut fifth = TcpStream::connect(h.running.addr).await.unwrap();
    let refused = closed_within(&mut fifth, BOUND).await.expect("the fifth connection is closed");
    let refused = String::from_utf8_lossy(&refused);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too many connections"), "{refused}");
    // The four are still open (the header timeout is 10 s); once they are closed, requests
    // are served again.
    for conn in &mut open {
        assert!(closed_within(conn, Duration::from_millis(100)).await.is_none());
    }
    drop(open);
    let served = until_status(&h, "/orders/none", StatusCode::NOT_FOUND).await;
    assert_eq!(served.status, StatusCode::NOT_FOUND, "{}", served.text);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Tracking pushes: the timestamp tolerance
// ---------------------------------------------------------------------------------------------

impl Harness {
    /// Alice's order, placed and paid (the provider's signed notification); returns its id.
    async fn paid(&self) -> String {
        let (id, number, total) = self.place("alice-token", "alice").await;
        let raw = self.state.gateway.notify_paid(&number, total, Utc::now());
        let paid = self.webhook("/webhooks/payment", &raw).await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        id
    }

    /// Alice's order, paid, packed and shipped; returns (id, waybill).
    async fn shipped(&self) -> (String, String) {
        let id = self.paid().await;
        let waybill = self.pack_and_ship(&id).await;
        (id, waybill)
    }
}

#[tokio::test]
async fn tracking_pushes_signed_a_day_ago_or_a_year_ahead_are_401_and_change_nothing() {
    let h = shop().await;
    let (id, waybill) = h.shipped().await;
    let before = h.order("service-token", &id).await;
    assert_eq!(before["status"], "shipped");

    let now = Utc::now();
    for (what, signed_at) in [("a day ago", now - TimeDelta::days(1)), ("a year ahead", now + TimeDelta::days(365))] {
        let push = h.state.carrier.push(&waybill, TrackingKind::Delivered, signed_at, &format!("E-{what}"));
        let answer = h.webhook("/webhooks/tracking", &push).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}: {}", answer.text);
        assert_eq!(answer.body["error"], "unauthorized", "{what}");
    }
    let after = h.order("service-token", &id).await;
    assert_eq!(after["status"], "shipped");
    assert_eq!(after["packages"], before["packages"], "the tracking is unchanged");

    // Signed now: applied.
    let push = h.state.carrier.push(&waybill, TrackingKind::Delivered, now, "E-now");
    let answer = h.webhook("/webhooks/tracking", &push).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["applied"], 1);
    let delivered = h.order("service-token", &id).await;
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["packages"][0]["tracking"].as_array().unwrap().len(), 1);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The command line: dev endpoints, stock
// ---------------------------------------------------------------------------------------------

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test]
async fn dev_routes_are_404_and_change_nothing_unless_started_with_dev() {
    assert!(!ShopOptions::default().dev_endpoints);
    let plain = cli::parse(args(&["--memory"])).unwrap();
    assert!(!plain.options.dev_endpoints);

    let h = start(plain.options).await;
    let (id, number, _) = h.place("alice-token", "alice").await;
    for (path, body) in [
        (format!("/dev/simulate-payment/{id}"), json!({})),
        (format!("/dev/simulate-payment/{id}"), json!({"amount_minor": 1})),
        (format!("/dev/simulate-tracking/{id}"), json!({"kind": "delivered"})),
    ] {
        for token in ["alice-token", "admin-token"] {
            let answer = h.post(token, &path, body.clone()).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path} as {token}: {}", answer.text);
            assert_eq!(answer.body["error"], "not_found");
        }
    }
    let order = h.order("service-token", &id).await;
    assert_eq!((&order["status"], &order["payment_state"]), (&json!("awaiting_payment"), &json!("unpaid")));
    assert!(order["captures"].as_array().unwrap().is_empty());
    assert!(h.state.gateway.payment(&number).is_none(), "the fake provider was not asked to pay");
    h.stop().await;

    // With --dev the same request pays (so the 404 above was the switch, not a wrong path).
    let dev = cli::parse(args(&["--memory", "--dev"])).unwrap();
    assert!(dev.options.dev_endpoints);
    let h = start(dev.options).await;
    let (id, _, _) = h.place("alice-token", "alice").await;
    let paid = h.post("alice-token", &format!("/dev/simulate-payment/{id}"), json!({})).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    assert_eq!(paid.body["order"]["payment_state"], "paid");
    h.stop().await;
}

#[test]
fn the_command_line_sets_the_store_and_the_stock() {
    let default = cli::parse(args(&[])).unwrap();
    assert_eq!(default.store, cli::StoreChoice::Sqlite("http_shop.db".into()));
    assert_eq!(default.options.stock, 1_000_000);
    assert!(!default.options.dev_endpoints && !default.help);
    let chosen = cli::parse(args(&["--db", "x.db", "--stock", "25", "--dev"])).unwrap();
    assert_eq!(chosen.store, cli::StoreChoice::Sqlite("x.db".into()));
    assert_eq!(chosen.options.stock, 25);
    assert!(chosen.options.dev_endpoints);
    assert!(cli::parse(args(&["--help"])).unwrap().help);
    for bad in [&["--stock"][..], &["--stock", "-1"], &["--stock", "lots"], &["--db"], &["--prod"]] {
        assert!(cli::parse(args(bad)).is_err(), "{bad:?}");
    }
    assert!(cli::USAGE.contains("--dev") && cli::USAGE.contains("--stock"));
}

// ---------------------------------------------------------------------------------------------
// Bearer tokens: compared exactly
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn padded_truncated_or_extended_tokens_are_401() {
    let h = shop().await;
    let (id, _, _) = h.place("alice-token", "alice").await;
    let path = format!("/orders/{id}");
    assert_eq!(h.get("alice-token", &path).await.status, StatusCode::OK);
    for header in [
        "Bearer  alice-token",
        "Bearer \talice-token",
        "Bearer alice-toke",
        "Bearer alice-tokenX",
        "Bearer alice-token-2",
        "Bearer alice",
        "Bearer ALICE-TOKEN",
        "Bearer ",
    ] {
        let answer = h.send(h.http.get(h.url(&path)).header("authorization", header)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{header:?}: {}", answer.text);
        assert_eq!(answer.body["error"], "unauthorized");
    }
    // Spaces at either end are not trimmed off a token either (over HTTP, whitespace around a
    // header value is dropped by the HTTP parser before the server sees it).
    let tokens = StaticTokens::demo();
    assert!(tokens.authenticate("alice-token").is_some());
    for token in [" alice-token", "alice-token ", " alice-token ", "alice-token\n", "", "alice-token\0"] {
        assert!(tokens.authenticate(token).is_none(), "{token:?}");
    }
    assert!(!format!("{tokens:?}").contains("alice-token"), "the tokens are not printed");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_buyers_idempotency_key_never_returns_their_order() {
    let h = shop().await;
    let place = |token: &'static str, customer: &str, key: &'static str| {
        let form = serde_json::to_value(sample_form(customer)).unwrap();
        h.http.post(h.url("/orders")).bearer_auth(token).header("Idempotency-Key", key).json(&form)
    };
    let alice = h.send(place("alice-token", "alice", "checkout-1")).await;
    assert_eq!(alice.status, StatusCode::CREATED, "{}", alice.text);
    // Bob sends the same key: he gets a new order of his own, nothing of Alice's.
    let bob = h.send(place("bob-token", "bob", "checkout-1")).await;
    assert_eq!(bob.status, StatusCode::CREATED, "{}", bob.text);
    assert_ne!(bob.body["order"]["id"], alice.body["order"]["id"]);
    assert_eq!(bob.body["order"]["customer"], "bob");
    assert!(!bob.text.contains(alice.body["order"]["id"].as_str().unwrap()));
    // Alice reusing her key for another cart is refused, and nothing is placed.
    let mut other = sample_form("alice");
    other.buyer_note = "a different cart".into();
    let reused = h
        .send(
            h.http
                .post(h.url("/orders"))
                .bearer_auth("alice-token")
                .header("Idempotency-Key", "checkout-1")
                .json(&serde_json::to_value(other).unwrap()),
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reused.text);
    assert_eq!(reused.body["error"], "idempotency_key_reused");
    let alice_id = orderflow::CustomerId::new("alice").unwrap();
    let filter = orderflow::ports::OrderFilter { customer: Some(alice_id), ..Default::default() };
    let hers = h.state.engine.list(&filter, None, 10).await.unwrap();
    assert_eq!(hers.items.len(), 1, "nothing placed by the refused request");
}
