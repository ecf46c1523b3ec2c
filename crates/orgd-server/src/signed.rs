//! The routes presigned URLs reach (`/signed/v1/…`, orgvue-dialect §7.2): job tickets, job results and
//! temporary files, with a signature instead of a credential ([`crate::presigned`] makes and checks them).

use crate::extract::PathParams;
use crate::presigned;
use crate::render::Failure;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use futures_util::StreamExt;
use orgd_core::clock::{to_millis, Clock};
use orgd_core::data::jobs::{self, ChunkOwner, JobStatus};
use orgd_core::error::{ApiError, ErrorCode};
use orgd_core::ids::JobId;
use orgd_core::store::Store;
use std::sync::Arc;

/// Bytes per stored chunk of an upload.
const UPLOAD_CHUNK: usize = 1024 * 1024;

/// `/signed/v1/…`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/signed/v1/jobs/{jobId}", any(ticket))
        .route("/signed/v1/jobs/{jobId}/result", any(result))
        .route("/signed/v1/files/{fileId}", any(file))
}

fn check(state: &AppState, req: &Request) -> Result<(), ApiError> {
    presigned::check_signature(state, req.method().as_str(), req.uri().path(), req.uri().query().unwrap_or(""))
}

async fn ticket(
    State(state): State<AppState>,
    params: PathParams,
    req: Request,
) -> Result<Json<serde_json::Value>, Failure> {
    check(&state, &req)?;
    let id = JobId::parse(params.of("jobId")).ok_or_else(|| ApiError::new(ErrorCode::JobNotFound))?;
    let job = state.store.get_job(&id).await?.ok_or_else(|| ApiError::new(ErrorCode::JobNotFound))?;
    Ok(Json(presigned::ticket(&state, &job)))
}

fn stream_chunks(store: Arc<dyn Store>, owner: ChunkOwner) -> Body {
    Body::from_stream(presigned::chunk_stream(store, owner))
}

async fn result(State(state): State<AppState>, params: PathParams, req: Request) -> Result<Response, Failure> {
    check(&state, &req)?;
    let id = JobId::parse(params.of("jobId")).ok_or_else(|| ApiError::new(ErrorCode::JobNotFound))?;
    let job = state.store.get_job(&id).await?.ok_or_else(|| ApiError::new(ErrorCode::JobNotFound))?;
    if job.status != JobStatus::Completed || !job.result_kept {
        return Err(ApiError::new(ErrorCode::JobNotFound).with_message("This job has no result kept by orgd.").into());
    }
    let ct = job.result_type.clone().unwrap_or_else(|| "application/octet-stream".into());
    Ok(([(header::CONTENT_TYPE, ct)], stream_chunks(state.store.clone(), ChunkOwner::Job(id.to_string())))
        .into_response())
}

async fn file(State(state): State<AppState>, params: PathParams, req: Request) -> Result<Response, Failure> {
    check(&state, &req)?;
    let id = params.of("fileId").to_string();
    let now = to_millis(state.clock.now());
    let f = state.store.get_file(&id).await?.filter(|f| f.expires_at > now);
    let f = f.ok_or_else(|| ApiError::new(ErrorCode::FileNotFound))?;
    if req.method() == Method::GET {
        if !f.uploaded {
            return Err(ApiError::new(ErrorCode::FileNotFound)
                .with_message("Nothing has been uploaded to this file yet.")
                .into());
        }
        let ct = [(header::CONTENT_TYPE, f.media_type())];
        return Ok((ct, stream_chunks(state.store.clone(), ChunkOwner::File(id))).into_response());
    }
    // Claimed, received and ended on a task of its own: a client that goes away drops this request's
    // future, possibly while the claim is being written, and the upload must still end (kept or released)
    // instead of staying claimed with nothing in it.
    let body = req.into_body();
    let ended = tokio::spawn(async move {
        if !state.store.claim_upload(&id).await? {
            return Err(ApiError::new(ErrorCode::Conflict)
                .with_message("This file is being or was already uploaded; generate a new one."));
        }
        let received = receive(&state, ChunkOwner::File(id.clone()), body).await;
        state.store.end_upload(&id, received.is_ok()).await?;
        received
    });
    ended
        .await
        .map_err(|e| ApiError::from(orgd_core::error::StoreError::Other(format!("the upload stopped: {e}"))))??;
    Ok(axum::http::StatusCode::OK.into_response())
}

/// Store an upload's body as chunks; an error leaves chunks for the caller to drop.
async fn receive(state: &AppState, owner: ChunkOwner, body: axum::body::Body) -> Result<(), ApiError> {
    let mut body = body.into_data_stream();
    let (mut buf, mut n, mut total) = (Vec::with_capacity(UPLOAD_CHUNK), 0i64, 0usize);
    while let Some(frame) = body.next().await {
        let frame = frame.map_err(|e| match e.into_inner().downcast::<crate::intake::BodyTimedOut>() {
            Ok(_) => crate::intake::too_slow(state.config.body_timeout),
            Err(_) => ApiError::invalid_field("body", "the upload broke off"),
        })?;
        total += frame.len();
        if total > jobs::FILE_LIMIT {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge)
                .with_message(format!("The upload exceeds {} bytes; upload a smaller file.", jobs::FILE_LIMIT)));
        }
        buf.extend_from_slice(&frame);
        if buf.len() >= UPLOAD_CHUNK {
            state.store.put_chunk(&owner, n, &buf).await?;
            n += 1;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        state.store.put_chunk(&owner, n, &buf).await?;
    }
    Ok(())
}
