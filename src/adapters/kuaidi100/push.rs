//! Pushes: verifying `param=<json>&sign=<MD5(param + salt)>`, reading the whole history a push
//! carries into updates with stable event ids, and the answer Kuaidi100 expects.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::Kuaidi100Config;
use super::sign::{form_value, md5_upper, same_sign};
use super::state::{kind_of_code, kind_of_name};
use crate::order::{TrackingKind, TrackingUpdate};
use crate::ports::{LogisticsError, RawMessage, TrackingPush, WebhookReply};

/// Kuaidi100's times are Beijing time without an offset.
const BEIJING_SECONDS: i32 = 8 * 3600;
/// The longest description kept (the core's bound on free text).
const MAX_DESCRIPTION_CHARS: usize = crate::decide::MAX_TEXT_CHARS;

/// A push's `param`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushParam {
    /// `polling`, `shutdown` (final), `abort` (given up), `updateall`.
    #[serde(default)]
    status: String,
    /// `"1"` when Kuaidi100 corrected the carrier code (`comNew`).
    #[serde(default)]
    auto_check: String,
    #[serde(default)]
    com_new: String,
    last_result: TrackResult,
}

/// A waybill's tracking as Kuaidi100 reports it, in a push (`lastResult`) or a query answer.
#[derive(Debug, Deserialize)]
pub(super) struct TrackResult {
    /// Carrier code.
    #[serde(default)]
    pub com: String,
    /// Waybill.
    pub nu: String,
    /// The latest main state.
    #[serde(default)]
    pub state: String,
    /// The whole history, newest first.
    #[serde(default)]
    pub data: Vec<TrackEntry>,
}

/// One entry of a history.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TrackEntry {
    #[serde(default)]
    context: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    ftime: String,
    /// The state's name (`在途`, ...).
    #[serde(default)]
    status: String,
    /// The sub-state (`resultv2=4`).
    #[serde(default)]
    status_code: String,
    #[serde(default)]
    area_name: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

/// Verifies a push with the configured salt and reads every entry of its history. Refuses a
/// wrong or missing signature before reading anything.
pub fn verify_push(config: &Kuaidi100Config, raw: &RawMessage) -> Result<Vec<TrackingPush>, LogisticsError> {
    let param = form_value(&raw.body, "param").ok_or_else(|| malformed("no param field"))?;
    let sign = form_value(&raw.body, "sign").ok_or(LogisticsError::InvalidSignature)?;
    if !same_sign(&md5_upper(&[&param, &config.salt.0]), sign.trim()) {
        return Err(LogisticsError::InvalidSignature);
    }
    let push: PushParam = serde_json::from_str(&param)
        .map_err(|e| malformed(&format!("param is not a push ({:?} error at column {})", e.classify(), e.column())))?;
    if push.status == "abort" {
        tracing::warn!(waybill = %push.last_result.nu, "Kuaidi100 gave up tracking this waybill; it will be polled");
    }
    let corrected =
        (push.auto_check == "1" && !push.com_new.is_empty()).then(|| config.name_of(&push.com_new).to_owned());
    let mut pushes = read_result(config, &push.last_result)?;
    for p in &mut pushes {
        p.corrected_carrier = corrected.clone().filter(|c| *c != p.carrier);
    }
    Ok(pushes)
}

/// Every entry of `result` as a push of its carrier, oldest first.
pub(super) fn read_result(config: &Kuaidi100Config, result: &TrackResult) -> Result<Vec<TrackingPush>, LogisticsError> {
    let waybill = result.nu.trim();
    if waybill.is_empty() {
        return Err(malformed("no waybill (nu)"));
    }
    let carrier = config.name_of(result.com.trim());
    let latest_state = kind_of_code(&result.state);
    let count = result.data.len();
    result
        .data
        .iter()
        .enumerate()
        .rev()
        .map(|(i, entry)| {
            // The newest entry (first) takes the waybill's state when it has none of its own.
            let fallback = if i == 0 && count > 0 { latest_state } else { None };
            Ok(TrackingPush::new(carrier, waybill, update_of(entry, fallback)?))
        })
        .collect()
}

fn update_of(entry: &TrackEntry, fallback: Option<TrackingKind>) -> Result<TrackingUpdate, LogisticsError> {
    let time = if entry.ftime.trim().is_empty() { &entry.time } else { &entry.ftime };
    let at = beijing_time(time).ok_or_else(|| malformed("an entry's time is not yyyy-MM-dd HH:mm:ss"))?;
    let kind = kind_of_code(&entry.status_code)
        .or_else(|| kind_of_name(&entry.status))
        .or(fallback)
        // An entry Kuaidi100 did not classify still tells where the parcel is.
        .unwrap_or(TrackingKind::InTransit);
    let location = entry.area_name.as_deref().or(entry.location.as_deref()).unwrap_or_default();
    let description: String = entry.context.chars().take(MAX_DESCRIPTION_CHARS).collect();
    Ok(TrackingUpdate {
        kind,
        at,
        event_id: event_id(time, &entry.context).into(),
        location: location.trim().into(),
        description: description.into(),
    })
}

/// A stable id for an entry: entries have none, and every push repeats the whole history, so
/// the same entry must get the same id each time for the core to drop it.
fn event_id(time: &str, context: &str) -> String {
    let digest = Sha256::new().chain_update(time.trim()).chain_update("\n").chain_update(context.trim()).finalize();
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("kd100-{hex}")
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time.
pub(super) fn beijing_time(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let offset = FixedOffset::east_opt(BEIJING_SECONDS)?;
    offset.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// The answer Kuaidi100 expects to a push: `handled` stops it; otherwise it sends the push
/// again later.
pub fn reply(handled: bool) -> WebhookReply {
    let body = if handled {
        r#"{"result":true,"returnCode":"200","message":"成功"}"#
    } else {
        r#"{"result":false,"returnCode":"500","message":"失败"}"#
    };
    WebhookReply { status: 200, body: body.to_owned() }
}

fn malformed(why: &str) -> LogisticsError {
    LogisticsError::Malformed(format!("Kuaidi100 push: {why}"))
}
