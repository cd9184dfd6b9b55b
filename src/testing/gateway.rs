//! [`FakeGateway`]: a scripted test double of a payment provider, not a provider's format. It
//! signs and verifies its notifications with a made-up scheme (HMAC-SHA256 over
//! `"{timestamp}.{body}"` with a timestamp tolerance) so signature, replay and forgery paths
//! can be tested, keeps its own records of payments and refunds, and fails on demand. No
//! provider speaks this format: to run the real WeChat Pay or Alipay adapter offline, use the
//! emulators of `testing::emulators` (features `wechatpay`, `alipay`) over their `InProcess`
//! transport.
//!
//! ```
//! use chrono::TimeDelta;
//! use orderflow::ports::{GatewayError, PaymentGateway, PaymentStatus};
//! use orderflow::testing::{FakeGateway, t0};
//! use orderflow::{Currency, Money, OrderNumber};
//!
//! # block_on(async {
//! let gateway = FakeGateway::new("alipay", "s3cret");
//! let number = OrderNumber::from_value(7).unwrap();
//! let raw = gateway.notify_paid(&number, Money::new(27_000, Currency::CNY), t0());
//!
//! let paid = gateway.verify_notification(&raw, t0()).await.unwrap();
//! assert_eq!(paid.status, PaymentStatus::Succeeded);
//! // Ten minutes later the same message is a replay:
//! let later = t0() + TimeDelta::minutes(10);
//! assert_eq!(gateway.verify_notification(&raw, later).await, Err(GatewayError::StaleTimestamp));
//! # });
//! # fn block_on(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::RefundId;
use crate::money::{Currency, Money};
use crate::order_number::OrderNumber;
use crate::ports::payment::{
    CloseOutcome, GatewayError, PaymentGateway, PaymentNotification, PaymentRequest, PaymentSession, PaymentStatus,
    RawMessage, RefundNotification, RefundReceipt, RefundRequest, RefundStatus,
};

/// Name of the header carrying the signed unix timestamp (seconds).
pub const TIMESTAMP_HEADER: &str = "X-Timestamp";
/// Name of the header carrying the lower-case hex HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "X-Signature";

/// The default tolerance between a notification's signed timestamp and "now".
pub const DEFAULT_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

// ---------------------------------------------------------------------------------------------
// Signing, shared with the fake carrier.
// ---------------------------------------------------------------------------------------------

type HmacSha256 = Hmac<Sha256>;

/// Why a signed message did not check out. Deliberately carries no message content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureProblem {
    /// A header is missing or unreadable.
    Malformed(&'static str),
    /// The signed timestamp is outside the tolerance.
    Stale,
    /// The signature does not match.
    Invalid,
}

/// A secret made ready to sign with, and a certainly wrong one for forgeries. HMAC's key
/// schedule (two SHA-256 blocks) is done here once instead of for every message, about half
/// the hashing of signing or checking a short webhook.
pub(crate) struct SigningKey {
    right: Option<HmacSha256>,
    forged: Option<HmacSha256>,
}

impl SigningKey {
    pub(crate) fn new(secret: &[u8]) -> SigningKey {
        let mut wrong = secret.to_vec();
        wrong.extend_from_slice(b"#forged");
        SigningKey { right: HmacSha256::new_from_slice(secret).ok(), forged: HmacSha256::new_from_slice(&wrong).ok() }
    }
}

fn mac_over(key: &Option<HmacSha256>, timestamp: &str, body: &[u8]) -> Option<HmacSha256> {
    let mut mac = key.clone()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    out
}

/// Length in bytes of an HMAC-SHA256 tag.
const MAC_LEN: usize = 32;

/// Decodes `text` (non-empty, even length, hex digits of either case) into a tag on the stack
/// instead of a fresh `Vec`: `Some(Some(tag))` when it is a tag's length, `Some(None)` for hex
/// of another length (which can never match), `None` when it is not hex.
fn hex_decode(text: &str) -> Option<Option<[u8; MAC_LEN]>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let mut tag = [0u8; MAC_LEN];
    let mut out = tag.iter_mut();
    for pair in bytes.chunks_exact(2) {
        let byte = match pair {
            [hi, lo] => (nibble(*hi)? << 4) | nibble(*lo)?,
            _ => return None,
        };
        if let Some(slot) = out.next() {
            *slot = byte;
        }
    }
    Some((bytes.len() == 2 * MAC_LEN).then_some(tag))
}

/// Signs `body` at `timestamp` with `key` (or its forged twin): the message a provider would
/// send.
pub(crate) fn sign_message(key: &SigningKey, forged: bool, timestamp: DateTime<Utc>, body: Vec<u8>) -> RawMessage {
    let ts = timestamp.timestamp().to_string();
    let key = if forged { &key.forged } else { &key.right };
    let signature = mac_over(key, &ts, &body).map(|mac| hex_encode(&mac.finalize().into_bytes())).unwrap_or_default();
    RawMessage {
        headers: vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (TIMESTAMP_HEADER.to_owned(), ts),
            (SIGNATURE_HEADER.to_owned(), signature),
        ],
        body,
    }
}

/// Checks headers, then the timestamp (when a tolerance is given), then the signature
/// (constant time). On success the body is authentic.
pub(crate) fn check_message(
    key: &SigningKey,
    raw: &RawMessage,
    now: DateTime<Utc>,
    tolerance: Option<TimeDelta>,
) -> Result<(), SignatureProblem> {
    let ts_text = raw.header(TIMESTAMP_HEADER).ok_or(SignatureProblem::Malformed("missing X-Timestamp header"))?;
    let sig_text = raw.header(SIGNATURE_HEADER).ok_or(SignatureProblem::Malformed("missing X-Signature header"))?;
    let seconds: i64 =
        ts_text.parse().map_err(|_| SignatureProblem::Malformed("X-Timestamp is not a unix timestamp"))?;
    let signed_at = DateTime::<Utc>::from_timestamp(seconds, 0)
        .ok_or(SignatureProblem::Malformed("X-Timestamp is out of range"))?;
    let signature = hex_decode(sig_text).ok_or(SignatureProblem::Malformed("X-Signature is not hex"))?;
    if let Some(tolerance) = tolerance
        && now.signed_duration_since(signed_at).abs() > tolerance
    {
        return Err(SignatureProblem::Stale);
    }
    let signature = signature.ok_or(SignatureProblem::Invalid)?;
    let mac = mac_over(&key.right, ts_text, &raw.body).ok_or(SignatureProblem::Invalid)?;
    mac.verify_slice(&signature).map_err(|_| SignatureProblem::Invalid)
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// The gateway.
// ---------------------------------------------------------------------------------------------

/// The JSON body of a notification, as the fake provider sends it. The ids borrow from the
/// notification written or the body read (owned only when the JSON escapes something), which
/// spares a copy of each; the JSON is the same as with `String`s.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireNotification<'a> {
    #[serde(borrow)]
    notification_id: Cow<'a, str>,
    order_number: OrderNumber,
    #[serde(borrow)]
    txn_id: Cow<'a, str>,
    amount_minor: i64,
    currency: Currency,
    status: PaymentStatus,
}

/// The fake's record of one order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    /// The amount asked for by the last `create_payment` (`None` if the payment was only
    /// scripted with [`FakeGateway::mark_paid`]).
    pub requested: Option<Money>,
    /// What the last `create_payment` asked the provider to show the buyer.
    pub description: String,
    /// Status at the provider.
    pub status: PaymentStatus,
    /// Successful transactions, oldest first: `(txn_id, amount)`.
    pub transactions: Vec<(String, Money)>,
}

impl PaymentRecord {
    fn paid_total(&self) -> Option<Money> {
        let mut txns = self.transactions.iter().map(|(_, amount)| *amount);
        let first = txns.next()?;
        txns.try_fold(first, |sum, amount| sum.checked_add(amount).ok())
    }
}

/// A refund notification on the wire: told from a payment notification by its `refund`
/// field, which a payment notification lacks (and the reverse for `txn_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireRefund {
    notification_id: String,
    order_number: OrderNumber,
    refund: u32,
    refund_id: String,
    amount_minor: i64,
    currency: Currency,
    status: RefundStatus,
}

/// One refund the fake made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    /// Idempotency key it was made with.
    pub key: String,
    /// Order number.
    pub order_number: OrderNumber,
    /// Amount.
    pub amount: Money,
    /// The receipt returned (also to every retry with the same key).
    pub receipt: RefundReceipt,
    /// Which refund of the order.
    pub refund: RefundId,
    /// The reason sent with it (in the shop's language), as a provider would show the buyer.
    pub reason: String,
    /// Where it stands: [`RefundStatus::Pending`] while the fake answers refunds as pending
    /// ([`FakeGateway::answer_refunds_pending`]) until [`FakeGateway::settle_refund`].
    pub status: RefundStatus,
}

#[derive(Debug, Default)]
struct GatewayState {
    payments: HashMap<OrderNumber, PaymentRecord>,
    refunds: Vec<RefundRecord>,
    refund_calls: usize,
    refunds_pending: bool,
    calls: usize,
    next_txn: u64,
    next_notification: u64,
}

/// A payment provider for tests that behaves like a real one.
///
/// * Notifications are signed: `X-Timestamp` (unix seconds) and `X-Signature`, the lower-case
///   hex HMAC-SHA256 of `"{timestamp}.{body}"` under the secret key; verification checks the
///   headers ([`GatewayError::Malformed`]), the timestamp against a tolerance
///   ([`GatewayError::StaleTimestamp`], default ±5 minutes) and the signature in constant time
///   ([`GatewayError::InvalidSignature`]). Errors never contain the secret, the signature or
///   the body.
/// * It keeps its own records: payments created, paid ([`notify_paid`](Self::notify_paid),
///   [`mark_paid`](Self::mark_paid)) and closed, and a refund ledger idempotent by key.
///   `query_payment` reports the latest successful transaction (`None` while unpaid);
///   `close_payment` refuses a paid payment with `Rejected("already paid")` (closing an
///   unknown one just records it closed); `create_payment` refuses paid or closed payments;
///   `refund` refuses amounts beyond what was paid, and never refunds a key twice.
/// * Refunds are completed at once, or answered pending after
///   [`answer_refunds_pending`](Self::answer_refunds_pending) until
///   [`settle_refund`](Self::settle_refund) decides them (`query_refund` reports them) or
///   [`notify_refund`](Self::notify_refund) also signs the refund notification, a JSON body
///   with `refund` and `refund_id` where a payment notification has `txn_id`.
/// * To make it fail (before a call, or after a refund was made: a timeout), wrap it in
///   [`Failing`](super::Failing).
///
/// Every method takes `&self`; share it with `Arc`.
pub struct FakeGateway {
    provider: String,
    key: SigningKey,
    tolerance: TimeDelta,
    state: Mutex<GatewayState>,
}

impl fmt::Debug for FakeGateway {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGateway")
            .field("provider", &self.provider)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl FakeGateway {
    /// A gateway named `provider` (e.g. `"alipay"`) signing with `secret`, with a ±5 minute
    /// timestamp tolerance.
    pub fn new(provider: impl Into<String>, secret: impl AsRef<[u8]>) -> FakeGateway {
        FakeGateway {
            provider: provider.into(),
            key: SigningKey::new(secret.as_ref()),
            tolerance: DEFAULT_TOLERANCE,
            state: Mutex::new(GatewayState::default()),
        }
    }

    /// The same gateway with another timestamp tolerance (negative values count as zero).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: TimeDelta) -> FakeGateway {
        self.tolerance = tolerance.max(TimeDelta::zero());
        self
    }

    /// The provider name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The timestamp tolerance.
    pub fn tolerance(&self) -> TimeDelta {
        self.tolerance
    }

    // -- scripting --------------------------------------------------------------------------

    fn body_of(&self, notification: &PaymentNotification) -> Vec<u8> {
        let id = {
            let mut state = lock(&self.state);
            state.next_notification += 1;
            format!("{}-N{:08}", self.provider, state.next_notification)
        };
        let wire = WireNotification {
            notification_id: Cow::Owned(id),
            order_number: notification.order_number,
            txn_id: Cow::Borrowed(&notification.txn_id),
            amount_minor: notification.amount.minor,
            currency: notification.amount.currency,
            status: notification.status,
        };
        // Room for a typical notification, so the body is not grown while written.
        let mut body = Vec::with_capacity(256);
        match serde_json::to_writer(&mut body, &wire) {
            Ok(()) => body,
            Err(_) => Vec::new(),
        }
    }

    /// The provider's notification of `notification`, signed at `timestamp`. Each call gets a
    /// fresh notification id; to model a redelivery, send the same [`RawMessage`] again.
    pub fn sign(&self, notification: &PaymentNotification, timestamp: DateTime<Utc>) -> RawMessage {
        sign_message(&self.key, false, timestamp, self.body_of(notification))
    }

    /// Any `body`, signed at `timestamp` with the right key: for messages the provider might
    /// send that are not notifications.
    pub fn sign_body(&self, body: impl Into<Vec<u8>>, timestamp: DateTime<Utc>) -> RawMessage {
        sign_message(&self.key, false, timestamp, body.into())
    }

    /// Like [`sign`](Self::sign) but with a wrong key: verification must answer
    /// [`GatewayError::InvalidSignature`].
    pub fn forge(&self, notification: &PaymentNotification, timestamp: DateTime<Utc>) -> RawMessage {
        sign_message(&self.key, true, timestamp, self.body_of(notification))
    }

    /// `raw` with its body changed after signing (the amount lowered to one minor unit, or a
    /// byte appended if the body is not a notification); the headers are kept.
    pub fn tamper(&self, raw: &RawMessage) -> RawMessage {
        let body = match serde_json::from_slice::<WireNotification>(&raw.body) {
            Ok(mut wire) => {
                wire.amount_minor = if wire.amount_minor == 1 { 2 } else { 1 };
                serde_json::to_vec(&wire).unwrap_or_default()
            }
            Err(_) => {
                let mut body = raw.body.clone();
                body.push(b' ');
                body
            }
        };
        RawMessage { headers: raw.headers.clone(), body }
    }

    /// Records that the buyer paid `amount` for `order_number` (fresh transaction id), without
    /// sending anything: models "paid, but the notification was lost". `query_payment` reports
    /// it. Scripting bypasses the provider's rules (it works even on a closed payment).
    pub fn mark_paid(&self, order_number: &OrderNumber, amount: Money) -> PaymentNotification {
        let mut state = lock(&self.state);
        state.next_txn += 1;
        let txn_id = format!("{}-T{:010}", self.provider, state.next_txn);
        let record = state.payments.entry(*order_number).or_insert_with(|| PaymentRecord {
            requested: None,
            description: String::new(),
            status: PaymentStatus::Pending,
            transactions: Vec::new(),
        });
        record.status = PaymentStatus::Succeeded;
        record.transactions.push((txn_id.clone(), amount));
        PaymentNotification::new(*order_number, txn_id, amount, PaymentStatus::Succeeded)
    }

    /// [`mark_paid`](Self::mark_paid), then the signed `Succeeded` notification for it, sent
    /// at `now`.
    pub fn notify_paid(&self, order_number: &OrderNumber, amount: Money, now: DateTime<Utc>) -> RawMessage {
        let notification = self.mark_paid(order_number, amount);
        self.sign(&notification, now)
    }

    /// From now on, answer new refunds as pending ([`RefundReceipt::pending`], as WeChat Pay's
    /// `PROCESSING`) until [`settle_refund`](Self::settle_refund) decides them; `false`:
    /// completed at once (the default).
    pub fn answer_refunds_pending(&self, pending: bool) {
        lock(&self.state).refunds_pending = pending;
    }

    /// Decides refund `refund` of `order_number` (made before by `refund`) as `status`,
    /// without sending anything (a lost refund notification: `query_refund` reports it), and
    /// returns the provider's report of it; `None` when no such refund was made.
    pub fn settle_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        status: RefundStatus,
    ) -> Option<RefundNotification> {
        let mut state = lock(&self.state);
        let record = state.refunds.iter_mut().find(|r| r.order_number == *order_number && r.refund == refund)?;
        record.status = status;
        record.receipt.pending = status == RefundStatus::Pending;
        Some(self.refund_report(record))
    }

    /// [`settle_refund`](Self::settle_refund), then the signed refund notification for it,
    /// sent at `now`; `None` when no such refund was made.
    pub fn notify_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        status: RefundStatus,
        now: DateTime<Utc>,
    ) -> Option<RawMessage> {
        let report = self.settle_refund(order_number, refund, status)?;
        let id = {
            let mut state = lock(&self.state);
            state.next_notification += 1;
            format!("{}-N{:08}", self.provider, state.next_notification)
        };
        let wire = WireRefund {
            notification_id: id,
            order_number: report.order_number,
            refund: report.refund.0,
            refund_id: report.provider_refund_id,
            amount_minor: report.amount.minor,
            currency: report.amount.currency,
            status: report.status,
        };
        Some(sign_message(&self.key, false, now, serde_json::to_vec(&wire).unwrap_or_default()))
    }

    /// Counts a verification call and checks the message's signature and timestamp.
    fn check(&self, raw: &RawMessage, now: DateTime<Utc>) -> Result<(), GatewayError> {
        lock(&self.state).calls += 1;
        check_message(&self.key, raw, now, Some(self.tolerance)).map_err(to_gateway_error)
    }

    fn refund_report(&self, record: &RefundRecord) -> RefundNotification {
        let mut report = RefundNotification::new(
            record.order_number,
            record.refund,
            record.receipt.reference.clone(),
            record.amount,
            record.status,
        );
        report.provider = Some(self.provider.clone());
        report
    }

    // -- inspection -------------------------------------------------------------------------

    /// The fake's record of `order_number`'s payment.
    pub fn payment(&self, order_number: &OrderNumber) -> Option<PaymentRecord> {
        lock(&self.state).payments.get(order_number).cloned()
    }

    /// Payments created with `create_payment`: order number and amount asked for, sorted by
    /// order number.
    pub fn created_payments(&self) -> Vec<(OrderNumber, Money)> {
        let state = lock(&self.state);
        let mut created: Vec<(OrderNumber, Money)> = state
            .payments
            .iter()
            .filter_map(|(number, record)| record.requested.map(|amount| (*number, amount)))
            .collect();
        created.sort_by_key(|a| a.0);
        created
    }

    /// Every refund actually made, oldest first (each key once).
    pub fn refunds(&self) -> Vec<RefundRecord> {
        lock(&self.state).refunds.clone()
    }

    /// Sum of the refunds made for `order_number` (`None` when there are none).
    pub fn refunded_total(&self, order_number: &OrderNumber) -> Option<Money> {
        let state = lock(&self.state);
        refunded_total(&state.refunds, order_number)
    }

    /// How many times `refund` was called (retries included).
    pub fn refund_calls(&self) -> usize {
        lock(&self.state).refund_calls
    }

    /// How many times any [`PaymentGateway`] method was called.
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    // -- internals --------------------------------------------------------------------------

    fn session(&self, request: &PaymentRequest) -> PaymentSession {
        PaymentSession::QrCode {
            payload: format!(
                "{}://pay?order={}&amount={}&currency={}",
                self.provider, request.order_number, request.amount.minor, request.amount.currency
            ),
        }
    }
}

fn refunded_total(refunds: &[RefundRecord], order_number: &OrderNumber) -> Option<Money> {
    let mut amounts = refunds.iter().filter(|r| &r.order_number == order_number).map(|r| r.amount);
    let first = amounts.next()?;
    amounts.try_fold(first, |sum, amount| sum.checked_add(amount).ok())
}

fn to_gateway_error(problem: SignatureProblem) -> GatewayError {
    match problem {
        SignatureProblem::Malformed(why) => GatewayError::Malformed(why.to_owned()),
        SignatureProblem::Stale => GatewayError::StaleTimestamp,
        SignatureProblem::Invalid => GatewayError::InvalidSignature,
    }
}

impl PaymentGateway for FakeGateway {
    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, GatewayError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        if request.amount.minor <= 0 {
            return Err(GatewayError::Rejected("amount must be positive".into()));
        }
        let record = state.payments.entry(request.order_number).or_insert_with(|| PaymentRecord {
            requested: None,
            description: String::new(),
            status: PaymentStatus::Pending,
            transactions: Vec::new(),
        });
        match record.status {
            PaymentStatus::Succeeded => Err(GatewayError::Rejected("already paid".into())),
            PaymentStatus::Closed => Err(GatewayError::Rejected("payment closed".into())),
            PaymentStatus::Pending | PaymentStatus::Failed => {
                record.requested = Some(request.amount);
                record.description.clone_from(&request.description);
                record.status = PaymentStatus::Pending;
                Ok(self.session(request))
            }
        }
    }

    async fn verify_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<PaymentNotification, GatewayError> {
        self.check(raw, now)?;
        let wire: WireNotification = serde_json::from_slice(&raw.body).map_err(|e| {
            GatewayError::Malformed(format!(
                "body is not a notification ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        Ok(PaymentNotification::new(
            wire.order_number,
            wire.txn_id.into_owned(),
            Money::new(wire.amount_minor, wire.currency),
            wire.status,
        ))
    }

    async fn query_payment(
        &self,
        order_number: &OrderNumber,
        _provider: &str,
    ) -> Result<Option<PaymentNotification>, GatewayError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        let Some(record) = state.payments.get(order_number) else {
            return Ok(None);
        };
        // What a query reports: the latest successful transaction, if any.
        Ok(record.transactions.last().map(|(txn_id, amount)| {
            PaymentNotification::new(*order_number, txn_id.clone(), *amount, PaymentStatus::Succeeded)
        }))
    }

    async fn close_payment(&self, order_number: &OrderNumber, _provider: &str) -> Result<CloseOutcome, GatewayError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        // As the real providers do: a payment never started is unknown there.
        let Some(record) = state.payments.get_mut(order_number) else {
            return Ok(CloseOutcome::NothingToClose);
        };
        if record.status == PaymentStatus::Succeeded || !record.transactions.is_empty() {
            return Err(GatewayError::Rejected("already paid".into()));
        }
        record.status = PaymentStatus::Closed;
        Ok(CloseOutcome::Closed)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, GatewayError> {
        let mut state = lock(&self.state);
        state.refund_calls += 1;
        state.calls += 1;
        let receipt = if let Some(done) = state.refunds.iter().find(|r| r.key == request.key) {
            done.receipt.clone()
        } else {
            if request.amount.minor <= 0 {
                return Err(GatewayError::Rejected("refund amount must be positive".into()));
            }
            let paid = state
                .payments
                .get(&request.order_number)
                .and_then(PaymentRecord::paid_total)
                .ok_or_else(|| GatewayError::Rejected("no successful payment to refund".into()))?;
            if paid.currency != request.amount.currency {
                return Err(GatewayError::Rejected("refund currency differs from the payment".into()));
            }
            let already = refunded_total(&state.refunds, &request.order_number).map_or(0, |m| m.minor);
            let after = already
                .checked_add(request.amount.minor)
                .ok_or_else(|| GatewayError::Rejected("refund amount overflows".into()))?;
            if after > paid.minor {
                return Err(GatewayError::Rejected("refund exceeds the paid amount".into()));
            }
            let reference = format!("{}-RF{:08}", self.provider, state.refunds.len() + 1);
            let (receipt, status) = if state.refunds_pending {
                (RefundReceipt::pending(reference), RefundStatus::Pending)
            } else {
                (RefundReceipt::new(reference), RefundStatus::Succeeded)
            };
            state.refunds.push(RefundRecord {
                key: request.key.clone(),
                order_number: request.order_number,
                amount: request.amount,
                receipt: receipt.clone(),
                refund: request.refund,
                reason: request.reason.clone(),
                status,
            });
            receipt
        };
        Ok(receipt)
    }

    async fn verify_refund_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<RefundNotification, GatewayError> {
        self.check(raw, now)?;
        let wire: WireRefund = serde_json::from_slice(&raw.body)
            .map_err(|_| GatewayError::Malformed("body is not a refund notification".into()))?;
        let mut report = RefundNotification::new(
            wire.order_number,
            RefundId(wire.refund),
            wire.refund_id,
            Money::new(wire.amount_minor, wire.currency),
            wire.status,
        );
        report.provider = Some(self.provider.clone());
        Ok(report)
    }

    async fn query_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        _provider: &str,
    ) -> Result<Option<RefundNotification>, GatewayError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        let found = state.refunds.iter().find(|r| r.order_number == *order_number && r.refund == refund);
        Ok(found.map(|record| self.refund_report(record)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_sorts_out_what_is_not_a_tag() {
        let tag: [u8; MAC_LEN] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let text = hex_encode(&tag);
        assert_eq!(text.len(), 2 * MAC_LEN);
        assert_eq!(hex_decode(&text), Some(Some(tag)));
        assert_eq!(hex_decode(&text.to_uppercase()), Some(Some(tag)));
        // Hex, but not a tag's length: read, and can never match.
        assert_eq!(hex_decode("00"), Some(None));
        assert_eq!(hex_decode(&format!("{text}00")), Some(None));
        assert_eq!(hex_decode(&text[2..]), Some(None));
        // Not hex.
        assert_eq!(hex_decode(""), None);
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode(&text[1..]), None);
        assert_eq!(hex_decode(&format!("{text}0g")), None);
        assert_eq!(hex_decode(&format!("g{}", &text[1..])), None);
        assert_eq!(hex_decode("é0"), None);
    }

    #[test]
    fn signatures_of_the_wrong_length_are_invalid_not_malformed() {
        let key = SigningKey::new(b"secret");
        let now = DateTime::<Utc>::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        let raw = sign_message(&key, false, now, b"{}".to_vec());
        assert_eq!(check_message(&key, &raw, now, Some(DEFAULT_TOLERANCE)), Ok(()));
        let with_signature = |signature: &str| RawMessage {
            headers: raw
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), if k == SIGNATURE_HEADER { signature.to_owned() } else { v.clone() }))
                .collect(),
            body: raw.body.clone(),
        };
        let good = raw.header(SIGNATURE_HEADER).unwrap_or_default().to_owned();
        for wrong in ["00", &good[2..], &format!("{good}00")] {
            assert_eq!(check_message(&key, &with_signature(wrong), now, None), Err(SignatureProblem::Invalid));
        }
        // Staleness is told before a bad length, malformed hex before staleness.
        let later = now + TimeDelta::hours(1);
        assert_eq!(
            check_message(&key, &with_signature("00"), later, Some(DEFAULT_TOLERANCE)),
            Err(SignatureProblem::Stale)
        );
        assert_eq!(
            check_message(&key, &with_signature("0"), later, Some(DEFAULT_TOLERANCE)),
            Err(SignatureProblem::Malformed("X-Signature is not hex"))
        );
    }
}
