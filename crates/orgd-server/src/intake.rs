//! Request bodies arrive before the handler runs: an API body is read whole, within the body timeout and
//! up to its dialect's cap, before the access pipeline takes a usage-plan slot, so a body trickled in
//! holds no slot (a slow client cannot lock an org out) and is answered 408 in its dialect's envelope.
//! A body over the cap is not read here: the pipeline refuses it (413 at step 6) and the drain layer
//! reads and drops it so that the client receives that answer. Presigned uploads, which stream up to
//! 256 MiB into the store, are not buffered; they get the body timeout between two pieces instead.

use crate::context::RequestInfo;
use crate::render::{Dialect, Failure};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use orgd_core::error::{ApiError, ErrorCode};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// JSON body limit of the Orgvue dialect (6 MiB).
pub const ORGVUE_BODY_LIMIT: usize = 6 * 1024 * 1024;
/// JSON body limit of the Apperian dialect (1 MiB).
pub const APPERIAN_BODY_LIMIT: usize = 1024 * 1024;

/// The body limit of a dialect.
pub fn body_limit(d: Dialect) -> usize {
    match d {
        Dialect::Orgvue => ORGVUE_BODY_LIMIT,
        Dialect::Apperian => APPERIAN_BODY_LIMIT,
    }
}

/// Multipart body limit of the Apperian dialect (2 MiB).
pub const MULTIPART_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Marks a request whose body went past its cap while it was read (the pipeline answers 413).
#[derive(Debug, Clone, Copy)]
pub struct BodyTooLarge;

/// The most a body may hold to be read here: the largest body any route of the path's door takes (the
/// Orgvue API's JSON limit, else the multipart limit of the Apperian API and the console's forms).
fn cap(api: Option<Dialect>) -> usize {
    match api {
        Some(Dialect::Orgvue) => body_limit(Dialect::Orgvue),
        Some(Dialect::Apperian) | None => MULTIPART_BODY_LIMIT,
    }
}

/// The announced length, when there is one.
fn announced(req: &Request) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

fn has_body(req: &Request) -> bool {
    match announced(req) {
        Some(n) => n > 0,
        None => req.headers().contains_key(header::TRANSFER_ENCODING) || req.version() == Version::HTTP_2,
    }
}

/// The layer (inside the error-envelope layer, so its answers are rendered in the path's dialect).
pub async fn read_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !has_body(&req) || req.body().is_end_stream() {
        return next.run(req).await;
    }
    let timeout = state.config.body_timeout;
    let path = req.uri().path();
    if path.starts_with("/signed/") {
        return next.run(req.map(|b| Body::new(Paced::new(b, timeout)))).await;
    }
    let cap = cap(RequestInfo::of(&req).api);
    if announced(&req).is_some_and(|n| n > cap as u64) {
        return next.run(req).await;
    }
    let version = req.version();
    let (mut parts, body) = req.into_parts();
    match read_capped(body, cap, timeout).await {
        Ok((bytes, complete)) => {
            if !complete {
                parts.extensions.insert(BodyTooLarge);
            }
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Err(e) => {
            let mut res = Failure(e).into_response();
            if version < Version::HTTP_2 {
                res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            res
        }
    }
}

/// Read up to `cap + 1` bytes within `timeout`; `complete` is false when the body holds more than `cap`
/// (the rest stays unread for the drain layer).
async fn read_capped(mut body: Body, cap: usize, timeout: Duration) -> Result<(Bytes, bool), ApiError> {
    let deadline = Instant::now() + timeout;
    let mut buf = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(too_slow(timeout)),
            Ok(None) => return Ok((buf.freeze(), true)),
            Ok(Some(Err(_))) => {
                return Err(ApiError::new(ErrorCode::RequestBodyInvalid)
                    .with_message("The request body broke off before its end."))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            buf.extend_from_slice(data);
            if buf.len() > cap {
                return Ok((buf.freeze(), false));
            }
        }
    }
}

/// The 408 of a body that took longer than `timeout`.
pub fn too_slow(timeout: Duration) -> ApiError {
    ApiError::new(ErrorCode::RequestTimeout).with_message(format!(
        "The request body did not arrive within {} s; send it at once, or in a smaller request.",
        timeout.as_secs()
    ))
}

/// A streamed body that fails when no piece arrives for `idle` (presigned uploads).
struct Paced {
    inner: Body,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl Paced {
    fn new(inner: Body, idle: Duration) -> Self {
        Paced { inner, idle, sleep: Box::pin(tokio::time::sleep(idle)) }
    }
}

/// The error a [`Paced`] body ends with when the client stops sending.
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no part of the request body arrived in time")
    }
}

impl std::error::Error for BodyTimedOut {}

impl http_body::Body for Paced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(x) => {
                let next = Instant::now() + self.idle;
                self.sleep.as_mut().reset(next);
                Poll::Ready(x)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
