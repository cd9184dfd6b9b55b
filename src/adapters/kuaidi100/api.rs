//! The poll API: subscribing a waybill (`/poll`) and querying its history (`/poll/query.do`),
//! and what each answer code means.

use serde::Deserialize;
use serde_json::json;

use super::Kuaidi100Config;
use super::push::{TrackResult, read_result};
use super::sign::{form_encode, md5_upper};
use crate::adapters::http::{HttpRequest, HttpResponse};
use crate::order::TrackingUpdate;
use crate::ports::LogisticsError;

/// The history detail asked for: sub-state codes (`statusCode`) and areas.
pub const RESULT_V2: &str = "4";

/// An answer that is not a history: `{"result":bool,"returnCode":"...","message":"..."}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    result: bool,
    #[serde(default)]
    return_code: String,
    #[serde(default)]
    message: String,
}

/// The subscription request for `carrier`'s `waybill`: pushes go to the configured callback,
/// signed with the salt.
pub fn subscribe_request(config: &Kuaidi100Config, carrier: &str, waybill: &str) -> HttpRequest {
    let param = json!({
        "company": config.code_of(carrier),
        "number": waybill,
        "key": config.key.0,
        "parameters": { "callbackurl": config.callback_url, "salt": config.salt.0, "resultv2": RESULT_V2 },
    })
    .to_string();
    form_request(format!("{}/poll", config.base_url), &[("schema", "json"), ("param", &param)])
}

/// What a subscription answer means: accepted, or already subscribed (code 501), is done.
pub fn subscribe_outcome(response: &HttpResponse) -> Result<(), LogisticsError> {
    let answer = answer_of(response)?;
    match answer.return_code.as_str() {
        "200" | "501" => Ok(()),
        _ if answer.result => Ok(()),
        code => Err(error_of(code, &answer.message)),
    }
}

/// The query for `carrier`'s `waybill`, signed `MD5(param + key + customer)`.
pub fn query_request(config: &Kuaidi100Config, carrier: &str, waybill: &str) -> HttpRequest {
    let param = json!({ "com": config.code_of(carrier), "num": waybill, "resultv2": RESULT_V2 }).to_string();
    let sign = md5_upper(&[&param, &config.key.0, &config.customer]);
    form_request(
        format!("{}/poll/query.do", config.base_url),
        &[("customer", &config.customer), ("sign", &sign), ("param", &param)],
    )
}

/// A query's history, oldest first; empty when Kuaidi100 has nothing yet (code 500, "no
/// result").
pub fn query_outcome(config: &Kuaidi100Config, response: &HttpResponse) -> Result<Vec<TrackingUpdate>, LogisticsError> {
    if let Ok(result) = serde_json::from_slice::<TrackResult>(&response.message.body) {
        return Ok(read_result(config, &result)?.into_iter().map(|p| p.update).collect());
    }
    let answer = answer_of(response)?;
    match answer.return_code.as_str() {
        "500" => Ok(Vec::new()),
        code => Err(error_of(code, &answer.message)),
    }
}

fn form_request(url: String, pairs: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: "POST",
        url,
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded;charset=UTF-8".into())],
        body: form_encode(pairs).into_bytes(),
    }
}

fn answer_of(response: &HttpResponse) -> Result<Answer, LogisticsError> {
    if response.status >= 500 {
        return Err(LogisticsError::Unavailable(format!("Kuaidi100 answered HTTP {}", response.status)));
    }
    serde_json::from_slice(&response.message.body)
        .map_err(|_| LogisticsError::Unavailable(format!("Kuaidi100 answered HTTP {} with no result", response.status)))
}

/// Server errors (500, 501) and "busy" (502) are retried; every other code (bad parameters
/// 400 and 700-702, phone check 408, signature 503, account 600/601) needs someone to fix
/// something.
fn error_of(code: &str, message: &str) -> LogisticsError {
    let text = format!("Kuaidi100 answered {code}: {message}");
    match code {
        "500" | "501" | "502" => LogisticsError::Unavailable(text),
        _ => LogisticsError::Rejected(text),
    }
}
