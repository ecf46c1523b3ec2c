//! Every error answer in its dialect's envelope: handlers, extractors and the inner layers answer with a
//! marked [`ApiError`] ([`crate::render::Failure`]); this layer renders it for the request's dialect, turns
//! the router's bare 405 into 405001, and gives JSON answers their charset.

use crate::context::RequestInfo;
use crate::render::{self, PendingError};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orgd_core::error::{ApiError, ErrorCode};

/// Left on a rendered error answer for the layers outside this one.
#[derive(Debug, Clone, Copy)]
pub struct Rendered {
    /// The error's code.
    pub code: ErrorCode,
    /// Whether the answer says when to retry (and so carries its own rate headers).
    pub retry_after: bool,
}

/// The layer.
pub async fn render(req: Request, next: Next) -> Response {
    let info = RequestInfo::of(&req);
    let method = req.method().clone();
    let mut res = next.run(req).await;
    if res.status() == StatusCode::METHOD_NOT_ALLOWED && res.extensions().get::<PendingError>().is_none() {
        let allow = res.headers().get("allow").and_then(|a| a.to_str().ok()).map(|a| format!("; use {a}"));
        res.extensions_mut().insert(PendingError(
            ApiError::new(ErrorCode::MethodNotAllowed)
                .with_message(format!("Method {method} is not allowed here{}", allow.unwrap_or_default())),
        ));
    }
    if let Some(PendingError(e)) = res.extensions_mut().remove::<PendingError>() {
        let allow = res.headers().get("allow").cloned();
        res = render::response(&e, info.dialect, &info.trace_id);
        if let Some(a) = allow {
            res.headers_mut().insert("allow", a);
        }
        if e.code == ErrorCode::InternalError {
            tracing::error!(trace_id = %info.trace_id, "internal error answered");
        }
        res.extensions_mut().insert(Rendered { code: e.code, retry_after: e.retry_after.is_some() });
    }
    if res.headers().get("content-type").is_some_and(|ct| ct == "application/json") {
        res.headers_mut().insert("content-type", HeaderValue::from_static("application/json; charset=UTF-8"));
    }
    res
}

/// An error answer, for the layers inside this one.
pub fn answer(e: ApiError) -> Response {
    render::Failure(e).into_response()
}
