//! What every provider emulator shares: serving its sans-IO handler
//! (`orderflow::testing::emulators`) on a loopback port, so the adapters run over real HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use orderflow::testing::emulators::{HttpCall, HttpEmulator};

/// Serves `emulator` for every request on a loopback port; returns the base URL.
pub async fn serve<E: HttpEmulator + 'static>(emulator: Arc<E>) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let emulator = emulator.clone();
        async move { answer(&*emulator, method, uri, headers, body) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn answer<E: HttpEmulator>(emulator: &E, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let headers: Vec<(String, String)> =
        headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let call = HttpCall { method: method.as_str(), path: &path, headers: &headers, body: &body };
    let answer = emulator.answer(call);
    let mut response = (StatusCode::from_u16(answer.status).unwrap(), answer.message.body).into_response();
    for (name, value) in answer.message.headers {
        response
            .headers_mut()
            .insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(&value).unwrap());
    }
    response
}

/// `emulator.serve()`: any emulator served on a loopback port.
pub trait Serve {
    /// Serves on a loopback port; returns the base URL.
    async fn serve(self: &Arc<Self>) -> String;
}

impl<E: HttpEmulator + 'static> Serve for E {
    async fn serve(self: &Arc<Self>) -> String {
        serve(self.clone()).await
    }
}
