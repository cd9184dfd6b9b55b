//! What every provider emulator shares: serving one handler on a loopback port.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;

/// Serves `handler` for every request on a loopback port; returns the base URL.
pub async fn serve<H>(handler: H) -> String
where
    H: Fn(Method, Uri, HeaderMap, Bytes) -> Response + Clone + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let handler = handler.clone();
        async move { handler(method, uri, headers, body) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}
