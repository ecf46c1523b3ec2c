//! Async submissions: `POST …/export?exportFormat=`, `PUT …/items/import`, `POST /files/generate`, and
//! `GET /jobs/{jobId}`.

use crate::extract::{parse_json, Acting, Guarded, OnDataset, PathParams, QueryList, RawBody};
use crate::policy::{Read, ReadDataset, UpdateDataset};
use crate::presigned::{presign, ticket};
use crate::render::{Failure, Secret};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgd_core::clock::{iso_millis, to_millis, Clock};
use orgd_core::data::async_ops;
use orgd_core::data::jobs::{FileRecord, Job, JobKind};
use orgd_core::data::new_id;
use orgd_core::error::{ApiError, ErrorCode};
use orgd_core::ids::{DatasetId, JobId};
use serde_json::{json, Value};

/// Temporary files live this long.
const FILE_MINUTES: i64 = 15;

/// Queue a job of the acting user and answer its ticket.
pub async fn submit(
    state: &AppState,
    acting: &Acting,
    ds_id: &DatasetId,
    kind: JobKind,
    request: Value,
) -> Result<Response, Failure> {
    let now = to_millis(state.clock.now());
    let (org, user, trace) = (&acting.target.org_id, &acting.user, &acting.info.trace_id);
    let job = Job::submitted(org, user, trace, ds_id, kind, request, now);
    state.store.insert_job(&job).await?;
    state.jobs_queued.notify_one();
    Ok((StatusCode::ACCEPTED, Json(ticket(state, &job))).into_response())
}

/// `POST /{tenantId}/datasets/{datasetId}/export?exportFormat=F`.
pub async fn async_export(
    State(state): State<AppState>,
    on: OnDataset<ReadDataset>,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let (ds, acting) = (&on.ds, &*on);
    let body = if body.is_empty() { None } else { Some(parse_json(&body)?) };
    let all = state.store.list_datasets(&acting.target.org_id).await?;
    let req = async_ops::export_request(ds, &query.0, body.as_ref(), state.config.outbound_allow_http, &all)?;
    let now = orgd_core::clock::to_millis(state.clock.now());
    orgd_core::data::drafts::requests::export_overlay(state.store.as_ref(), &acting.target.org_id, ds, &query.0, now)
        .await?;
    submit(&state, acting, &ds.id, JobKind::Export, req).await
}

/// `PUT /{tenantId}/datasets/{datasetId}/items/import`.
pub async fn async_import(
    State(state): State<AppState>,
    on: OnDataset<UpdateDataset>,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    // The parameters are checked now; the job fits them to its creator again when it runs.
    orgd_core::data::grants::import_options(&on.whole, &on.ds, on.level, &query.0)?;
    let v = parse_json(&body)?;
    let own = format!("{}/signed/v1/files/", state.public_url);
    let req = async_ops::import_request(&query.0, &v, state.config.outbound_allow_http, &own)?;
    submit(&state, &on, &on.ds.id, JobKind::Import, req).await
}

/// `GET /{tenantId}/jobs/{jobId}`: the ticket with fresh URLs, for its creator or an administrator.
pub async fn job(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let not_found = || ApiError::new(ErrorCode::JobNotFound);
    let id = params.get("jobId").and_then(JobId::parse).ok_or_else(|| {
        ApiError::new(ErrorCode::PathParameterMustBeUuidString)
            .with_message("Path parameter {jobId} must be a UUID string.")
            .with_context("pathParameter", "{jobId}")
    })?;
    let job = state.store.get_job(&id).await?;
    let job = job.filter(|j| j.visible_to(&acting.target.org_id, &acting.user)).ok_or_else(not_found)?;
    Ok(Json(ticket(&state, &job)))
}

/// `POST /{tenantId}/files/generate`.
pub async fn generate_file(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    RawBody(body): RawBody,
) -> Result<Secret<Json<Value>>, Failure> {
    orgd_core::data::grants::may_upload(state.store.as_ref(), &acting.target.org_id, &acting.user).await?;
    let (target_type, target_encoding) = orgd_core::data::async_ops::file_request(&parse_json(&body)?)?;
    let now = state.clock.now();
    let expires = now + time::Duration::minutes(FILE_MINUTES);
    let f = FileRecord {
        id: new_id(),
        org_id: acting.target.org_id.clone(),
        target_type: target_type.clone(),
        target_encoding: target_encoding.clone(),
        uploaded: false,
        created_at: to_millis(now),
        expires_at: to_millis(expires),
    };
    state.store.insert_file(&f).await?;
    let path = format!("/signed/v1/files/{}", f.id);
    let exp = expires.unix_timestamp();
    Ok(Secret(Json(json!({
        "fileId": f.id, "targetType": target_type, "targetEncoding": target_encoding, "expiresAt": iso_millis(expires),
        "_links": {"put": {"url": presign(&state, "PUT", &path, exp), "method": "PUT"},
                   "get": {"url": presign(&state, "GET", &path, exp), "method": "GET"}}
    }))))
}
