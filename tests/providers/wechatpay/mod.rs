//! WeChat Pay API v3.

pub(crate) mod fuzz;
mod lifecycle;
mod references;
mod verification;

pub use super::shop::{clock, engine};
use orderflow::testing::emulators::wechatpay as emulator;
pub use orderflow::testing::emulators::wechatpay::{
    API_V3_KEY, APP_ID, MCH_ID, MERCHANT_KEY, MERCHANT_PUBLIC_KEY, MERCHANT_SERIAL, PLATFORM_A_CERT, SERIAL_A,
    SERIAL_B, config,
};
