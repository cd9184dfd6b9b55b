//! A loopback emulator of WeChat Pay API v3 as documented: it checks the merchant's
//! signature on every call, signs every answer with its platform key, serves
//! `/v3/certificates` encrypted with the APIv3 key, answers the documented error codes when
//! told, and sends notifications signed and encrypted like WeChat Pay.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use orderflow::adapters::wechatpay::decrypt::encrypt;
use orderflow::adapters::wechatpay::sign::{self, Authorization};
use orderflow::adapters::wechatpay::verify::{self as wx_verify};
use orderflow::adapters::wechatpay::{ApiV3Key, MerchantKey};
use orderflow::ports::{Clock, RawMessage};
use orderflow::testing::FixedClock;
use rsa::pkcs8::DecodePublicKey;
use serde_json::{Value, json};

use super::{
    API_V3_KEY, APP_ID, MCH_ID, MERCHANT_PUBLIC_KEY, MERCHANT_SERIAL, PLATFORM_A_CERT, PLATFORM_A_KEY, PLATFORM_B_CERT,
    PLATFORM_B_KEY, SERIAL_A, SERIAL_B,
};

/// One platform certificate and its key.
pub struct Platform {
    pub serial: &'static str,
    pub key: MerchantKey,
    pub cert: &'static str,
}

pub fn platforms() -> [Platform; 2] {
    [
        Platform { serial: SERIAL_A, key: MerchantKey::from_pem(PLATFORM_A_KEY).unwrap(), cert: PLATFORM_A_CERT },
        Platform { serial: SERIAL_B, key: MerchantKey::from_pem(PLATFORM_B_KEY).unwrap(), cert: PLATFORM_B_CERT },
    ]
}

fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap()).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The signed-webhook helper: `body` with the `Wechatpay-*` headers of `key` under `serial`
/// at `timestamp`.
pub fn signed(body: &str, serial: &str, key: &MerchantKey, timestamp: i64) -> RawMessage {
    let nonce = sign::nonce().unwrap();
    let timestamp = timestamp.to_string();
    let signature = sign::sign(key, &sign::message(&[&timestamp, &nonce, body])).unwrap();
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
    pub kind: String,
    pub total: i64,
    pub payer_total: i64,
    pub state: &'static str,
    pub transaction_id: Option<String>,
    pub success_time: Option<String>,
    pub openid: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RefundRecord {
    pub out_trade_no: String,
    pub refund_id: String,
    pub refund: i64,
    /// The order total, in fen.
    pub total: i64,
    /// `SUCCESS`, `PROCESSING`, `ABNORMAL` or `CLOSED`.
    pub status: String,
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

pub struct Emulator {
    clock: Arc<FixedClock>,
    merchant: rsa::PublicKey,
    api_v3_key: ApiV3Key,
    platforms: [Platform; 2],
    state: Mutex<State>,
}

impl Emulator {
    /// Signing with platform A, which is the only one published.
    pub fn new(clock: Arc<FixedClock>) -> Emulator {
        Emulator {
            clock,
            merchant: rsa::PublicKey::from_public_key_pem(MERCHANT_PUBLIC_KEY).unwrap(),
            api_v3_key: ApiV3Key::new(API_V3_KEY).unwrap(),
            platforms: platforms(),
            state: Mutex::new(State { published: 1, ..State::default() }),
        }
    }

    /// Serves on a loopback port; returns the base URL.
    pub async fn serve(self: &Arc<Self>) -> String {
        let emulator = self.clone();
        crate::loopback::serve(move |method, uri, headers, body| emulator.http(method, uri, headers, body)).await
    }

    fn http(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let headers: Vec<(String, String)> =
            headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
        let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let (status, answer_headers, answer) = self.handle(method.as_str(), &path, &headers, &body);
        let mut response = (StatusCode::from_u16(status).unwrap(), answer).into_response();
        for (name, value) in answer_headers {
            response
                .headers_mut()
                .insert(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        response
    }

    /// Answers one call: (status, headers, body).
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, String) {
        let mut state = self.state.lock().unwrap();
        state.calls.push(format!("{method} {path}"));
        let (status, answer) = match self.check_merchant(method, path, headers, body) {
            Err(message) => (401, json!({ "code": "SIGN_ERROR", "message": message }).to_string()),
            Ok(()) => match state.failures.pop_front() {
                Some((status, code)) => (status, json!({ "code": code, "message": "emulated failure" }).to_string()),
                None => self.route(&mut state, method, path, body),
            },
        };
        let platform = &self.platforms[state.signer];
        let raw = signed(&answer, platform.serial, &platform.key, self.clock.now().timestamp());
        (status, raw.headers, answer)
    }

    /// WeChat Pay's check of the merchant signature.
    fn check_merchant(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), String> {
        let header = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str())
            .ok_or("no Authorization")?;
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
                    let nonce = &sign::nonce().unwrap()[..12];
                    let sealed = encrypt(&self.api_v3_key, nonce, "certificate", p.cert.as_bytes()).unwrap();
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
    pub fn settle_refund(&self, out_refund_no: &str, status: &str) {
        let mut state = self.state.lock().unwrap();
        let refund = state.refunds.get_mut(out_refund_no).expect("the refund was made at the emulator");
        refund.status = status.into();
        refund.success_time = (status == "SUCCESS").then(|| beijing(self.clock.now()));
    }

    /// The `REFUND.<status>` notification for `out_refund_no` as it stands, as WeChat Pay
    /// sends it, the resource changed by `edit` before it is encrypted.
    pub fn refund_notification(&self, out_refund_no: &str, edit: impl FnOnce(&mut Value)) -> RawMessage {
        let state = self.state.lock().unwrap();
        let refund = &state.refunds[out_refund_no];
        let mut resource = refund.json(out_refund_no);
        // A notification names the status `refund_status`, the query answer `status`.
        let fields = resource.as_object_mut().unwrap();
        let status = fields.remove("status").unwrap();
        fields.insert("refund_status".into(), status);
        edit(&mut resource);
        let nonce = &sign::nonce().unwrap()[..12];
        let mut sealed = encrypt(&self.api_v3_key, nonce, "refund", resource.to_string().as_bytes()).unwrap();
        sealed.original_type = Some("refund".into());
        let envelope = json!({
            "id": format!("EV-{}", sign::nonce().unwrap()),
            "create_time": beijing(self.clock.now()),
            "resource_type": "encrypt-resource",
            "event_type": format!("REFUND.{}", refund.status),
            "summary": "退款成功",
            "resource": sealed,
        });
        let platform = &self.platforms[state.signer];
        signed(&envelope.to_string(), platform.serial, &platform.key, self.clock.now().timestamp())
    }

    /// Opens a payment as a create call would, without the HTTP round trip (for sans-IO tests).
    pub fn open(&self, path: &str, body: &str) {
        let mut state = self.state.lock().unwrap();
        let (status, answer) = self.route(&mut state, "POST", path, body.as_bytes());
        assert_eq!(status, 200, "{answer}");
    }

    /// The buyer pays `out_trade_no` (`payer_total` fen, less than the total when a coupon
    /// paid part); no notification is sent.
    pub fn pay(&self, out_trade_no: &str, payer_total: i64) {
        let mut state = self.state.lock().unwrap();
        state.next += 1;
        let id = format!("42000{:023}", state.next);
        let tx = state.orders.get_mut(out_trade_no).expect("the order was created at the emulator");
        tx.state = "SUCCESS";
        tx.payer_total = payer_total;
        tx.transaction_id = Some(id);
        tx.success_time = Some(beijing(self.clock.now()));
    }

    /// The `TRANSACTION.SUCCESS` notification for `out_trade_no`, as WeChat Pay sends it.
    pub fn notification(&self, out_trade_no: &str) -> RawMessage {
        self.notification_for(APP_ID, MCH_ID, out_trade_no, |_| {})
    }

    /// A notification with the resource's app and merchant ids as given, the transaction
    /// changed by `edit` before it is encrypted.
    pub fn notification_for(
        &self,
        appid: &str,
        mchid: &str,
        out_trade_no: &str,
        edit: impl FnOnce(&mut Value),
    ) -> RawMessage {
        let state = self.state.lock().unwrap();
        let mut transaction = transaction_json(appid, mchid, out_trade_no, &state.orders[out_trade_no]);
        edit(&mut transaction);
        let nonce = &sign::nonce().unwrap()[..12];
        let mut resource = encrypt(&self.api_v3_key, nonce, "transaction", transaction.to_string().as_bytes()).unwrap();
        resource.original_type = Some("transaction".into());
        let envelope = json!({
            "id": format!("EV-{}", sign::nonce().unwrap()),
            "create_time": beijing(self.clock.now()),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": resource,
        });
        let platform = &self.platforms[state.signer];
        signed(&envelope.to_string(), platform.serial, &platform.key, self.clock.now().timestamp())
    }

    /// WeChat Pay rotates: platform B is published and signs from now on.
    pub fn rotate(&self) {
        let mut state = self.state.lock().unwrap();
        state.published = 2;
        state.signer = 1;
    }

    /// The next calls (after the signature check) answer `status` with `code`.
    pub fn fail_next(&self, status: u16, code: &'static str) {
        self.state.lock().unwrap().failures.push_back((status, code));
    }

    /// Refunds answer `PROCESSING` (or `SUCCESS` again).
    pub fn refunds_processing(&self, processing: bool) {
        self.state.lock().unwrap().refunds_processing = processing;
    }

    /// Every call so far, as `METHOD path`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// What the emulator knows of `out_trade_no`.
    pub fn order(&self, out_trade_no: &str) -> Option<Tx> {
        self.state.lock().unwrap().orders.get(out_trade_no).cloned()
    }

    /// Every refund, by `out_refund_no`.
    pub fn refunds(&self) -> BTreeMap<String, RefundRecord> {
        self.state.lock().unwrap().refunds.clone()
    }
}
