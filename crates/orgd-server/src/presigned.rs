//! Presigned URLs (orgvue-dialect §7.2): making and checking them, job tickets that carry them, and the
//! stored chunks they lead to as byte streams. The routes that serve them are in [`crate::signed`].

use crate::state::AppState;
use axum::body::Bytes;
use orgd_core::clock::Clock;
use orgd_core::data::jobs::{self, ChunkOwner, Job};
use orgd_core::error::{ApiError, ErrorCode};
use orgd_core::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// A presigned URL for `path` (which starts with `/signed/v1/`).
pub fn presign(state: &AppState, method: &str, path: &str, expires_s: i64) -> String {
    let sig = jobs::sign(&state.signing_key, method, path, expires_s);
    format!("{}{path}?expires={expires_s}&signature={sig}", state.public_url)
}

/// The ticket of a job with fresh presigned URLs.
pub fn ticket(state: &AppState, job: &Job) -> Value {
    let self_path = format!("/signed/v1/jobs/{}", job.id);
    let self_url = presign(state, "GET", &self_path, job.created_at / 1000 + jobs::TICKET_URL_SECONDS);
    let result_url = job.finished_at.map(|f| {
        let expires = f / 1000 + state.config.jobs_retention_minutes * 60;
        presign(state, "GET", &format!("{self_path}/result"), expires)
    });
    jobs::ticket(job, &self_url, result_url.as_deref())
}

/// Check `expires` and `signature` of a presigned request (40350 when anything is off).
pub fn check_signature(state: &AppState, method: &str, path: &str, query: &str) -> Result<(), ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let expires = get("expires").and_then(|e| e.parse::<i64>().ok());
    let sig = get("signature");
    let now = state.clock.now().unix_timestamp();
    match (expires, sig) {
        (Some(e), Some(s)) if jobs::verify(&state.signing_key, method, path, e, &s, now) => Ok(()),
        _ => Err(ApiError::new(ErrorCode::PresignedUrlInvalid)),
    }
}

/// The stored chunks of a job result or an uploaded file as a byte stream, read a few at a time.
pub fn chunk_stream(
    store: Arc<dyn Store>,
    owner: ChunkOwner,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    use futures_util::StreamExt;
    // Chunks read from the store at a time, about 2 MiB: an upload's chunks are 1 MiB, a job's results
    // 64 KiB. Each is handed on as it is, so a reader holds a few of them, never the file.
    let per_read: i64 = match owner {
        ChunkOwner::File(_) => 2,
        ChunkOwner::Job(_) => 32,
    };
    let reads =
        futures_util::stream::unfold((store, owner, 0i64, false), move |(store, owner, from, done)| async move {
            if done {
                return None;
            }
            match store.chunks(&owner, from, per_read).await {
                Ok(c) if c.is_empty() => None,
                Ok(c) => {
                    let last = (c.len() as i64) < per_read;
                    let next = c.last().map(|(n, _)| n + 1).unwrap_or(from);
                    let pieces: Vec<Result<Bytes, std::io::Error>> =
                        c.into_iter().map(|(_, d)| Ok(Bytes::from(d))).collect();
                    Some((futures_util::stream::iter(pieces), (store, owner, next, last)))
                }
                Err(e) => Some((
                    futures_util::stream::iter(vec![Err(std::io::Error::other(e.to_string()))]),
                    (store, owner, from, true),
                )),
            }
        });
    reads.flatten().fuse()
}
