//! Drafts (orgvue-dialect §9): create, list, read, delete, stage actions, clear, diff; export draft and
//! apply draft as jobs.

use super::datasets::{actions_of, results_of};
use super::jobs::submit;
use crate::extract::{parse_json, Acting, Guarded, OnDataset, PathParams, QueryList, RawBody};
use crate::policy::{ManageDataset, Read};
use crate::render::Failure;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgd_core::clock::{to_millis, Clock};
use orgd_core::data::drafts::{self, diff, overlay::Overlay, requests, stage, Draft};
use orgd_core::data::grants::Level;
use orgd_core::data::jobs::JobKind;
use orgd_core::data::ops;
use orgd_core::data::Dataset;
use orgd_core::error::{ApiError, ErrorCode};
use orgd_core::ids::{DatasetId, DraftId};
use serde_json::{json, Value};

fn now(state: &AppState) -> i64 {
    to_millis(state.clock.now())
}

fn location(state: &AppState, acting: &Acting, d: &Draft) -> String {
    format!("{}/api/v1/{}/drafts/{}", state.public_url, acting.target.tenant_id, d.id)
}

/// The draft of a request path, in the acting tenant, and its dataset, on which the caller holds `need`.
async fn draft_of(
    state: &AppState,
    acting: &Acting,
    params: &PathParams,
    need: Level,
) -> Result<(Draft, Dataset), ApiError> {
    let id = params.get("draftId").and_then(DraftId::parse).ok_or_else(|| {
        ApiError::new(ErrorCode::PathParameterMustBeUuidString)
            .with_message("Path parameter {draftId} must be a UUID string.")
            .with_context("pathParameter", "{draftId}")
    })?;
    drafts::open(state.store.as_ref(), &acting.target.org_id, &acting.user, &id, need).await
}

/// `GET /{tenantId}/drafts[?datasetId=]`.
pub async fn list(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    query: QueryList,
) -> Result<Json<Value>, Failure> {
    let dataset = match orgd_core::query::one(&query.0, "datasetId")? {
        None => None,
        Some(raw) => Some(
            DatasetId::parse(raw).ok_or_else(|| ApiError::invalid_query("datasetId", "must be a dataset's UUID"))?,
        ),
    };
    let all = drafts::list(state.store.as_ref(), &acting.target.org_id, &acting.user, dataset.as_ref()).await?;
    Ok(Json(Value::Array(all.iter().map(Draft::to_json).collect())))
}

/// `POST /{tenantId}/drafts` with `{"name", "datasetId"}`.
pub async fn create(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let v = parse_json(&body)?;
    let d = drafts::create(state.store.as_ref(), &acting.target.org_id, &acting.user, &v, now(&state)).await?;
    let loc = location(&state, &acting, &d);
    Ok((StatusCode::CREATED, [(header::LOCATION, loc)], Json(d.to_json())).into_response())
}

/// `GET /{tenantId}/drafts/{draftId}`.
pub async fn get(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    Ok(Json(draft_of(&state, &acting, &params, Level::Read).await?.0.to_json()))
}

/// `DELETE /{tenantId}/drafts/{draftId}`.
pub async fn delete(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<StatusCode, Failure> {
    let (d, _) = draft_of(&state, &acting, &params, Level::Manage).await?;
    state.store.delete_draft(&d.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /{tenantId}/drafts/{draftId}/items`: stage item actions (the options of `PUT …/items`).
pub async fn stage_items(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let (d, ds) = draft_of(&state, &acting, &params, Level::Manage).await?;
    let opts = ops::import_options(&ds, &query.0)?;
    let actions = actions_of(&body)?;
    results_of(stage::stage(state.store.as_ref(), &d, &ds, actions, &opts, now(&state)).await?)
}

/// `DELETE /{tenantId}/drafts/{draftId}/items`: clear the draft (it stays, empty).
pub async fn clear(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let (d, _) = draft_of(&state, &acting, &params, Level::Manage).await?;
    Ok(Json(drafts::clear(state.store.as_ref(), &d, now(&state)).await?.to_json()))
}

/// `GET /{tenantId}/drafts/{draftId}/diff`.
pub async fn get_diff(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let (d, ds) = draft_of(&state, &acting, &params, Level::Read).await?;
    let overlay = Overlay::load(state.store.as_ref(), &ds, &d).await?;
    let changes = diff::diff(state.store.as_ref(), &ds, &overlay).await?;
    Ok(Json(json!({"draftId": d.id, "datasetId": ds.id, "counts": d.to_json()["counts"], "changes": changes})))
}

/// `POST /{tenantId}/drafts/actions`: export the changes of drafts as item actions (a job).
pub async fn export_actions(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let v = parse_json(&body)?;
    let ids = requests::actions_request(&v, state.config.outbound_allow_http)?;
    let mut first = None;
    for id in &ids {
        let (d, _) = drafts::open(state.store.as_ref(), &acting.target.org_id, &acting.user, id, Level::Read).await?;
        first.get_or_insert(d.dataset_id);
    }
    let ds = first.expect("layers name at least one draft");
    submit(&state, &acting, &ds, JobKind::DraftActions, json!({"body": v})).await
}

/// `POST /{tenantId}/datasets/{datasetId}/drafts/apply`: apply a draft of the dataset (a job).
pub async fn apply(
    State(state): State<AppState>,
    on: OnDataset<ManageDataset>,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let (ds, acting) = (&on.ds, &*on);
    let v = parse_json(&body)?;
    let req = requests::apply_request(&v, state.config.outbound_allow_http)?;
    let (d, _) =
        drafts::open(state.store.as_ref(), &acting.target.org_id, &acting.user, &req.draft, Level::Manage).await?;
    if d.dataset_id != ds.id {
        return Err(ApiError::invalid_field(
            "layers[0].draftId",
            "names a draft of another dataset: a draft applies to the dataset it models (export its actions to \
             import them elsewhere)",
        )
        .into());
    }
    submit(&state, acting, &ds.id, JobKind::DraftApply, json!({"body": v})).await
}
