//! `/tenants/tenants`: every tenant the signed-in user may act in, with the base URL of API calls.

use super::{html, Chrome, Signed};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

pub struct TenantRow {
    tenant_id: String,
    org_id: String,
    name: String,
    parent: String,
    base_url: String,
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    base: String,
    tenants: Vec<TenantRow>,
}

/// `GET /tenants/tenants`.
pub async fn page(State(state): State<AppState>, s: Signed) -> Response {
    let tenants = s
        .orgs
        .all()
        .into_iter()
        .filter(|o| s.orgs.may_act_in(&s.user, &o.org_id))
        .map(|o| TenantRow {
            tenant_id: o.tenant_id.to_string(),
            org_id: o.org_id.to_string(),
            name: o.name.clone(),
            parent: o
                .parent_id
                .as_ref()
                .and_then(|p| s.orgs.get(p))
                .map(|p| format!("{} ({})", p.name, p.tenant_id))
                .unwrap_or_else(|| "—".into()),
            base_url: format!("{}/api/v1/{}", state.public_url, o.tenant_id),
        })
        .collect();
    let chrome = Chrome { title: "Tenants".into(), me: Some(s.me()), notice: None };
    html(StatusCode::OK, &TenantsPage { chrome, base: state.public_url.clone(), tenants })
}
