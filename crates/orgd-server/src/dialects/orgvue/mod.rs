//! The Orgvue dataset dialect (`/api/v1/…`).

mod datasets;
mod export;
mod jobs;

use crate::extract::Acting;
use crate::render::Failure;
use crate::state::AppState;
use axum::extract::State;
use axum::handler::Handler;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use orgd_core::access::Operation;
use serde_json::{json, Value};

/// The routes below `/api/v1`.
pub fn routes() -> Router<AppState> {
    let write = || Extension(Operation::WriteData);
    Router::new()
        .route("/tenants", get(tenants))
        .route("/{tenantId}/datasets", get(datasets::list).post(datasets::create.layer(write())))
        .route("/{tenantId}/datasets/{datasetId}", get(datasets::metadata).delete(datasets::delete.layer(write())))
        .route(
            "/{tenantId}/datasets/{datasetId}/items",
            get(datasets::items).post(datasets::items).put(datasets::import.layer(write())),
        )
        .route("/{tenantId}/datasets/{datasetId}/items/{itemId}", get(datasets::item))
        .route("/{tenantId}/datasets/{datasetId}/items/import", put(jobs::async_import.layer(write())))
        .route("/{tenantId}/datasets/{datasetId}/export", post(jobs::async_export))
        .route("/{tenantId}/files/generate", post(jobs::generate_file.layer(write())))
        .route("/{tenantId}/jobs/{jobId}", get(jobs::job))
        .route("/{tenantId}/datasets/{datasetId}/export/{format}", get(export::sync_export).post(export::sync_export))
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
