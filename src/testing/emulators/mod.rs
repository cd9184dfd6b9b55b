//! Emulators of the payment and tracking providers' documented APIs (feature `testing` plus
//! each provider's feature), so tests, examples and the simulation run the real adapters over
//! the real formats without reaching the providers.
//!
//! Each emulator is sans-IO: [`HttpEmulator::answer`] takes one call (method, path with its
//! query, headers, body) and returns the provider's answer, signed as the provider signs it.
//! [`InProcess`] is an [`HttpTransport`] that hands every request straight to an emulator (no
//! socket), so an adapter such as `WechatPayGateway` runs unchanged against it; a test that
//! wants real HTTP serves the same handler on a loopback port.
//!
//! The keys they use (`keys/`) were generated for these tests and sign nothing real; each
//! provider's module exports the identifiers and the matching adapter configuration.
//!
//! ```
//! # #[cfg(feature = "kuaidi100")] {
//! use std::sync::Arc;
//! use orderflow::adapters::kuaidi100::Kuaidi100;
//! use orderflow::testing::emulators::{InProcess, kuaidi100};
//!
//! let emulator = Arc::new(kuaidi100::Emulator::default());
//! let tracker = Kuaidi100::new(kuaidi100::config(), InProcess::new(emulator.clone()));
//! # let _ = tracker;
//! # }
//! ```

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::adapters::http::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use crate::ports::RawMessage;

#[cfg(feature = "alipay")]
pub mod alipay;
#[cfg(feature = "kuaidi100")]
pub mod kuaidi100;
#[cfg(feature = "wechatpay")]
pub mod wechatpay;

/// The real Alipay adapter over an in-process emulator ([`alipay::gateway`]).
#[cfg(feature = "alipay")]
pub type EmulatedAlipay = crate::adapters::alipay::AlipayGateway<InProcess<alipay::Emulator>>;

/// Booking with the fake carrier, tracking through the real Kuaidi100 adapter over an
/// in-process emulator ([`kuaidi100::tracking`]).
#[cfg(feature = "kuaidi100")]
pub type EmulatedKuaidi100 = crate::adapters::WithTracking<
    Arc<crate::testing::FakeCarrier>,
    crate::adapters::kuaidi100::Kuaidi100<InProcess<kuaidi100::Emulator>>,
>;

/// The base URL adapters are pointed at when they talk to an emulator in process; any host
/// works, as [`InProcess`] reads only the path and query.
pub const IN_PROCESS_URL: &str = "http://emulator.invalid";

/// One call as an emulated API receives it.
#[derive(Debug, Clone, Copy)]
pub struct HttpCall<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path with its query (`/v3/pay/transactions/out-trade-no/X?mchid=1`).
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a [(String, String)],
    /// The request body.
    pub body: &'a [u8],
}

/// A provider's API, emulated: answers one call the way the provider documents it.
pub trait HttpEmulator: Send + Sync {
    /// The provider's answer to `call` (status, headers, body).
    fn answer(&self, call: HttpCall<'_>) -> HttpResponse;
}

impl<E: HttpEmulator + ?Sized> HttpEmulator for Arc<E> {
    fn answer(&self, call: HttpCall<'_>) -> HttpResponse {
        (**self).answer(call)
    }
}

/// An [`HttpTransport`] that calls an emulator directly, in process: requests never touch a
/// socket, so a whole engine runs the real adapter with no runtime or port of its own.
#[derive(Debug, Clone)]
pub struct InProcess<E> {
    emulator: Arc<E>,
}

impl<E> InProcess<E> {
    /// A transport to `emulator`.
    pub fn new(emulator: Arc<E>) -> InProcess<E> {
        InProcess { emulator }
    }

    /// The emulator behind the transport.
    pub fn emulator(&self) -> &Arc<E> {
        &self.emulator
    }
}

/// The path and query of an absolute URL (`/` when it has none).
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |at| &after_scheme[at..])
}

impl<E: HttpEmulator> HttpTransport for InProcess<E> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let call = HttpCall {
            method: request.method,
            path: path_of(&request.url),
            headers: &request.headers,
            body: &request.body,
        };
        Ok(self.emulator.answer(call))
    }
}

/// An answer with a JSON (or any text) body.
pub(crate) fn response(status: u16, headers: Vec<(String, String)>, body: String) -> HttpResponse {
    HttpResponse { status, message: RawMessage { headers, body: body.into_bytes() } }
}

/// The emulator's state, even after a test thread panicked while holding it.
pub(crate) fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{HttpTransport, IN_PROCESS_URL, InProcess, path_of};
    use crate::adapters::http::HttpRequest;
    use crate::testing::FixedClock;

    #[test]
    fn path_of_keeps_the_path_and_query_only() {
        assert_eq!(path_of("http://127.0.0.1:80/v3/x?mchid=1"), "/v3/x?mchid=1");
        assert_eq!(path_of("https://api.mch.weixin.qq.com"), "/");
        assert_eq!(path_of("/poll"), "/poll");
    }

    /// The fixture keys read, so the `config()`s and emulators never panic.
    #[test]
    fn every_emulator_and_configuration_is_built_from_the_fixture_keys() {
        let clock = Arc::new(FixedClock::new(crate::testing::t0()));
        #[cfg(feature = "wechatpay")]
        {
            assert_eq!(super::wechatpay::config().mch_id, super::wechatpay::MCH_ID);
            assert_eq!(
                super::wechatpay::platforms().map(|p| p.serial),
                [super::wechatpay::SERIAL_A, super::wechatpay::SERIAL_B]
            );
            let _ = super::wechatpay::Emulator::new(clock.clone());
        }
        #[cfg(feature = "alipay")]
        {
            assert_eq!(super::alipay::config().app_id, super::alipay::APP_ID);
            let _ = super::alipay::Emulator::new(clock.clone());
        }
        let _ = clock;
    }

    /// A request through `InProcess` reaches the emulator by its path and comes back as the
    /// emulator answered, whatever host the URL names.
    #[cfg(feature = "kuaidi100")]
    #[tokio::test]
    async fn in_process_hands_the_path_and_body_to_the_emulator() {
        let emulator = Arc::new(super::kuaidi100::Emulator::default());
        let transport = InProcess::new(emulator.clone());
        let request = |path: &str| HttpRequest {
            method: "POST",
            url: format!("{IN_PROCESS_URL}{path}"),
            headers: Vec::new(),
            body: b"schema=json".to_vec(),
        };
        let answer = transport.send(request("/poll")).await.unwrap();
        assert_eq!(answer.status, 200);
        assert!(String::from_utf8_lossy(&answer.message.body).contains("\"returnCode\":\"400\""));
        assert_eq!(transport.send(request("/nowhere?x=1")).await.unwrap().status, 200, "no param: refused first");
        assert_eq!(emulator.calls(), vec!["/poll".to_owned(), "/nowhere".to_owned()]);
    }
}
