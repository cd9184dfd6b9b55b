//! Kuaidi100: push verification and state codes (sans-IO), and tracking lifecycles through the
//! engine against a loopback emulator of the poll API.

mod emulator;
mod fuzz;
mod lifecycle;
mod verification;

use chrono::{DateTime, FixedOffset, Utc};
use orderflow::adapters::kuaidi100::{Kuaidi100Config, Secret};

pub const CUSTOMER: &str = "3564B6CF145FA93724CE18C1FB149036";
pub const KEY: &str = "pLXUGAwK5305";
pub const SALT: &str = "shop-chosen-salt";
pub const CALLBACK_URL: &str = "https://shop.example.com/webhooks/kuaidi100";

/// The shop calls its carrier "SF"; Kuaidi100 calls it "shunfeng".
pub fn config() -> Kuaidi100Config {
    Kuaidi100Config::new(CUSTOMER, Secret::new(KEY), Secret::new(SALT), CALLBACK_URL)
        .with_carrier_code("SF", "shunfeng")
}

/// `at` as Kuaidi100 writes times: Beijing time, no offset.
pub fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y-%m-%d %H:%M:%S").to_string()
}
