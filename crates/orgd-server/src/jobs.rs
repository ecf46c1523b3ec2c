//! The job runner: workers take queued jobs from the store (each job once, across nodes), run async
//! exports and imports, keep results in chunks or send them to the client's location, call callbacks,
//! and clean up after the retention time.

use crate::state::AppState;
use futures_util::StreamExt;
use orgd_core::clock::{to_millis, Clock};
use orgd_core::data::async_ops::{self, Location};
use orgd_core::data::drafts::{self, overlay::Overlay, requests};
use orgd_core::data::grants::{self, Level};
use orgd_core::data::import::{self, Run};
use orgd_core::data::jobs::{self, ChunkOwner, Job, JobKind, JobStatus};
use orgd_core::data::ops;
use orgd_core::data::source::{ChannelReader, Format, Parsed};
use orgd_core::data::stream::{self, Sink};
use orgd_core::error::{ApiError, ErrorCode};
use orgd_core::ids::OrgId;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::watch;

/// Times a job is taken before a node's death fails it instead of queueing it again.
const MAX_ATTEMPTS: i64 = 3;

/// A running job's heartbeat: a sixth of the time after which a silent job counts as its node's death.
pub fn heartbeat(state: &AppState) -> Duration {
    state.config.job_stale_after / 6
}

fn now_ms(state: &AppState) -> i64 {
    to_millis(state.clock.now())
}

/// Queue again the jobs whose node stopped sending heartbeats, or fail those taken [`MAX_ATTEMPTS`] times
/// (at start-up and every heartbeat). An import applied before its node died is not applied again
/// (`import::run` keeps a job's results with its changes); an export is made again from the start.
pub async fn requeue_stale(state: &AppState) {
    let now = now_ms(state);
    let errors = json!([{"name": "InternalError", "code": "500001",
        "message": format!("The servers running this job stopped {MAX_ATTEMPTS} times.")}])
    .to_string();
    let before = now - state.config.job_stale_after.as_millis() as i64;
    match state.store.requeue_stale_jobs(before, now, MAX_ATTEMPTS, &errors).await {
        Ok((requeued, failed)) => {
            if requeued > 0 {
                tracing::warn!(jobs = requeued, "queued again jobs whose server stopped");
                state.jobs_queued.notify_waiters();
            }
            if failed > 0 {
                tracing::warn!(jobs = failed, "failed jobs whose servers stopped {MAX_ATTEMPTS} times");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot check for jobs whose server stopped"),
    }
}

/// Delete job data and temporary files past their retention.
pub async fn purge(state: &AppState) {
    let now = now_ms(state);
    let keep = state.config.jobs_retention_minutes * 60_000;
    if let Err(e) = state.store.purge_jobs(now - keep).await {
        tracing::warn!(error = %e, "cannot purge finished jobs");
    }
    if let Err(e) = state.store.purge_files(now).await {
        tracing::warn!(error = %e, "cannot purge expired files");
    }
}

/// One worker: take a job, run it, repeat; wait for a notification or poll every 500 ms when idle.
pub async fn worker(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        match state.store.claim_job(now_ms(&state), jobs::RUNNING_PER_TENANT).await {
            Ok(Some(job)) => {
                // A job's changes are its creator's, made under the trace id of the request that queued it.
                let actor = orgd_core::events::Actor {
                    kind: orgd_core::events::ActorKind::User,
                    id: job.created_by.clone(),
                    org_id: None,
                    token_id: None,
                };
                let context = orgd_core::events::Context {
                    actor,
                    ip: None,
                    trace_id: Some(job.trace_id.clone()),
                    clock: Some(state.clock.clone()),
                };
                orgd_core::events::scope(context, run(&state, job, &stop)).await
            }
            Ok(None) => {
                tokio::select! {
                    _ = state.jobs_queued.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take a job");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn error_json(e: &ApiError) -> Value {
    if !e.listed.is_empty() {
        return Value::Array(e.listed.clone());
    }
    json!([{"name": e.code.name(), "code": e.code.code().to_string(), "message": e.orgvue_message()}])
}

/// An export stopped at a chunk boundary because this node is shutting down.
const SHUTTING_DOWN: &str = "this node is shutting down";

async fn run(state: &AppState, mut job: Job, stop: &watch::Receiver<bool>) {
    tracing::info!(job_id = %job.id, kind = job.kind.as_str(), trace_id = %job.trace_id, "job started");
    let beat = {
        let (state, id) = (state.clone(), job.id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(heartbeat(&state)).await;
                let _ = state.store.touch_job(&id, now_ms(&state)).await;
            }
        })
    };
    let result = match job.kind {
        JobKind::Export => run_export(state, &job, stop).await,
        JobKind::Import => run_import(state, &job).await,
        JobKind::DraftActions => run_draft_actions(state, &job).await,
        JobKind::DraftApply => run_draft_apply(state, &job).await,
    };
    beat.abort();
    let now = now_ms(state);
    if result.as_ref().is_err_and(|e| e.message.as_deref() == Some(SHUTTING_DOWN)) {
        match state.store.release_job(&job.id, now).await {
            Ok(_) => tracing::info!(job_id = %job.id, "job given back to the queue: this node is shutting down"),
            Err(e) => {
                tracing::warn!(job_id = %job.id, error = %e, "could not give the job back; it is taken again when found silent")
            }
        }
        return;
    }
    job.modified_at = now;
    job.finished_at = Some(now);
    match result {
        Ok((result_type, kept)) => {
            job.status = JobStatus::Completed;
            job.result_type = Some(result_type);
            job.result_kept = kept;
        }
        Err(e) => {
            let errors = error_json(&e);
            let list = errors.as_array().cloned().unwrap_or_default();
            job.status = JobStatus::Failed;
            job.error_count = list.len() as i64;
            job.errors = Some(list.into_iter().take(1000).collect());
            job.result_kept = false;
            let _ = state.store.delete_chunks(&ChunkOwner::Job(job.id.to_string())).await;
        }
    }
    if let Err(e) = state.store.save_job(&job).await {
        tracing::error!(job_id = %job.id, error = %e, "cannot save the job's final state");
    }
    tracing::info!(job_id = %job.id, status = job.status.as_str(), "job ended");
    if let Some(cb) = job.request["body"].get("callback").cloned() {
        call_back(state, &job, &cb).await;
    }
}

/// Keeps an export's chunks; when the node is shutting down it stops after the chunk in hand.
struct ChunkSink<'a> {
    state: &'a AppState,
    owner: ChunkOwner,
    n: i64,
    stop: &'a watch::Receiver<bool>,
}

impl Sink for ChunkSink<'_> {
    async fn write(&mut self, chunk: String) -> Result<(), String> {
        self.state.store.put_chunk(&self.owner, self.n, chunk.as_bytes()).await.map_err(|e| e.to_string())?;
        self.n += 1;
        if *self.stop.borrow() {
            return Err(SHUTTING_DOWN.into());
        }
        Ok(())
    }
}

fn location_of(v: Option<&Value>) -> Option<Location> {
    let v = v?;
    Some(Location {
        method: v.get("method").and_then(Value::as_str).unwrap_or("PUT").to_ascii_uppercase(),
        url: v.get("url").and_then(Value::as_str).unwrap_or("").to_string(),
    })
}

fn remote_failed(url: &str, what: String) -> ApiError {
    let clean = url.split('?').next().unwrap_or(url).to_string();
    ApiError::new(ErrorCode::RemoteLocationFailed).with_message(what).with_context("url", clean)
}

/// Send a job's kept chunks to a client location, then drop them.
async fn deliver(state: &AppState, owner: &ChunkOwner, loc: &Location, content_type: &str) -> Result<(), ApiError> {
    let body = crate::presigned::chunk_stream(state.store.clone(), owner.clone());
    let method = reqwest::Method::from_bytes(loc.method.as_bytes()).unwrap_or(reqwest::Method::PUT);
    let r = state
        .outbound
        .request(method, &loc.url)
        .header("content-type", content_type)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .map_err(|e| remote_failed(&loc.url, format!("Remote location could not be reached: {e}")))?;
    if !r.status().is_success() {
        return Err(remote_failed(&loc.url, format!("Remote location answered {}.", r.status().as_u16())));
    }
    state.store.delete_chunks(owner).await?;
    Ok(())
}

async fn run_export(state: &AppState, job: &Job, stop: &watch::Receiver<bool>) -> Result<(String, bool), ApiError> {
    let user = grants::job_user(state.store.as_ref(), job).await?;
    let (ds, _) = grants::open(state.store.as_ref(), &job.org_id, &user, &job.dataset_id, Level::Read).await?;
    let ds = grants::view(&ds, &user);
    let plan = async_ops::plan_async_export(&ds, &job.request)?;
    let params: Vec<(String, String)> = serde_json::from_value(job.request["params"].clone()).unwrap_or_default();
    let draft = requests::export_overlay(state.store.as_ref(), &job.org_id, &ds, &params, now_ms(state)).await?;
    let content_type = plan.format.content_type().to_string();
    let owner = ChunkOwner::Job(job.id.to_string());
    let mut sink = ChunkSink { state, owner: owner.clone(), n: 0, stop };
    stream::run_view(state.store.as_ref(), &ds, draft, &plan, &mut sink, |_| {})
        .await
        .map_err(|e| ApiError::new(ErrorCode::InternalError).with_message(e))?;
    match location_of(job.request["body"].get("exportLocation")) {
        Some(loc) => {
            deliver(state, &owner, &loc, &content_type).await?;
            Ok((content_type, false))
        }
        None => Ok((content_type, true)),
    }
}

/// The file id of a URL of one of this deployment's temporary files: on this node's base URL,
/// or on another node's when the URL is signed with the deployment's key (a job taken over from a node
/// that died holds that node's URL).
fn own_file(state: &AppState, url: &str) -> Result<Option<String>, ApiError> {
    let own = format!("{}/signed/v1/files/", state.public_url);
    if let Some(rest) = url.strip_prefix(&own) {
        let (id, query) = rest.split_once('?').unwrap_or((rest, ""));
        crate::presigned::check_signature(state, "GET", &format!("/signed/v1/files/{id}"), query)?;
        return Ok(Some(id.to_string()));
    }
    let Ok(parsed) = reqwest::Url::parse(url) else { return Ok(None) };
    let Some(id) = parsed.path().strip_prefix("/signed/v1/files/").filter(|id| !id.contains('/')) else {
        return Ok(None);
    };
    let query = parsed.query().unwrap_or_default();
    let signed = crate::presigned::check_signature(state, "GET", parsed.path(), query).is_ok();
    Ok(signed.then(|| id.to_string()))
}

/// The bytes at an import location, as a reader fed by a task (one of our own temporary files read from
/// the store, or an outbound GET), its format, and the gzip limit when the bytes are gzip.
async fn open_source(
    state: &AppState,
    url: &str,
    org_id: &OrgId,
) -> Result<(Box<dyn std::io::Read + Send>, Format, Option<u64>), ApiError> {
    let (tx, reader) = ChannelReader::new();
    if let Some(id) = own_file(state, url)? {
        let file = state.store.get_file(&id).await?.filter(|f| f.org_id == *org_id && f.uploaded);
        let file = file.ok_or_else(|| ApiError::new(ErrorCode::FileNotFound))?;
        let format = if file.target_type == "csv" { Format::Csv } else { Format::Json };
        let gzip = (file.target_encoding == "gzip").then_some(state.config.gzip_expanded_limit);
        let store = state.store.clone();
        tokio::spawn(async move {
            let mut chunks = std::pin::pin!(crate::presigned::chunk_stream(store, ChunkOwner::File(file.id.clone())));
            while let Some(c) = chunks.next().await {
                if tx.send(c.map(Vec::from)).await.is_err() {
                    return;
                }
            }
        });
        return Ok((Box::new(reader), format, gzip));
    }
    let r = state
        .outbound
        .get(url)
        .send()
        .await
        .map_err(|e| remote_failed(url, format!("Remote location could not be reached: {e}")))?;
    if !r.status().is_success() {
        return Err(remote_failed(url, format!("Remote location answered {}.", r.status().as_u16())));
    }
    let csv = r.headers().get("content-type").and_then(|c| c.to_str().ok()).is_some_and(|c| c.starts_with("text/csv"))
        || url.split('?').next().is_some_and(|p| p.ends_with(".csv"));
    let format = if csv { Format::Csv } else { Format::Json };
    let clean = url.split('?').next().unwrap_or(url).to_string();
    tokio::spawn(async move {
        let mut s = r.bytes_stream();
        let mut total = 0usize;
        while let Some(chunk) = s.next().await {
            let piece = match chunk {
                Ok(c) if total + c.len() > jobs::FILE_LIMIT => {
                    Err(std::io::Error::other(format!("the file at {clean} exceeds {} bytes", jobs::FILE_LIMIT)))
                }
                Ok(c) => {
                    total += c.len();
                    Ok(c.to_vec())
                }
                Err(e) => Err(std::io::Error::other(format!("the remote location broke off: {e}"))),
            };
            let failed = piece.is_err();
            if tx.send(piece).await.is_err() || failed {
                return;
            }
        }
    });
    Ok((Box::new(reader), format, None))
}

async fn run_import(state: &AppState, job: &Job) -> Result<(String, bool), ApiError> {
    let user = grants::job_user(state.store.as_ref(), job).await?;
    let (ds, level) = grants::open(state.store.as_ref(), &job.org_id, &user, &job.dataset_id, Level::Update).await?;
    let view = grants::view(&ds, &user);
    let (whole, ds) = (ds, view);
    let stored =
        |what: &str| ApiError::new(ErrorCode::InternalError).with_message(format!("The job's {what} is unreadable."));
    let params: Vec<(String, String)> =
        serde_json::from_value(job.request["params"].clone()).map_err(|_| stored("query parameters"))?;
    let opts = grants::import_options(&whole, &ds, level, &params)?;
    let url = job.request["body"]["importLocation"]["url"].as_str().ok_or_else(|| stored("import location"))?;
    let (reader, format, gzip) = open_source(state, url, &job.org_id).await?;
    let mut source = Parsed::spawn(reader, format, gzip, &ds);
    let run = Run { now_ms: now_ms(state), cache_key: ops::new_cache_key(), results: true, job: Some(&job.id) };
    import::run(state.store.as_ref(), &ds, &mut source, &opts, run, &mut |_| {}).await?;
    send_result(state, job).await
}

/// A JSON result in the job's chunks stays there (kept) or goes to the request's `resultLocation`: its
/// content type and whether orgd keeps it.
async fn send_result(state: &AppState, job: &Job) -> Result<(String, bool), ApiError> {
    let owner = ChunkOwner::Job(job.id.to_string());
    let ct = "application/json; charset=UTF-8".to_string();
    match location_of(job.request["body"].get("resultLocation")) {
        Some(loc) => {
            deliver(state, &owner, &loc, &ct).await?;
            Ok((ct, false))
        }
        None => Ok((ct, true)),
    }
}

/// Put a job's result document in its chunks, then [`send_result`].
async fn keep_result(state: &AppState, job: &Job, body: &[u8]) -> Result<(String, bool), ApiError> {
    let owner = ChunkOwner::Job(job.id.to_string());
    for (n, chunk) in body.chunks(stream::CHUNK).enumerate() {
        state.store.put_chunk(&owner, n as i64, chunk).await?;
    }
    send_result(state, job).await
}

/// Export draft: the item actions of every draft the request names, in order.
async fn run_draft_actions(state: &AppState, job: &Job) -> Result<(String, bool), ApiError> {
    let ids = requests::actions_request(&job.request["body"], true)?;
    let user = grants::job_user(state.store.as_ref(), job).await?;
    let mut actions = Vec::new();
    for id in &ids {
        let (d, ds) = drafts::open(state.store.as_ref(), &job.org_id, &user, id, Level::Read).await?;
        let overlay = Overlay::load(state.store.as_ref(), &ds, &d).await?;
        actions.extend(drafts::apply::actions(state.store.as_ref(), &ds, &overlay).await?);
    }
    keep_result(state, job, Value::Array(actions).to_string().as_bytes()).await
}

/// Apply draft: the draft's changes written to its dataset, all or nothing.
async fn run_draft_apply(state: &AppState, job: &Job) -> Result<(String, bool), ApiError> {
    let req = requests::apply_request(&job.request["body"], true)?;
    let user = grants::job_user(state.store.as_ref(), job).await?;
    let (d, ds) = drafts::open(state.store.as_ref(), &job.org_id, &user, &req.draft, Level::Manage).await?;
    let overlay = Overlay::load(state.store.as_ref(), &ds, &d).await?;
    let done =
        drafts::apply::apply(state.store.as_ref(), &ds, &overlay, req.force, now_ms(state), &ops::new_cache_key())
            .await?;
    keep_result(state, job, done.to_json().to_string().as_bytes()).await
}

async fn call_back(state: &AppState, job: &Job, cb: &Value) {
    let template = cb.get("urlTemplate").and_then(Value::as_str).unwrap_or_default();
    let method = cb.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    let tenant = state
        .gate
        .cache
        .orgs()
        .await
        .ok()
        .and_then(|o| o.get(&job.org_id).map(|x| x.tenant_id.to_string()))
        .unwrap_or_default();
    let url = async_ops::callback_url(template, job.status.as_str(), &job.trace_id, &tenant, job.id.as_str());
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    for (attempt, wait) in [(1, 0u64), (2, 1), (3, 5)] {
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let sent = state.outbound.request(method.clone(), &url).timeout(Duration::from_secs(10)).send().await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(job_id = %job.id, attempt, status = r.status().as_u16(), "callback refused"),
            Err(e) => tracing::warn!(job_id = %job.id, attempt, error = %e, "callback failed"),
        }
    }
}
