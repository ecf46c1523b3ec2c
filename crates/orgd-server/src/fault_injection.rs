//! The stand-in's fault rules on the way in: a matching rule delays the request or answers it with its
//! error (the control API itself is exempt). Rules that name a tenant are applied by the access pipeline,
//! once the tenant is known.

use crate::context::RequestInfo;
use crate::error_envelope::answer;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use orgd_core::faults::RequestFacts;

/// The layer.
pub async fn inject(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let Some(standin) = state.standin.as_ref().filter(|s| !s.faults.is_empty()) else { return next.run(req).await };
    if path == "/_orgd" || path.starts_with("/_orgd/") {
        return next.run(req).await;
    }
    let info = RequestInfo::of(&req);
    let client_ip = orgd_core::net::display_ip(info.client_ip);
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str());
    let facts = RequestFacts {
        dialect: info.dialect.name(),
        method: req.method().as_str(),
        route,
        path,
        tenant: None,
        client_ip: &client_ip,
    };
    let Some(fault) = standin.faults.pick(&facts, false) else { return next.run(req).await };
    info.slot.lock().faulted();
    if !fault.latency.is_zero() {
        tokio::time::sleep(fault.latency).await;
    }
    match fault.error {
        Some(e) => answer(e),
        None => next.run(req).await,
    }
}
