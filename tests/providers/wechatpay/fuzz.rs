//! No panic on any input: arbitrary and mutated headers and bodies through notification
//! verification (headers, timestamp, serial, RSA signature) and the payment and refund
//! readers behind it (envelope, AES-256-GCM decryption, transaction); bad input is always a
//! typed error, and a mutated notification that still reads says exactly what the original
//! said.

use chrono::TimeDelta;
use orderflow::OrderNumber;
use orderflow::adapters::wechatpay::decrypt::encrypt;
use orderflow::adapters::wechatpay::notification;
use orderflow::adapters::wechatpay::platform_certs::PlatformKeys;
use orderflow::adapters::wechatpay::verify::{self, NONCE, SERIAL, SIGNATURE, TIMESTAMP};
use orderflow::adapters::wechatpay::{ApiV3Key, WechatPayError};
use orderflow::ports::RawMessage;
use orderflow::testing::t0;
use proptest::prelude::*;
use serde_json::json;

use super::emulator::{Tx, platforms, signed, transaction_json};
use super::*;
use crate::mutation::{apply, bodies, edits};

fn keys() -> PlatformKeys {
    let keys = PlatformKeys::new();
    keys.insert_certificate_pem(SERIAL_A, PLATFORM_A_CERT).unwrap();
    keys
}

/// A valid `TRANSACTION.SUCCESS` notification body for order 4242.
pub(crate) fn notification_body() -> String {
    let tx = Tx {
        kind: "native".into(),
        total: 8800,
        payer_total: 8800,
        state: "SUCCESS",
        transaction_id: Some("4200000985202603044455123456".into()),
        success_time: Some("2026-12-01T10:00:00+08:00".into()),
        openid: None,
    };
    let reference = OrderNumber::from_value(4242).unwrap().provider_reference();
    let plaintext = transaction_json(APP_ID, MCH_ID, &reference, &tx).to_string();
    let key = ApiV3Key::new(API_V3_KEY).unwrap();
    let mut resource = encrypt(&key, "fuzzNonce123", "transaction", plaintext.as_bytes()).unwrap();
    resource.original_type = Some("transaction".into());
    json!({
        "id": "EV-2018022511223320873",
        "create_time": "2026-12-01T10:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": resource,
    })
    .to_string()
}

/// Header names the verifier reads, and others.
fn header_names() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(TIMESTAMP.to_owned()),
        Just(NONCE.to_owned()),
        Just(SIGNATURE.to_owned()),
        Just(SERIAL.to_owned()),
        "[A-Za-z-]{1,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Anything at all: refused by verification, and by both readers.
    #[test]
    fn arbitrary_messages_are_refused_with_a_typed_error(
        headers in prop::collection::vec((header_names(), "[ -~]{0,64}"), 0..6),
        body in bodies(),
    ) {
        let raw = RawMessage { headers, body };
        prop_assert!(verify::verify(&keys(), &raw, t0(), TimeDelta::minutes(5)).is_err());
        prop_assert!(notification::payment(&config(), &raw.body).is_err());
        prop_assert!(notification::refund(&config(), &raw.body).is_err());
    }

    /// A signed notification edited anywhere: verification refuses any edit of the body, and
    /// the reader either refuses it or reads what the original says.
    #[test]
    fn mutated_notifications_are_refused_or_read_unchanged(edit in edits()) {
        let body = notification_body();
        let original = notification::payment(&config(), body.as_bytes()).unwrap();
        let [platform, _] = platforms();
        let raw = signed(&body, platform.serial, &platform.key, t0().timestamp());
        let mutated = apply(body.as_bytes(), &edit);
        let tampered = RawMessage { headers: raw.headers.clone(), body: mutated.clone() };
        let verified = verify::verify(&keys(), &tampered, t0(), TimeDelta::minutes(5));
        if mutated == body.as_bytes() {
            prop_assert_eq!(verified, Ok(()));
        } else {
            prop_assert_eq!(verified, Err(WechatPayError::WrongSignature));
        }
        if let Ok(read) = notification::payment(&config(), &mutated) {
            prop_assert_eq!(read, original);
        }
        // The signature headers edited instead.
        let mut headers = raw.headers.clone();
        for (_, value) in headers.iter_mut().take(4) {
            *value = String::from_utf8_lossy(&apply(value.as_bytes(), &edit)).into_owned();
        }
        let _ = verify::verify(&keys(), &RawMessage { headers, body: raw.body.clone() }, t0(), TimeDelta::minutes(5));
    }

    /// The encrypted resource edited: decryption refuses it (GCM authenticates the
    /// ciphertext, its nonce and the associated data).
    #[test]
    fn an_edited_resource_never_decrypts(edit in edits(), field in 0..3usize) {
        let mut envelope: serde_json::Value = serde_json::from_str(&notification_body()).unwrap();
        let name = ["ciphertext", "nonce", "associated_data"][field];
        let value = envelope["resource"][name].as_str().unwrap().to_owned();
        let edited = String::from_utf8_lossy(&apply(value.as_bytes(), &edit)).into_owned();
        prop_assume!(edited != value);
        envelope["resource"][name] = edited.into();
        let read = notification::payment(&config(), envelope.to_string().as_bytes());
        prop_assert!(
            matches!(read, Err(WechatPayError::Decryption | WechatPayError::Malformed(_))),
            "{read:?}"
        );
    }
}
