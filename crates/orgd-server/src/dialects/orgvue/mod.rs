//! The Orgvue dataset dialect (`/api/v1/…`).

mod datasets;
mod drafts;
mod export;
mod jobs;
mod streaming;

use crate::extract::Guarded;
use crate::policy::Read;
use crate::render::Failure;
use crate::route_table::Table;
use crate::state::AppState;
use axum::extract::State;
use axum::http::Method;
use axum::routing::{get, patch, post, put};
use axum::Json;
use orgd_core::cases;
use orgd_core::cases::orgs::Tenant;
use serde_json::{json, Value};

/// The routes below `/api/v1`.
pub fn routes() -> Table {
    Table::new()
        .merge(crate::dialects::trail::routes("/{tenantId}/events"))
        .merge(crate::dialects::subscriptions::routes("/{tenantId}/webhooks"))
        .route("/tenants", &[(Method::GET, "List the tenants the caller may act in")], get(tenants))
        .route(
            "/{tenantId}/datasets",
            &[(Method::GET, "List datasets"), (Method::POST, "Create a dataset")],
            get(datasets::list).post(datasets::create),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}",
            &[(Method::GET, "Read a dataset's metadata"), (Method::DELETE, "Delete a dataset")],
            get(datasets::metadata).delete(datasets::delete),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/properties",
            &[(Method::POST, "Add a property to a dataset (orgd extension)")],
            post(datasets::add_property),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/properties/{key}",
            &[
                (Method::PATCH, "Change a property's name, required flag or type (orgd extension)"),
                (Method::DELETE, "Remove a property and its values (orgd extension)"),
            ],
            patch(datasets::change_property).delete(datasets::remove_property),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/views",
            &[(Method::POST, "Make a permissioned view of a dataset (orgd extension)")],
            post(datasets::create_view),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/permissions",
            &[
                (Method::GET, "Read who may do what with a dataset (orgd extension)"),
                (Method::PUT, "Replace who may do what with a dataset (orgd extension)"),
            ],
            get(datasets::permissions).put(datasets::set_permissions),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/items",
            &[
                (Method::GET, "List items"),
                (Method::POST, "List items (filter in the body)"),
                (Method::PUT, "Import item actions"),
            ],
            get(datasets::items).post(datasets::items).put(datasets::import),
        )
        .route("/{tenantId}/datasets/{datasetId}/items/{itemId}", &[(Method::GET, "Read an item")], get(datasets::item))
        .route(
            "/{tenantId}/datasets/{datasetId}/items/{itemId}/history",
            &[(Method::GET, "Read an item's versions, newest first (orgd extension; item history on)")],
            get(datasets::item_history),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/items/import",
            &[(Method::PUT, "Import item actions from a location (async job)")],
            put(jobs::async_import),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/export",
            &[(Method::POST, "Export a dataset (async job)")],
            post(jobs::async_export),
        )
        .route(
            "/{tenantId}/drafts",
            &[(Method::GET, "List drafts"), (Method::POST, "Create a draft of a dataset")],
            get(drafts::list).post(drafts::create),
        )
        .route(
            "/{tenantId}/drafts/actions",
            &[(Method::POST, "Export drafts' changes as item actions (async job)")],
            post(drafts::export_actions),
        )
        .route(
            "/{tenantId}/drafts/{draftId}",
            &[(Method::GET, "Read a draft"), (Method::DELETE, "Delete a draft")],
            get(drafts::get).delete(drafts::delete),
        )
        .route(
            "/{tenantId}/drafts/{draftId}/items",
            &[(Method::PUT, "Stage item actions in a draft"), (Method::DELETE, "Clear a draft's changes")],
            put(drafts::stage_items).delete(drafts::clear),
        )
        .route(
            "/{tenantId}/drafts/{draftId}/diff",
            &[(Method::GET, "A draft's changes, item by item")],
            get(drafts::get_diff),
        )
        .route(
            "/{tenantId}/datasets/{datasetId}/drafts/apply",
            &[(Method::POST, "Apply a draft to its dataset (async job)")],
            post(drafts::apply),
        )
        .route(
            "/{tenantId}/files/generate",
            &[(Method::POST, "Make a temporary file with presigned upload and download URLs")],
            post(jobs::generate_file),
        )
        .route("/{tenantId}/jobs/{jobId}", &[(Method::GET, "Read a job's ticket")], get(jobs::job))
        .route(
            "/{tenantId}/datasets/{datasetId}/export/{format}",
            &[
                (Method::GET, "Export a dataset (streamed)"),
                (Method::POST, "Export a dataset (streamed, query in the body)"),
            ],
            get(export::sync_export).post(export::sync_export),
        )
}

/// `GET /api/v1/tenants`: every org the caller may act in, pre-order, siblings by name.
async fn tenants(State(state): State<AppState>, acting: Guarded<Read>) -> Result<Json<Value>, Failure> {
    let orgs = state.gate.cache.orgs().await?;
    let list: Vec<Value> = cases::orgs::tenants(&orgs, &acting.user)
        .iter()
        .map(|Tenant { org: o, parent }| {
            let parent = parent.as_ref().map(|p| p.tenant_id.as_str());
            json!({"tenantId": o.tenant_id.as_str(), "name": o.name, "orgId": o.org_id.as_str(), "parentTenantId": parent})
        })
        .collect();
    Ok(Json(Value::Array(list)))
}
