//! Kuaidi100's poll API as documented, emulated: `/poll` subscribes a waybill (checking the
//! key; 501 when already subscribed), `/poll/query.do` answers its history (checking
//! `sign = MD5(param + key + customer)`; 500 when there is none), error codes on demand
//! (`fail_next`), and pushes signed with the salt each subscription gave, carrying the whole
//! history.
//!
//! The account's identifiers are the constants below; [`config`] builds the adapter's
//! configuration from them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Offset, Utc};
use serde_json::{Value, json};

use super::{EmulatedKuaidi100, HttpCall, HttpEmulator, IN_PROCESS_URL, InProcess, lock, response};
use crate::adapters::WithTracking;
use crate::adapters::http::HttpResponse;
use crate::adapters::kuaidi100::sign::{form_encode, form_value, md5_upper};
use crate::adapters::kuaidi100::state::STATES;
use crate::adapters::kuaidi100::{Kuaidi100, Kuaidi100Config, Secret};
use crate::order::TrackingKind;
use crate::ports::RawMessage;
use crate::testing::{CarrierReport, FakeCarrier, TestTracking};

/// The emulated customer id (`customer`).
pub const CUSTOMER: &str = "3564B6CF145FA93724CE18C1FB149036";
/// The emulated authorization key (`key`).
pub const KEY: &str = "pLXUGAwK5305";
/// The salt the shop subscribes with; pushes are signed with it.
pub const SALT: &str = "shop-chosen-salt";
/// Where pushes go.
pub const CALLBACK_URL: &str = "https://shop.example.com/webhooks/kuaidi100";

/// The adapter's configuration for the emulated account (production base URL: point it at
/// the emulator with `with_base_url`). The shop calls its carrier "SF"; Kuaidi100 calls it
/// "shunfeng".
pub fn config() -> Kuaidi100Config {
    Kuaidi100Config::new(CUSTOMER, Secret::new(KEY), Secret::new(SALT), CALLBACK_URL)
        .with_carrier_code("SF", "shunfeng")
}

/// Parcels booked with `booking` (a carrier the shop calls "SF") and tracked through the real
/// Kuaidi100 adapter calling `emulator` in process (no socket).
pub fn tracking(booking: Arc<FakeCarrier>, emulator: Arc<Emulator>) -> EmulatedKuaidi100 {
    let tracker = Kuaidi100::new(config().with_base_url(IN_PROCESS_URL), InProcess::new(emulator));
    WithTracking::new(booking, tracker)
}

/// The state code and name Kuaidi100 reports `kind` with: its main state, else its first
/// sub-state; `None` for a kind Kuaidi100 has no state for.
pub fn state_of(kind: TrackingKind) -> Option<(&'static str, &'static str)> {
    let of_kind = || STATES.iter().filter(move |(_, _, k)| *k == kind);
    let main = of_kind().find(|(code, _, _)| code.len() <= 2);
    main.or_else(|| of_kind().next()).map(|(code, name, _)| (*code, *name))
}

/// `at` as Kuaidi100 writes times: Beijing time, no offset.
pub fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix()))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// One subscription as Kuaidi100 keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Kuaidi100's carrier code.
    pub company: String,
    /// Where pushes go.
    pub callback_url: String,
    /// What pushes are signed with.
    pub salt: String,
    /// `4` asks for sub-states.
    pub resultv2: String,
}

/// One history entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When (Beijing time, `%Y-%m-%d %H:%M:%S`).
    pub time: String,
    /// What happened, in the carrier's words.
    pub context: String,
    /// The state's name (`揽收`, `派件`, ...).
    pub status: String,
    /// The state code (sub-state included, e.g. `501`).
    pub status_code: String,
}

#[derive(Default)]
struct State {
    subscriptions: BTreeMap<String, Subscription>,
    /// Per waybill, newest first (as Kuaidi100 sends it).
    histories: BTreeMap<String, Vec<Entry>>,
    failures: VecDeque<&'static str>,
    calls: Vec<String>,
}

/// Kuaidi100's poll API, emulated for one account ([`CUSTOMER`]).
#[derive(Default)]
pub struct Emulator {
    state: Mutex<State>,
}

impl Emulator {
    /// Answers one call: (status, body).
    pub fn handle(&self, path: &str, body: &[u8]) -> (u16, String) {
        let mut state = lock(&self.state);
        state.calls.push(path.to_owned());
        if let Some(code) = state.failures.pop_front() {
            return (200, answer(false, code, "emulated failure"));
        }
        let Some(param) = form_value(body, "param") else { return (200, answer(false, "400", "参数不完整")) };
        let Ok(param) = serde_json::from_str::<Value>(&param) else {
            return (200, answer(false, "400", "param 不是 JSON"));
        };
        match path {
            "/poll" => {
                if form_value(body, "schema").as_deref() != Some("json") || param["key"] != KEY {
                    return (200, answer(false, "600", "您不是合法的订阅者"));
                }
                let number = param["number"].as_str().unwrap_or_default().to_owned();
                let parameters = &param["parameters"];
                let subscription = Subscription {
                    company: param["company"].as_str().unwrap_or_default().to_owned(),
                    callback_url: parameters["callbackurl"].as_str().unwrap_or_default().to_owned(),
                    salt: parameters["salt"].as_str().unwrap_or_default().to_owned(),
                    resultv2: parameters["resultv2"].as_str().unwrap_or_default().to_owned(),
                };
                if state.subscriptions.contains_key(&number) {
                    return (200, answer(false, "501", "重复订阅"));
                }
                state.subscriptions.insert(number, subscription);
                (200, answer(true, "200", "提交成功"))
            }
            "/poll/query.do" => {
                let raw_param = form_value(body, "param").unwrap_or_default();
                let sign = form_value(body, "sign").unwrap_or_default();
                if form_value(body, "customer").as_deref() != Some(CUSTOMER)
                    || sign != md5_upper(&[&raw_param, KEY, CUSTOMER])
                {
                    return (200, answer(false, "503", "验证签名失败"));
                }
                let number = param["num"].as_str().unwrap_or_default();
                let company = param["com"].as_str().unwrap_or_default();
                match state.histories.get(number) {
                    Some(history) if !history.is_empty() => (200, last_result(company, number, history).to_string()),
                    _ => (200, answer(false, "500", "查询无结果，请隔段时间再查")),
                }
            }
            _ => (404, answer(false, "404", "no such API")),
        }
    }

    /// The carrier reports state `code` (`name`) for `waybill` at `time` (Beijing).
    pub fn track(&self, waybill: &str, code: &str, name: &str, time: &str, context: &str) {
        let entry = Entry { time: time.into(), context: context.into(), status: name.into(), status_code: code.into() };
        lock(&self.state).histories.entry(waybill.into()).or_default().insert(0, entry);
    }

    /// The push Kuaidi100 sends the subscriber of `waybill`: the whole history, signed with the
    /// subscription's salt; `edit` may change the param first (a carrier correction).
    ///
    /// # Panics
    /// When the waybill was never subscribed (a mistake in the test).
    pub fn push_with(&self, waybill: &str, edit: impl FnOnce(&mut Value)) -> RawMessage {
        let state = lock(&self.state);
        let subscription = state.subscriptions.get(waybill).expect("waybill not subscribed");
        let history = state.histories.get(waybill).cloned().unwrap_or_default();
        let mut param = json!({
            "status": "polling",
            "billstatus": "got",
            "message": "",
            "autoCheck": "0",
            "comOld": "",
            "comNew": "",
            "lastResult": last_result(&subscription.company, waybill, &history),
        });
        edit(&mut param);
        signed_push(&param.to_string(), &subscription.salt)
    }

    /// [`Emulator::push_with`] with nothing changed.
    ///
    /// # Panics
    /// When the waybill was never subscribed (a mistake in the test).
    pub fn push(&self, waybill: &str) -> RawMessage {
        self.push_with(waybill, |_| {})
    }

    /// The carrier reports `kind` for `waybill` at `at`, in the carrier's words `context`: the
    /// entry joins the history, and the push is returned when the waybill is subscribed.
    /// `None` also when Kuaidi100 has no state for `kind` (nothing is recorded then).
    pub fn report(&self, waybill: &str, kind: TrackingKind, at: DateTime<Utc>, context: &str) -> Option<RawMessage> {
        let (code, name) = state_of(kind)?;
        self.track(waybill, code, name, &beijing(at), context);
        let subscribed = lock(&self.state).subscriptions.contains_key(waybill);
        subscribed.then(|| self.push(waybill))
    }

    /// The next calls answer these return codes, one each.
    pub fn fail_next(&self, code: &'static str) {
        lock(&self.state).failures.push_back(code);
    }

    /// Every subscription, by waybill.
    pub fn subscriptions(&self) -> BTreeMap<String, Subscription> {
        lock(&self.state).subscriptions.clone()
    }

    /// Every call so far, by path.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }
}

/// A push body: `param` and its sign with `salt`, form-encoded.
pub fn signed_push(param: &str, salt: &str) -> RawMessage {
    RawMessage {
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
        body: form_encode(&[("param", param), ("sign", &md5_upper(&[param, salt]))]).into_bytes(),
    }
}

fn answer(result: bool, code: &str, message: &str) -> String {
    json!({ "result": result, "returnCode": code, "message": message }).to_string()
}

fn last_result(company: &str, waybill: &str, history: &[Entry]) -> Value {
    let state = history.first().map(|e| e.status_code.get(..1).unwrap_or("0").to_owned()).unwrap_or_default();
    let data: Vec<Value> = history
        .iter()
        .map(|e| {
            json!({
                "context": e.context, "time": e.time, "ftime": e.time, "status": e.status,
                "statusCode": e.status_code, "areaName": "广东,深圳市", "location": "",
            })
        })
        .collect();
    json!({
        "message": "ok", "nu": waybill, "ischeck": if state == "3" { "1" } else { "0" },
        "condition": "F00", "com": company, "status": "200", "state": state, "data": data,
    })
}

impl TestTracking for EmulatedKuaidi100 {
    /// [`Emulator::report`] (Kuaidi100 tells entries apart by time and words); pushes carry no
    /// send time.
    fn carrier_reports(&self, report: CarrierReport<'_>, _now: DateTime<Utc>) -> Option<RawMessage> {
        self.tracking().transport().emulator().report(report.waybill, report.kind, report.at, report.words)
    }
}

impl HttpEmulator for Emulator {
    /// Both APIs take a form-urlencoded POST and answer JSON.
    fn answer(&self, call: HttpCall<'_>) -> HttpResponse {
        let path = call.path.split_once('?').map_or(call.path, |(path, _)| path);
        let (status, body) = self.handle(path, call.body);
        response(status, vec![("Content-Type".to_owned(), "application/json;charset=UTF-8".to_owned())], body)
    }
}

#[cfg(test)]
mod tests {
    use super::{Emulator, state_of};
    use crate::adapters::kuaidi100::state::kind_of_code;
    use crate::order::TrackingKind;
    use crate::testing::t0;

    /// Every kind reported by its main state when it has one, and read back as that kind.
    #[test]
    fn state_of_prefers_the_main_state_and_reads_back_as_the_kind() {
        assert_eq!(state_of(TrackingKind::Delivered), Some(("3", "签收")));
        assert_eq!(state_of(TrackingKind::Exception), Some(("2", "疑难")));
        assert_eq!(state_of(TrackingKind::AwaitingPickup), Some(("101", "已下单")));
        for kind in [TrackingKind::PickedUp, TrackingKind::InTransit, TrackingKind::Customs, TrackingKind::Returning] {
            let (code, _) = state_of(kind).unwrap();
            assert_eq!(kind_of_code(code), Some(kind), "{code}");
        }
    }

    /// A report joins the history either way; the push comes only for a subscribed waybill.
    #[test]
    fn report_pushes_only_subscribed_waybills() {
        let emulator = Emulator::default();
        assert!(emulator.report("SF1", TrackingKind::PickedUp, t0(), "collected").is_none());
        let param = r#"{"company":"shunfeng","number":"SF1","key":"pLXUGAwK5305","parameters":{"salt":"s"}}"#;
        let body = crate::adapters::kuaidi100::sign::form_encode(&[("schema", "json"), ("param", param)]);
        assert!(emulator.handle("/poll", body.as_bytes()).1.contains("\"result\":true"));
        let push = emulator.report("SF1", TrackingKind::Delivered, t0(), "signed for").unwrap();
        let text = String::from_utf8_lossy(&push.body).into_owned();
        assert!(text.contains("collected") && text.contains("signed"), "the whole history: {text}");
    }
}
