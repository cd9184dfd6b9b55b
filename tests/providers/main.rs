//! Provider adapters against the providers' documented formats, offline: sans-IO checks with
//! keys shipped as fixtures, and whole lifecycles through the engine against loopback
//! emulators of the providers' APIs; no-panic properties of each provider's parsers over
//! arbitrary and mutated messages.

mod alipay;
mod corpus;
mod kuaidi100;
mod loopback;
mod mutation;
mod shop;
mod wechatpay;
