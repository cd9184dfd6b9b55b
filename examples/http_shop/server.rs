//! The HTTP shop backend: an axum router over an orderflow [`Engine`], shared by the
//! `http_shop` example (`examples/http_shop/main.rs`) and its test (`tests/http/main.rs`).
//!
//! # Authentication
//!
//! Every `/orders` route wants `Authorization: Bearer <token>`. The token is turned into an
//! [`Actor`] by an [`Authenticator`]; a missing or unknown token is answered 401. The token is
//! what follows `Bearer ` exactly, untrimmed. The demo uses [`StaticTokens::demo`], a fixed
//! table compared in constant time (`alice-token`, `bob-token`, `reviewer-token`,
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
//! authenticated by their signature, verified by the gateway and carrier adapters the shop was
//! configured with (`examples/http_shop/providers.rs`): the fakes' `X-Timestamp` and
//! `X-Signature` (HMAC-SHA256 over `"{timestamp}.{body}"`), WeChat Pay's `Wechatpay-*` headers
//! (RSA, AES-256-GCM resource), Alipay's RSA2 form, Kuaidi100's `MD5(param + salt)`. A forged
//! signature or a stale timestamp is answered 401 and changes nothing; a redelivered
//! notification is answered as success without being applied twice. Each provider gets the
//! answer it documents (`success`, 204, `{"result":true,...}`).
//!
//! # Errors
//!
//! Every error is JSON: `{"error": kind, "code": code, "message": text, "violations": [...]}`.
//! `error` is the kind of failure in HTTP terms (`invalid`, `not_found`, `conflict`,
//! `unavailable`, ...); `code` is the library's stable code (`EngineError::code`, listed in
//! `docs/ERRORS.md`), present when the library refused; violations only for invalid input.
//! 400 invalid input (every violation listed), 401 bad token, signature or timestamp, 403 role
//! not allowed, 404 not found (also another buyer's order), 408 request body too slow, 409
//! concurrent change, 413 request body too large, 422 illegal transition or other refusal by
//! the workflow, 503 a backend to retry later, a request too slow or over the limits below. Error bodies never contain secrets, signatures or payment payloads.
//!
//! # Limits
//!
//! [`serve`] speaks HTTP/1.1 with the limits of [`ShopOptions`], so that one client cannot
//! take the server down: a header-read timeout (10 s), an idle keep-alive timeout (60 s), a
//! body timeout (15 s, 408), a request timeout (30 s, 503), a body size limit (64 KiB, 413), at
//! most 1,024 connections and 64 from one IP address (more are answered 503 and closed) and at
//! most 256 requests in flight (more are answered 503 at once).
//!
//! # Dev aids
//!
//! With [`ShopOptions::dev_endpoints`] on (off by default; the example turns it on only when
//! started with `--dev`, a production host never should), `POST /dev/simulate-payment/{id}`
//! and `POST /dev/simulate-tracking/{id}` make the fake provider and carrier (or the chosen
//! provider's emulator) send their signed callbacks to the engine, so a whole order can be
//! tried with curl alone. Off, they are 404.

// This file is compiled into both the example and the test; each uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use orderflow::engine::{Adapters, Engine, EngineError, Outcome};
use orderflow::order::{CaseRequest, HoldReason, PackageItem, PackageState, ScannedItem, TrackingKind};
use orderflow::ports::{
    Clock, DynLogistics, DynOrderStore, DynPaymentGateway, GatewayError, InventoryError, LogisticsError,
    PaymentSession, RawMessage, StoreError, SystemClock,
};
use orderflow::testing::{FakeCarrier, FakeGateway, RecordingNotifier};
use orderflow::validation::{Violation, ViolationCode, Violations};
use orderflow::{
    Action, Actor, CaseId, Command, CustomerId, Error, MemoryInventory, MemoryStore, Order, OrderId, PackageId, Role,
    Sku, StaffId, Workflow, WorkflowConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{ServiceBuilder, ServiceExt};

use crate::providers::{self, Payments, ProviderConfig, Tracking};

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/// The engine this server runs on. The store and the providers are chosen at start-up (a
/// SQLite file or memory; the fakes, WeChat Pay, Alipay, Kuaidi100), so they are `Dyn` ports.
pub type ShopEngine = Engine<
    Adapters<
        DynOrderStore,
        Arc<DynPaymentGateway<'static>>,
        Arc<DynLogistics<'static>>,
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

/// A fixed token table. A token is compared byte for byte (no trimming, no case folding) and in
/// constant time with every token of the table, so the time taken tells nothing about how much
/// of a token was right or which one matched (only whether the lengths differ).
#[derive(Clone, Default)]
pub struct StaticTokens(Vec<(String, Actor)>);

impl std::fmt::Debug for StaticTokens {
    /// Never prints the tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticTokens").field("tokens", &self.0.len()).finish_non_exhaustive()
    }
}

impl StaticTokens {
    /// Adds `token` for `actor` (replacing the actor of a token already in the table).
    pub fn with(mut self, token: &str, actor: Actor) -> StaticTokens {
        self.0.retain(|(known, _)| known != token);
        self.0.push((token.to_owned(), actor));
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
        // Every token is compared, with no early exit; the index of the match is picked without
        // a branch on the comparison.
        let mut found = subtle::Choice::from(0);
        let mut index = 0u64;
        for (i, (known, _)) in self.0.iter().enumerate() {
            let same = known.as_bytes().ct_eq(token.as_bytes());
            index = u64::conditional_select(&index, &u64::try_from(i).unwrap_or(u64::MAX), same);
            found |= same;
        }
        if !bool::from(found) {
            return None;
        }
        self.0.get(usize::try_from(index).ok()?).map(|(_, actor)| actor.clone())
    }
}

/// How the server runs. The defaults are the production ones: no dev endpoints, and the limits
/// below.
#[derive(Debug, Clone)]
pub struct ShopOptions {
    /// How often the background worker fires due deadlines and delivers the outbox.
    pub tick: Duration,
    /// Serve the `/dev/...` helpers that make the fake provider and carrier call back. Demo
    /// only: with them any buyer can mark their own order paid. Default off.
    pub dev_endpoints: bool,
    /// Every order waits for a reviewer (otherwise the workflow approves ordinary orders itself).
    pub manual_review: bool,
    /// Units in stock of every demo SKU. Default 1,000,000.
    pub stock: u32,
    /// A connection whose request head (request line and headers) is not all in this long
    /// after it opened, or after the first byte of a later request, is closed. Default 10 s.
    pub header_read_timeout: Duration,
    /// A kept-alive connection waiting this long for its next request is closed. Default 60 s.
    pub idle_timeout: Duration,
    /// A request body not all in this long after the request head is answered 408. Default 15 s.
    pub body_timeout: Duration,
    /// A request not answered this long after its head came in is answered 503. Default 30 s.
    pub request_timeout: Duration,
    /// A larger request body is answered 413. Default 64 KiB.
    pub max_body_bytes: usize,
    /// Connections open at once; one more is answered 503 and closed. Default 1,024.
    pub max_connections: usize,
    /// Connections open at once from one IP address; one more is answered 503 and closed.
    /// Default 64. Behind a reverse proxy every connection comes from the proxy: raise it to
    /// `max_connections` there and limit clients in the proxy.
    pub max_connections_per_client: usize,
    /// Requests handled at once; one more is answered 503 at once. Default 256.
    pub max_in_flight: usize,
}

impl Default for ShopOptions {
    fn default() -> Self {
        ShopOptions {
            tick: Duration::from_secs(1),
            dev_endpoints: false,
            manual_review: false,
            stock: 1_000_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 64 * 1024,
            max_connections: 1024,
            max_connections_per_client: 64,
            max_in_flight: 256,
        }
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
    /// The fake payment provider (the engine's when payments are `fake`), also used by the
    /// dev helper to send signed notifications.
    pub gateway: Arc<FakeGateway>,
    /// The fake carrier: books every parcel, and tracks them unless Kuaidi100 does.
    pub carrier: Arc<FakeCarrier>,
    /// The payment provider the engine uses, and its emulator if emulated.
    pub payments: Payments,
    /// The tracking service the engine uses, and its emulator if emulated.
    pub tracking: Tracking,
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
        AppState::demo_on(options, DynOrderStore::new(MemoryStore::new()), clock)
    }

    /// The demo shop on `store` (e.g. a `SqliteStore`, so orders outlive the process). Stock,
    /// the fake provider and the fake carrier live in memory and start afresh each run.
    pub fn demo_on(options: ShopOptions, store: DynOrderStore, clock: Arc<dyn Clock>) -> AppState {
        AppState::with_providers(options, store, clock, &ProviderConfig::default())
            .expect("the fakes need no configuration")
    }

    /// The demo shop on `store`, paying and tracking through the providers `providers` names
    /// (their emulators when no account is configured). Fails when a real provider's HTTP
    /// client cannot be made.
    pub fn with_providers(
        options: ShopOptions,
        store: DynOrderStore,
        clock: Arc<dyn Clock>,
        providers: &ProviderConfig,
    ) -> Result<AppState, String> {
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        // Waybills numbered afresh each run would collide with those of orders a SQLite file
        // kept from an earlier run (and be refused as taken): each run numbers under its own
        // start time.
        let prefix = format!("SF{}-", clock.now().format("%y%m%d%H%M%S"));
        let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret").with_waybill_prefix(prefix));
        let (payments_port, payments, logistics, tracking) =
            providers::build(providers, gateway.clone(), carrier.clone(), clock.clone())?;
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
            Adapters { store, payments: payments_port, logistics, inventory, notifier: notifier.clone(), clock },
        );
        let auth = Arc::new(StaticTokens::demo());
        Ok(AppState { engine: Arc::new(engine), auth, gateway, carrier, payments, tracking, notifier, options })
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

/// The routes, with the request limits of [`ShopOptions`]: bodies larger than
/// `max_body_bytes` are answered 413, a body that does not arrive within `body_timeout` 408, a
/// request not answered within `request_timeout` 503, and a request arriving while
/// `max_in_flight` are being handled 503 at once (all with the JSON error body).
pub fn app(state: AppState) -> Router {
    let options = state.options.clone();
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
    router
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        // Layered on each route, so the in-flight limit is a global one shared by all routes.
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(refused_by_limits))
                .timeout(options.request_timeout)
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(options.max_in_flight.max(1))),
        )
        .with_state(state)
}

/// The answer when a request timed out or found no room.
async fn refused_by_limits(error: BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long; retry later")
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "too many requests in flight; retry later")
    } else {
        tracing::error!(error = %error, "request failed in a middleware");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be handled")
    }
}

/// Serves `app(state)` on `listener` until `shutdown` completes, with the background worker
/// (due deadlines, outbox delivery every `options.tick`) and the connection limits of
/// [`ShopOptions`]: at most `max_connections` open connections and `max_connections_per_client`
/// from one IP address (more are answered 503 and closed at once), a connection closed when
/// its request head is not in within `header_read_timeout` or when it waits longer than
/// `idle_timeout` for its next request. On shutdown the port is closed, requests in flight are
/// finished and connections waiting for a request are closed, then the worker is stopped; the
/// function returns when all that is done.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = state.options.clone();
    let (stop_worker, stopped) = watch::channel(false);
    let worker = tokio::spawn(background_worker(state.clone(), stopped));
    let router = app(state);
    // Every connection holds one of these permits; shutdown waits until all are back.
    let max_connections = options.max_connections.clamp(1, MAX_CONNECTIONS);
    let slots = Arc::new(Semaphore::new(max_connections));
    let clients = Arc::new(Clients::default());
    let (stop_connections, connections_stop) = watch::channel(false);
    let mut refusals = Refusals::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Per-connection errors (the client gave up) need nothing; others (out of
                    // file descriptors...) get a pause rather than a busy loop.
                    if !is_connection_error(&e) {
                        tracing::error!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refusals.refuse(&stream, peer.ip(), "all connections in use");
            continue;
        };
        let Some(client) = clients.enter(peer.ip(), options.max_connections_per_client) else {
            refusals.refuse(&stream, peer.ip(), "too many connections from this client");
            continue;
        };
        let connection = Connection { options: options.clone(), _slot: slot, _client: client };
        tokio::spawn(connection.serve(stream, router.clone(), connections_stop.clone()));
    }
    drop(listener);
    let _ = stop_connections.send(true);
    let _ = slots.acquire_many(u32::try_from(max_connections).unwrap_or(u32::MAX)).await;
    let _ = stop_worker.send(true);
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "background worker panicked");
    }
    Ok(())
}

/// The most connections [`serve`] keeps open, whatever `max_connections` says.
const MAX_CONNECTIONS: usize = 1 << 20;

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted)
}

/// Connections refused over the limits, logged at most once a second (a flood of them must not
/// become a flood of log lines).
#[derive(Default)]
struct Refusals {
    since_logged: u64,
    logged_at: Option<Instant>,
}

impl Refusals {
    /// Answers a connection over the limits with a 503 (if its send buffer takes it at once);
    /// the caller then drops, so closes, it.
    fn refuse(&mut self, stream: &tokio::net::TcpStream, peer: IpAddr, why: &str) {
        let body = r#"{"error":"unavailable","message":"too many connections; retry later"}"#;
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             retry-after: 1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.try_write(answer.as_bytes());
        self.since_logged += 1;
        if self.logged_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            tracing::warn!(%peer, refused = self.since_logged, "connection refused: {why}");
            self.since_logged = 0;
            self.logged_at = Some(Instant::now());
        }
    }
}

/// Open connections per client IP address.
#[derive(Default)]
struct Clients(std::sync::Mutex<HashMap<IpAddr, usize>>);

/// One open connection of a client, counted in [`Clients`] until dropped.
struct ClientSlot {
    clients: Arc<Clients>,
    ip: IpAddr,
}

impl Clients {
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let ip = ip.to_canonical();
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            if *count == 0 {
                open.remove(&ip);
            }
            return None;
        }
        *count += 1;
        Some(ClientSlot { clients: self.clone(), ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Where a connection is, for its timeouts: reading a request head (since when), handling
/// requests (how many), or idle between requests (since when).
#[derive(Debug, Clone, Copy)]
enum Phase {
    Head(Instant),
    Busy(usize),
    Idle(Instant),
}

/// A connection's [`Phase`], moved by the bytes it reads and the requests it handles.
struct Activity {
    phase: std::sync::Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity { phase: std::sync::Mutex::new(Phase::Head(Instant::now())), changed: Notify::new() }
    }

    fn update(&self, next: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = next(*phase);
        drop(phase);
        self.changed.notify_one();
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes came in: on an idle connection, the next request head has started.
    fn read_some(&self) {
        if matches!(self.phase(), Phase::Idle(_)) {
            self.update(|phase| if let Phase::Idle(_) = phase { Phase::Head(Instant::now()) } else { phase });
        }
    }

    /// A request head was read: the request is handled until the guard is dropped.
    fn request(self: &Arc<Self>) -> InFlight {
        self.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
        InFlight(self.clone())
    }

    /// When the connection is to be closed if nothing happens, given the timeouts.
    fn deadline(&self, options: &ShopOptions) -> Option<Instant> {
        match self.phase() {
            Phase::Head(since) => since.checked_add(options.header_read_timeout),
            Phase::Idle(since) => since.checked_add(options.idle_timeout),
            Phase::Busy(_) => None,
        }
    }
}

/// A request being handled on a connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// A connection's socket, telling its [`Activity`] when bytes come in.
struct Watched {
    stream: tokio::net::TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// An accepted connection and the slots it holds while open.
struct Connection {
    options: ShopOptions,
    _slot: OwnedSemaphorePermit,
    _client: ClientSlot,
}

impl Connection {
    /// Serves HTTP/1.1 on `stream` until the client closes it, a timeout closes it, or
    /// shutdown (after the request in flight, if any).
    ///
    /// The header-read and idle timeouts are kept here rather than by hyper: hyper's
    /// `header_read_timeout` also runs while a kept-alive connection waits for its next
    /// request, which would make the two one.
    async fn serve(self, stream: tokio::net::TcpStream, router: Router, mut stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched { stream, activity: activity.clone() });
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let in_flight = activity.request();
                let answer = router.clone().oneshot(request);
                async move {
                    let answer = answer.await;
                    drop(in_flight);
                    answer
                }
            })
        };
        let connection =
            hyper::server::conn::http1::Builder::new().header_read_timeout(None).serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        let mut stopping = false;
        loop {
            let deadline = activity.deadline(&self.options);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = activity.changed.notified() => {}
                () = sleep_until(deadline) => {
                    if activity.deadline(&self.options).is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!(phase = ?activity.phase(), "connection closed: timed out");
                        return;
                    }
                }
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            // Shutting down, a request not started yet is not waited for.
            if stopping && matches!(activity.phase(), Phase::Head(_)) {
                return;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
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

/// An error answer: `{"error": kind, "code": code, "message": ..., "violations": [...]}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// The kind of failure in HTTP terms: the body's `error`.
    error: &'static str,
    /// The library's code of the error, when the library refused: the body's `code`.
    code: Option<&'static str>,
    message: String,
    violations: Option<Violations>,
    details: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, error, code: None, message: message.into(), violations: None, details: None }
    }

    /// Adds the library's code of the error.
    fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "order not found").with_code(EngineError::NotFound.code())
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
        let mut body = json!({ "error": self.error, "message": self.message });
        if let Some(code) = self.code {
            body["code"] = json!(code);
        }
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
        let (status, kind) = match &e {
            Error::Invalid(_) | Error::InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid"),
            Error::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            // Another buyer's order: the same answer as a missing one.
            Error::NotYourOrder => return ApiError::not_found(),
            Error::UnknownPackage(_) | Error::UnknownCase(_) | Error::UnknownRefund(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            Error::UnknownLine(_) | Error::UnknownWaybill(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference"),
            Error::Money(_) => (StatusCode::UNPROCESSABLE_ENTITY, "amount"),
            // Every other refusal of the workflow: its kind is its code.
            _ => (StatusCode::UNPROCESSABLE_ENTITY, e.code()),
        };
        let mut error = ApiError::new(status, kind, e.to_string()).with_code(e.code());
        match e {
            Error::Invalid(violations) => error.violations = Some(violations),
            Error::InvalidField { field, rule } => {
                let mut violations = Violations::new();
                violations.push(Violation::new(field, ViolationCode::Custom, rule));
                error.violations = Some(violations);
            }
            Error::PackMismatch { problems } => error.details = Some(json!({ "problems": problems })),
            _ => {}
        }
        error
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let unavailable = |what: &str| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("{what} unavailable; retry later"))
        };
        let code = e.code();
        let error = match e {
            EngineError::Rejected(e) => return e.into(),
            EngineError::NotFound => return ApiError::not_found(),
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
            // The port has one variant for a bad signature and a stale timestamp.
            EngineError::Logistics(LogisticsError::InvalidSignature) => {
                ApiError::unauthorized("tracking push signature is invalid or its timestamp is outside the tolerance")
            }
            EngineError::Logistics(LogisticsError::Malformed(_)) => ApiError::bad_request("tracking push is malformed"),
            EngineError::Logistics(LogisticsError::NoService(_) | LogisticsError::Rejected(_))
            | EngineError::NoCarrier => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_carrier", e.to_string()),
            EngineError::Logistics(_) => unavailable("carrier"),
            EngineError::UnknownWaybill(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown_waybill", e.to_string()),
            EngineError::WaybillTaken { .. } => ApiError::new(StatusCode::CONFLICT, "waybill_taken", e.to_string()),
            EngineError::IdempotencyKeyReused => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", e.to_string())
            }
            e if e.is_retryable() => unavailable("a backend"),
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        };
        error.with_code(code)
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
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
        state.auth.authenticate(token).map(Caller).ok_or_else(|| ApiError::unauthorized("unknown token"))
    }
}

/// The request body as bytes, within the limits of [`ShopOptions`]: larger than
/// `max_body_bytes` is answered 413, not all in within `body_timeout` 408, both in the API's
/// error format.
struct RawBody(Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let options = &state.options;
        match tokio::time::timeout(options.body_timeout, Bytes::from_request(req, state)).await {
            Ok(Ok(bytes)) => Ok(RawBody(bytes)),
            Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {} bytes", options.max_body_bytes),
            )),
            Ok(Err(rejection)) => Err(ApiError::bad_request(rejection.body_text())),
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request body did not arrive within {} ms", options.body_timeout.as_millis()),
            )),
        }
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

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
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
            id: order.id(),
            number: order.number().to_string(),
            status: order.status(),
            customer: order.customer().to_string(),
            totals: json!(order.totals()),
            outstanding: order.payment().outstanding().ok(),
            payment_state: json!(order.payment().state()),
            captures: json!(order.payment().captures),
            anomalies: staff.then(|| json!(order.payment().anomalies)),
            lines: json!(order.lines()),
            pick_list: json!(order.fulfilment().pick_list),
            packages: json!(order.fulfilment().packages),
            cases: json!(order.cases()),
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
                .with_code(e.code())
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
    let case = outcome.order.cases().last().map(|c| c.id);
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
        "order_number": order.number().to_string(),
        "picking_started": order.fulfilment().picking_started,
        "pick_list": order.fulfilment().pick_list,
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
            .lines()
            .iter()
            .map(|l| PackageItem {
                line: l.id,
                quantity: l.quantity.saturating_sub(order.fulfilment().packed_quantity(l.id)),
            })
            .filter(|i| i.quantity > 0)
            .collect()
    });
    let outcome = run(&state, &actor, &id, Action::Pack { items, scanned: request.scanned }).await?;
    let package = outcome.order.fulfilment().packages.last().map(|p| p.id);
    Ok((StatusCode::CREATED, Json(json!({ "package": package, "order": OrderView::of(&outcome.order, &actor) })))
        .into_response())
}

/// `POST /orders/{id}/packages/{package}/ship`: books the parcel with the selected carrier;
/// the answer carries the waybill once the carrier gave it (see [`booked`]).
async fn ship(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, package)): Path<(String, u32)>,
) -> ApiResult<Json<Value>> {
    let order_id = order_id(&id)?;
    state.engine.order_for(&actor, order_id).await?;
    let package = PackageId(package);
    state.engine.ship(&actor, order_id, package).await?;
    let order = booked(&state, order_id, package).await?;
    let parcel = order.fulfilment().package(package);
    Ok(Json(json!({ "package": parcel, "order": OrderView::of(&order, &actor) })))
}

/// How long a ship answer waits for its parcel's booking to be delivered by another
/// dispatcher (well within the request timeout), and how often it looks: first after
/// `BOOKING_POLL`, then twice as long each time up to `BOOKING_POLL_MAX`, so that many
/// waiting requests do not crowd out the deliveries they wait for.
const BOOKING_WAIT: Duration = Duration::from_secs(10);
const BOOKING_POLL: Duration = Duration::from_millis(2);
const BOOKING_POLL_MAX: Duration = Duration::from_millis(100);

/// The order once `package`'s shipment is created with the carrier, so that the ship answer
/// carries the waybill. The booking is delivered from the outbox now rather than at the next
/// tick; when another dispatcher holds it (a concurrent request's, the worker's or another
/// instance's), this delivers what else is due and reads the order again until the waybill is
/// recorded, for at most [`BOOKING_WAIT`]. When a delivery fails (the carrier is down) it
/// answers at once without the waybill: the worker retries the booking.
async fn booked(state: &AppState, id: OrderId, package: PackageId) -> ApiResult<Order> {
    let deadline = Instant::now() + BOOKING_WAIT;
    let mut pause = BOOKING_POLL;
    loop {
        let failed = match state.engine.dispatch_outbox().await {
            Ok(report) => report.retrying + report.dead > 0,
            Err(e) => {
                tracing::warn!(error = %e, "outbox delivery after booking failed; the worker retries");
                true
            }
        };
        let order = state.engine.order(id).await?;
        let waiting = order.fulfilment().package(package).is_some_and(|p| p.state == PackageState::Booked);
        if !waiting || failed || Instant::now() >= deadline {
            return Ok(order);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(BOOKING_POLL_MAX);
    }
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

async fn payment_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let reply = state.engine.handle_payment_notification(&raw_message(&headers, body)).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    Ok((status, reply.body).into_response())
}

/// The fake carrier's pushes are answered `{"applied": n}`; Kuaidi100's with the reply it
/// documents (`{"result": true, "returnCode": "200", ...}`).
async fn tracking_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let applied = state.engine.handle_tracking_push(&raw_message(&headers, body)).await?;
    Ok(match state.tracking {
        Tracking::Fake => Json(json!({ "applied": applied })).into_response(),
        Tracking::Kuaidi100(_) => {
            let reply = orderflow::adapters::kuaidi100::push::reply(true);
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
            (status, [(header::CONTENT_TYPE, "application/json")], reply.body).into_response()
        }
    })
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

/// DEMO ONLY: the provider (the fake, or the chosen provider's emulator: the buyer pays
/// there) signs a "paid" notification for the order and it goes through the same path as
/// `POST /webhooks/payment`.
async fn dev_simulate_payment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(body): Body<SimulatedPayment>,
) -> ApiResult<Response> {
    let order = state.engine.order_for(&actor, order_id(&id)?).await?;
    let outstanding = order.payment().outstanding().map_err(Error::from)?;
    let amount = orderflow::Money::new(body.amount_minor.unwrap_or(outstanding.minor), outstanding.currency);
    let now = state.engine.adapters().clock.now();
    let reference = order.number().provider_reference();
    let raw = match &state.payments {
        Payments::Fake(gateway) => gateway.notify_paid(&order.number(), amount, now),
        Payments::WechatPay(Some(emulator)) if emulator.order(&reference).is_some() => {
            emulator.pay(&reference, amount.minor);
            emulator.notification(&reference)
        }
        Payments::Alipay(Some(emulator)) if emulator.trade(&reference).is_some() => {
            emulator.pay(&reference, amount.minor);
            emulator.notification(&reference)
        }
        Payments::WechatPay(Some(_)) | Payments::Alipay(Some(_)) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "start the payment first"));
        }
        Payments::WechatPay(None) | Payments::Alipay(None) => return Err(not_emulated()),
    };
    let reply = state.engine.handle_payment_notification(&raw).await?;
    let order = state.engine.order(order.id()).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    Ok((status, Json(json!({ "provider_reply": reply.body, "order": OrderView::of(&order, &actor) }))).into_response())
}

#[derive(Debug, Deserialize)]
struct SimulatedTracking {
    kind: TrackingKind,
}

/// DEMO ONLY: the fake carrier (or the Kuaidi100 emulator) pushes a signed tracking update for
/// every waybill of the order.
async fn dev_simulate_tracking(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(body): Body<SimulatedTracking>,
) -> ApiResult<Json<Value>> {
    let order = state.engine.order_for(&actor, order_id(&id)?).await?;
    let now = state.engine.adapters().clock.now();
    let mut applied = 0;
    for waybill in order.fulfilment().packages.iter().filter_map(|p| p.waybill.as_deref()) {
        let raw = match &state.tracking {
            Tracking::Fake => {
                let event_id = format!("{waybill}-{:?}-{}", body.kind, now.timestamp_millis());
                state.carrier.push(waybill, body.kind, now, &event_id)
            }
            Tracking::Kuaidi100(Some(emulator)) => {
                if !emulator.subscriptions().contains_key(waybill) {
                    return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "the waybill is not subscribed yet"));
                }
                // Kuaidi100 tells entries apart by time and words: each report has its own words.
                emulator
                    .report(waybill, body.kind, now, &format!("demo: {:?}", body.kind))
                    .ok_or_else(|| ApiError::bad_request("Kuaidi100's emulator does not report this kind"))?
            }
            Tracking::Kuaidi100(None) => return Err(not_emulated()),
        };
        applied += state.engine.handle_tracking_push(&raw).await?;
    }
    let order = state.engine.order(order.id()).await?;
    Ok(Json(json!({ "applied": applied, "order": OrderView::of(&order, &actor) })))
}

/// A dev helper asked of a real provider: only an emulator can be made to pay or push.
fn not_emulated() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "the provider is real, not emulated: pay or ship for real")
}
