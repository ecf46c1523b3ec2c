//! Datasets and items: list, create, metadata, delete, raw items, sync import.

use super::streaming::streamed;
use crate::extract::RawBody;
use crate::extract::{parse_json, Guarded, OnDataset, PathParams, QueryList};
use crate::policy::{GovernDataset, ManageDataset, Read, ReadDataset, UpdateDataset, WriteData};
use crate::render::Failure;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgd_core::clock::{to_millis, Clock};
use orgd_core::data::filter::Filter;
use orgd_core::data::grants;
use orgd_core::data::ops::{self, filter_type};
use orgd_core::data::{parse_id, Dataset};
use orgd_core::error::{ApiError, ErrorCode};
use orgd_core::model::Role;
use serde_json::{json, Value};

/// `_links` of a dataset, absolute from the public URL.
pub fn links(state: &AppState, tenant: &str, ds: &Dataset) -> Value {
    let base = format!("{}/api/v1/{tenant}/datasets/{}", state.public_url, ds.id);
    let ty = "application/json; charset=UTF-8";
    json!({
        "dataset:retrieve": {"url": base, "method": "GET", "type": ty},
        "dataset:export": {"url": format!("{base}/export"), "method": "POST", "type": ty},
    })
}

fn metadata_json(state: &AppState, tenant: &str, ds: &Dataset) -> Value {
    let mut m = ds.metadata();
    m["_links"] = links(state, tenant, ds);
    m
}

/// `GET /{tenantId}/datasets`: the datasets the caller reads. The whole list is rendered once per data
/// epoch and served as it is to administrators, and to everyone while every role reads every dataset.
pub async fn list(State(state): State<AppState>, acting: Guarded<Read>) -> Result<Response, Failure> {
    let key = state.rendered_lists.key(state.store.as_ref());
    let json_type = [(header::CONTENT_TYPE, "application/json; charset=UTF-8")];
    let whole = acting.user.role == Role::Administrator;
    match state.rendered_lists.get(&acting.target.org_id, key) {
        Some((body, open)) if open || whole => return Ok((json_type, body).into_response()),
        _ => {}
    }
    let mut all = state.store.list_datasets(&acting.target.org_id).await?;
    all.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let tenant = acting.target.tenant_id.as_str();
    let render = |list: &[Dataset]| {
        let list: Vec<Value> = list
            .iter()
            .map(|d| {
                json!({"isPermissionedView": d.view.is_some(), "datasetId": d.id, "name": d.name, "type": d.ty.as_str(),
                       "_links": links(&state, tenant, d)})
            })
            .collect();
        bytes::Bytes::from(serde_json::to_vec(&list).unwrap_or_default())
    };
    let open = all.iter().all(|d| d.grants.all_read());
    let body = render(&all);
    state.rendered_lists.put(&acting.target.org_id, key, body.clone(), open);
    if open || whole {
        return Ok((json_type, body).into_response());
    }
    all.retain(|d| grants::visible(d, &acting.user));
    Ok((json_type, render(&all)).into_response())
}

/// `POST /{tenantId}/datasets`.
pub async fn create(
    State(state): State<AppState>,
    acting: Guarded<WriteData>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let v = parse_json(&body)?;
    let now = to_millis(state.clock.now());
    let ds = ops::create(state.store.as_ref(), &acting.target.org_id, &v, now).await?;
    Ok(created(&state, acting.target.tenant_id.as_str(), &ds))
}

/// 201 with a new dataset's (or view's) metadata and its `Location`.
fn created(state: &AppState, tenant: &str, ds: &Dataset) -> Response {
    let location = format!("{}/api/v1/{tenant}/datasets/{}", state.public_url, ds.id);
    (StatusCode::CREATED, [(header::LOCATION, location)], Json(metadata_json(state, tenant, ds))).into_response()
}

/// `GET /{tenantId}/datasets/{datasetId}`.
pub async fn metadata(State(state): State<AppState>, on: OnDataset<ReadDataset>) -> Result<Json<Value>, Failure> {
    let ds = ops::as_seen(state.store.as_ref(), &on.ds).await?;
    Ok(Json(metadata_json(&state, on.target.tenant_id.as_str(), &ds)))
}

/// `DELETE /{tenantId}/datasets/{datasetId}`.
pub async fn delete(State(state): State<AppState>, on: OnDataset<GovernDataset>) -> Result<StatusCode, Failure> {
    ops::delete(state.store.as_ref(), &on.target.org_id, &on.whole).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /{tenantId}/datasets/{datasetId}/properties` (orgd extension): add a property; answers the
/// new metadata.
pub async fn add_property(
    State(state): State<AppState>,
    on: OnDataset<ManageDataset>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let v = parse_json(&body)?;
    let now = to_millis(state.clock.now());
    let ds = orgd_core::data::evolve::add(state.store.as_ref(), &on.whole, &v, now).await?;
    Ok((StatusCode::CREATED, Json(metadata_json(&state, on.target.tenant_id.as_str(), &ds))).into_response())
}

/// `PATCH /{tenantId}/datasets/{datasetId}/properties/{key}` (orgd extension): change a property.
pub async fn change_property(
    State(state): State<AppState>,
    on: OnDataset<ManageDataset>,
    params: PathParams,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Json<Value>, Failure> {
    use orgd_core::data::evolve::{change, ChangeOptions, Changed};
    let opts = ChangeOptions {
        dry_run: orgd_core::query::flag(&query.0, "dryRun")?,
        force: orgd_core::query::flag(&query.0, "force")?,
    };
    let v = parse_json(&body)?;
    let now = to_millis(state.clock.now());
    match change(state.store.as_ref(), &on.whole, params.of("key"), &v, opts, now).await? {
        Changed::Saved(ds) => Ok(Json(metadata_json(&state, on.target.tenant_id.as_str(), &ds))),
        Changed::Report(mut report) => {
            if let Some(m) = report.get_mut("metadata") {
                m["_links"] = links(&state, on.target.tenant_id.as_str(), &on.whole);
            }
            Ok(Json(report))
        }
    }
}

/// `DELETE /{tenantId}/datasets/{datasetId}/properties/{key}` (orgd extension): remove a property.
pub async fn remove_property(
    State(state): State<AppState>,
    on: OnDataset<ManageDataset>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let now = to_millis(state.clock.now());
    let ds = orgd_core::data::evolve::remove(state.store.as_ref(), &on.whole, params.of("key"), now).await?;
    Ok(Json(metadata_json(&state, on.target.tenant_id.as_str(), &ds)))
}

/// `POST /{tenantId}/datasets/{datasetId}/views` (orgd extension): make a permissioned view of the
/// dataset; answers its metadata.
pub async fn create_view(
    State(state): State<AppState>,
    on: OnDataset<ManageDataset>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let v = parse_json(&body)?;
    let now = to_millis(state.clock.now());
    let view = orgd_core::data::views::create(state.store.as_ref(), &on.ds, &on.user, &v, now).await?;
    Ok(created(&state, on.target.tenant_id.as_str(), &view))
}

/// `GET /{tenantId}/datasets/{datasetId}/permissions` (orgd extension): the dataset's grants.
pub async fn permissions(State(state): State<AppState>, on: OnDataset<GovernDataset>) -> Result<Response, Failure> {
    Ok(Json(grants::show(state.store.as_ref(), &on.whole).await?).into_response())
}

/// `PUT /{tenantId}/datasets/{datasetId}/permissions` (orgd extension): replace the dataset's grants.
pub async fn set_permissions(
    State(state): State<AppState>,
    on: OnDataset<GovernDataset>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let v = parse_json(&body)?;
    let now = to_millis(state.clock.now());
    Ok(Json(grants::replace(state.store.as_ref(), &on.whole, &v, now).await?).into_response())
}

/// `GET|POST /{tenantId}/datasets/{datasetId}/items`: saved raw values, optionally filtered, streamed.
pub async fn items(
    State(state): State<AppState>,
    on: OnDataset<ReadDataset>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let ds = on.ds;
    let filter = if body.is_empty() {
        Filter::default()
    } else {
        let v = parse_json(&body)?;
        let Some(obj) = v.as_object() else {
            return Err(ApiError::invalid_field("body", "must be {\"filter\": {…}}").into());
        };
        if let Some(k) = obj.keys().find(|k| *k != "filter") {
            return Err(ApiError::invalid_field(k.clone(), "unknown field; the body is {\"filter\": {…}}").into());
        }
        match obj.get("filter") {
            None | Some(Value::Null) => Filter::default(),
            Some(f) => Filter::parse(f, &|k| filter_type(&ds, k, true), "filter").map_err(ApiError::invalid_fields)?,
        }
    };
    let store = state.store.clone();
    Ok(streamed(JSON, move |mut sink| async move {
        orgd_core::data::stream::raw_items(store.as_ref(), &ds, &filter, &mut sink).await
    }))
}

/// `GET /{tenantId}/datasets/{datasetId}/items/{itemId}`.
pub async fn item(
    State(state): State<AppState>,
    on: OnDataset<ReadDataset>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let ds = &on.ds;
    let item_id = params.get("itemId").and_then(parse_id).ok_or_else(|| {
        ApiError::new(ErrorCode::PathParameterMustBeUuidString)
            .with_message("Path parameter {itemId} must be a UUID string.")
            .with_context("pathParameter", "{itemId}")
    })?;
    let it = ops::item(state.store.as_ref(), ds, &item_id).await?;
    Ok(Json(it.raw_json()))
}

/// `GET /{tenantId}/datasets/{datasetId}/items/{itemId}/history`: the item's versions (orgd extension).
pub async fn item_history(
    State(state): State<AppState>,
    on: OnDataset<ReadDataset>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let item_id = params.get("itemId").and_then(parse_id).ok_or_else(|| {
        ApiError::new(ErrorCode::PathParameterMustBeUuidString)
            .with_message("Path parameter {itemId} must be a UUID string.")
            .with_context("pathParameter", "{itemId}")
    })?;
    Ok(Json(orgd_core::data::history::of_item(state.store.as_ref(), &on.ds, &item_id).await?))
}

/// `PUT /{tenantId}/datasets/{datasetId}/items`: the sync import.
pub async fn import(
    State(state): State<AppState>,
    on: OnDataset<UpdateDataset>,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let opts = grants::import_options(&on.whole, &on.ds, on.level, &query.0)?;
    let actions = actions_of(&body)?;
    let now = to_millis(state.clock.now());
    results_of(ops::import(state.store.as_ref(), &on.ds, actions, &opts, now).await?)
}

/// The item actions of a sync import's body: a JSON array.
pub fn actions_of(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    match parse_json(body)? {
        Value::Array(actions) => Ok(actions),
        _ => Err(ApiError::invalid_field("body", "must be a JSON array of item actions")),
    }
}

/// The answer of a sync import: its per-action results.
pub fn results_of(outcome: orgd_core::data::import::Outcome) -> Result<Response, Failure> {
    let results =
        outcome.results.into_bytes().map_err(|e| ApiError::from(orgd_core::error::StoreError::Other(e.to_string())))?;
    Ok(([(header::CONTENT_TYPE, JSON)], results).into_response())
}

/// The JSON content type of answers.
const JSON: &str = "application/json; charset=UTF-8";
