//! The seed corpora of the provider fuzz targets (`fuzz/corpus/{wechatpay_notification,
//! alipay_notification,kuaidi100_push}`) are valid signed samples: each verifies against the
//! emulated merchant at `t0` and reads as what it was made from, so fuzzing starts past the
//! signature checks. (`tests/workflow/fuzz_corpus.rs` replays every corpus file through its
//! target.) With `ORDERFLOW_WRITE_CORPUS=1` the seeds are written again from the samples the
//! providers' fuzz tests use.

use std::path::PathBuf;

use chrono::TimeDelta;
use orderflow::adapters::alipay::notify;
use orderflow::adapters::kuaidi100::push::verify_push;
use orderflow::adapters::wechatpay::notification;
use orderflow::adapters::wechatpay::platform_certs::PlatformKeys;
use orderflow::adapters::wechatpay::verify;
use orderflow::ports::RawMessage;
use orderflow::testing::emulators::kuaidi100::{SALT, signed_push};
use orderflow::testing::emulators::wechatpay::{PLATFORM_A_CERT, SERIAL_A, platforms, signed};
use orderflow::testing::fuzzing::providers::{message, write_message};
use orderflow::testing::fuzzing::{TARGETS, run};
use orderflow::testing::t0;
use orderflow::{Currency, Money, OrderNumber};

fn seed(target: &str, name: &str, made: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target).join(name);
    if std::env::var_os("ORDERFLOW_WRITE_CORPUS").is_some() {
        std::fs::write(&path, made()).unwrap();
    }
    assert!(TARGETS.contains(&target), "{target} is a fuzz target");
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    run(target, &data);
    data
}

#[test]
fn the_wechatpay_seed_is_a_signed_payment_notification() {
    let data = seed("wechatpay_notification", "paid.txt", || {
        let [platform, _] = platforms();
        write_message(&signed(
            &crate::wechatpay::fuzz::notification_body(),
            platform.serial,
            &platform.key,
            t0().timestamp(),
        ))
    });
    let raw = message(&data);
    let keys = PlatformKeys::new();
    keys.insert_certificate_pem(SERIAL_A, PLATFORM_A_CERT).unwrap();
    verify::verify(&keys, &raw, t0(), TimeDelta::minutes(5)).unwrap();
    let paid = notification::payment(&crate::wechatpay::config(), &raw.body).unwrap();
    assert_eq!(paid.order_number, OrderNumber::from_value(4242).unwrap());
    assert_eq!(paid.amount, Money::new(8800, Currency::CNY));
}

#[test]
fn the_alipay_seeds_are_a_signed_payment_and_refund_notification() {
    let paid = seed("alipay_notification", "paid.txt", || crate::alipay::fuzz::signed(false));
    let refund = seed("alipay_notification", "refund.txt", || crate::alipay::fuzz::signed(true));
    let config = crate::alipay::config();
    let payment = notify::payment(&config, &paid).unwrap();
    assert_eq!(
        (payment.amount, payment.payer_total),
        (Money::new(8800, Currency::CNY), Some(Money::new(8750, Currency::CNY)))
    );
    assert!(notify::is_refund(&refund));
    notify::refund(&config, &refund).unwrap();
}

#[test]
fn the_kuaidi100_seed_is_a_push_signed_with_the_salt() {
    let data = seed("kuaidi100_push", "push.txt", || signed_push(&crate::kuaidi100::fuzz::param(), SALT).body);
    let pushes = verify_push(&crate::kuaidi100::config(), &RawMessage { headers: Vec::new(), body: data }).unwrap();
    assert_eq!(pushes.len(), 2);
    assert!(pushes.iter().all(|p| p.waybill == "SF1234567890"));
}
