//! Answers written while they stream out: a task writes the body through a small channel, so memory
//! stays flat whatever the size of the answer.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

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
