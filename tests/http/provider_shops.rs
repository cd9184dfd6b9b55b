//! The shop with a real provider's format selected, over real HTTP: WeChat Pay (with Kuaidi100
//! tracking) and Alipay, each against its emulator in process. The provider's notification
//! (as the emulator signs it) is posted to the shop's webhook and answered as the provider
//! documents; a tampered copy is 401; a cancellation after payment refunds through the
//! provider. And the configuration: choices, accounts from variables or files, every problem
//! at once.

use std::sync::Arc;

use orderflow::MemoryStore;
use orderflow::placement::PaymentMethod;
use orderflow::ports::{DynOrderStore, SystemClock};
use orderflow::testing::emulators::{alipay, kuaidi100, wechatpay};

use super::*;
use crate::providers::{Account, Payments, PaymentsChoice, ProviderConfig, Tracking, TrackingChoice};

async fn shop_with(payments: PaymentsChoice, tracking: TrackingChoice) -> Harness {
    shop_with_options(payments, tracking, ShopOptions { tick: Duration::from_millis(200), ..ShopOptions::default() })
        .await
}

async fn shop_with_options(payments: PaymentsChoice, tracking: TrackingChoice, options: ShopOptions) -> Harness {
    let store = DynOrderStore::new(MemoryStore::new());
    let config = ProviderConfig::emulated(payments, tracking);
    start_with(AppState::with_providers(options, store, Arc::new(SystemClock), &config).unwrap()).await
}

/// `customer`'s sample order paying online through `provider`; returns (id, number, total).
async fn place_with(h: &Harness, token: &str, customer: &str, provider: &str) -> (String, OrderNumber, Money) {
    let mut form = sample_form(customer);
    form.payment = PaymentMethod::Online { provider: provider.into() };
    let placed = h.post(token, "/orders", serde_json::to_value(form).unwrap()).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let order = &placed.body["order"];
    let number: OrderNumber = serde_json::from_value(order["number"].clone()).unwrap();
    let total: Money = serde_json::from_value(order["totals"]["total"].clone()).unwrap();
    (order["id"].as_str().unwrap().to_owned(), number, total)
}

/// The buyer starts the payment (the provider opens it), pays at the provider, and the
/// provider's signed notification reaches the webhook: answered as the provider wants, once.
async fn pay(h: &Harness, id: &str, number: OrderNumber, total: Money) {
    let session = h.post("alice-token", &format!("/orders/{id}/payment"), json!({})).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    let reference = number.provider_reference();
    let (raw, expected) = match &h.state.payments {
        Payments::WechatPay(Some(emulator)) => {
            let opened = emulator.order(&reference).expect("WeChat Pay opened the payment");
            assert_eq!((opened.total, opened.kind.as_str()), (total.minor, "native"));
            emulator.pay(&reference, total.minor);
            (emulator.notification(&reference), (StatusCode::NO_CONTENT, ""))
        }
        Payments::Alipay(Some(emulator)) => {
            let opened = emulator.trade(&reference).expect("Alipay opened the trade");
            assert_eq!(opened.total, total.minor);
            emulator.pay(&reference, total.minor);
            (emulator.notification(&reference), (StatusCode::OK, "success"))
        }
        _ => panic!("an emulated provider"),
    };
    // Tampered on the way: refused, nothing recorded.
    let mut tampered = raw.clone();
    if let Some(last) = tampered.body.iter().rposition(u8::is_ascii_alphanumeric) {
        tampered.body[last] ^= 1;
    }
    assert_eq!(h.webhook("/webhooks/payment", &tampered).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.order("alice-token", id).await["status"], "awaiting_payment");
    for _ in 0..2 {
        let reply = h.webhook("/webhooks/payment", &raw).await;
        assert_eq!((reply.status, reply.text.as_str()), expected, "a duplicate is answered the same");
    }
    let order = h.order("alice-token", id).await;
    assert_eq!(order["status"], "ready_to_ship");
    assert_eq!(order["captures"].as_array().unwrap().len(), 1);
}

/// Placed, paid, shipped, delivered (pushed by the selected tracking service), confirmed; a
/// second order paid, then cancelled: its refund goes to the provider.
async fn whole_lifecycle(payments: PaymentsChoice, tracking: TrackingChoice, provider: &str) {
    let h = shop_with(payments, tracking).await;
    let (id, number, total) = place_with(&h, "alice-token", "alice", provider).await;
    pay(&h, &id, number, total).await;
    let waybill = h.pack_and_ship(&id).await;

    let push = match &h.state.tracking {
        Tracking::Kuaidi100(Some(emulator)) => {
            // The subscription goes out through the outbox.
            h.state.engine.drain_outbox().await.unwrap();
            let subscription = emulator.subscriptions().get(&waybill).cloned().expect("the waybill was subscribed");
            assert_eq!((subscription.company.as_str(), subscription.salt.as_str()), ("shunfeng", kuaidi100::SALT));
            emulator.track(&waybill, "3", "签收", &kuaidi100::beijing(Utc::now()), "已签收");
            emulator.push(&waybill)
        }
        _ => h.state.carrier.push(&waybill, TrackingKind::Delivered, Utc::now(), "E-1"),
    };
    let tracked = h.webhook("/webhooks/tracking", &push).await;
    assert_eq!(tracked.status, StatusCode::OK, "{}", tracked.text);
    if tracking == TrackingChoice::Kuaidi100 {
        assert_eq!((tracked.body["result"].clone(), tracked.body["returnCode"].clone()), (json!(true), json!("200")));
    }
    assert_eq!(h.order("alice-token", &id).await["status"], "delivered");
    let confirmed = h.post("alice-token", &format!("/orders/{id}/confirm"), json!({})).await;
    assert_eq!(confirmed.body["order"]["status"], "completed", "{}", confirmed.text);

    let (second, number, total) = place_with(&h, "alice-token", "alice", provider).await;
    pay(&h, &second, number, total).await;
    let cancelled =
        h.post("service-token", &format!("/orders/{second}/cancel"), json!({"reason": "out of stock"})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    h.state.engine.drain_outbox().await.unwrap();
    let reference = number.provider_reference();
    let refunded: Vec<i64> = match &h.state.payments {
        Payments::WechatPay(Some(emulator)) => {
            emulator.refunds().values().filter(|r| r.out_trade_no == reference).map(|r| r.refund).collect()
        }
        Payments::Alipay(Some(emulator)) => {
            emulator.refunds().values().filter(|r| r.out_trade_no == reference).map(|r| r.amount).collect()
        }
        _ => panic!("an emulated provider"),
    };
    assert_eq!(refunded, vec![total.minor], "the whole payment went back through the provider");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_order_paid_through_the_wechatpay_emulator_and_tracked_by_kuaidi100() {
    whole_lifecycle(PaymentsChoice::WechatPay, TrackingChoice::Kuaidi100, "wechatpay").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_order_paid_through_the_alipay_emulator() {
    whole_lifecycle(PaymentsChoice::Alipay, TrackingChoice::Fake, "alipay").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_helpers_pay_and_push_through_the_emulators() {
    let options = ShopOptions { tick: Duration::from_millis(200), dev_endpoints: true, ..ShopOptions::default() };
    let h = shop_with_options(PaymentsChoice::WechatPay, TrackingChoice::Kuaidi100, options).await;
    let (id, _, _) = place_with(&h, "alice-token", "alice", "wechatpay").await;
    let too_early = h.post("alice-token", &format!("/dev/simulate-payment/{id}"), json!({})).await;
    assert_eq!(too_early.status, StatusCode::CONFLICT, "{}", too_early.text);
    assert_eq!(h.post("alice-token", &format!("/orders/{id}/payment"), json!({})).await.status, StatusCode::OK);
    let paid = h.post("alice-token", &format!("/dev/simulate-payment/{id}"), json!({})).await;
    assert_eq!(paid.status, StatusCode::NO_CONTENT, "WeChat Pay's answer: {}", paid.text);
    assert_eq!(h.order("alice-token", &id).await["status"], "ready_to_ship");
    h.pack_and_ship(&id).await;
    h.state.engine.drain_outbox().await.unwrap();
    let path = format!("/dev/simulate-tracking/{id}");
    let customs = h.post("warehouse-token", &path, json!({ "kind": "customs" })).await;
    assert_eq!(customs.status, StatusCode::OK, "{}", customs.text);
    assert_eq!(customs.body["order"]["packages"][0]["tracking"][0]["kind"], "customs", "Kuaidi100's customs state");
    assert_eq!(customs.body["order"]["status"], "shipped");
    let delivered = h.post("warehouse-token", &path, json!({ "kind": "delivered" })).await;
    assert_eq!(delivered.status, StatusCode::OK, "{}", delivered.text);
    assert_eq!(delivered.body["order"]["status"], "delivered", "{}", delivered.text);
    h.stop().await;
}

fn lookup(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

#[test]
fn the_configuration_chooses_providers_and_reads_accounts_from_variables_or_files() {
    // Nothing set: Alipay and Kuaidi100, emulated.
    let config = ProviderConfig::from_env(lookup(&[])).unwrap();
    assert_eq!((config.payments, config.tracking), (PaymentsChoice::Alipay, TrackingChoice::Kuaidi100));
    assert!(matches!((&config.alipay, &config.kuaidi100), (Account::Emulated, Account::Emulated)));
    let fakes = ProviderConfig::from_env(lookup(&[("SHOP_PAYMENTS", "fake".into()), ("SHOP_TRACKING", "fake".into())]));
    assert_eq!(fakes.map(|c| (c.payments, c.tracking)), Ok((PaymentsChoice::Fake, TrackingChoice::Fake)));

    // A provider chosen with no account: its emulator.
    let config = ProviderConfig::from_env(lookup(&[
        ("SHOP_PAYMENTS", "wechatpay".into()),
        ("SHOP_TRACKING", "kuaidi100".into()),
    ]))
    .unwrap();
    assert!(matches!(config.wechatpay, Account::Emulated) && matches!(config.kuaidi100, Account::Emulated));

    // A whole WeChat Pay account, the private key from a file.
    let key_file = std::env::temp_dir().join(format!("orderflow-http-shop-{}.pem", uuid::Uuid::now_v7()));
    std::fs::write(&key_file, wechatpay::MERCHANT_KEY).unwrap();
    let config = ProviderConfig::from_env(lookup(&[
        ("SHOP_PAYMENTS", "wechatpay".into()),
        ("WECHATPAY_MCH_ID", wechatpay::MCH_ID.into()),
        ("WECHATPAY_APP_ID", wechatpay::APP_ID.into()),
        ("WECHATPAY_MERCHANT_SERIAL", wechatpay::MERCHANT_SERIAL.into()),
        ("WECHATPAY_MERCHANT_KEY_FILE", key_file.display().to_string()),
        ("WECHATPAY_API_V3_KEY", wechatpay::API_V3_KEY.into()),
        ("WECHATPAY_NOTIFY_URL", wechatpay::NOTIFY_URL.into()),
    ]))
    .unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let Account::Real(account) = &config.wechatpay else { panic!("a real account") };
    assert_eq!(
        (account.mch_id.as_str(), account.base_url.as_str()),
        (wechatpay::MCH_ID, "https://api.mch.weixin.qq.com")
    );

    // A whole Alipay account from variables, the gateway overridden.
    let config = ProviderConfig::from_env(lookup(&[
        ("SHOP_PAYMENTS", "alipay".into()),
        ("ALIPAY_APP_ID", alipay::APP_ID.into()),
        ("ALIPAY_SELLER_ID", alipay::SELLER_ID.into()),
        ("ALIPAY_APP_PRIVATE_KEY", alipay::APP_KEY.into()),
        ("ALIPAY_PUBLIC_KEY", alipay::ALIPAY_PUBLIC_KEY.into()),
        ("ALIPAY_NOTIFY_URL", alipay::NOTIFY_URL.into()),
        ("ALIPAY_GATEWAY_URL", "https://openapi-sandbox.dl.alipaydev.com/gateway.do".into()),
    ]))
    .unwrap();
    let Account::Real(account) = &config.alipay else { panic!("a real account") };
    assert_eq!(account.gateway_url, "https://openapi-sandbox.dl.alipaydev.com/gateway.do");

    // Part of an account, a bad key, a missing file and an unknown choice: every problem named.
    let problems = ProviderConfig::from_env(lookup(&[
        ("SHOP_PAYMENTS", "wechatpay".into()),
        ("SHOP_TRACKING", "kuaidi100".into()),
        ("WECHATPAY_MCH_ID", wechatpay::MCH_ID.into()),
        ("WECHATPAY_MERCHANT_KEY", "not a key".into()),
        ("WECHATPAY_API_V3_KEY_FILE", "/nonexistent/apiv3.key".into()),
        ("KUAIDI100_CUSTOMER", kuaidi100::CUSTOMER.into()),
    ]))
    .unwrap_err();
    for named in [
        "WECHATPAY_APP_ID",
        "WECHATPAY_MERCHANT_SERIAL",
        "WECHATPAY_MERCHANT_KEY:",
        "WECHATPAY_API_V3_KEY_FILE",
        "WECHATPAY_NOTIFY_URL",
        "KUAIDI100_KEY",
        "KUAIDI100_SALT",
        "KUAIDI100_CALLBACK_URL",
    ] {
        assert!(problems.contains(named), "{named} missing from:\n{problems}");
    }
    let unknown = ProviderConfig::from_env(lookup(&[("SHOP_PAYMENTS", "paypal".into())])).unwrap_err();
    assert!(unknown.contains("fake, wechatpay or alipay"), "{unknown}");
}
