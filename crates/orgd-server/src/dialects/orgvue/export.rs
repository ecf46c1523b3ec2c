//! The synchronous export, streamed: rows are read from the store page by page, encoded, and sent
//! through a small channel, so the server's memory does not grow with the dataset.

use super::datasets::dataset_of;
use crate::extract::{parse_json, Acting, PathParams, QueryList, RawBody};
use crate::render::Failure;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orgd_core::data::ops::{self, ExportPlan};
use orgd_core::data::Dataset;
use orgd_core::store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;

/// `GET|POST /{tenantId}/datasets/{datasetId}/export/{format}`.
pub async fn sync_export(
    State(state): State<AppState>,
    acting: Acting,
    params: PathParams,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let ds = dataset_of(&state, &acting, &params).await?;
    let body = if body.is_empty() { None } else { Some(parse_json(&body)?) };
    let format = params.of("format");
    let plan = ops::plan_sync_export(&ds, format, &query.0, body.as_ref())?;
    let content_type = plan.format.content_type();
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = stream(store, ds, plan, &tx).await {
            tracing::warn!(error = %e, "export stopped");
            let _ = tx.send(Err(std::io::Error::other(e))).await;
        }
    });
    // Fused: the compression layer polls once more after the end, which an unfused unfold answers by panicking.
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let body = Body::from_stream(futures_util::StreamExt::fuse(chunks));
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

struct ChannelSink<'a>(&'a Sender);

impl orgd_core::data::stream::Sink for ChannelSink<'_> {
    async fn write(&mut self, chunk: String) -> Result<(), String> {
        self.0.send(Ok(Bytes::from(chunk))).await.map_err(|_| "client went away".to_string())
    }
}

async fn stream(store: Arc<dyn Store>, ds: Dataset, plan: ExportPlan, tx: &Sender) -> Result<(), String> {
    orgd_core::data::stream::run(store.as_ref(), &ds, &plan, &mut ChannelSink(tx), |_| {}).await
}
