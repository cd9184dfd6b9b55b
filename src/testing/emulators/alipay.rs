//! Alipay's open-platform gateway as documented, emulated: one URL, dispatching on `method`;
//! it checks the app's RSA2 signature on every call, signs every answer over its
//! `*_response` text with the Alipay key, answers the documented codes when told
//! (`fail_next`), and sends notifications signed like Alipay (without `sign` and `sign_type`
//! in the content). Trades are precreate (QR), page, wap, app and mini-program; refunds are
//! done at once or, when told, held until settled.
//!
//! The app's identifiers and both key pairs are the constants below; [`config`] builds the
//! adapter's configuration from them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::{EmulatedAlipay, HttpCall, HttpEmulator, IN_PROCESS_URL, InProcess, lock, response};
use crate::adapters::alipay::api::beijing;
use crate::adapters::alipay::sign::{self, Params};
use crate::adapters::alipay::{AlipayConfig, AlipayGateway};
use crate::adapters::http::HttpResponse;
use crate::adapters::rsa_sha256::{self, RsaPrivateKey};
use crate::money::Money;
use crate::order_number::OrderNumber;
use crate::ports::{Clock, RawMessage};
use crate::testing::TestPayments;

/// The emulated app id.
pub const APP_ID: &str = "2021000117650139";
/// The emulated seller (merchant) id.
pub const SELLER_ID: &str = "2088621955271234";
/// Where the app's notifications go.
pub const NOTIFY_URL: &str = "https://shop.example.com/webhooks/alipay";
/// Where page and wap payments return the buyer.
pub const RETURN_URL: &str = "https://shop.example.com/paid";
/// The path of the gateway on the emulator's host (as `https://openapi.alipay.com/gateway.do`).
pub const GATEWAY_PATH: &str = "/gateway.do";

/// The app's private key, generated for tests (the app signs requests).
pub const APP_KEY: &str = include_str!("keys/alipay/app.key.pem");
/// Its public half (the emulator checks requests with it).
pub const APP_PUBLIC_KEY: &str = include_str!("keys/alipay/app.pub.pem");
/// Alipay's private key, generated for tests (the emulator signs answers and notifications).
pub const ALIPAY_KEY: &str = include_str!("keys/alipay/alipay.key.pem");
/// Its public half (the app checks answers and notifications with it).
pub const ALIPAY_PUBLIC_KEY: &str = include_str!("keys/alipay/alipay.pub.pem");

/// The adapter's configuration for the emulated app (production gateway: point it at the
/// emulator with `with_gateway_url`).
///
/// # Panics
/// Never: the fixture keys are valid (a unit test reads them).
pub fn config() -> AlipayConfig {
    AlipayConfig::new(APP_ID, SELLER_ID, APP_KEY, ALIPAY_PUBLIC_KEY, NOTIFY_URL)
        .expect("the fixture keys read")
        .with_return_url(RETURN_URL)
}

/// The real Alipay adapter for the emulated app, calling `emulator` in process (no socket) and
/// reading the time from the emulator's clock, so request timestamps agree.
pub fn gateway(emulator: Arc<Emulator>) -> EmulatedAlipay {
    let account = config().with_gateway_url(format!("{IN_PROCESS_URL}{GATEWAY_PATH}"));
    let clock = emulator.clock.clone();
    AlipayGateway::new(account, InProcess::new(emulator)).with_clock(clock)
}

/// A trade the emulator knows.
#[derive(Debug, Clone)]
pub struct Trade {
    /// The method that opened it (`alipay.trade.page.pay`, ...).
    pub method: String,
    /// The total, in fen.
    pub total: i64,
    /// What the buyer paid, in fen (less than the total when a coupon paid part).
    pub buyer_pay: i64,
    /// `WAIT_BUYER_PAY`, `TRADE_SUCCESS`, `TRADE_FINISHED` or `TRADE_CLOSED`.
    pub status: &'static str,
    /// Alipay's trade number.
    pub trade_no: String,
    /// When it was paid (Beijing time).
    pub paid_at: Option<String>,
    /// Refunded so far, in fen.
    pub refunded: i64,
}

/// A refund the emulator knows.
#[derive(Debug, Clone)]
pub struct Refund {
    /// The trade refunded.
    pub out_trade_no: String,
    /// The amount, in fen.
    pub amount: i64,
    /// `None` while Alipay is still processing it (accepted with `fund_change=N`, not yet in
    /// the refund query); then when the money went back.
    pub refunded_at: Option<String>,
}

#[derive(Default)]
struct State {
    trades: BTreeMap<String, Trade>,
    refunds: BTreeMap<String, Refund>,
    failures: VecDeque<(&'static str, &'static str)>,
    calls: Vec<String>,
    /// New refunds are accepted but processed later ([`Emulator::settle_refund`]).
    hold_refunds: bool,
    next: u64,
}

/// Alipay's gateway, emulated for one app ([`APP_ID`]).
pub struct Emulator {
    clock: Arc<dyn Clock>,
    app: rsa::PublicKey,
    key: RsaPrivateKey,
    state: Mutex<State>,
}

/// Letters, digits and `_`, at most 64: Alipay's `out_trade_no` and `out_request_no`.
pub fn is_alipay_no(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Yuan with at most two decimals, as Alipay checks it (no float): fen.
fn fen(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || fraction.len() > 2 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let fraction = format!("{fraction:0<2}");
    let fen = whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(fraction.parse::<i64>().ok()?)?;
    (1..=10_000_000_000).contains(&fen).then_some(fen)
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

impl Emulator {
    /// An emulator with no trades, on `clock`.
    ///
    /// # Panics
    /// Never: the fixture keys are valid (a unit test reads them).
    pub fn new(clock: Arc<dyn Clock>) -> Emulator {
        Emulator {
            clock,
            app: rsa_sha256::public_key_from_text(APP_PUBLIC_KEY).expect("the fixture app key reads"),
            key: RsaPrivateKey::from_text(ALIPAY_KEY).expect("the fixture Alipay key reads"),
            state: Mutex::new(State::default()),
        }
    }

    /// Answers one form-urlencoded call with the signed JSON envelope.
    pub fn handle(&self, body: &[u8]) -> String {
        let params = sign::parse_form(body).unwrap_or_default();
        let method = params.get("method").cloned().unwrap_or_default();
        let mut state = lock(&self.state);
        state.calls.push(method.clone());
        let answer = match self.check_app(&params) {
            Err(sub_code) => error("40002", sub_code),
            Ok(biz) => match state.failures.pop_front() {
                Some((code, sub_code)) => error(code, sub_code),
                None => self.route(&mut state, &method, &biz),
            },
        };
        self.envelope(&method, &answer)
    }

    /// `{"<method>_response": ..., "sign": ...}`, signed over the exact response text.
    pub fn envelope(&self, method: &str, answer: &Value) -> String {
        let text = answer.to_string();
        // A signing failure leaves the signature empty: the app refuses the answer.
        let signature = self.key.sign(text.as_bytes()).unwrap_or_default();
        format!(r#"{{"{}_response":{text},"sign":"{signature}"}}"#, method.replace('.', "_"))
    }

    /// Alipay's checks of a request: app id, common parameters, RSA2 signature over all
    /// parameters but `sign`; returns `biz_content`.
    fn check_app(&self, params: &Params) -> Result<Value, &'static str> {
        let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        if get("app_id") != APP_ID {
            return Err("isv.invalid-app-id");
        }
        if get("sign_type") != "RSA2" || get("charset") != "utf-8" || get("format") != "JSON" || get("version") != "1.0"
        {
            return Err("isv.invalid-parameter");
        }
        let sent = chrono::NaiveDateTime::parse_from_str(get("timestamp"), "%Y-%m-%d %H:%M:%S")
            .map_err(|_| "isv.invalid-timestamp")?;
        let now = chrono::NaiveDateTime::parse_from_str(&beijing(self.clock.now()), "%Y-%m-%d %H:%M:%S")
            .map_err(|_| "isv.invalid-timestamp")?;
        if (now - sent).abs() > TimeDelta::minutes(15) {
            return Err("isv.invalid-timestamp");
        }
        sign::verify_params(&self.app, params, sign::REQUEST_UNSIGNED).map_err(|_| "isv.invalid-signature")?;
        serde_json::from_str(get("biz_content")).map_err(|_| "isv.invalid-parameter")
    }

    fn route(&self, state: &mut State, method: &str, biz: &Value) -> Value {
        let out_trade_no = biz["out_trade_no"].as_str().unwrap_or_default().to_owned();
        if !is_alipay_no(&out_trade_no) {
            return error("40002", "isv.invalid-parameter");
        }
        match method {
            "alipay.trade.precreate"
            | "alipay.trade.page.pay"
            | "alipay.trade.wap.pay"
            | "alipay.trade.app.pay"
            | "alipay.trade.create" => {
                let subject = biz["subject"].as_str().unwrap_or_default();
                let Some(total) = biz["total_amount"].as_str().and_then(fen) else {
                    return error("40002", "isv.invalid-parameter");
                };
                if subject.is_empty() || subject.contains(['/', '=', '&']) {
                    return error("40002", "isv.invalid-parameter");
                }
                // A mini-program trade names its payer: a 2088 user id or an OpenID.
                let payer = (biz["buyer_id"].as_str(), biz["buyer_open_id"].as_str());
                if method == "alipay.trade.create" {
                    let user_id = |id: &str| id.len() == 16 && id.starts_with("2088");
                    match payer {
                        _ if biz["product_code"] != "JSAPI_PAY" => return error("40004", "ACQ.INVALID_PARAMETER"),
                        (Some(id), None) if user_id(id) => {}
                        (None, Some(open_id)) if !open_id.is_empty() => {}
                        _ => return error("40004", "ACQ.BUYER_NOT_EXIST"),
                    }
                }
                match state.trades.get(&out_trade_no).map(|t| t.status) {
                    Some("TRADE_SUCCESS" | "TRADE_FINISHED") => return error("40004", "ACQ.TRADE_HAS_SUCCESS"),
                    Some("TRADE_CLOSED") => return error("40004", "ACQ.TRADE_HAS_CLOSE"),
                    _ => {}
                }
                state.next += 1;
                let trade_no = format!("2026120522001{:015}", state.next);
                state.trades.insert(
                    out_trade_no.clone(),
                    Trade {
                        method: method.into(),
                        total,
                        buyer_pay: total,
                        status: "WAIT_BUYER_PAY",
                        trade_no,
                        paid_at: None,
                        refunded: 0,
                    },
                );
                if method == "alipay.trade.create" {
                    let trade_no = state.trades.get(&out_trade_no).map(|t| t.trade_no.clone());
                    return ok(json!({ "out_trade_no": out_trade_no, "trade_no": trade_no }));
                }
                ok(
                    json!({ "out_trade_no": out_trade_no, "qr_code": format!("https://qr.alipay.com/bax0{:06}", state.next) }),
                )
            }
            "alipay.trade.query" => match state.trades.get(&out_trade_no) {
                None => error("40004", "ACQ.TRADE_NOT_EXIST"),
                Some(trade) => {
                    let mut answer = json!({
                        "out_trade_no": out_trade_no,
                        "trade_no": trade.trade_no,
                        "trade_status": trade.status,
                        "total_amount": yuan(trade.total),
                        "buyer_logon_id": "159****5620",
                    });
                    if let Some(at) = &trade.paid_at {
                        answer["buyer_pay_amount"] = yuan(trade.buyer_pay).into();
                        answer["send_pay_date"] = at.as_str().into();
                    }
                    ok(answer)
                }
            },
            "alipay.trade.close" => match state.trades.get_mut(&out_trade_no) {
                None => error("40004", "ACQ.TRADE_NOT_EXIST"),
                Some(trade) if trade.status != "WAIT_BUYER_PAY" => error("40004", "ACQ.TRADE_STATUS_ERROR"),
                Some(trade) => {
                    trade.status = "TRADE_CLOSED";
                    ok(json!({ "out_trade_no": out_trade_no, "trade_no": trade.trade_no }))
                }
            },
            "alipay.trade.refund" => {
                let out_request_no = biz["out_request_no"].as_str().unwrap_or_default().to_owned();
                let Some(amount) = biz["refund_amount"].as_str().and_then(fen) else {
                    return error("40002", "isv.invalid-parameter");
                };
                if !is_alipay_no(&out_request_no) {
                    return error("40002", "isv.invalid-parameter");
                }
                let Some(trade) = state.trades.get(&out_trade_no).cloned() else {
                    return error("40004", "ACQ.TRADE_NOT_EXIST");
                };
                let answer = |fund_change: &str, refunded: i64| {
                    ok(json!({
                        "out_trade_no": out_trade_no,
                        "trade_no": trade.trade_no,
                        "fund_change": fund_change,
                        "refund_fee": yuan(refunded),
                        "buyer_logon_id": "159****5620",
                    }))
                };
                if state.refunds.contains_key(&out_request_no) {
                    return answer("N", trade.refunded);
                }
                if trade.paid_at.is_some() && state.hold_refunds && trade.refunded + amount <= trade.total {
                    // Accepted; the money moves later (the answer's refund_fee is what moved).
                    let refund = Refund { out_trade_no: out_trade_no.clone(), amount, refunded_at: None };
                    state.refunds.insert(out_request_no, refund);
                    return answer("N", trade.refunded);
                }
                if trade.paid_at.is_none() || trade.status == "TRADE_CLOSED" && trade.refunded == 0 {
                    return error("40004", "ACQ.TRADE_STATUS_ERROR");
                }
                if trade.refunded + amount > trade.total {
                    return error("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL");
                }
                let refund =
                    Refund { out_trade_no: out_trade_no.clone(), amount, refunded_at: Some(beijing(self.clock.now())) };
                state.refunds.insert(out_request_no, refund);
                answer("Y", book_refund(state, &out_trade_no, amount))
            }
            // Code 10000 only says the query ran: a refund Alipay has not done (or never
            // received) comes back without refund_status or refund_amount.
            "alipay.trade.fastpay.refund.query" => {
                let out_request_no = biz["out_request_no"].as_str().unwrap_or_default();
                if !is_alipay_no(out_request_no) {
                    return error("40002", "isv.invalid-parameter");
                }
                let Some(trade) = state.trades.get(&out_trade_no) else {
                    return error("40004", "ACQ.TRADE_NOT_EXIST");
                };
                let mut answer = json!({ "out_trade_no": out_trade_no, "trade_no": trade.trade_no });
                let done = state.refunds.get(out_request_no).filter(|r| r.out_trade_no == out_trade_no);
                if let Some((refund, at)) = done.and_then(|r| Some((r, r.refunded_at.as_ref()?))) {
                    answer["out_request_no"] = out_request_no.into();
                    answer["total_amount"] = yuan(trade.total).into();
                    answer["refund_amount"] = yuan(refund.amount).into();
                    answer["refund_status"] = "REFUND_SUCCESS".into();
                    let options = biz["query_options"].as_array().into_iter().flatten();
                    if options.filter_map(Value::as_str).any(|o| o == "gmt_refund_pay") {
                        answer["gmt_refund_pay"] = at.as_str().into();
                    }
                }
                ok(answer)
            }
            _ => error("40004", "isv.invalid-method"),
        }
    }

    /// From now on, refunds are accepted (`fund_change=N`) and done only when
    /// [`settle_refund`](Self::settle_refund) says so.
    pub fn hold_refunds(&self, hold: bool) {
        lock(&self.state).hold_refunds = hold;
    }

    /// Alipay finishes the held refund `out_request_no`: the money goes back now.
    ///
    /// # Panics
    /// When the refund was never asked for, or was settled already (a mistake in the test).
    pub fn settle_refund(&self, out_request_no: &str) {
        let mut state = lock(&self.state);
        let now = beijing(self.clock.now());
        let refund = state.refunds.get_mut(out_request_no).expect("the refund was asked for");
        assert!(refund.refunded_at.is_none(), "settled once");
        refund.refunded_at = Some(now);
        let (out_trade_no, amount) = (refund.out_trade_no.clone(), refund.amount);
        book_refund(&mut state, &out_trade_no, amount);
    }

    /// The buyer's browser opens a page or wap payment URL (or the app SDK sends its order
    /// string): the emulator checks it as a call and opens the trade. Returns the
    /// `*_response` object (`Null` if there is none).
    pub fn open(&self, order_string: &str) -> Value {
        let query = order_string.split_once('?').map_or(order_string, |(_, q)| q);
        let envelope: Value = serde_json::from_str(&self.handle(query.as_bytes())).unwrap_or_default();
        let fields = envelope.as_object().into_iter().flatten();
        fields.filter(|(k, _)| k.ends_with("_response")).map(|(_, v)| v.clone()).next().unwrap_or_default()
    }

    /// The buyer pays `out_trade_no` (`buyer_pay` fen, less than the total when a coupon paid
    /// part); no notification is sent.
    ///
    /// # Panics
    /// When the trade was never opened (a mistake in the test).
    pub fn pay(&self, out_trade_no: &str, buyer_pay: i64) {
        let mut state = lock(&self.state);
        let trade = state.trades.get_mut(out_trade_no).expect("the trade was opened at the emulator");
        trade.status = "TRADE_SUCCESS";
        trade.buyer_pay = buyer_pay;
        trade.paid_at = Some(beijing(self.clock.now()));
    }

    /// The parameters of the notification for `out_trade_no`, unsigned.
    ///
    /// # Panics
    /// When the trade was never opened (a mistake in the test).
    pub fn notification_params(&self, out_trade_no: &str) -> Params {
        let state = lock(&self.state);
        let trade = state.trades.get(out_trade_no).expect("the trade was opened at the emulator");
        let mut params = Params::new();
        let now = beijing(self.clock.now());
        for (name, value) in [
            ("notify_time", now.as_str()),
            ("notify_type", "trade_status_sync"),
            ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
            ("app_id", APP_ID),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("sign_type", "RSA2"),
            ("trade_no", trade.trade_no.as_str()),
            ("out_trade_no", out_trade_no),
            ("trade_status", trade.status),
            ("seller_id", SELLER_ID),
            ("buyer_id", "2088102116773037"),
            ("subject", "订单 order"),
            ("gmt_create", now.as_str()),
            ("gmt_payment", trade.paid_at.as_deref().unwrap_or_default()),
        ] {
            params.insert(name.into(), value.into());
        }
        params.insert("total_amount".into(), yuan(trade.total));
        params.insert("buyer_pay_amount".into(), yuan(trade.buyer_pay));
        params.insert("receipt_amount".into(), yuan(trade.buyer_pay));
        params
    }

    /// The refund notification for the refund `out_request_no`, unsigned.
    ///
    /// # Panics
    /// When the refund was never asked for (a mistake in the test).
    pub fn refund_params(&self, out_request_no: &str) -> Params {
        let refund = lock(&self.state).refunds.get(out_request_no).cloned().expect("the refund was asked for");
        let mut params = self.notification_params(&refund.out_trade_no);
        let refunded = lock(&self.state).trades.get(&refund.out_trade_no).map_or(0, |t| t.refunded);
        params.insert("out_biz_no".into(), out_request_no.into());
        params.insert("refund_fee".into(), yuan(refunded));
        params.insert("gmt_refund".into(), format!("{}.000", beijing(self.clock.now())));
        params
    }

    /// `params` signed as Alipay signs a notification, as the form body it posts.
    pub fn signed(&self, mut params: Params) -> RawMessage {
        let signature = self.key.sign(sign::content(&params, sign::NOTIFY_UNSIGNED).as_bytes()).unwrap_or_default();
        params.insert("sign".into(), signature);
        RawMessage {
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded; charset=utf-8".into())],
            body: sign::encode_form(&params).into_bytes(),
        }
    }

    /// The payment notification for `out_trade_no`, as Alipay sends it.
    ///
    /// # Panics
    /// When the trade was never opened (a mistake in the test).
    pub fn notification(&self, out_trade_no: &str) -> RawMessage {
        self.signed(self.notification_params(out_trade_no))
    }

    /// The next calls (after the signature check) answer `code` with `sub_code`.
    pub fn fail_next(&self, code: &'static str, sub_code: &'static str) {
        lock(&self.state).failures.push_back((code, sub_code));
    }

    /// Every method called so far.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    /// What the emulator knows of `out_trade_no`.
    pub fn trade(&self, out_trade_no: &str) -> Option<Trade> {
        lock(&self.state).trades.get(out_trade_no).cloned()
    }

    /// Every refund, by `out_request_no`.
    pub fn refunds(&self) -> BTreeMap<String, Refund> {
        lock(&self.state).refunds.clone()
    }
}

fn ok(mut answer: Value) -> Value {
    answer["code"] = "10000".into();
    answer["msg"] = "Success".into();
    answer
}

fn error(code: &str, sub_code: &str) -> Value {
    let msg = match code {
        "20000" => "Service Currently Unavailable",
        "40002" => "Invalid Arguments",
        _ => "Business Failed",
    };
    json!({ "code": code, "msg": msg, "sub_code": sub_code, "sub_msg": "emulated" })
}

/// The trade's refunded total after `amount` more went back; a trade refunded in full closes.
fn book_refund(state: &mut State, out_trade_no: &str, amount: i64) -> i64 {
    let Some(trade) = state.trades.get_mut(out_trade_no) else { return 0 };
    trade.refunded += amount;
    if trade.refunded == trade.total {
        trade.status = "TRADE_CLOSED";
    }
    trade.refunded
}

impl TestPayments for EmulatedAlipay {
    /// The buyer pays the trade `Engine::start_payment` opened (its `buyer_pay_amount` is
    /// `amount`); `None` when none was opened or it was closed unpaid.
    fn buyer_pays(&self, order_number: &OrderNumber, amount: Money, _now: DateTime<Utc>) -> Option<RawMessage> {
        let emulator = self.transport().emulator();
        let reference = order_number.provider_reference();
        let trade = emulator.trade(&reference)?;
        if trade.status == "TRADE_CLOSED" && trade.paid_at.is_none() {
            return None;
        }
        emulator.pay(&reference, amount.minor);
        Some(emulator.notification(&reference))
    }

    /// The trade's `trade_no` once the buyer paid it (Alipay pays a trade once).
    fn confirmed_transactions(&self, order_number: &OrderNumber) -> Vec<String> {
        let trade = self.transport().emulator().trade(&order_number.provider_reference());
        trade.filter(|t| t.paid_at.is_some()).map(|t| t.trade_no).into_iter().collect()
    }
}

impl HttpEmulator for Emulator {
    /// Every call is a form-urlencoded POST to the gateway; the answer is always 200 with the
    /// signed JSON envelope (errors inside it, as Alipay answers).
    fn answer(&self, call: HttpCall<'_>) -> HttpResponse {
        let headers = vec![("Content-Type".to_owned(), "application/json;charset=utf-8".to_owned())];
        response(200, headers, self.handle(call.body))
    }
}
