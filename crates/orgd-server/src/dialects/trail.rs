//! The audit trail (orgd extension), the same route in both dialects: `GET /api/v1/{tenantId}/events` and
//! `GET /v1/events` (also below `/v1/org/{org_id}`), for administrators of the org or an org above it.
//! JSON pages (`{"events", "nextCursor"}`) or, with `format=csv`, the page as CSV.

use crate::extract::{Guarded, QueryList};
use crate::policy::Administer;
use crate::render::Failure;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use orgd_core::cases::events;
use orgd_core::error::ApiError;

/// The route, at `path` in its dialect.
pub fn routes(path: &str) -> crate::route_table::Table {
    crate::route_table::Table::new().route(
        path,
        &[(Method::GET, "Read the org's change history, newest first (orgd extension)")],
        get(list),
    )
}

async fn list(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    query: QueryList,
) -> Result<Response, Failure> {
    let csv = match query.one("format")? {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid_query("format", "must be json or csv").into()),
    };
    let params: Vec<(String, String)> = query.0.into_iter().filter(|(k, _)| k != "format").collect();
    let q = events::query(Some(&acting.target.org_id), &params)?;
    let page = events::list(state.store.as_ref(), &q).await?;
    if !csv {
        return Ok(Json(events::page_json(&page)).into_response());
    }
    let mut body = String::from(events::CSV_HEADER);
    for e in &page.events {
        body.push_str(&events::csv_row(e));
    }
    let mut res = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Some(next) = page.next_cursor.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert("orgd-next-cursor", next);
    }
    Ok(res)
}
