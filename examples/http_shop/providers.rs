// This file is compiled into both the example and the test; each uses a different part of it.
#![allow(dead_code)]

//! Which payment provider and tracking service the `http_shop` example uses, chosen by
//! configuration: `SHOP_PAYMENTS` = `fake` (default), `wechatpay` or `alipay`; `SHOP_TRACKING`
//! = `fake` (default) or `kuaidi100` (or `--payments` / `--tracking` on the command line).
//!
//! A real provider is used when its account is configured (the variables below; every key or
//! secret may be given as `NAME` or as a file path in `NAME_FILE`); with none of its
//! variables set, the shop runs the real adapter against the provider's emulator in process
//! (`orderflow::testing::emulators`), so every choice runs out of the box.
//!
//! - WeChat Pay: `WECHATPAY_MCH_ID`, `WECHATPAY_APP_ID`, `WECHATPAY_MERCHANT_SERIAL`,
//!   `WECHATPAY_MERCHANT_KEY` (the `apiclient_key.pem` text), `WECHATPAY_API_V3_KEY`,
//!   `WECHATPAY_NOTIFY_URL`; optional `WECHATPAY_BASE_URL`.
//! - Alipay: `ALIPAY_APP_ID`, `ALIPAY_SELLER_ID`, `ALIPAY_APP_PRIVATE_KEY`,
//!   `ALIPAY_PUBLIC_KEY`, `ALIPAY_NOTIFY_URL`; optional `ALIPAY_RETURN_URL`,
//!   `ALIPAY_GATEWAY_URL`.
//! - Kuaidi100: `KUAIDI100_CUSTOMER`, `KUAIDI100_KEY`, `KUAIDI100_SALT`,
//!   `KUAIDI100_CALLBACK_URL`; optional `KUAIDI100_BASE_URL`. Parcels are still booked with
//!   the fake carrier `SF` (Kuaidi100 tracks, it does not book).

use std::sync::Arc;
use std::time::Duration;

use orderflow::adapters::WithTracking;
use orderflow::adapters::alipay::{AlipayConfig, AlipayGateway};
use orderflow::adapters::http::ReqwestTransport;
use orderflow::adapters::kuaidi100::{Kuaidi100, Kuaidi100Config, Secret};
use orderflow::adapters::wechatpay::{ApiV3Key, MerchantKey, WechatPayConfig, WechatPayGateway};
use orderflow::ports::{Clock, DynLogistics, DynPaymentGateway};
use orderflow::testing::emulators::{self, IN_PROCESS_URL, InProcess};
use orderflow::testing::{FakeCarrier, FakeGateway};

/// How long a call to a real provider may take before it is retried later.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The payment provider chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentsChoice {
    /// The fake provider (HMAC-signed JSON, `orderflow::testing::FakeGateway`).
    Fake,
    /// WeChat Pay API v3.
    WechatPay,
    /// Alipay (RSA2).
    Alipay,
}

/// The tracking service chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingChoice {
    /// The fake carrier's signed pushes.
    Fake,
    /// Kuaidi100.
    Kuaidi100,
}

impl PaymentsChoice {
    /// `fake`, `wechatpay` or `alipay`.
    pub fn parse(name: &str) -> Result<PaymentsChoice, String> {
        match name {
            "fake" => Ok(PaymentsChoice::Fake),
            "wechatpay" => Ok(PaymentsChoice::WechatPay),
            "alipay" => Ok(PaymentsChoice::Alipay),
            other => Err(format!("payments must be fake, wechatpay or alipay, not {other:?}")),
        }
    }
}

impl TrackingChoice {
    /// `fake` or `kuaidi100`.
    pub fn parse(name: &str) -> Result<TrackingChoice, String> {
        match name {
            "fake" => Ok(TrackingChoice::Fake),
            "kuaidi100" => Ok(TrackingChoice::Kuaidi100),
            other => Err(format!("tracking must be fake or kuaidi100, not {other:?}")),
        }
    }
}

/// A provider's account, read from the environment, or its emulator when none is configured.
#[derive(Debug, Clone)]
pub enum Account<C> {
    /// The in-process emulator.
    Emulated,
    /// The real provider with this configuration.
    Real(C),
}

/// What the shop pays and tracks through.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The payment provider.
    pub payments: PaymentsChoice,
    /// The tracking service.
    pub tracking: TrackingChoice,
    /// WeChat Pay's account (read only when chosen).
    pub wechatpay: Account<WechatPayConfig>,
    /// Alipay's account (read only when chosen).
    pub alipay: Account<AlipayConfig>,
    /// Kuaidi100's account (read only when chosen).
    pub kuaidi100: Account<Kuaidi100Config>,
}

impl Default for ProviderConfig {
    /// The fakes.
    fn default() -> Self {
        ProviderConfig {
            payments: PaymentsChoice::Fake,
            tracking: TrackingChoice::Fake,
            wechatpay: Account::Emulated,
            alipay: Account::Emulated,
            kuaidi100: Account::Emulated,
        }
    }
}

impl ProviderConfig {
    /// The fakes, but payments through `payments`' emulator.
    pub fn emulated(payments: PaymentsChoice, tracking: TrackingChoice) -> ProviderConfig {
        ProviderConfig { payments, tracking, ..ProviderConfig::default() }
    }

    /// Reads the configuration from `var` (the environment, in the example): every problem
    /// at once. Nothing chosen: Alipay and Kuaidi100, each against its emulator unless its
    /// account is configured, so the shop runs out of the box on the providers' real formats.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<ProviderConfig, String> {
        let mut problems = Vec::new();
        let mut config = ProviderConfig::emulated(PaymentsChoice::Alipay, TrackingChoice::Kuaidi100);
        let choice = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if let Some(name) = choice("SHOP_PAYMENTS") {
            PaymentsChoice::parse(name.trim()).map(|c| config.payments = c).unwrap_or_else(|e| problems.push(e));
        }
        if let Some(name) = choice("SHOP_TRACKING") {
            TrackingChoice::parse(name.trim()).map(|c| config.tracking = c).unwrap_or_else(|e| problems.push(e));
        }
        let env = Env { var: &var };
        match config.payments {
            PaymentsChoice::WechatPay => config.wechatpay = env.account("WECHATPAY", wechatpay_account, &mut problems),
            PaymentsChoice::Alipay => config.alipay = env.account("ALIPAY", alipay_account, &mut problems),
            PaymentsChoice::Fake => {}
        }
        if config.tracking == TrackingChoice::Kuaidi100 {
            config.kuaidi100 = env.account("KUAIDI100", kuaidi100_account, &mut problems);
        }
        if problems.is_empty() { Ok(config) } else { Err(problems.join("\n")) }
    }
}

/// Reads variables: a value from `NAME`, or from the file `NAME_FILE` names.
struct Env<'a> {
    var: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.var)(name).filter(|v| !v.trim().is_empty())
    }

    /// `NAME`, or the contents of the file `NAME_FILE`; a problem when neither is set.
    fn value(&self, name: &str, problems: &mut Vec<String>) -> String {
        if let Some(value) = self.get(name) {
            return value.trim().to_owned();
        }
        match self.get(&format!("{name}_FILE")) {
            Some(path) => std::fs::read_to_string(path.trim()).map(|v| v.trim().to_owned()).unwrap_or_else(|e| {
                problems.push(format!("{name}_FILE: cannot read {path:?}: {e}"));
                String::new()
            }),
            None => {
                problems.push(format!("{name} (or {name}_FILE) is required"));
                String::new()
            }
        }
    }

    /// The account whose variables start with `prefix`: emulated when none is set.
    fn account<C>(
        &self,
        prefix: &str,
        read: fn(&Env<'_>, &mut Vec<String>) -> Option<C>,
        problems: &mut Vec<String>,
    ) -> Account<C> {
        let any_set = [&WECHATPAY_REQUIRED[..], &ALIPAY_REQUIRED, &KUAIDI100_REQUIRED, &OPTIONAL]
            .concat()
            .iter()
            .filter(|name| name.starts_with(prefix))
            .any(|name| self.get(name).is_some() || self.get(&format!("{name}_FILE")).is_some());
        if !any_set {
            return Account::Emulated;
        }
        let before = problems.len();
        match read(self, problems) {
            Some(config) if problems.len() == before => Account::Real(config),
            _ => Account::Emulated,
        }
    }
}

/// The variables of each account that must be set; any one set (or any optional one) means
/// the real provider is meant.
const WECHATPAY_REQUIRED: [&str; 6] = [
    "WECHATPAY_MCH_ID",
    "WECHATPAY_APP_ID",
    "WECHATPAY_MERCHANT_SERIAL",
    "WECHATPAY_MERCHANT_KEY",
    "WECHATPAY_API_V3_KEY",
    "WECHATPAY_NOTIFY_URL",
];
const ALIPAY_REQUIRED: [&str; 5] =
    ["ALIPAY_APP_ID", "ALIPAY_SELLER_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY", "ALIPAY_NOTIFY_URL"];
const KUAIDI100_REQUIRED: [&str; 4] =
    ["KUAIDI100_CUSTOMER", "KUAIDI100_KEY", "KUAIDI100_SALT", "KUAIDI100_CALLBACK_URL"];
/// The optional variables.
const OPTIONAL: [&str; 4] = ["WECHATPAY_BASE_URL", "ALIPAY_RETURN_URL", "ALIPAY_GATEWAY_URL", "KUAIDI100_BASE_URL"];

fn wechatpay_account(env: &Env<'_>, problems: &mut Vec<String>) -> Option<WechatPayConfig> {
    let [mch_id, app_id, serial, key, api_v3_key, notify_url] =
        WECHATPAY_REQUIRED.map(|name| env.value(name, problems));
    let key = MerchantKey::from_pem(&key).map_err(|e| problems.push(format!("WECHATPAY_MERCHANT_KEY: {e}"))).ok();
    let api_v3_key = ApiV3Key::new(&api_v3_key).map_err(|e| problems.push(format!("WECHATPAY_API_V3_KEY: {e}"))).ok();
    let config = WechatPayConfig::new(mch_id, app_id, serial, key?, api_v3_key?, notify_url);
    Some(match env.get("WECHATPAY_BASE_URL") {
        Some(url) => config.with_base_url(url.trim()),
        None => config,
    })
}

fn alipay_account(env: &Env<'_>, problems: &mut Vec<String>) -> Option<AlipayConfig> {
    let [app_id, seller_id, app_key, alipay_key, notify_url] = ALIPAY_REQUIRED.map(|name| env.value(name, problems));
    let mut config = AlipayConfig::new(app_id, seller_id, &app_key, &alipay_key, notify_url)
        .map_err(|e| problems.push(format!("ALIPAY_APP_PRIVATE_KEY / ALIPAY_PUBLIC_KEY: {e}")))
        .ok()?;
    if let Some(url) = env.get("ALIPAY_RETURN_URL") {
        config = config.with_return_url(url.trim());
    }
    if let Some(url) = env.get("ALIPAY_GATEWAY_URL") {
        config = config.with_gateway_url(url.trim());
    }
    Some(config)
}

fn kuaidi100_account(env: &Env<'_>, problems: &mut Vec<String>) -> Option<Kuaidi100Config> {
    let [customer, key, salt, callback_url] = KUAIDI100_REQUIRED.map(|name| env.value(name, problems));
    let config = Kuaidi100Config::new(customer, Secret::new(key), Secret::new(salt), callback_url)
        .with_carrier_code("SF", "shunfeng");
    Some(match env.get("KUAIDI100_BASE_URL") {
        Some(url) => config.with_base_url(url.trim()),
        None => config,
    })
}

/// The payment side as running: the engine's gateway, and the emulator behind it if any (the
/// dev helpers and tests make it pay).
#[derive(Clone)]
pub enum Payments {
    /// The fake provider.
    Fake(Arc<FakeGateway>),
    /// WeChat Pay; its emulator when emulated.
    WechatPay(Option<Arc<emulators::wechatpay::Emulator>>),
    /// Alipay; its emulator when emulated.
    Alipay(Option<Arc<emulators::alipay::Emulator>>),
}

/// The tracking side as running.
#[derive(Clone)]
pub enum Tracking {
    /// The fake carrier's pushes.
    Fake,
    /// Kuaidi100; its emulator when emulated.
    Kuaidi100(Option<Arc<emulators::kuaidi100::Emulator>>),
}

/// The adapters `config` asks for: the engine's gateway and logistics, and what runs behind
/// them.
pub fn build(
    config: &ProviderConfig,
    fake_gateway: Arc<FakeGateway>,
    carrier: Arc<FakeCarrier>,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<DynPaymentGateway<'static>>, Payments, Arc<DynLogistics<'static>>, Tracking), String> {
    let http = || ReqwestTransport::new(PROVIDER_TIMEOUT).map_err(|e| e.to_string());
    let (gateway, payments): (Box<DynPaymentGateway<'static>>, Payments) = match (config.payments, &config) {
        (PaymentsChoice::Fake, _) => (DynPaymentGateway::new_box(fake_gateway.clone()), Payments::Fake(fake_gateway)),
        (PaymentsChoice::WechatPay, ProviderConfig { wechatpay: Account::Real(account), .. }) => (
            DynPaymentGateway::new_box(WechatPayGateway::new(account.clone(), http()?).with_clock(clock.clone())),
            Payments::WechatPay(None),
        ),
        (PaymentsChoice::WechatPay, _) => {
            let emulator = Arc::new(emulators::wechatpay::Emulator::new(clock.clone()));
            let account = emulators::wechatpay::config().with_base_url(IN_PROCESS_URL);
            let gateway = WechatPayGateway::new(account, InProcess::new(emulator.clone())).with_clock(clock.clone());
            (DynPaymentGateway::new_box(gateway), Payments::WechatPay(Some(emulator)))
        }
        (PaymentsChoice::Alipay, ProviderConfig { alipay: Account::Real(account), .. }) => (
            DynPaymentGateway::new_box(AlipayGateway::new(account.clone(), http()?).with_clock(clock.clone())),
            Payments::Alipay(None),
        ),
        (PaymentsChoice::Alipay, _) => {
            let emulator = Arc::new(emulators::alipay::Emulator::new(clock.clone()));
            let gateway = emulators::alipay::gateway(emulator.clone());
            (DynPaymentGateway::new_box(gateway), Payments::Alipay(Some(emulator)))
        }
    };
    let (logistics, tracking): (Box<DynLogistics<'static>>, Tracking) = match (config.tracking, &config.kuaidi100) {
        (TrackingChoice::Fake, _) => (DynLogistics::new_box(carrier), Tracking::Fake),
        (TrackingChoice::Kuaidi100, Account::Real(account)) => (
            DynLogistics::new_box(WithTracking::new(carrier, Kuaidi100::new(account.clone(), http()?))),
            Tracking::Kuaidi100(None),
        ),
        (TrackingChoice::Kuaidi100, Account::Emulated) => {
            let emulator = Arc::new(emulators::kuaidi100::Emulator::default());
            let logistics = emulators::kuaidi100::tracking(carrier, emulator.clone());
            (DynLogistics::new_box(logistics), Tracking::Kuaidi100(Some(emulator)))
        }
    };
    Ok((Arc::from(gateway), payments, Arc::from(logistics), tracking))
}
