//! `/tenants/tenants`: every tenant the signed-in user may act in, with the base URL of API calls.

use super::{html, Chrome, Signed};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use orgd_core::cases::orgs::{tenants, Tenant};

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
    let tenants = tenants(&s.orgs, &s.user)
        .into_iter()
        .map(|Tenant { org: o, parent }| TenantRow {
            tenant_id: o.tenant_id.to_string(),
            org_id: o.org_id.to_string(),
            name: o.name.clone(),
            parent: parent.map(|p| format!("{} ({})", p.name, p.tenant_id)).unwrap_or_else(|| "—".into()),
            base_url: format!("{}/api/v1/{}", state.public_url, o.tenant_id),
        })
        .collect();
    let chrome = Chrome { title: "Tenants".into(), me: Some(s.me()), notice: None };
    html(StatusCode::OK, &TenantsPage { chrome, base: state.public_url.clone(), tenants })
}
