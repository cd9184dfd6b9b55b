//! No panic on any input: arbitrary and mutated notification bodies through Alipay's notify
//! verification (form parsing, RSA2 over the sorted parameters, app and seller checks) and
//! the payment and refund readers behind it. Bad input is always a typed error, and an edited
//! notification that still verifies says exactly what the original said (the signature
//! covers the decoded parameters, not their encoding).

use orderflow::OrderNumber;
use orderflow::RefundId;
use orderflow::adapters::alipay::sign::{self, Params};
use orderflow::adapters::alipay::{AlipayError, notify};
use orderflow::adapters::rsa_sha256::RsaPrivateKey;
use orderflow::ports::refund_reference;
use proptest::prelude::*;

use super::*;
use crate::mutation::{apply, bodies, edits};

/// A notification's parameters as Alipay sends them for order 4242, `refund` adding a refund.
fn params(refund: bool) -> Params {
    let number = OrderNumber::from_value(4242).unwrap();
    let mut params: Params = [
        ("notify_time", "2026-12-01 10:00:05"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
        ("app_id", APP_ID),
        ("charset", "utf-8"),
        ("version", "1.0"),
        ("sign_type", "RSA2"),
        ("trade_no", "2026120122001404930500123456"),
        ("trade_status", "TRADE_SUCCESS"),
        ("seller_id", SELLER_ID),
        ("subject", "订单 order"),
        ("total_amount", "88.00"),
        ("buyer_pay_amount", "87.50"),
        ("gmt_payment", "2026-12-01 10:00:00"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    params.insert("out_trade_no".into(), number.provider_reference());
    if refund {
        params.insert("out_biz_no".into(), refund_reference(&number, RefundId(1)));
        params.insert("refund_fee".into(), "20.00".into());
        params.insert("gmt_refund".into(), "2026-12-01 11:00:00.000".into());
    }
    params
}

/// `params` signed by Alipay, as the form body it posts.
fn signed(mut params: Params) -> Vec<u8> {
    let key = RsaPrivateKey::from_text(ALIPAY_KEY).unwrap();
    let signature = key.sign(sign::content(&params, sign::NOTIFY_UNSIGNED).as_bytes()).unwrap();
    params.insert("sign".into(), signature);
    sign::encode_form(&params).into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Anything at all: refused, by every reader.
    #[test]
    fn arbitrary_bodies_are_refused_with_a_typed_error(body in bodies()) {
        prop_assert!(notify::verified(&config(), &body).is_err());
        prop_assert!(notify::payment(&config(), &body).is_err());
        prop_assert!(notify::refund(&config(), &body).is_err());
        let _ = notify::is_refund(&body);
    }

    /// A signed payment or refund notification edited anywhere: refused, or read unchanged.
    #[test]
    fn mutated_notifications_are_refused_or_read_unchanged(edit in edits(), refund in any::<bool>()) {
        let body = signed(params(refund));
        let mutated = apply(&body, &edit);
        if refund {
            let original = notify::refund(&config(), &body).unwrap();
            match notify::refund(&config(), &mutated) {
                Ok(read) => prop_assert_eq!(read, original),
                Err(e) => prop_assert!(!matches!(e, AlipayError::Api { .. } | AlipayError::Transport(_)), "{e:?}"),
            }
            prop_assert!(notify::payment(&config(), &mutated).is_err(), "a refund is never a payment");
        } else {
            let original = notify::payment(&config(), &body).unwrap();
            match notify::payment(&config(), &mutated) {
                Ok(read) => prop_assert_eq!(read, original),
                Err(e) => prop_assert!(!matches!(e, AlipayError::Api { .. } | AlipayError::Transport(_)), "{e:?}"),
            }
        }
    }

    /// Any parameter's value replaced after signing: the signature no longer verifies.
    #[test]
    fn an_edited_parameter_is_a_wrong_signature(field in 0..17usize, value in "[ -~]{0,24}", refund in any::<bool>()) {
        let original = params(refund);
        let name = original.keys().nth(field % original.len()).unwrap().clone();
        prop_assume!(name != "sign_type" && original[&name] != value && !(value.is_empty()));
        let mut form = sign::parse_form(&signed(original)).unwrap();
        form.insert(name, value);
        let body = sign::encode_form(&form).into_bytes();
        prop_assert_eq!(notify::verified(&config(), &body).err(), Some(AlipayError::WrongSignature));
    }
}
