//! The Orgvue dataset dialect (`/api/v1/…`).

use crate::extract::Acting;
use crate::render::Failure;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The routes below `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/tenants", get(tenants)).route("/{tenantId}/datasets", get(list_datasets))
}

/// `GET /api/v1/tenants`: every org the caller may act in, pre-order, siblings by name.
async fn tenants(State(state): State<AppState>, acting: Acting) -> Result<Json<Value>, Failure> {
    let orgs = state.gate.cache.orgs().await?;
    let list: Vec<Value> = orgs
        .actable(&acting.user)
        .iter()
        .map(|o| {
            let parent = o.parent_id.as_ref().and_then(|p| orgs.get(p)).map(|p| p.tenant_id.to_string());
            json!({"tenantId": o.tenant_id.as_str(), "name": o.name, "orgId": o.org_id.as_str(), "parentTenantId": parent})
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `GET /api/v1/{tenantId}/datasets`: the tenant's datasets (none until the datasets capability lands).
async fn list_datasets(_acting: Acting) -> Result<Json<Value>, Failure> {
    Ok(Json(json!([])))
}
