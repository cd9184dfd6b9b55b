//! Provider adapters against the providers' documented formats, offline: sans-IO checks with
//! the emulators' test keys, and whole lifecycles through the engine against the emulators of
//! the providers' APIs (`orderflow::testing::emulators`) served on loopback; no-panic
//! properties of each provider's parsers over arbitrary and mutated messages, and the fuzz
//! seeds checked to be valid signed samples.

mod alipay;
mod corpus;
mod kuaidi100;
mod loopback;
mod mutation;
mod shop;
mod wechatpay;
