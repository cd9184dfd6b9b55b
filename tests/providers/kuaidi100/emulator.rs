//! A loopback emulator of Kuaidi100's poll API as documented: `/poll` subscribes a waybill
//! (checking the key; 501 when already subscribed), `/poll/query.do` answers its history
//! (checking `sign = MD5(param + key + customer)`; 500 when there is none), error codes on
//! demand, and pushes signed with the salt each subscription gave, carrying the whole history.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use orderflow::adapters::kuaidi100::sign::{form_encode, form_value, md5_upper};
use orderflow::ports::RawMessage;
use serde_json::{Value, json};

use super::{CUSTOMER, KEY};

/// One subscription as Kuaidi100 keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub company: String,
    pub callback_url: String,
    pub salt: String,
    pub resultv2: String,
}

/// One history entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub time: String,
    pub context: String,
    pub status: String,
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

#[derive(Default)]
pub struct Emulator {
    state: Mutex<State>,
}

impl Emulator {
    /// Serves on a loopback port; returns the base URL.
    pub async fn serve(self: &Arc<Self>) -> String {
        let emulator = self.clone();
        crate::loopback::serve(move |method, uri, headers, body| emulator.http(method, uri, headers, body)).await
    }

    fn http(&self, _method: Method, uri: Uri, _headers: HeaderMap, body: Bytes) -> Response {
        let (status, answer) = self.handle(uri.path(), &body);
        (StatusCode::from_u16(status).unwrap(), answer).into_response()
    }

    /// Answers one call: (status, body).
    pub fn handle(&self, path: &str, body: &[u8]) -> (u16, String) {
        let mut state = self.state.lock().unwrap();
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
        self.state.lock().unwrap().histories.entry(waybill.into()).or_default().insert(0, entry);
    }

    /// The push Kuaidi100 sends the subscriber of `waybill`: the whole history, signed with the
    /// subscription's salt; `edit` may change the param first (a carrier correction).
    pub fn push_with(&self, waybill: &str, edit: impl FnOnce(&mut Value)) -> RawMessage {
        let state = self.state.lock().unwrap();
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
    pub fn push(&self, waybill: &str) -> RawMessage {
        self.push_with(waybill, |_| {})
    }

    /// The next calls answer these return codes, one each.
    pub fn fail_next(&self, code: &'static str) {
        self.state.lock().unwrap().failures.push_back(code);
    }

    pub fn subscriptions(&self) -> BTreeMap<String, Subscription> {
        self.state.lock().unwrap().subscriptions.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
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
