//! `/app/configui/datasets/{dataset_id}/chart`: a dataset's org chart, as it is or through a draft
//! (`?draft=`), drawn by the server as SVG (no script) down to a chosen number of levels (`?depth=`), with
//! the draft's changes marked and listed beside it. The layout is the core's ([`chart`]).

use super::{html, Chrome, Signed};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use orgd_core::data::chart::{self, Chart};
use orgd_core::data::drafts::{self, diff, overlay::Overlay};
use orgd_core::data::grants::Level;
use orgd_core::ids::{DatasetId, DraftId};
use serde_json::Value;
use std::collections::HashMap;

/// Box size and spacing, in SVG units.
const BOX_W: f64 = 150.0;
const BOX_H: f64 = 44.0;
const COL: f64 = 170.0;
const ROW: f64 = 84.0;
const MARGIN: f64 = 10.0;
/// Levels drawn unless asked otherwise, and the most that may be asked.
const DEFAULT_DEPTH: u32 = 3;
const MAX_DEPTH: u32 = 12;
/// Changes listed beside the chart.
const LISTED: usize = 1000;

pub struct BoxView {
    class: &'static str,
    x: f64,
    y: f64,
    tx: f64,
    label: String,
    full: String,
    more: String,
    line: Option<(f64, f64, f64, f64)>,
}

pub struct ChangeRow {
    label: String,
    change: String,
    values: String,
}

#[derive(Template)]
#[template(path = "console/chart.html")]
struct ChartPage {
    chrome: Chrome,
    tenant: String,
    id: String,
    name: String,
    draft: Option<(String, String)>,
    depth: u32,
    width: f64,
    height: f64,
    boxes: Vec<BoxView>,
    items: usize,
    changes: Vec<ChangeRow>,
    unlisted: usize,
}

fn short(label: &str) -> String {
    if label.chars().count() <= 20 {
        label.to_string()
    } else {
        format!("{}…", label.chars().take(19).collect::<String>())
    }
}

fn draw(c: &Chart) -> Vec<BoxView> {
    let pos = |x: f64, y: u32| (MARGIN + x * COL, MARGIN + f64::from(y) * ROW);
    c.boxes
        .iter()
        .map(|b| {
            let (x, y) = pos(b.x, b.y);
            let line = b.parent.map(|p| {
                let (px, py) = pos(c.boxes[p].x, c.boxes[p].y);
                (px + BOX_W / 2.0, py + BOX_H, x + BOX_W / 2.0, y)
            });
            let more = match (b.summary, b.hidden) {
                (true, n) => format!("{n} people"),
                (false, 0) => String::new(),
                (false, n) => format!("+{n} below"),
            };
            BoxView {
                class: if b.summary { "summary" } else { b.mark.as_str() },
                x,
                y,
                tx: x + 8.0,
                label: short(&b.label),
                full: b.label.clone(),
                more,
                line,
            }
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `GET /app/configui/datasets/{dataset_id}/chart[?draft=&depth=]`.
pub async fn page(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let org = match super::configui::acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let not_found = |what: &str| super::message(StatusCode::NOT_FOUND, Some(s.me()), "Not found", what.to_string());
    let store = state.store.as_ref();
    let ds = match DatasetId::parse(&id) {
        Some(id) => match orgd_core::data::grants::open(store, &org.org_id, &s.user, &id, Level::Read).await {
            Ok((ds, _)) => orgd_core::data::grants::view(&ds, &s.user),
            Err(_) => return not_found("No such dataset in this org."),
        },
        None => return not_found("No such dataset in this org."),
    };
    let depth = match q.get("depth").map(|d| d.parse::<u32>()) {
        None => DEFAULT_DEPTH,
        Some(Ok(d)) if (1..=MAX_DEPTH).contains(&d) => d,
        Some(_) => {
            let why = format!("depth must be a whole number of levels from 1 to {MAX_DEPTH}.");
            return super::message(StatusCode::BAD_REQUEST, Some(s.me()), "Bad depth", why);
        }
    };
    let draft = match q.get("draft") {
        None => None,
        Some(raw) => match DraftId::parse(raw) {
            Some(did) => match drafts::open(store, &org.org_id, &s.user, &did, Level::Read).await {
                Ok((d, _)) if d.dataset_id == ds.id => Some(d),
                _ => return not_found("No such draft of this dataset."),
            },
            None => return not_found("No such draft of this dataset."),
        },
    };
    let overlay = match &draft {
        Some(d) => match Overlay::load(store, &ds, d).await {
            Ok(o) => Some(o),
            Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
        },
        None => None,
    };
    let laid = match chart::chart(store, &ds, overlay.clone(), depth).await {
        Ok(c) => c,
        Err(e) if e.code.status() < 500 => {
            return super::message(StatusCode::BAD_REQUEST, Some(s.me()), "No chart", e.orgvue_message())
        }
        Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
    };
    let (mut changes, mut unlisted) = (Vec::new(), 0);
    if let Some(o) = &overlay {
        match diff::diff(store, &ds, o).await {
            Ok(list) => {
                unlisted = list.len().saturating_sub(LISTED);
                changes = list
                    .iter()
                    .take(LISTED)
                    .map(|c| ChangeRow {
                        label: match &c["label"] {
                            Value::Null => text(&c["key"]),
                            l => text(l),
                        },
                        change: text(&c["change"]),
                        values: c["properties"]
                            .as_array()
                            .map(|ps| {
                                ps.iter()
                                    .map(|p| {
                                        format!("{}: {} → {}", text(&p["key"]), text(&p["baseline"]), text(&p["draft"]))
                                    })
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            })
                            .unwrap_or_default(),
                    })
                    .collect();
            }
            Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
        }
    }
    let title = match &draft {
        Some(d) => format!("Org chart of {} with draft {}", ds.name, d.name),
        None => format!("Org chart of {}", ds.name),
    };
    let page = ChartPage {
        chrome: Chrome { title, me: Some(s.me()), notice: None },
        tenant: org.tenant_id.to_string(),
        id: ds.id.to_string(),
        name: ds.name.clone(),
        draft: draft.map(|d| (d.id.to_string(), d.name)),
        depth,
        width: 2.0 * MARGIN + (laid.columns.max(1.0) - 1.0) * COL + BOX_W,
        height: 2.0 * MARGIN + f64::from(laid.rows.max(1) - 1) * ROW + BOX_H,
        boxes: draw(&laid),
        items: laid.items,
        changes,
        unlisted,
    };
    html(StatusCode::OK, &page)
}
