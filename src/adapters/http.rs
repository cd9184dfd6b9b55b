//! The HTTP transport the provider adapters call their APIs through.
//!
//! The adapters are sans-IO: they build and check requests and answers, and a host-chosen
//! [`HttpTransport`] carries them, so the library brings no async runtime or TLS stack of its
//! own. `ReqwestTransport` (feature `provider-http`) is a ready one over reqwest with rustls;
//! tests plug in a loopback emulator.

use std::future::Future;

use crate::ports::RawMessage;

/// A request to a provider's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// Absolute URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// Body (empty for `GET`).
    pub body: Vec<u8>,
}

/// A provider's answer: the status, and the headers and body as a [`RawMessage`] (whose
/// `Debug` hides values, as answers carry signatures and payment data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers and body.
    pub message: RawMessage,
}

/// The request never got an answer (connection refused, timeout, TLS failure): the call may
/// be retried with the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP transport failed: {0}")]
pub struct TransportError(pub String);

/// Sends one request and returns the answer, whatever its status. Implemented by the host
/// (over its own HTTP client) or by `ReqwestTransport`.
pub trait HttpTransport: Send + Sync {
    /// Sends `request`.
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, TransportError>> + Send;
}

impl<T: HttpTransport + ?Sized> HttpTransport for std::sync::Arc<T> {
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, TransportError>> + Send {
        (**self).send(request)
    }
}

#[cfg(feature = "provider-http")]
pub use reqwest_transport::ReqwestTransport;

#[cfg(feature = "provider-http")]
mod reqwest_transport {
    use super::{HttpRequest, HttpResponse, HttpTransport, TransportError};
    use crate::ports::RawMessage;

    /// An [`HttpTransport`] over a `reqwest::Client` (rustls). Needs a tokio runtime.
    #[derive(Debug, Clone)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
    }

    impl ReqwestTransport {
        /// A transport whose calls give up after `timeout` (then the call is retried later).
        pub fn new(timeout: std::time::Duration) -> Result<ReqwestTransport, TransportError> {
            let client =
                reqwest::Client::builder().timeout(timeout).build().map_err(|e| TransportError(e.to_string()))?;
            Ok(ReqwestTransport { client })
        }

        /// A transport over a client the host configured.
        pub fn with_client(client: reqwest::Client) -> ReqwestTransport {
            ReqwestTransport { client }
        }
    }

    impl HttpTransport for ReqwestTransport {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(|_| TransportError(format!("unsupported method {}", request.method)))?;
            let mut builder = self.client.request(method, &request.url).body(request.body);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            // Only the kind of failure: reqwest's message can hold the URL and its query.
            let response = builder.send().await.map_err(|e| TransportError(transport_kind(&e)))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            let body = response.bytes().await.map_err(|e| TransportError(transport_kind(&e)))?.to_vec();
            Ok(HttpResponse { status, message: RawMessage { headers, body } })
        }
    }

    fn transport_kind(error: &reqwest::Error) -> String {
        if error.is_timeout() {
            "timed out".into()
        } else if error.is_connect() {
            "cannot connect".into()
        } else {
            "request failed".into()
        }
    }
}
