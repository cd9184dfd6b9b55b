//! The account's configuration: customer id, keys, where pushes go, carrier codes.

use std::collections::BTreeMap;
use std::fmt;

/// Kuaidi100's production poll API.
pub const PRODUCTION_BASE_URL: &str = "https://poll.kuaidi100.com";

/// A secret (authorization key, push salt). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    /// The secret as issued by Kuaidi100 (or chosen, for the salt).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything the adapter needs from the Kuaidi100 account. `Debug` shows ids, never keys.
#[derive(Debug, Clone)]
pub struct Kuaidi100Config {
    /// The enterprise customer id (`customer`), which signs queries.
    pub customer: String,
    /// The authorization key (`key`): subscribes, and signs queries.
    pub key: Secret,
    /// The salt sent with each subscription, which signs its pushes (`sign = MD5(param + salt)`).
    pub salt: Secret,
    /// Where Kuaidi100 pushes updates (`callbackurl`).
    pub callback_url: String,
    /// The poll API's base URL: [`PRODUCTION_BASE_URL`], or an emulator's in tests.
    pub base_url: String,
    /// The shop's carrier names and their Kuaidi100 codes where they differ (`"SF"` →
    /// `"shunfeng"`); a name not listed is sent as it is.
    pub carrier_codes: BTreeMap<String, String>,
}

impl Kuaidi100Config {
    /// A configuration for the production API.
    pub fn new(
        customer: impl Into<String>,
        key: Secret,
        salt: Secret,
        callback_url: impl Into<String>,
    ) -> Kuaidi100Config {
        Kuaidi100Config {
            customer: customer.into(),
            key,
            salt,
            callback_url: callback_url.into(),
            base_url: PRODUCTION_BASE_URL.into(),
            carrier_codes: BTreeMap::new(),
        }
    }

    /// The same configuration against another base URL (an emulator, a proxy).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Kuaidi100Config {
        self.base_url = base_url.into();
        self
    }

    /// Sends the shop's carrier `name` to Kuaidi100 as `code`.
    #[must_use]
    pub fn with_carrier_code(mut self, name: impl Into<String>, code: impl Into<String>) -> Kuaidi100Config {
        self.carrier_codes.insert(name.into(), code.into());
        self
    }

    /// The Kuaidi100 code of the shop's carrier `name`.
    pub fn code_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.carrier_codes.get(name).map_or(name, String::as_str)
    }

    /// The shop's name of the Kuaidi100 carrier `code` (the code itself if none is mapped).
    pub fn name_of<'a>(&'a self, code: &'a str) -> &'a str {
        self.carrier_codes.iter().find(|(_, c)| c.as_str() == code).map_or(code, |(name, _)| name.as_str())
    }
}
