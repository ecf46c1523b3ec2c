//! The synchronous export, streamed: rows are read from the store page by page, encoded, and sent
//! through a small channel, so the server's memory does not grow with the dataset.

use super::streaming::streamed;
use crate::extract::{parse_json, OnDataset, PathParams, QueryList, RawBody};
use crate::policy::ReadDataset;
use crate::render::Failure;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use orgd_core::data::drafts::requests;
use orgd_core::data::ops;

/// `GET|POST /{tenantId}/datasets/{datasetId}/export/{format}[?draftId=]`: the dataset, or its to-be view
/// through a draft.
pub async fn sync_export(
    State(state): State<AppState>,
    on: OnDataset<ReadDataset>,
    params: PathParams,
    query: QueryList,
    RawBody(body): RawBody,
) -> Result<Response, Failure> {
    let org = on.target.org_id.clone();
    let ds = on.ds;
    let body = if body.is_empty() { None } else { Some(parse_json(&body)?) };
    let format = params.of("format");
    let plan = ops::plan_sync_export(&ds, format, &query.0, body.as_ref())?;
    let now = orgd_core::clock::to_millis(orgd_core::clock::Clock::now(state.clock.as_ref()));
    let draft = requests::export_overlay(state.store.as_ref(), &org, &ds, &query.0, now).await?;
    let content_type = plan.format.content_type();
    let store = state.store.clone();
    Ok(streamed(content_type, move |mut sink| async move {
        orgd_core::data::stream::run_view(store.as_ref(), &ds, draft, &plan, &mut sink, |_| {}).await
    }))
}
