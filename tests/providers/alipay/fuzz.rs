//! No panic on any input: arbitrary and mutated notification bodies through Alipay's notify
//! verification (form parsing, RSA2 over the sorted parameters, app and seller checks) and
//! the payment and refund readers behind it. Bad input is always a typed error, and an edited
//! notification that still verifies says exactly what the original said (the signature
//! covers the decoded parameters, not their encoding).

use std::sync::OnceLock;

use orderflow::adapters::alipay::{AlipayError, api, notify, sign};
use orderflow::ports::{RefundRequest, refund_reference};
use orderflow::testing::t0;
use orderflow::{Currency, Money, RefundId};
use proptest::prelude::*;

use super::verification::{number, paid_trade};
use super::*;
use crate::mutation::{apply, bodies, edits};

/// A signed payment notification (or, `refund`, a refund notification) for a paid trade, as
/// the emulator sends it.
pub(crate) fn signed(refund: bool) -> Vec<u8> {
    static BODIES: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    let bodies = BODIES.get_or_init(|| {
        let emulator = paid_trade(8800, 8750);
        let payment = emulator.notification(&number().provider_reference()).body;
        let request = RefundRequest::new("k", number(), RefundId(1), Money::new(2000, Currency::CNY), "alipay");
        let call = api::signed_params(&config(), &api::refund(&request).unwrap(), t0()).unwrap();
        assert_eq!(emulator.open(&sign::encode_form(&call))["fund_change"], "Y");
        let refund = emulator.signed(emulator.refund_params(&refund_reference(&number(), RefundId(1)))).body;
        [payment, refund]
    });
    bodies[usize::from(refund)].clone()
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
        let body = signed(refund);
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
    fn an_edited_parameter_is_a_wrong_signature(field in 0..32usize, value in "[ -~]{0,24}", refund in any::<bool>()) {
        let mut form = sign::parse_form(&signed(refund)).unwrap();
        let name = form.keys().filter(|k| *k != "sign").nth(field % (form.len() - 1)).unwrap().clone();
        prop_assume!(name != "sign_type" && form[&name] != value && !value.is_empty());
        form.insert(name, value);
        let body = sign::encode_form(&form).into_bytes();
        prop_assert_eq!(notify::verified(&config(), &body).err(), Some(AlipayError::WrongSignature));
    }
}
