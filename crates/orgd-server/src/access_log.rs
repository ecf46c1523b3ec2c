//! The access log: every request's log line, its metrics and, on a stand-in, its journal entry.

use crate::context::RequestInfo;
use crate::error_envelope::Rendered;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use orgd_core::journal::Entry;
use std::time::Instant;

/// Whether `path` is the stand-in's control API (not journaled: the journal is what the tests drove).
fn is_control(path: &str) -> bool {
    path == "/_orgd" || path.starts_with("/_orgd/")
}

/// The layer: time the request, then log, count and journal its answer.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let info = RequestInfo::of(&req);
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let code = res.extensions().get::<Rendered>().map(|r| r.code.code());
    let route_label = route.as_deref().unwrap_or("unmatched");
    let micros = started.elapsed().as_micros() as u64;
    let ((tenant, token_id), fault) = {
        let slot = info.slot.lock();
        (slot.who(), slot.was_faulted())
    };
    state.metrics.observe(&method, route_label, status, started.elapsed(), code);
    tracing::info!(
        trace_id = %info.trace_id,
        method = %method,
        path = %path,
        route = %route_label,
        status,
        error_code = code,
        tenant = tenant.as_deref().unwrap_or("-"),
        token_id = token_id.as_deref().unwrap_or("-"),
        client_ip = %orgd_core::net::display_ip(info.client_ip),
        micros,
        "request"
    );
    if let Some(s) = state.standin.as_ref().filter(|_| !is_control(&path)) {
        s.journal.record(Entry {
            at: orgd_core::clock::Clock::now(state.clock.as_ref()),
            method,
            path,
            route,
            dialect: info.dialect.name(),
            tenant,
            token_id,
            status,
            error_code: code,
            fault,
            trace_id: info.trace_id,
            micros,
        });
    }
    res
}
