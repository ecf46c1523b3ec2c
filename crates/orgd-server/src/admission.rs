//! The usage plan on the way out: the rate-limit headers of the admission the access pipeline took, and
//! its concurrency slot held until the answer's body has been sent.

use crate::context::RequestInfo;
use crate::error_envelope::Rendered;
use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;
use orgd_core::usage::Admission;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The layer: add the admission's headers (not to a refusal that says when to retry, which carries its
/// own), and hold the slot while a successful answer streams out; an error answer is complete, so its
/// slot goes at once.
pub async fn hold(req: Request, next: Next) -> Response {
    let slot = RequestInfo::of(&req).slot;
    let mut res = next.run(req).await;
    let Some(admission) = slot.lock().take_admission() else { return res };
    let rendered = res.extensions().get::<Rendered>().copied();
    if rendered.is_none_or(|r| !r.retry_after) {
        for (name, value) in admission.headers() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, v);
            }
        }
    }
    match rendered {
        None => res.map(|b| Body::new(Holding { inner: b, _admission: admission })),
        Some(_) => res,
    }
}

/// A response body that holds the usage-plan concurrency slot until it is fully sent or dropped.
struct Holding {
    inner: Body,
    _admission: Admission,
}

impl http_body::Body for Holding {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
