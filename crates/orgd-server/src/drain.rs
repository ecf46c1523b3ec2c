//! Early answers reach the client: when a handler answers without reading the whole request body (a
//! refused credential, a body over its limit, an expired presigned URL, a route that takes no body), the
//! rest of a body of at most [`LIMIT`] bytes is read and dropped before the answer goes out. Without it an
//! HTTP/1.1 server closes a connection with unread bytes, the peer's kernel sees a reset, and the client
//! reads a broken pipe instead of the error that explains what to do; over HTTP/2 the stream is reset
//! and curl reports a framing error. The rest must keep coming (a pause of [`PATIENCE`] ends the
//! draining); past [`LIMIT`], or when the answer closes the connection (408), nothing is read.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The most body left unread that is still read so that the client gets the answer (64 MiB).
pub const LIMIT: usize = 64 * 1024 * 1024;

/// The longest pause in the rest of a body that is still waited for.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The longest time spent draining one body.
const DRAIN_TIME: Duration = Duration::from_secs(60);

/// The request body, shared between the handler and this layer.
struct Shared(Arc<Mutex<Body>>);

impl http_body::Body for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut *self.0.lock()).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.lock().size_hint()
    }
}

/// Whether the request announces a body.
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// The layer: requests without a body pass untouched.
pub async fn drain_unread(req: Request, next: Next) -> Response {
    if !has_body(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let shared = Arc::new(Mutex::new(body));
    let response = next.run(Request::from_parts(parts, Body::new(Shared(shared.clone())))).await;
    let mut rest = std::mem::replace(&mut *shared.lock(), Body::empty());
    let closing = response.headers().get(header::CONNECTION).is_some_and(|c| c == "close");
    if !closing && !rest.is_end_stream() && rest.size_hint().lower() <= LIMIT as u64 {
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            let mut read = 0usize;
            while let Ok(Some(Ok(frame))) = tokio::time::timeout(PATIENCE, rest.frame()).await {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > LIMIT {
                    break;
                }
            }
        })
        .await;
    }
    response
}
