//! WeChat Pay API v3 as documented, emulated: it checks the merchant's signature on every
//! call, signs every answer with its platform key, serves `/v3/certificates` encrypted with
//! the APIv3 key, answers the documented error codes when told (`fail_next`), and sends
//! notifications signed and encrypted like WeChat Pay. Payments are JSAPI, App, H5 and Native;
//! refunds answer `SUCCESS` or, when told, `PROCESSING` until settled.
//!
//! The merchant's identifiers and keys are the constants below ([`config`] builds the
//! adapter's configuration from them); platform A signs until [`Emulator::rotate`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Offset, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{HttpCall, HttpEmulator, lock, response};
use crate::adapters::http::HttpResponse;
use crate::adapters::rsa_sha256;
use crate::adapters::wechatpay::decrypt::encrypt;
use crate::adapters::wechatpay::sign::{self, Authorization};
use crate::adapters::wechatpay::verify::{self as wx_verify};
use crate::adapters::wechatpay::{ApiV3Key, MerchantKey, WechatPayConfig};
use crate::ports::{Clock, RawMessage};

/// The emulated merchant id.
pub const MCH_ID: &str = "1900009191";
/// The emulated app id payments are made under.
pub const APP_ID: &str = "wxd678efh567hg6787";
/// The serial of the merchant's API certificate.
pub const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
/// The APIv3 key (32 bytes) notifications and certificates are encrypted with.
pub const API_V3_KEY: &str = "0123456789abcdefABCDEF9876543210";
/// Where the emulated merchant platform says payment notifications go.
pub const NOTIFY_URL: &str = "https://shop.example.com/webhooks/wechatpay";

/// The merchant's private key (PKCS#8 PEM), generated for tests.
pub const MERCHANT_KEY: &str = include_str!("keys/wechatpay/merchant.key.pem");
/// Its public half, which the emulator checks requests with.
pub const MERCHANT_PUBLIC_KEY: &str = include_str!("keys/wechatpay/merchant.pub.pem");
/// Platform A's private key.
pub const PLATFORM_A_KEY: &str = include_str!("keys/wechatpay/platform_a.key.pem");
/// Platform A's certificate.
pub const PLATFORM_A_CERT: &str = include_str!("keys/wechatpay/platform_a.cert.pem");
/// Platform B's private key (published by a rotation).
pub const PLATFORM_B_KEY: &str = include_str!("keys/wechatpay/platform_b.key.pem");
/// Platform B's certificate.
pub const PLATFORM_B_CERT: &str = include_str!("keys/wechatpay/platform_b.cert.pem");
/// The serial of platform A's certificate (`openssl x509 -noout -serial`).
pub const SERIAL_A: &str = "4AAD58E3D4B149EF";
/// The serial of platform B's certificate.
pub const SERIAL_B: &str = "52CF75C2B2C5E20B";

/// The adapter's configuration for the emulated merchant (production base URL: point it at
/// the emulator with `with_base_url`).
///
/// # Panics
/// Never: the fixture keys are valid (a unit test reads them).
pub fn config() -> WechatPayConfig {
    WechatPayConfig::new(
        MCH_ID,
        APP_ID,
        MERCHANT_SERIAL,
        MerchantKey::from_pem(MERCHANT_KEY).expect("the fixture merchant key reads"),
        ApiV3Key::new(API_V3_KEY).expect("the fixture APIv3 key is 32 bytes"),
        NOTIFY_URL,
    )
}

/// One platform certificate and its key.
pub struct Platform {
    /// The certificate's serial (`Wechatpay-Serial`).
    pub serial: &'static str,
    /// Signs answers and notifications.
    pub key: MerchantKey,
    /// The certificate (PEM).
    pub cert: &'static str,
}

/// Platforms A and B.
///
/// # Panics
/// Never: the fixture keys are valid (a unit test reads them).
pub fn platforms() -> [Platform; 2] {
    let key = |pem| MerchantKey::from_pem(pem).expect("the fixture platform keys read");
    [
        Platform { serial: SERIAL_A, key: key(PLATFORM_A_KEY), cert: PLATFORM_A_CERT },
        Platform { serial: SERIAL_B, key: key(PLATFORM_B_KEY), cert: PLATFORM_B_CERT },
    ]
}

/// A header's value, by case-insensitive name.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `at` as WeChat Pay writes times: RFC 3339 in Beijing time.
fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix()))
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A fresh nonce of `len` characters (never fails: a missing random source gives zeros).
fn fresh_nonce(len: usize) -> String {
    let nonce = sign::nonce().unwrap_or_else(|_| "0".repeat(32));
    nonce.get(..len).unwrap_or(&nonce).to_owned()
}

/// The signed-webhook helper: `body` with the `Wechatpay-*` headers of `key` under `serial`
/// at `timestamp`.
pub fn signed(body: &str, serial: &str, key: &MerchantKey, timestamp: i64) -> RawMessage {
    let nonce = fresh_nonce(32);
    let timestamp = timestamp.to_string();
    // A signing failure leaves the signature empty: the receiver refuses it.
    let signature = sign::sign(key, &sign::message(&[&timestamp, &nonce, body])).unwrap_or_default();
    RawMessage {
        headers: vec![
            (wx_verify::TIMESTAMP.into(), timestamp),
            (wx_verify::NONCE.into(), nonce),
            (wx_verify::SIGNATURE.into(), signature),
            (wx_verify::SERIAL.into(), serial.into()),
            ("Wechatpay-Signature-Type".into(), sign::SCHEME.into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// The transaction JSON WeChat Pay queries and notifies.
pub fn transaction_json(appid: &str, mchid: &str, out_trade_no: &str, tx: &Tx) -> Value {
    let mut value = json!({
        "appid": appid,
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "trade_type": tx.kind.to_uppercase(),
        "trade_state": tx.state,
        "trade_state_desc": "emulated",
        "bank_type": "OTHERS",
        "attach": "",
        "payer": { "openid": tx.openid.clone().unwrap_or_default() },
        "amount": { "total": tx.total, "payer_total": tx.payer_total, "currency": "CNY", "payer_currency": "CNY" },
    });
    if let (Some(id), Some(at)) = (&tx.transaction_id, &tx.success_time) {
        value["transaction_id"] = id.as_str().into();
        value["success_time"] = at.as_str().into();
    }
    value
}

/// A payment the emulator knows.
#[derive(Debug, Clone)]
pub struct Tx {
    /// `jsapi`, `app`, `h5` or `native`.
    pub kind: String,
    /// The order total, in fen.
    pub total: i64,
    /// What the buyer paid, in fen (less than the total when a coupon paid part).
    pub payer_total: i64,
    /// `NOTPAY`, `SUCCESS`, `REFUND` or `CLOSED`.
    pub state: &'static str,
    /// WeChat Pay's transaction id, once paid.
    pub transaction_id: Option<String>,
    /// When it was paid (RFC 3339, Beijing time).
    pub success_time: Option<String>,
    /// The payer's openid (JSAPI).
    pub openid: Option<String>,
}

/// A refund the emulator knows.
#[derive(Debug, Clone)]
pub struct RefundRecord {
    /// The payment refunded.
    pub out_trade_no: String,
    /// WeChat Pay's refund id.
    pub refund_id: String,
    /// The amount refunded, in fen.
    pub refund: i64,
    /// The order total, in fen.
    pub total: i64,
    /// `SUCCESS`, `PROCESSING`, `ABNORMAL` or `CLOSED`.
    pub status: String,
    /// When the money went back (RFC 3339, Beijing time).
    pub success_time: Option<String>,
}

impl RefundRecord {
    /// The refund as the query API answers it (a notification's resource names `status`
    /// `refund_status`).
    fn json(&self, out_refund_no: &str) -> Value {
        json!({
            "mchid": MCH_ID,
            "out_trade_no": self.out_trade_no,
            "transaction_id": "4200000000000000000000000001",
            "out_refund_no": out_refund_no,
            "refund_id": self.refund_id,
            "status": self.status,
            "success_time": self.success_time,
            "user_received_account": "支付用户零钱",
            "amount": { "total": self.total, "refund": self.refund, "payer_total": self.total, "payer_refund": self.refund },
        })
    }
}

#[derive(Default)]
struct State {
    /// Which platform key signs (index into `platforms`).
    signer: usize,
    /// How many platform certificates `/v3/certificates` serves (from the first).
    published: usize,
    orders: BTreeMap<String, Tx>,
    refunds: BTreeMap<String, RefundRecord>,
    failures: VecDeque<(u16, &'static str)>,
    calls: Vec<String>,
    next: u64,
    refunds_processing: bool,
}

/// WeChat Pay API v3, emulated for one merchant ([`MCH_ID`]).
pub struct Emulator {
    clock: Arc<dyn Clock>,
    merchant: rsa::PublicKey,
    api_v3_key: ApiV3Key,
    platforms: [Platform; 2],
    state: Mutex<State>,
}

impl Emulator {
    /// Signing with platform A, which is the only one published.
    ///
    /// # Panics
    /// Never: the fixture keys are valid (a unit test reads them).
    pub fn new(clock: Arc<dyn Clock>) -> Emulator {
        Emulator {
            clock,
            merchant: rsa_sha256::public_key_from_text(MERCHANT_PUBLIC_KEY).expect("the fixture merchant key reads"),
            api_v3_key: ApiV3Key::new(API_V3_KEY).expect("the fixture APIv3 key is 32 bytes"),
            platforms: platforms(),
            state: Mutex::new(State { published: 1, ..State::default() }),
        }
    }

    /// `body` signed by the platform key that signs now.
    fn sign_as_platform(&self, state: &State, body: &str) -> RawMessage {
        let platform = self.platforms.get(state.signer).unwrap_or(&self.platforms[0]);
        signed(body, platform.serial, &platform.key, self.clock.now().timestamp())
    }

    /// `plaintext` encrypted with the APIv3 key under a fresh nonce, as a resource's JSON.
    fn seal(&self, associated_data: &str, plaintext: &[u8]) -> Value {
        encrypt(&self.api_v3_key, &fresh_nonce(12), associated_data, plaintext)
            .ok()
            .and_then(|sealed| serde_json::to_value(sealed).ok())
            .unwrap_or(Value::Null)
    }

    /// WeChat Pay's check of the merchant signature.
    fn check_merchant(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), String> {
        let header = header(headers, "authorization").ok_or("no Authorization")?;
        let auth = Authorization::parse(header).map_err(|e| e.to_string())?;
        if auth.mchid != MCH_ID || auth.serial_no != MERCHANT_SERIAL {
            return Err("wrong merchant or serial".into());
        }
        let body = std::str::from_utf8(body).map_err(|_| "body is not UTF-8")?;
        wx_verify::check_timestamp(&auth.timestamp, self.clock.now(), chrono::TimeDelta::minutes(5))
            .map_err(|e| e.to_string())?;
        let message = sign::message(&[method, path, &auth.timestamp, &auth.nonce_str, body]);
        wx_verify::verify_signature(&self.merchant, message.as_bytes(), &auth.signature).map_err(|e| e.to_string())
    }

    fn route(&self, state: &mut State, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let error = |status: u16, code: &str| (status, json!({ "code": code, "message": "emulated" }).to_string());
        let request: Value =
            if body.is_empty() { Value::Null } else { serde_json::from_slice(body).unwrap_or(Value::Null) };
        if method == "GET" && path == "/v3/certificates" {
            let data: Vec<Value> = self.platforms[..state.published]
                .iter()
                .map(|p| {
                    let sealed = self.seal("certificate", p.cert.as_bytes());
                    json!({
                        "serial_no": p.serial,
                        "effective_time": "2020-01-01T00:00:00+08:00",
                        "expire_time": "2099-01-01T00:00:00+08:00",
                        "encrypt_certificate": sealed,
                    })
                })
                .collect();
            return (200, json!({ "data": data }).to_string());
        }
        if let Some(kind) =
            path.strip_prefix("/v3/pay/transactions/").filter(|k| ["jsapi", "app", "h5", "native"].contains(k))
        {
            if request["appid"] != APP_ID || request["mchid"] != MCH_ID {
                return error(400, "APPID_MCHID_NOT_MATCH");
            }
            let out_trade_no = request["out_trade_no"].as_str().unwrap_or_default().to_owned();
            let valid_no = (6..=32).contains(&out_trade_no.len())
                && out_trade_no.chars().all(|c| c.is_ascii_alphanumeric() || "_-|*".contains(c));
            let total = request["amount"]["total"].as_i64().unwrap_or(0);
            let openid = request["payer"]["openid"].as_str().map(str::to_owned);
            if !valid_no
                || total <= 0
                || request["amount"]["currency"] != "CNY"
                || request["notify_url"].as_str().is_none()
                || (kind == "jsapi" && openid.is_none())
                || (kind == "h5" && request["scene_info"]["payer_client_ip"].as_str().is_none())
            {
                return error(400, "PARAM_ERROR");
            }
            match state.orders.get(&out_trade_no).map(|tx| tx.state) {
                Some("SUCCESS" | "REFUND") => return error(400, "ORDERPAID"),
                Some("CLOSED") => return error(400, "ORDER_CLOSED"),
                _ => {}
            }
            state.next += 1;
            let n = state.next;
            state.orders.insert(
                out_trade_no,
                Tx {
                    kind: kind.into(),
                    total,
                    payer_total: total,
                    state: "NOTPAY",
                    transaction_id: None,
                    success_time: None,
                    openid,
                },
            );
            let answer = match kind {
                "h5" => {
                    json!({ "h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{n:020}") })
                }
                "native" => json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr=EMU{n:06}") }),
                _ => json!({ "prepay_id": format!("wx{n:030}") }),
            };
            return (200, answer.to_string());
        }
        if let Some(rest) = path.strip_prefix("/v3/pay/transactions/out-trade-no/") {
            if let Some(out_trade_no) = rest.strip_suffix("/close") {
                if request["mchid"] != MCH_ID {
                    return error(400, "PARAM_ERROR");
                }
                return match state.orders.get_mut(out_trade_no) {
                    None => error(404, "ORDER_NOT_EXIST"),
                    Some(tx) if tx.state == "SUCCESS" || tx.state == "REFUND" => error(400, "ORDERPAID"),
                    Some(tx) => {
                        tx.state = "CLOSED";
                        (204, String::new())
                    }
                };
            }
            let Some((out_trade_no, query)) = rest.split_once('?') else { return error(400, "PARAM_ERROR") };
            if query != format!("mchid={MCH_ID}") {
                return error(400, "PARAM_ERROR");
            }
            return match state.orders.get(out_trade_no) {
                None => error(404, "ORDER_NOT_EXIST"),
                Some(tx) => (200, transaction_json(APP_ID, MCH_ID, out_trade_no, tx).to_string()),
            };
        }
        if method == "POST" && path == "/v3/refund/domestic/refunds" {
            let out_trade_no = request["out_trade_no"].as_str().unwrap_or_default().to_owned();
            let out_refund_no = request["out_refund_no"].as_str().unwrap_or_default().to_owned();
            let valid_no = (1..=64).contains(&out_refund_no.len())
                && out_refund_no.chars().all(|c| c.is_ascii_alphanumeric() || "_-|*@".contains(c));
            let refund = request["amount"]["refund"].as_i64().unwrap_or(0);
            if !valid_no || refund <= 0 || request["amount"]["currency"] != "CNY" {
                return error(400, "PARAM_ERROR");
            }
            let status = if state.refunds_processing { "PROCESSING" } else { "SUCCESS" };
            if let Some(existing) = state.refunds.get(&out_refund_no) {
                return (
                    200,
                    json!({ "refund_id": existing.refund_id, "out_refund_no": out_refund_no, "status": existing.status })
                        .to_string(),
                );
            }
            let Some(tx) = state.orders.get(&out_trade_no).cloned() else { return error(404, "RESOURCE_NOT_EXISTS") };
            if tx.state != "SUCCESS" && tx.state != "REFUND" {
                return error(400, "TRADE_STATE_ERROR");
            }
            if request["amount"]["total"].as_i64() != Some(tx.total) {
                return error(400, "PARAM_ERROR");
            }
            let refunded: i64 =
                state.refunds.values().filter(|r| r.out_trade_no == out_trade_no).map(|r| r.refund).sum();
            if refunded + refund > tx.total {
                return error(403, "NOT_ENOUGH");
            }
            state.next += 1;
            let refund_id = format!("50300{:020}", state.next);
            state.refunds.insert(
                out_refund_no.clone(),
                RefundRecord {
                    out_trade_no: out_trade_no.clone(),
                    refund_id: refund_id.clone(),
                    refund,
                    total: tx.total,
                    status: status.into(),
                    success_time: (status == "SUCCESS").then(|| beijing(self.clock.now())),
                },
            );
            if let Some(tx) = state.orders.get_mut(&out_trade_no) {
                tx.state = "REFUND";
            }
            let answer = json!({
                "refund_id": refund_id,
                "out_refund_no": out_refund_no,
                "transaction_id": tx.transaction_id,
                "out_trade_no": out_trade_no,
                "channel": "ORIGINAL",
                "status": status,
                "create_time": beijing(self.clock.now()),
                "amount": { "refund": refund, "total": tx.total, "payer_refund": refund, "currency": "CNY" },
            });
            return (200, answer.to_string());
        }
        if let Some(out_refund_no) = path.strip_prefix("/v3/refund/domestic/refunds/").filter(|_| method == "GET") {
            return match state.refunds.get(out_refund_no) {
                None => error(404, "RESOURCE_NOT_EXISTS"),
                Some(refund) => (200, refund.json(out_refund_no).to_string()),
            };
        }
        error(404, "RESOURCE_NOT_EXISTS")
    }

    /// The bank settles refund `out_refund_no` as `status` (`SUCCESS`, `ABNORMAL`, `CLOSED`);
    /// no notification is sent.
    ///
    /// # Panics
    /// When the refund was never asked for (a mistake in the test).
    pub fn settle_refund(&self, out_refund_no: &str, status: &str) {
        let mut state = lock(&self.state);
        let refund = state.refunds.get_mut(out_refund_no).expect("the refund was made at the emulator");
        refund.status = status.into();
        refund.success_time = (status == "SUCCESS").then(|| beijing(self.clock.now()));
    }

    /// The `REFUND.<status>` notification for `out_refund_no` as it stands, as WeChat Pay
    /// sends it, the resource changed by `edit` before it is encrypted.
    ///
    /// # Panics
    /// When the refund was never asked for (a mistake in the test).
    pub fn refund_notification(&self, out_refund_no: &str, edit: impl FnOnce(&mut Value)) -> RawMessage {
        let state = lock(&self.state);
        let refund = state.refunds.get(out_refund_no).expect("the refund was made at the emulator");
        let mut resource = refund.json(out_refund_no);
        // A notification names the status `refund_status`, the query answer `status`.
        if let Some(fields) = resource.as_object_mut() {
            let status = fields.remove("status").unwrap_or_default();
            fields.insert("refund_status".into(), status);
        }
        edit(&mut resource);
        self.notify(&state, "refund", &format!("REFUND.{}", refund.status), "退款成功", &resource)
    }

    /// Opens a payment as a create call would, without the HTTP round trip (for sans-IO tests).
    ///
    /// # Panics
    /// When the emulator refuses the call (a mistake in the test).
    pub fn open(&self, path: &str, body: &str) {
        let mut state = lock(&self.state);
        let (status, answer) = self.route(&mut state, "POST", path, body.as_bytes());
        assert_eq!(status, 200, "{answer}");
    }

    /// The buyer pays `out_trade_no` (`payer_total` fen, less than the total when a coupon
    /// paid part); no notification is sent.
    ///
    /// # Panics
    /// When the payment was never opened (a mistake in the test).
    pub fn pay(&self, out_trade_no: &str, payer_total: i64) {
        let mut state = lock(&self.state);
        state.next += 1;
        let id = format!("42000{:023}", state.next);
        let tx = state.orders.get_mut(out_trade_no).expect("the order was created at the emulator");
        tx.state = "SUCCESS";
        tx.payer_total = payer_total;
        tx.transaction_id = Some(id);
        tx.success_time = Some(beijing(self.clock.now()));
    }

    /// The `TRANSACTION.SUCCESS` notification for `out_trade_no`, as WeChat Pay sends it.
    ///
    /// # Panics
    /// When the payment was never opened (a mistake in the test).
    pub fn notification(&self, out_trade_no: &str) -> RawMessage {
        self.notification_for(APP_ID, MCH_ID, out_trade_no, |_| {})
    }

    /// A notification with the resource's app and merchant ids as given, the transaction
    /// changed by `edit` before it is encrypted.
    ///
    /// # Panics
    /// When the payment was never opened (a mistake in the test).
    pub fn notification_for(
        &self,
        appid: &str,
        mchid: &str,
        out_trade_no: &str,
        edit: impl FnOnce(&mut Value),
    ) -> RawMessage {
        let state = lock(&self.state);
        let mut transaction = transaction_json(
            appid,
            mchid,
            out_trade_no,
            state.orders.get(out_trade_no).expect("the order was created at the emulator"),
        );
        edit(&mut transaction);
        self.notify(&state, "transaction", "TRANSACTION.SUCCESS", "支付成功", &transaction)
    }

    /// A notification as WeChat Pay sends it: `plaintext` (a `kind`, e.g. `transaction`)
    /// encrypted into the envelope of `event_type`, signed by the current platform key.
    fn notify(&self, state: &State, kind: &str, event_type: &str, summary: &str, plaintext: &Value) -> RawMessage {
        let mut resource = self.seal(kind, plaintext.to_string().as_bytes());
        resource["original_type"] = kind.into();
        let envelope = json!({
            "id": format!("EV-{}", fresh_nonce(32)),
            "create_time": beijing(self.clock.now()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": resource,
        });
        self.sign_as_platform(state, &envelope.to_string())
    }

    /// WeChat Pay rotates: platform B is published and signs from now on.
    pub fn rotate(&self) {
        let mut state = lock(&self.state);
        state.published = 2;
        state.signer = 1;
    }

    /// The next calls (after the signature check) answer `status` with `code`.
    pub fn fail_next(&self, status: u16, code: &'static str) {
        lock(&self.state).failures.push_back((status, code));
    }

    /// Refunds answer `PROCESSING` (or `SUCCESS` again).
    pub fn refunds_processing(&self, processing: bool) {
        lock(&self.state).refunds_processing = processing;
    }

    /// Every call so far, as `METHOD path`.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    /// What the emulator knows of `out_trade_no`.
    pub fn order(&self, out_trade_no: &str) -> Option<Tx> {
        lock(&self.state).orders.get(out_trade_no).cloned()
    }

    /// Every refund, by `out_refund_no`.
    pub fn refunds(&self) -> BTreeMap<String, RefundRecord> {
        lock(&self.state).refunds.clone()
    }
}

impl HttpEmulator for Emulator {
    /// Checks the merchant's signature, then answers the call (or the next queued failure),
    /// signed by the current platform key.
    fn answer(&self, call: HttpCall<'_>) -> HttpResponse {
        let HttpCall { method, path, headers, body } = call;
        let mut state = lock(&self.state);
        state.calls.push(format!("{method} {path}"));
        let (status, answer) = match self.check_merchant(method, path, headers, body) {
            Err(message) => (401, json!({ "code": "SIGN_ERROR", "message": message }).to_string()),
            Ok(()) => match state.failures.pop_front() {
                Some((status, code)) => (status, json!({ "code": code, "message": "emulated failure" }).to_string()),
                None => self.route(&mut state, method, path, body),
            },
        };
        let raw = self.sign_as_platform(&state, &answer);
        response(status, raw.headers, answer)
    }
}
