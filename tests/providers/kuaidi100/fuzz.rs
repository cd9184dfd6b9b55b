//! No panic on any input: arbitrary and mutated push bodies through Kuaidi100's push
//! verification (`sign = MD5(param + salt)`) and, signed with the right salt so the check is
//! passed, through the parser of the history behind it. Bad input is always a typed error.

use orderflow::adapters::kuaidi100::push::verify_push;
use orderflow::ports::{LogisticsError, RawMessage};
use proptest::prelude::*;
use serde_json::json;

use super::emulator::signed_push;
use super::*;
use crate::mutation::{apply, bodies, edits};

/// A push's `param` as Kuaidi100 sends it: two entries of SF waybill SF1234567890.
pub(crate) fn param() -> String {
    json!({
        "status": "polling",
        "billstatus": "got",
        "message": "",
        "autoCheck": "1",
        "comOld": "yuantong",
        "comNew": "shunfeng",
        "lastResult": {
            "message": "ok", "state": "5", "status": "200", "condition": "F00", "ischeck": "0",
            "com": "shunfeng", "nu": "SF1234567890",
            "data": [
                { "context": "快件派送中", "time": "2026-12-02 09:00:00", "ftime": "2026-12-02 09:00:00",
                  "status": "派件", "statusCode": "5", "areaName": "广东,深圳市" },
                { "context": "快件已揽收", "time": "2026-12-01 18:00:00", "ftime": "2026-12-01 18:00:00",
                  "status": "揽收", "statusCode": "1", "areaName": "广东,广州市" },
            ],
        },
    })
    .to_string()
}

fn typed(error: &LogisticsError) -> bool {
    matches!(error, LogisticsError::InvalidSignature | LogisticsError::Malformed(_))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Anything at all: refused (nothing is signed with the salt).
    #[test]
    fn arbitrary_bodies_are_refused_with_a_typed_error(body in bodies()) {
        let raw = RawMessage { headers: Vec::new(), body };
        let refused = verify_push(&config(), &raw).unwrap_err();
        prop_assert!(typed(&refused), "{refused:?}");
    }

    /// Anything as `param`, signed with the salt: the parser behind the check refuses it with
    /// a typed error, or reads updates that each name the waybill.
    #[test]
    fn arbitrary_signed_params_are_read_or_refused(param in bodies()) {
        let param = String::from_utf8_lossy(&param).into_owned();
        match verify_push(&config(), &signed_push(&param, SALT)) {
            Ok(pushes) => prop_assert!(pushes.iter().all(|p| !p.waybill.trim().is_empty())),
            Err(e) => prop_assert!(typed(&e), "{e:?}"),
        }
    }

    /// A valid push edited: its body edited after signing is refused unless it still carries
    /// the same param and sign; its param edited and signed again is read or refused.
    #[test]
    fn mutated_pushes_are_refused_or_read(edit in edits()) {
        let raw = signed_push(&param(), SALT);
        let original = verify_push(&config(), &raw).unwrap();
        prop_assert_eq!(original.len(), 2);
        let tampered = RawMessage { headers: raw.headers.clone(), body: apply(&raw.body, &edit) };
        match verify_push(&config(), &tampered) {
            Ok(read) => prop_assert_eq!(read, original),
            Err(e) => prop_assert!(typed(&e), "{e:?}"),
        }
        let edited = String::from_utf8_lossy(&apply(param().as_bytes(), &edit)).into_owned();
        match verify_push(&config(), &signed_push(&edited, SALT)) {
            Ok(pushes) => prop_assert!(pushes.iter().all(|p| !p.waybill.trim().is_empty())),
            Err(e) => prop_assert!(typed(&e), "{e:?}"),
        }
    }
}
