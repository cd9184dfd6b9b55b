//! Alipay open platform (RSA2).

pub(crate) mod fuzz;
mod lifecycle;
mod references;
mod verification;

use orderflow::adapters::alipay::AlipayConfig;
use orderflow::testing::emulators::alipay as emulator;
pub use orderflow::testing::emulators::alipay::{
    ALIPAY_PUBLIC_KEY, APP_ID, APP_KEY, APP_PUBLIC_KEY, NOTIFY_URL, RETURN_URL, SELLER_ID, config,
};
