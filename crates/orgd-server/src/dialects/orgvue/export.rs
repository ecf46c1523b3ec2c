//! The synchronous export, streamed: rows are read from the store page by page, encoded, and sent
//! through a small channel, so the server's memory does not grow with the dataset.

use super::datasets::dataset_of;
use crate::extract::{parse_json, Acting, QueryList, RawBody};
use crate::render::Failure;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orgd_core::data::export::{self, Column, Encoder, Format};
use orgd_core::data::hierarchy::{self, Generated};
use orgd_core::data::ops::{self, ExportPlan, PAGE};
use orgd_core::data::{Dataset, Item};
use orgd_core::store::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

/// `GET|POST /{tenantId}/datasets/{datasetId}/export/{format}`.
pub async fn sync_export(
    State(state): State<AppState>,
    acting: Acting,
    Path(params): Path<HashMap<String, String>>,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let ds = dataset_of(&state, &acting, &params).await?;
    let body = if body.is_empty() { None } else { Some(parse_json(&body)?) };
    let format = params.get("format").map(String::as_str).unwrap_or("");
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
    let body =
        Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) }));
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

async fn flush(buf: &mut String, tx: &Sender, force: bool) -> Result<(), String> {
    if buf.len() >= CHUNK || (force && !buf.is_empty()) {
        let chunk = Bytes::from(std::mem::take(buf));
        tx.send(Ok(chunk)).await.map_err(|_| "client went away".to_string())?;
    }
    Ok(())
}

async fn hierarchy_of(store: &dyn Store, ds: &Dataset) -> Result<HashMap<i64, Generated>, String> {
    let (Some(tree), Some(parent)) = (ds.tree_id.clone(), ds.tree_parent_id.clone()) else { return Ok(HashMap::new()) };
    let mut seqs = Vec::new();
    let mut nodes = Vec::new();
    ops::scan(store, &ds.id, |it| {
        seqs.push(it.seq);
        nodes.push((it.values.get(&tree).map(|v| v.to_string()), it.values.get(&parent).map(|v| v.to_string())));
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(seqs.into_iter().zip(hierarchy::compute(&nodes)).collect())
}

fn get_value(col_key: &str, it: &Item, g: Option<&Generated>) -> Option<Value> {
    let col = Column { key: col_key.to_string(), name: String::new(), ty: "text" };
    match export::value(&col, it, g) {
        Value::Null => None,
        v => Some(v),
    }
}

async fn stream(store: Arc<dyn Store>, ds: Dataset, plan: ExportPlan, tx: &Sender) -> Result<(), String> {
    let gen = if plan.needs_hierarchy { hierarchy_of(store.as_ref(), &ds).await? } else { HashMap::new() };
    let mut enc = Encoder::new(plan.format, plan.columns.clone(), plan.unix);
    let mut buf = String::with_capacity(CHUNK * 2);
    enc.head(&mut buf);
    let passes = if plan.format == Format::JsonColumns { plan.columns.len() } else { 1 };
    for pass in 0..passes {
        if plan.format == Format::JsonColumns {
            enc.column_start(pass, &mut buf);
        }
        let mut after = 0;
        loop {
            let page = store.item_page(&ds.id, after, PAGE).await.map_err(|e| e.to_string())?;
            let n = page.len();
            for it in &page {
                after = it.seq;
                let g = gen.get(&it.seq);
                if !plan.filter.is_empty() && !plan.filter.matches(|k| get_value(k, it, g)) {
                    continue;
                }
                if plan.format == Format::JsonColumns {
                    enc.column_value(&export::value(&plan.columns[pass], it, g), &mut buf);
                } else {
                    let row: Vec<Value> = plan.columns.iter().map(|c| export::value(c, it, g)).collect();
                    enc.row(&row, &mut buf);
                }
            }
            flush(&mut buf, tx, false).await?;
            if (n as i64) < PAGE {
                break;
            }
        }
        if plan.format == Format::JsonColumns {
            enc.column_end(&mut buf);
        }
    }
    enc.tail(&mut buf);
    flush(&mut buf, tx, true).await
}
