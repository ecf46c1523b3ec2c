//! CORS (model §8.4): the layer that answers preflights and adds the headers to answers whose origin the
//! deciding org's `cors_domain_whitelist` lists.

use crate::context::RequestInfo;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orgd_core::ids::{OrgId, TenantId};
use orgd_core::model::Org;
use std::sync::Arc;
use std::time::Instant;

/// The org a path names, if any: `/api/v1/{tenantId}/…`, `/v1|v2/org/{org_id}/…`, `/v3/organizations/{id}`.
fn path_org(path: &str, orgs: &orgd_core::tree::OrgIndex) -> Option<Option<Arc<Org>>> {
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match seg.as_slice() {
        ["api", "v1", "tenants", ..] => None,
        ["api", "v1", t, ..] => Some(TenantId::parse(t).and_then(|t| orgs.by_tenant(&t).cloned())),
        ["v1" | "v2", "org", id, ..] | ["v3", "organizations", id, ..] => {
            Some(OrgId::parse(id).and_then(|i| orgs.get(&i).cloned()))
        }
        _ => None,
    }
}

/// Add CORS headers to `res` when `origin` is listed by the deciding org: the org the path names, else
/// the caller's home org once known, else (before any token is checked) any org.
pub async fn apply(
    state: &AppState,
    res: &mut Response,
    origin: &str,
    path: &str,
    home: Option<&OrgId>,
    preflight: bool,
) {
    let Ok(orgs) = state.gate.cache.orgs().await else { return };
    let allowed = match path_org(path, &orgs) {
        Some(named) => named.is_some_and(|o| orgd_core::cors::org_allows(&o, origin)),
        None => match home.and_then(|h| orgs.get(h)) {
            Some(o) => orgd_core::cors::org_allows(o, origin),
            None => orgs.all().iter().any(|o| orgd_core::cors::org_allows(o, origin)),
        },
    };
    if !allowed {
        return;
    }
    for (name, value) in orgd_core::cors::headers(origin, preflight) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(name, v);
        }
    }
}

/// The layer: a preflight (`OPTIONS` with an `Origin`) is answered 204 here; any other request with an
/// `Origin` gets the headers on its answer, decided once the caller's home org is known.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get("origin").and_then(|o| o.to_str().ok()).map(String::from) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    if req.method() == Method::OPTIONS {
        let started = Instant::now();
        let mut res = StatusCode::NO_CONTENT.into_response();
        apply(&state, &mut res, &origin, &path, None, true).await;
        state.metrics.observe("OPTIONS", "preflight", 204, started.elapsed(), None);
        return res;
    }
    let slot = RequestInfo::of(&req).slot;
    let mut res = next.run(req).await;
    let home = slot.lock().caller_home();
    apply(&state, &mut res, &origin, &path, home.as_ref(), false).await;
    res
}
