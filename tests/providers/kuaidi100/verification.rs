//! Sans-IO: push signatures, the history a push carries, state codes, carrier corrections,
//! the reply body, and secrets kept out of `Debug`.

use chrono::{TimeZone, Utc};
use orderflow::adapters::kuaidi100::push::{reply, verify_push};
use orderflow::adapters::kuaidi100::state::{STATES, kind_of_code};
use orderflow::order::TrackingKind;
use orderflow::ports::{LogisticsError, RawMessage};
use serde_json::{Value, json};

use super::emulator::signed_push;
use super::{SALT, config};

/// A push as Kuaidi100 documents it (`resultv2=4`), newest entry first.
fn param() -> Value {
    json!({
        "status": "polling", "billstatus": "got", "message": "", "autoCheck": "0", "comOld": "", "comNew": "",
        "lastResult": {
            "message": "ok", "state": "5", "status": "200", "condition": "F00", "ischeck": "0",
            "com": "shunfeng", "nu": "SF1234567890",
            "data": [
                { "context": "快件交给张三，正在派送途中", "time": "2026-11-30 18:03:00", "ftime": "2026-11-30 18:03:00",
                  "status": "派件", "statusCode": "5", "areaName": "广东,深圳市,南山区", "location": "" },
                { "context": "快件到达 【深圳南山集散中心】", "time": "2026-11-30 12:00:00", "ftime": "2026-11-30 12:00:00",
                  "status": "在途", "statusCode": "1001", "areaName": "广东,深圳市", "location": "" },
                { "context": "顺丰速运 已收取快件", "time": "2026-11-30 09:30:00", "ftime": "2026-11-30 09:30:00",
                  "status": "揽收", "statusCode": "103", "areaName": "广东,广州市", "location": "" }
            ]
        }
    })
}

fn push(param: &Value) -> RawMessage {
    signed_push(&param.to_string(), SALT)
}

#[test]
fn a_push_signed_with_the_salt_gives_every_entry_oldest_first() {
    let pushes = verify_push(&config(), &push(&param())).unwrap();
    let kinds: Vec<TrackingKind> = pushes.iter().map(|p| p.update.kind).collect();
    assert_eq!(kinds, [TrackingKind::PickedUp, TrackingKind::InTransit, TrackingKind::OutForDelivery]);
    // Kuaidi100's carrier code comes back under the shop's name for it.
    assert!(pushes.iter().all(|p| p.carrier == "SF" && p.waybill == "SF1234567890" && p.corrected_carrier.is_none()));
    // Beijing time, 09:30 +08:00.
    assert_eq!(pushes[0].update.at, Utc.with_ymd_and_hms(2026, 11, 30, 1, 30, 0).unwrap());
    assert_eq!(pushes[2].update.location, "广东,深圳市,南山区");
    assert_eq!(pushes[2].update.description, "快件交给张三，正在派送途中");
    let ids: std::collections::BTreeSet<&str> = pushes.iter().map(|p| &*p.update.event_id).collect();
    assert_eq!(ids.len(), 3, "every entry has its own id");
}

#[test]
fn the_same_entry_has_the_same_event_id_in_every_push() {
    let first = verify_push(&config(), &push(&param())).unwrap();
    // The next push repeats the history with a newer entry on top.
    let mut later = param();
    let newest = json!({ "context": "已签收", "time": "2026-11-30 19:00:00", "ftime": "2026-11-30 19:00:00",
                          "status": "签收", "statusCode": "301" });
    later["lastResult"]["data"].as_array_mut().unwrap().insert(0, newest);
    let second = verify_push(&config(), &push(&later)).unwrap();
    assert_eq!(second.len(), 4);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.update, b.update);
    }
    assert_eq!(second[3].update.kind, TrackingKind::Delivered);
}

#[test]
fn a_wrong_sign_a_tampered_param_or_a_missing_sign_is_refused() {
    let wrong_salt = signed_push(&param().to_string(), "another-salt");
    assert_eq!(verify_push(&config(), &wrong_salt), Err(LogisticsError::InvalidSignature));

    let good = push(&param()).body;
    let good = String::from_utf8(good).unwrap();
    let tampered = good.replace("%E6%B4%BE%E4%BB%B6", "%E7%AD%BE%E6%94%B6"); // 派件 -> 签收
    assert_ne!(tampered, good);
    let raw = RawMessage { headers: vec![], body: tampered.into_bytes() };
    assert_eq!(verify_push(&config(), &raw), Err(LogisticsError::InvalidSignature));

    let unsigned = RawMessage { headers: vec![], body: good.split("&sign=").next().unwrap().as_bytes().to_vec() };
    assert_eq!(verify_push(&config(), &unsigned), Err(LogisticsError::InvalidSignature));
}

#[test]
fn a_signed_push_that_is_not_a_push_is_malformed() {
    for body in ["{not json", r#"{"status":"polling"}"#, r#"{"lastResult":{"nu":"","data":[]}}"#] {
        let result = verify_push(&config(), &signed_push(body, SALT));
        assert!(matches!(result, Err(LogisticsError::Malformed(_))), "{body}: {result:?}");
    }
    let mut bad_time = param();
    bad_time["lastResult"]["data"][0]["ftime"] = "yesterday".into();
    assert!(matches!(verify_push(&config(), &push(&bad_time)), Err(LogisticsError::Malformed(_))));
    let no_param = RawMessage { headers: vec![], body: b"sign=ABC".to_vec() };
    assert!(matches!(verify_push(&config(), &no_param), Err(LogisticsError::Malformed(_))));
}

#[test]
fn every_documented_state_code_maps_to_its_kind() {
    use TrackingKind::*;
    let expected = [
        ("1", PickedUp),
        ("101", AwaitingPickup),
        ("102", AwaitingPickup),
        ("103", PickedUp),
        ("0", InTransit),
        ("1001", InTransit),
        ("1002", InTransit),
        ("1003", Rerouted),
        ("5", OutForDelivery),
        ("501", AwaitingCollection),
        ("3", Delivered),
        ("301", Delivered),
        ("302", Delivered),
        ("303", Delivered),
        ("304", Delivered),
        ("6", Returning),
        ("4", ReturnedToSender),
        ("401", Exception),
        ("14", RefusedAtDoor),
        ("7", Rerouted),
        ("2", Exception),
        ("201", Exception),
        ("202", Exception),
        ("203", RefusedAtDoor),
        ("204", Exception),
        ("205", Exception),
        ("206", Exception),
        ("207", Exception),
        ("208", Exception),
        ("209", Exception),
        ("210", Exception),
        ("8", Customs),
        ("10", Customs),
        ("11", Customs),
        ("12", Customs),
        ("13", Exception),
    ];
    assert_eq!(STATES.len(), expected.len(), "the table and this test list the same codes");
    for (code, kind) in expected {
        assert_eq!(kind_of_code(code), Some(kind), "state {code}");
    }
    // Sub-states Kuaidi100 may add later are read as their main state.
    for (code, kind) in [
        ("502", OutForDelivery),
        ("305", Delivered),
        ("211", Exception),
        ("1004", InTransit),
        ("1401", RefusedAtDoor),
        ("601", Returning),
    ] {
        assert_eq!(kind_of_code(code), Some(kind), "state {code}");
    }
    assert_eq!(kind_of_code("99"), None);
    assert_eq!(kind_of_code(""), None);
}

#[test]
fn an_entry_without_a_code_is_read_by_its_state_name() {
    let mut p = param();
    p["lastResult"]["data"][1]["statusCode"] = "".into();
    p["lastResult"]["data"][1]["status"] = "清关".into();
    let pushes = verify_push(&config(), &push(&p)).unwrap();
    assert_eq!(pushes[1].update.kind, TrackingKind::Customs);
}

#[test]
fn a_corrected_carrier_code_is_carried() {
    let mut p = param();
    p["autoCheck"] = "1".into();
    p["comOld"] = "shunfeng".into();
    p["comNew"] = "zhongtong".into();
    let pushes = verify_push(&config(), &push(&p)).unwrap();
    assert!(pushes.iter().all(|push| push.carrier == "SF" && push.corrected_carrier.as_deref() == Some("zhongtong")));
    // A correction to the code it had is none.
    p["comNew"] = "shunfeng".into();
    assert!(verify_push(&config(), &push(&p)).unwrap().iter().all(|push| push.corrected_carrier.is_none()));
}

#[test]
fn the_reply_is_the_body_kuaidi100_expects() {
    let ok: Value = serde_json::from_str(&reply(true).body).unwrap();
    assert_eq!(ok, json!({ "result": true, "returnCode": "200", "message": "成功" }));
    let retry: Value = serde_json::from_str(&reply(false).body).unwrap();
    assert_eq!(retry["result"], false);
    assert_ne!(retry["returnCode"], "200");
}

#[test]
fn secrets_stay_out_of_debug() {
    let shown = format!("{:?}", config());
    assert!(shown.contains(super::CUSTOMER));
    assert!(!shown.contains(super::KEY) && !shown.contains(SALT), "{shown}");
}
