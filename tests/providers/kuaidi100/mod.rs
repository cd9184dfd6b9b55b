//! Kuaidi100: push verification and state codes (sans-IO), and tracking lifecycles through the
//! engine against a loopback emulator of the poll API.

pub(crate) mod fuzz;
mod lifecycle;
mod verification;

use orderflow::testing::emulators::kuaidi100 as emulator;
pub use orderflow::testing::emulators::kuaidi100::{CALLBACK_URL, CUSTOMER, KEY, SALT, beijing, config};
