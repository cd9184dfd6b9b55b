//! WeChat Pay API v3.

mod emulator;
mod fuzz;
mod lifecycle;
mod references;
mod verification;

pub use super::shop::{clock, engine};
use orderflow::adapters::wechatpay::{ApiV3Key, MerchantKey, WechatPayConfig};

pub const MCH_ID: &str = "1900009191";
pub const APP_ID: &str = "wxd678efh567hg6787";
pub const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const API_V3_KEY: &str = "0123456789abcdefABCDEF9876543210";
pub const NOTIFY_URL: &str = "https://shop.example.com/webhooks/wechatpay";

pub const MERCHANT_KEY: &str = include_str!("../../fixtures/wechatpay/merchant.key.pem");
pub const MERCHANT_PUBLIC_KEY: &str = include_str!("../../fixtures/wechatpay/merchant.pub.pem");
pub const PLATFORM_A_KEY: &str = include_str!("../../fixtures/wechatpay/platform_a.key.pem");
pub const PLATFORM_A_CERT: &str = include_str!("../../fixtures/wechatpay/platform_a.cert.pem");
pub const PLATFORM_B_KEY: &str = include_str!("../../fixtures/wechatpay/platform_b.key.pem");
pub const PLATFORM_B_CERT: &str = include_str!("../../fixtures/wechatpay/platform_b.cert.pem");
/// The serials of the fixture certificates (`openssl x509 -noout -serial`).
pub const SERIAL_A: &str = "4AAD58E3D4B149EF";
pub const SERIAL_B: &str = "52CF75C2B2C5E20B";

pub fn config() -> WechatPayConfig {
    WechatPayConfig::new(
        MCH_ID,
        APP_ID,
        MERCHANT_SERIAL,
        MerchantKey::from_pem(MERCHANT_KEY).unwrap(),
        ApiV3Key::new(API_V3_KEY).unwrap(),
        NOTIFY_URL,
    )
}
