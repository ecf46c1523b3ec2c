//! The request-context middleware: trace id, client IP, usage-plan headers and concurrency slot, error
//! rendering in the path's dialect, the log line and the metrics of every request.

use crate::cors;
use crate::render::{self, Dialect, PendingError};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Frame;
use ipnet::IpNet;
use orgd_core::error::{ApiError, ErrorCode};
use orgd_core::faults::RequestFacts;
use orgd_core::journal::Entry;
use orgd_core::usage::Admission;
use parking_lot::Mutex;
use rand::RngCore;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// The TCP peer of a connection, set by the listener.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Facts about the request that handlers and extractors read.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// `Root=1-<8 hex>-<24 hex>`.
    pub trace_id: String,
    /// The client address (`None` = could not be determined).
    pub client_ip: Option<IpAddr>,
    /// The dialect of the path.
    pub dialect: Dialect,
    /// What the pipeline learned, for the log line and the response headers.
    pub slot: Arc<Mutex<Slot>>,
}

/// Filled by the access extractor.
#[derive(Debug, Default)]
pub struct Slot {
    /// Held until the response body has been sent.
    pub admission: Option<Admission>,
    /// The acting tenant.
    pub tenant: Option<String>,
    /// The presented token's id.
    pub token_id: Option<String>,
    /// The caller's home org, once the token is checked (decides CORS when the path names no org).
    pub home_org: Option<orgd_core::ids::OrgId>,
    /// An injected fault (stand-in) answered or delayed the request.
    pub fault: bool,
}

/// A new trace id in the AWS X-Ray form.
pub fn new_trace_id() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut rnd = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut rnd);
    format!("Root=1-{:08x}-{}", secs as u32, hex::encode(rnd))
}

/// The client address: the peer, or, when the peer is a trusted proxy, the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy. A malformed header makes the address unknown (fail closed).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer.map(orgd_core::net::canonical)?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(s) = v.to_str() else { return None };
        hops.extend(s.split(',').map(str::trim).filter(|h| !h.is_empty()));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let ip = orgd_core::net::canonical(hop.parse::<IpAddr>().ok()?);
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// A path of either API dialect (not the console, the control API or the system endpoints).
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || matches!(Dialect::of_path(path), Dialect::Apperian)
}

/// The middleware itself.
pub async fn request_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let trace_id = new_trace_id();
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let ip = client_ip(peer, req.headers(), &state.config.trusted_proxies);
    let path = req.uri().path().to_string();
    let dialect = Dialect::of_path(&path);
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let origin = req.headers().get("origin").and_then(|o| o.to_str().ok()).map(String::from);
    if req.method() == axum::http::Method::OPTIONS && origin.is_some() {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if let Some(o) = &origin {
            cors::apply(&state, &mut res, o, &path, None, true).await;
        }
        if let Ok(v) = HeaderValue::from_str(&trace_id) {
            res.headers_mut().insert("x-amzn-trace-id", v);
        }
        state.metrics.observe(&method, "preflight", 204, started.elapsed(), None);
        return res;
    }
    let slot = Arc::new(Mutex::new(Slot::default()));
    req.extensions_mut().insert(RequestInfo { trace_id: trace_id.clone(), client_ip: ip, dialect, slot: slot.clone() });

    let is_control = path == "/_orgd" || path.starts_with("/_orgd/");
    let standin = state.standin.as_ref().filter(|_| !is_control);
    let mut injected = None;
    if let Some(s) = standin.filter(|s| !s.faults.is_empty()) {
        let client_ip = orgd_core::net::display_ip(ip);
        let facts = RequestFacts {
            dialect: dialect.name(),
            method: &method,
            route: route.as_deref(),
            path: &path,
            tenant: None,
            client_ip: &client_ip,
        };
        if let Some(f) = s.faults.pick(&facts, false) {
            slot.lock().fault = true;
            if !f.latency.is_zero() {
                tokio::time::sleep(f.latency).await;
            }
            injected = f.error;
        }
    }
    if injected.is_none() && state.database_down() && is_api(&path) {
        let mut e = ApiError::new(ErrorCode::ServiceUnavailable)
            .with_message("The database is out of reach; try again shortly.");
        e.retry_after = Some(1);
        injected = Some(e);
    }
    let mut res = match injected {
        Some(e) => render::Failure(e).into_response(),
        None => next.run(req).await,
    };

    if res.status() == StatusCode::METHOD_NOT_ALLOWED && res.extensions().get::<PendingError>().is_none() {
        let allow = res.headers().get("allow").cloned();
        res = render::Failure(ApiError::new(ErrorCode::MethodNotAllowed).with_message(format!(
            "Method {method} is not allowed here{}",
            allow.as_ref().and_then(|a| a.to_str().ok()).map(|a| format!("; use {a}")).unwrap_or_default()
        )))
        .into_response();
        if let Some(a) = allow {
            res.headers_mut().insert("allow", a);
        }
    }
    let error = res.extensions_mut().remove::<PendingError>().map(|p| p.0);
    if let Some(e) = &error {
        let keep_allow = res.headers().get("allow").cloned();
        res = render::response(e, dialect, &trace_id);
        if let Some(a) = keep_allow {
            res.headers_mut().insert("allow", a);
        }
        if e.code == ErrorCode::InternalError {
            tracing::error!(trace_id = %trace_id, "internal error answered");
        }
    }
    let (admission, tenant, token_id, home_org, fault) = {
        let mut s = slot.lock();
        (s.admission.take(), s.tenant.take(), s.token_id.take(), s.home_org.take(), s.fault)
    };
    if let Some(o) = &origin {
        cors::apply(&state, &mut res, o, &path, home_org.as_ref(), false).await;
    }
    if let Some(a) = &admission {
        if error.as_ref().is_none_or(|e| e.retry_after.is_none()) {
            for (name, value) in a.headers() {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    res.headers_mut().insert(name, v);
                }
            }
        }
    }
    if res.headers().get("content-type").is_some_and(|ct| ct == "application/json") {
        res.headers_mut().insert("content-type", HeaderValue::from_static("application/json; charset=UTF-8"));
    }
    if let Ok(v) = HeaderValue::from_str(&trace_id) {
        res.headers_mut().insert("x-amzn-trace-id", v);
    }
    let status = res.status().as_u16();
    let code = error.as_ref().map(|e| e.code.code());
    let route_label = route.as_deref().unwrap_or("unmatched");
    state.metrics.observe(&method, route_label, status, started.elapsed(), code);
    tracing::info!(
        trace_id = %trace_id,
        method = %method,
        path = %path,
        route = %route_label,
        status,
        error_code = code,
        tenant = tenant.as_deref().unwrap_or("-"),
        token_id = token_id.as_deref().unwrap_or("-"),
        client_ip = %orgd_core::net::display_ip(ip),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    if let Some(s) = standin {
        s.journal.record(Entry {
            at: orgd_core::clock::Clock::now(state.clock.as_ref()),
            method,
            path,
            route,
            dialect: dialect.name(),
            tenant,
            token_id,
            status,
            error_code: code,
            fault,
            trace_id,
            micros: started.elapsed().as_micros() as u64,
        });
    }
    // The slot is held while the answer streams out; an error answer is complete, so it goes at once.
    match admission {
        Some(a) if error.is_none() => res.map(|b| Body::new(Guarded { inner: b, _admission: a })),
        _ => res,
    }
}

/// A response body that holds the usage-plan concurrency slot until it is fully sent or dropped.
struct Guarded {
    inner: Body,
    _admission: Admission,
}

impl http_body::Body for Guarded {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = Some("10.1.1.1".parse().unwrap());
        let stranger = Some("203.0.113.9".parse().unwrap());
        assert_eq!(client_ip(stranger, &headers(&["1.2.3.4"]), &trusted), stranger);
        assert_eq!(client_ip(peer, &headers(&["1.2.3.4, 10.2.2.2"]), &trusted), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(
            client_ip(peer, &headers(&["6.6.6.6, 1.2.3.4", "10.9.9.9"]), &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(client_ip(peer, &headers(&[]), &trusted), peer);
        assert_eq!(client_ip(peer, &headers(&["garbage"]), &trusted), None);
        assert_eq!(client_ip(Some("::ffff:203.0.113.9".parse().unwrap()), &headers(&[]), &trusted), stranger);
    }

    #[test]
    fn trace_ids_have_the_xray_form() {
        let t = new_trace_id();
        assert!(t.starts_with("Root=1-"));
        let parts: Vec<&str> = t.split('-').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].len(), 8);
        assert_eq!(parts[2].len(), 24);
    }
}
