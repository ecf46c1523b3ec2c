//! The synchronous export, streamed: rows are read from the store page by page, encoded, and sent
//! through a small channel, so the server's memory does not grow with the dataset.

use super::datasets::dataset_of;
use crate::extract::{parse_json, Guarded, PathParams, QueryList, RawBody};
use crate::policy::Read;
use crate::render::Failure;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orgd_core::data::ops;
use tokio::sync::mpsc;

/// `GET|POST /{tenantId}/datasets/{datasetId}/export/{format}`.
pub async fn sync_export(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let ds = dataset_of(&state, &acting, &params).await?;
    let body = if body.is_empty() { None } else { Some(parse_json(&body)?) };
    let format = params.of("format");
    let plan = ops::plan_sync_export(&ds, format, &query.0, body.as_ref())?;
    let content_type = plan.format.content_type();
    let store = state.store.clone();
    Ok(streamed(content_type, move |mut sink| async move {
        orgd_core::data::stream::run(store.as_ref(), &ds, &plan, &mut sink, |_| {}).await
    }))
}

/// A response whose body `work` writes through its sink while the response streams out (a small
/// channel in between, so memory stays flat). A failure ends the body with an error, which breaks the
/// connection rather than sending a body that looks whole.
pub fn streamed<W, F>(content_type: &'static str, work: W) -> Response
where
    W: FnOnce(ChannelSink) -> F + Send + 'static,
    F: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if let Err(e) = work(ChannelSink(tx.clone())).await {
            tracing::warn!(error = %e, "streamed answer stopped");
            let _ = tx.send(Err(std::io::Error::other(e))).await;
        }
    });
    // Fused: the compression layer polls once more after the end, which an unfused unfold answers by panicking.
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let body = Body::from_stream(futures_util::StreamExt::fuse(chunks));
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The sink of a [`streamed`] body.
pub struct ChannelSink(mpsc::Sender<Result<Bytes, std::io::Error>>);

impl orgd_core::data::stream::Sink for ChannelSink {
    async fn write(&mut self, chunk: String) -> Result<(), String> {
        self.0.send(Ok(Bytes::from(chunk))).await.map_err(|_| "client went away".to_string())
    }
}
