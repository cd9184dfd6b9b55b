//! The HTTP shop backend: an axum router over an orderflow [`Engine`], shared by the
//! `http_shop` example (`examples/http_shop/main.rs`) and its test (`tests/http_shop.rs`).
//!
//! # Authentication
//!
//! Every `/orders` route wants `Authorization: Bearer <token>`. The token is turned into an
//! [`Actor`] by an [`Authenticator`]; a missing or unknown token is answered 401. The demo uses
//! [`StaticTokens::demo`], a fixed table (`alice-token`, `bob-token`, `reviewer-token`,
//! `warehouse-token`, `service-token`, `admin-token`). A host plugs in its own by implementing
//! [`Authenticator`], or simply by passing a closure — any `Fn(&str) -> Option<Actor>` is one:
//!
//! ```ignore
//! let auth = |token: &str| sessions.lookup(token).map(|user| match user.role {
//!     UserRole::Customer => Actor::buyer(CustomerId::new(user.id).ok()?),
//!     UserRole::Packer => Actor::staff(StaffId::new(user.id).ok()?, [Role::Warehouse]),
//! });
//! let state = AppState::new(engine, Arc::new(auth), gateway, options);
//! ```
//!
//! The actor is all the engine needs: permissions (who may approve, pack, refund...) are decided
//! by the workflow's permission table, and a buyer only ever sees their own orders (another
//! buyer's order is answered 404, so order ids cannot be probed).
//!
//! # Webhooks
//!
//! `POST /webhooks/payment` and `POST /webhooks/tracking` take no bearer token: they are
//! authenticated by their signature (`X-Timestamp`, `X-Signature`: HMAC-SHA256 over
//! `"{timestamp}.{body}"`), verified by the gateway and carrier adapters. A forged signature or a
//! stale timestamp is answered 401 and changes nothing; a redelivered notification is answered
//! as success without being applied twice.
//!
//! # Errors
//!
//! Every error is JSON: `{"error": code, "message": text, "violations": [...]}` (violations only
//! for invalid input). 400 invalid input (every violation listed), 401 bad token, signature or
//! timestamp, 403 role not allowed, 404 not found (also another buyer's order), 409 concurrent
//! change, 422 illegal transition or other refusal by the workflow, 503 a backend to retry
//! later. Error bodies never contain secrets, signatures or payment payloads.
//!
//! # Dev aids
//!
//! With [`ShopOptions::dev_endpoints`] on (the example turns it on, a production host never
//! should), `POST /dev/simulate-payment/{id}` and `POST /dev/simulate-tracking/{id}` make the fake
//! provider and carrier send their signed callbacks to the engine, so a whole order can be tried
//! with curl alone.

// This file is compiled into both the example and the test; each uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orderflow::engine::{Adapters, Engine, EngineError, Outcome};
use orderflow::order::{CaseRequest, HoldReason, PackageItem, ScannedItem, TrackingKind};
use orderflow::ports::{
    Clock, DynOrderStore, GatewayError, InventoryError, LogisticsError, PaymentSession, RawMessage, StoreError,
    SystemClock,
};
use orderflow::testing::{FakeCarrier, FakeGateway, RecordingNotifier};
use orderflow::validation::{Violation, ViolationCode, Violations};
use orderflow::{
    Action, Actor, CaseId, Command, CustomerId, Error, MemoryInventory, MemoryStore, Order, OrderId, PackageId, Role,
    Sku, StaffId, Workflow, WorkflowConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/// The engine this server runs on. The store is chosen at start-up (a SQLite file, or memory),
/// so it is a trait object; the fakes stand in for the payment provider and the carrier.
pub type ShopEngine = Engine<
    Adapters<
        Arc<dyn DynOrderStore>,
        Arc<FakeGateway>,
        Arc<FakeCarrier>,
        Arc<MemoryInventory>,
        Arc<RecordingNotifier>,
        Arc<dyn Clock>,
    >,
>;

/// Turns a bearer token into the actor behind it.
pub trait Authenticator: Send + Sync {
    /// The actor for `token`, or `None` when the token is unknown.
    fn authenticate(&self, token: &str) -> Option<Actor>;
}

impl<F> Authenticator for F
where
    F: Fn(&str) -> Option<Actor> + Send + Sync,
{
    fn authenticate(&self, token: &str) -> Option<Actor> {
        self(token)
    }
}

/// A fixed token table.
#[derive(Debug, Clone, Default)]
pub struct StaticTokens(HashMap<String, Actor>);

impl StaticTokens {
    /// Adds `token` for `actor`.
    pub fn with(mut self, token: &str, actor: Actor) -> StaticTokens {
        self.0.insert(token.to_owned(), actor);
        self
    }

    /// The demo's users: buyers alice and bob, a reviewer, a warehouse worker, a customer-service
    /// agent and an admin.
    pub fn demo() -> StaticTokens {
        let staff = |id: &str, roles: &[Role]| {
            StaffId::new(id).map(|id| Actor::staff(id, roles.iter().copied())).unwrap_or(Actor::System)
        };
        let buyer = |id: &str| CustomerId::new(id).map(Actor::buyer).unwrap_or(Actor::System);
        StaticTokens::default()
            .with("alice-token", buyer("alice"))
            .with("bob-token", buyer("bob"))
            .with("reviewer-token", staff("rita", &[Role::Reviewer]))
            .with("warehouse-token", staff("wang", &[Role::Warehouse]))
            .with("service-token", staff("chen", &[Role::CustomerService]))
            .with("admin-token", staff("ada", &[Role::Admin]))
    }
}

impl Authenticator for StaticTokens {
    fn authenticate(&self, token: &str) -> Option<Actor> {
        self.0.get(token).cloned()
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ShopOptions {
    /// How often the background worker fires due deadlines and delivers the outbox.
    pub tick: Duration,
    /// Serve the `/dev/...` helpers that make the fake provider and carrier call back. Demo only.
    pub dev_endpoints: bool,
    /// Every order waits for a reviewer (otherwise the workflow approves ordinary orders itself).
    pub manual_review: bool,
    /// Units in stock of every demo SKU.
    pub stock: u32,
}

impl Default for ShopOptions {
    fn default() -> Self {
        ShopOptions { tick: Duration::from_secs(1), dev_endpoints: false, manual_review: false, stock: 100 }
    }
}

/// The demo catalogue (the SKUs of `orderflow::testing::sample_form`).
pub const DEMO_SKUS: [&str; 3] = ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"];

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<ShopEngine>,
    /// Bearer tokens → actors.
    pub auth: Arc<dyn Authenticator>,
    /// The (fake) payment provider, also used by the dev helper to send signed notifications.
    pub gateway: Arc<FakeGateway>,
    /// The (fake) carrier, also used by the dev helper to send signed tracking pushes.
    pub carrier: Arc<FakeCarrier>,
    /// Messages the shop sent (to buyers and staff).
    pub notifier: Arc<RecordingNotifier>,
    /// Options.
    pub options: ShopOptions,
}

impl AppState {
    /// A shop on the memory store with the fake provider (`alipay`) and carrier (`SF`), the
    /// system clock and the demo token table.
    pub fn demo(options: ShopOptions) -> AppState {
        AppState::demo_with_clock(options, Arc::new(SystemClock))
    }

    /// [`AppState::demo`] on another clock (tests use a steppable one to make deadlines due).
    pub fn demo_with_clock(options: ShopOptions, clock: Arc<dyn Clock>) -> AppState {
        AppState::demo_on(options, Arc::new(MemoryStore::new()), clock)
    }

    /// The demo shop on `store` (e.g. a `SqliteStore`, so orders outlive the process). Stock,
    /// the fake provider and the fake carrier live in memory and start afresh each run.
    pub fn demo_on(options: ShopOptions, store: Arc<dyn DynOrderStore>, clock: Arc<dyn Clock>) -> AppState {
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
        let notifier = Arc::new(RecordingNotifier::new());
        let inventory = Arc::new(MemoryInventory::new());
        for sku in DEMO_SKUS {
            if let Ok(sku) = Sku::new(sku) {
                inventory.set_stock(&sku, options.stock);
            }
        }
        let config = WorkflowConfig { auto_approve: !options.manual_review, ..WorkflowConfig::default() };
        let engine = Engine::new(
            Workflow::new(config),
            Adapters {
                store,
                payments: gateway.clone(),
                logistics: carrier.clone(),
                inventory,
                notifier: notifier.clone(),
                clock,
            },
        );
        AppState { engine: Arc::new(engine), auth: Arc::new(StaticTokens::demo()), gateway, carrier, notifier, options }
    }

    /// The same state with another authenticator.
    pub fn with_auth(mut self, auth: impl Authenticator + 'static) -> AppState {
        self.auth = Arc::new(auth);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------------------------

/// The routes.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/orders", post(place))
        .route("/orders/{id}", get(show))
        .route("/orders/{id}/payment", post(start_payment))
        .route("/orders/{id}/confirm", post(confirm))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/timeline", get(timeline))
        .route("/orders/{id}/review", post(review))
        .route("/orders/{id}/pick-list", get(pick_list).post(pick_list))
        .route("/orders/{id}/packages", post(pack))
        .route("/orders/{id}/packages/{package}/ship", post(ship))
        .route("/orders/{id}/cases", post(open_case))
        .route("/orders/{id}/cases/{case}/{step}", post(case_step))
        .route("/orders/{id}/commands", post(command))
        .route("/webhooks/payment", post(payment_webhook))
        .route("/webhooks/tracking", post(tracking_webhook));
    if state.options.dev_endpoints {
        router = router
            .route("/dev/simulate-payment/{id}", post(dev_simulate_payment))
            .route("/dev/simulate-tracking/{id}", post(dev_simulate_tracking));
    }
    router.fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") }).with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, with the background worker
/// (due deadlines, outbox delivery every `options.tick`). On shutdown, requests in flight are
/// finished, then the worker is stopped; the function returns when both are done.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_worker, stopped) = watch::channel(false);
    let worker = tokio::spawn(background_worker(state.clone(), stopped));
    let served = axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await;
    let _ = stop_worker.send(true);
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "background worker panicked");
    }
    served
}

/// A server running in the background (for tests and embedding).
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks for a graceful shutdown and waits until the server and its worker have stopped.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Binds nothing itself: serves on `listener` in a spawned task; see [`serve`].
pub fn spawn(listener: TcpListener, state: AppState) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async {
        let _ = rx.await;
    }));
    Ok(Running { addr, shutdown: Some(tx), task })
}

async fn background_worker(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(state.options.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let engine = &state.engine;
                let now = engine.adapters().clock.now();
                if let Err(e) = engine.run_due(now).await {
                    tracing::warn!(error = %e, "run_due failed; retrying next tick");
                }
                if let Err(e) = engine.dispatch_outbox().await {
                    tracing::warn!(error = %e, "outbox delivery failed; retrying next tick");
                }
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// An error answer: `{"error": code, "message": ..., "violations": [...]}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    violations: Option<Violations>,
    details: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), violations: None, details: None }
    }

    fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "order not found")
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let Some(violations) = self.violations {
            body["violations"] = json!(violations);
        }
        if let Some(details) = self.details {
            body["details"] = details;
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let message = e.to_string();
        let (status, code) = match &e {
            Error::Invalid(violations) => {
                let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid", message);
                error.violations = Some(violations.clone());
                return error;
            }
            Error::InvalidField { field, rule } => {
                let mut violations = Violations::new();
                violations.push(Violation::new(*field, ViolationCode::Custom, rule.clone()));
                let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid", message);
                error.violations = Some(violations);
                return error;
            }
            Error::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            // Another buyer's order: the same answer as a missing one.
            Error::NotYourOrder => return ApiError::not_found(),
            Error::UnknownPackage(_) | Error::UnknownCase(_) | Error::UnknownRefund(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            Error::IllegalTransition { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "illegal_transition"),
            Error::NotReadyToFulfil { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not_ready_to_fulfil"),
            Error::PackMismatch { problems } => {
                let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "pack_mismatch", message);
                error.details = Some(json!({ "problems": problems }));
                return error;
            }
            Error::PaymentMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "payment_mismatch"),
            Error::RefundExceedsRefundable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_refundable"),
            Error::AlreadyShipped => (StatusCode::UNPROCESSABLE_ENTITY, "already_shipped"),
            Error::NotShippedYet => (StatusCode::UNPROCESSABLE_ENTITY, "not_shipped_yet"),
            Error::PackageState { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "package_state"),
            Error::CaseState { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "case_state"),
            Error::OutsideWindow { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "outside_window"),
            Error::TooManyUnits { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "too_many_units"),
            Error::NotDue { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not_due"),
            Error::UnknownLine(_) | Error::UnknownWaybill(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference"),
            Error::Money(_) => (StatusCode::UNPROCESSABLE_ENTITY, "amount"),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
        };
        ApiError::new(status, code, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let unavailable = |what: &str| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("{what} unavailable; retry later"))
        };
        match e {
            EngineError::Rejected(e) => e.into(),
            EngineError::NotFound => ApiError::not_found(),
            EngineError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            EngineError::Store(StoreError::Unavailable(_)) => unavailable("storage"),
            EngineError::Store(
                StoreError::Conflict { .. } | StoreError::DuplicateKey(_) | StoreError::DuplicateOrderNumber(_),
            ) => ApiError::new(StatusCode::CONFLICT, "conflict", "the order changed concurrently; retry"),
            EngineError::Store(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "stored data cannot be read")
            }
            EngineError::Inventory(InventoryError::OutOfStock { .. }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "out_of_stock", e.to_string())
            }
            EngineError::Inventory(_) => unavailable("inventory"),
            EngineError::Payment(GatewayError::InvalidSignature) => {
                ApiError::unauthorized("payment notification signature is invalid")
            }
            EngineError::Payment(GatewayError::StaleTimestamp) => {
                ApiError::unauthorized("payment notification timestamp is outside the tolerance")
            }
            EngineError::Payment(GatewayError::Malformed(_)) => {
                ApiError::bad_request("payment notification is malformed")
            }
            EngineError::Payment(GatewayError::Rejected(why)) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "payment_refused",
                format!("payment provider refused: {why}"),
            ),
            EngineError::Payment(_) => unavailable("payment provider"),
            EngineError::Logistics(LogisticsError::InvalidSignature) => {
                ApiError::unauthorized("tracking push signature is invalid")
            }
            EngineError::Logistics(LogisticsError::Malformed(_)) => ApiError::bad_request("tracking push is malformed"),
            EngineError::Logistics(LogisticsError::NoService(_) | LogisticsError::Rejected(_))
            | EngineError::NoCarrier => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_carrier", e.to_string()),
            EngineError::Logistics(_) => unavailable("carrier"),
            EngineError::UnknownWaybill(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown_waybill", e.to_string()),
            e if e.is_retryable() => unavailable("a backend"),
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ---------------------------------------------------------------------------------------------
// Extractors
// ---------------------------------------------------------------------------------------------

/// The authenticated caller.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
        state.auth.authenticate(token).map(Caller).ok_or_else(|| ApiError::unauthorized("unknown token"))
    }
}

/// A JSON body whose parse errors are answered in the API's error format.
struct Body<T>(T);

impl<T: serde::de::DeserializeOwned> Body<T> {
    fn parse(bytes: &[u8]) -> ApiResult<T> {
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { bytes };
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
    }
}

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| ApiError::bad_request(e.body_text()))?;
        Body::parse(&bytes).map(Body)
    }
}

fn order_id(text: &str) -> ApiResult<OrderId> {
    text.parse().map_err(|_| ApiError::not_found())
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

/// What the API shows of an order.
#[derive(Debug, Serialize, Deserialize)]
pub struct OrderView {
    /// Internal id (used in URLs).
    pub id: OrderId,
    /// The number the buyer is told.
    pub number: String,
    /// Summary status.
    pub status: orderflow::OrderStatus,
    /// The buyer.
    pub customer: String,
    /// Totals.
    pub totals: Value,
    /// Still to pay online.
    pub outstanding: Option<orderflow::Money>,
    /// Payment state.
    pub payment_state: Value,
    /// Captures recorded.
    pub captures: Value,
    /// Payments that could not be applied (staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomalies: Option<Value>,
    /// Lines.
    pub lines: Value,
    /// The latest pick list.
    pub pick_list: Value,
    /// Parcels.
    pub packages: Value,
    /// After-sales cases.
    pub cases: Value,
}

impl OrderView {
    fn of(order: &Order, actor: &Actor) -> OrderView {
        let staff = matches!(actor, Actor::Staff { .. });
        OrderView {
            id: order.id,
            number: order.number.to_string(),
            status: order.status(),
            customer: order.customer.to_string(),
            totals: json!(order.totals),
            outstanding: order.payment.outstanding().ok(),
            payment_state: json!(order.payment.state()),
            captures: json!(order.payment.captures),
            anomalies: staff.then(|| json!(order.payment.anomalies)),
            lines: json!(order.lines),
            pick_list: json!(order.fulfillment.pick_list),
            packages: json!(order.fulfillment.packages),
            cases: json!(order.cases),
        }
    }
}

fn view(outcome: &Outcome, actor: &Actor) -> Json<Value> {
    Json(json!({ "order": OrderView::of(&outcome.order, actor), "already_applied": outcome.already_applied }))
}

// ---------------------------------------------------------------------------------------------
// Buyer endpoints
// ---------------------------------------------------------------------------------------------

async fn place(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Body(mut form): Body<Value>,
) -> ApiResult<Response> {
    // A buyer may leave `customer` out: it is the caller.
    if let (Actor::Buyer { customer }, Some(object)) = (&actor, form.as_object_mut()) {
        object.entry("customer").or_insert_with(|| json!(customer.as_str()));
    }
    let form = serde_json::from_value(form).map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let key = match headers.get("Idempotency-Key") {
        Some(v) => Some(v.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?),
        None => None,
    };
    let outcome = state.engine.place(&actor, &form, key).await.map_err(|e| match e {
        // Placing for somebody else is a permission problem, not a missing order.
        EngineError::Rejected(Error::NotYourOrder) => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "a buyer may only place orders for themselves")
        }
        e => e.into(),
    })?;
    let status = if outcome.already_applied { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, view(&outcome, &actor)).into_response())
}

async fn show(State(state): State<AppState>, Caller(actor): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let order = state.engine.order_for(&actor, order_id(&id)?).await?;
    Ok(Json(json!({ "order": OrderView::of(&order, &actor) })))
}

async fn start_payment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PaymentSession>> {
    Ok(Json(state.engine.start_payment(&actor, order_id(&id)?).await?))
}

/// Runs `action` on order `id` as `actor`, after making sure the order is visible to them.
async fn run(state: &AppState, actor: &Actor, id: &str, action: Action) -> ApiResult<Outcome> {
    let id = order_id(id)?;
    state.engine.order_for(actor, id).await?;
    Ok(state.engine.execute(id, Command::new(actor.clone(), action)).await?)
}

async fn confirm(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let outcome = run(&state, &actor, &id, Action::ConfirmReceipt).await?;
    Ok(view(&outcome, &actor))
}

#[derive(Deserialize)]
struct Reason {
    #[serde(default)]
    reason: String,
}

async fn cancel(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(body): Body<Reason>,
) -> ApiResult<Json<Value>> {
    let outcome = run(&state, &actor, &id, Action::Cancel { reason: body.reason }).await?;
    Ok(view(&outcome, &actor))
}

async fn open_case(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(request): Body<CaseRequest>,
) -> ApiResult<Response> {
    let outcome = run(&state, &actor, &id, Action::OpenCase { request }).await?;
    let case = outcome.order.cases.last().map(|c| c.id);
    Ok((StatusCode::CREATED, Json(json!({ "case": case, "order": OrderView::of(&outcome.order, &actor) })))
        .into_response())
}

async fn timeline(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = order_id(&id)?;
    state.engine.order_for(&actor, id).await?;
    let entries = match actor {
        Actor::Staff { .. } => state.engine.staff_view(id).await?,
        _ => state.engine.buyer_timeline(id).await?,
    };
    Ok(Json(json!({ "timeline": entries })))
}

// ---------------------------------------------------------------------------------------------
// Staff endpoints
// ---------------------------------------------------------------------------------------------

/// A reviewer's decision.
#[derive(Debug, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
enum ReviewDecision {
    Approve {
        #[serde(default)]
        note: String,
    },
    Hold {
        reasons: Vec<HoldReason>,
        #[serde(default)]
        note: String,
    },
    ResolveHold {
        contact_note: String,
    },
    Reject {
        reason: String,
    },
}

async fn review(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(decision): Body<ReviewDecision>,
) -> ApiResult<Json<Value>> {
    let action = match decision {
        ReviewDecision::Approve { note } => Action::Approve { note },
        ReviewDecision::Hold { reasons, note } => Action::Hold { reasons, note },
        ReviewDecision::ResolveHold { contact_note } => Action::ResolveHold { contact_note },
        ReviewDecision::Reject { reason } => Action::Reject { reason },
    };
    let outcome = run(&state, &actor, &id, action).await?;
    Ok(view(&outcome, &actor))
}

async fn pick_list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let outcome = run(&state, &actor, &id, Action::IssuePickList).await?;
    let order = &outcome.order;
    Ok(Json(json!({
        "order_number": order.number.to_string(),
        "picking_started": order.fulfillment.picking_started,
        "pick_list": order.fulfillment.pick_list,
    })))
}

/// What the packer sends: the scanned items, and optionally which lines and quantities the
/// parcel should hold (default: everything not packed yet).
#[derive(Debug, Deserialize)]
struct PackRequest {
    #[serde(default)]
    items: Option<Vec<PackageItem>>,
    scanned: Vec<ScannedItem>,
}

async fn pack(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(request): Body<PackRequest>,
) -> ApiResult<Response> {
    let order = state.engine.order_for(&actor, order_id(&id)?).await?;
    let items = request.items.unwrap_or_else(|| {
        order
            .lines
            .iter()
            .map(|l| PackageItem {
                line: l.id,
                quantity: l.quantity.saturating_sub(order.fulfillment.packed_quantity(l.id)),
            })
            .filter(|i| i.quantity > 0)
            .collect()
    });
    let outcome = run(&state, &actor, &id, Action::Pack { items, scanned: request.scanned }).await?;
    let package = outcome.order.fulfillment.packages.last().map(|p| p.id);
    Ok((StatusCode::CREATED, Json(json!({ "package": package, "order": OrderView::of(&outcome.order, &actor) })))
        .into_response())
}

async fn ship(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, package)): Path<(String, u32)>,
) -> ApiResult<Json<Value>> {
    let order_id = order_id(&id)?;
    state.engine.order_for(&actor, order_id).await?;
    state.engine.ship(&actor, order_id, PackageId(package)).await?;
    // Create the shipment with the carrier now rather than at the next tick, so the answer can
    // carry the waybill; whatever fails here is retried by the background worker.
    if let Err(e) = state.engine.dispatch_outbox().await {
        tracing::warn!(error = %e, "outbox delivery after booking failed; the worker retries");
    }
    let order = state.engine.order(order_id).await?;
    let parcel = order.fulfillment.package(PackageId(package));
    Ok(Json(json!({ "package": parcel, "order": OrderView::of(&order, &actor) })))
}

#[derive(Debug, Default, Deserialize)]
struct CaseStepBody {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    waybill: String,
    #[serde(default)]
    passed: Option<bool>,
    #[serde(default)]
    note: String,
    #[serde(default)]
    manual_reference: Option<String>,
}

/// `POST /orders/{id}/cases/{case}/{step}`: approve, reject, withdraw, return-parcel, receive,
/// inspect, refund, close.
async fn case_step(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, case, step)): Path<(String, u32, String)>,
    Body(body): Body<CaseStepBody>,
) -> ApiResult<Json<Value>> {
    let case = CaseId(case);
    let action = match step.as_str() {
        "approve" => Action::ApproveCase { case },
        "reject" => Action::RejectCase { case, reason: body.reason },
        "withdraw" => Action::WithdrawCase { case },
        "return-parcel" => Action::RecordReturnParcel { case, waybill: body.waybill },
        "receive" => Action::ReceiveReturn { case },
        "inspect" => Action::InspectReturn {
            case,
            passed: body.passed.ok_or_else(|| {
                let mut violations = Violations::new();
                violations.add("passed", ViolationCode::Required, "say whether the goods passed inspection");
                let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid", "passed is required");
                e.violations = Some(violations);
                e
            })?,
            note: body.note,
        },
        "refund" => Action::RefundCase { case, manual_reference: body.manual_reference },
        "close" => Action::CloseCase { case },
        _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such case step")),
    };
    let outcome = run(&state, &actor, &id, action).await?;
    Ok(view(&outcome, &actor))
}

/// `POST /orders/{id}/commands`: any workflow action as JSON, e.g. `{"action": "approve"}`;
/// the permission table decides whether the caller may.
async fn command(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(action): Body<Action>,
) -> ApiResult<Json<Value>> {
    let outcome = run(&state, &actor, &id, action).await?;
    Ok(view(&outcome, &actor))
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

fn raw_message(headers: &HeaderMap, body: Bytes) -> RawMessage {
    RawMessage {
        headers: headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    }
}

async fn payment_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let reply = state.engine.handle_payment_notification(&raw_message(&headers, body)).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    Ok((status, reply.body).into_response())
}

async fn tracking_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let applied = state.engine.handle_tracking_push(&raw_message(&headers, body)).await?;
    Ok(Json(json!({ "applied": applied })))
}

// ---------------------------------------------------------------------------------------------
// Dev aids (demo only)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct SimulatedPayment {
    /// Amount in minor units; default: the outstanding amount.
    #[serde(default)]
    amount_minor: Option<i64>,
}

/// DEMO ONLY: the fake provider signs a "paid" notification for the order and it goes through
/// the same path as `POST /webhooks/payment`.
async fn dev_simulate_payment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(body): Body<SimulatedPayment>,
) -> ApiResult<Response> {
    let order = state.engine.order_for(&actor, order_id(&id)?).await?;
    let outstanding = order.payment.outstanding().map_err(Error::from)?;
    let amount = orderflow::Money::new(body.amount_minor.unwrap_or(outstanding.minor), outstanding.currency);
    let now = state.engine.adapters().clock.now();
    let raw = state.gateway.notify_paid(&order.number, amount, now);
    let reply = state.engine.handle_payment_notification(&raw).await?;
    let order = state.engine.order(order.id).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    Ok((status, Json(json!({ "provider_reply": reply.body, "order": OrderView::of(&order, &actor) }))).into_response())
}

#[derive(Debug, Deserialize)]
struct SimulatedTracking {
    kind: TrackingKind,
}

/// DEMO ONLY: the fake carrier pushes a signed tracking update for every waybill of the order.
async fn dev_simulate_tracking(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(body): Body<SimulatedTracking>,
) -> ApiResult<Json<Value>> {
    let order = state.engine.order_for(&actor, order_id(&id)?).await?;
    let now = state.engine.adapters().clock.now();
    let mut applied = 0;
    for waybill in order.fulfillment.packages.iter().filter_map(|p| p.waybill.as_deref()) {
        let event_id = format!("{waybill}-{:?}-{}", body.kind, now.timestamp_millis());
        let raw = state.carrier.push(waybill, body.kind, now, &event_id);
        applied += state.engine.handle_tracking_push(&raw).await?;
    }
    let order = state.engine.order(order.id).await?;
    Ok(Json(json!({ "applied": applied, "order": OrderView::of(&order, &actor) })))
}
