//! The request head's limits, answered in the dialect's envelope: a path and query over [`URI_LIMIT`]
//! bytes is 414 (414001), headers over [`HEADERS_LIMIT`] bytes in all are 431 (431001). The connection
//! layer is given far larger limits ([`CONNECTION_HEAD_LIMIT`]), so only a head past those gets its bare
//! refusal from hyper.

use crate::render::Failure;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orgd_core::error::{ApiError, ErrorCode};

/// The longest path and query served.
pub const URI_LIMIT: usize = 16 * 1024;
/// The most bytes of header names and values a request may carry.
pub const HEADERS_LIMIT: usize = 64 * 1024;
/// The head the connection layer reads before it refuses on its own (HTTP/1.1 buffer, HTTP/2 header list).
pub const CONNECTION_HEAD_LIMIT: usize = 1024 * 1024;

/// Refuse a request whose head is over its limits.
pub async fn check(req: Request, next: Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri > URI_LIMIT {
        let e = ApiError::new(ErrorCode::UriTooLong).with_detail(format!("{uri} bytes, at most {URI_LIMIT}."));
        return Failure(e).into_response();
    }
    let headers: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if headers > HEADERS_LIMIT {
        let e = ApiError::new(ErrorCode::HeaderFieldsTooLarge)
            .with_detail(format!("{headers} bytes, at most {HEADERS_LIMIT}."));
        return Failure(e).into_response();
    }
    next.run(req).await
}
