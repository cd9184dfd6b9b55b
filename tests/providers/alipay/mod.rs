//! Alipay open platform (RSA2).

mod emulator;
mod fuzz;
mod lifecycle;
mod references;
mod verification;

use orderflow::adapters::alipay::AlipayConfig;

pub const APP_ID: &str = "2021000117650139";
pub const SELLER_ID: &str = "2088621955271234";
pub const NOTIFY_URL: &str = "https://shop.example.com/webhooks/alipay";
pub const RETURN_URL: &str = "https://shop.example.com/paid";

/// The app's key pair (the app signs requests; the emulator checks with the public half).
pub const APP_KEY: &str = include_str!("../../fixtures/alipay/app.key.pem");
pub const APP_PUBLIC_KEY: &str = include_str!("../../fixtures/alipay/app.pub.pem");
/// Alipay's key pair (the emulator signs answers and notifications).
pub const ALIPAY_KEY: &str = include_str!("../../fixtures/alipay/alipay.key.pem");
pub const ALIPAY_PUBLIC_KEY: &str = include_str!("../../fixtures/alipay/alipay.pub.pem");

pub fn config() -> AlipayConfig {
    AlipayConfig::new(APP_ID, SELLER_ID, APP_KEY, ALIPAY_PUBLIC_KEY, NOTIFY_URL).unwrap().with_return_url(RETURN_URL)
}
