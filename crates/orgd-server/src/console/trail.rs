//! `/app/configui/events`: the change history of an org for its administrators, with the audit trail's
//! filters and pages ([`orgd_core::cases::events`]); `?tenant=` picks any org the administrator may act in.

use super::configui::acting;
use super::{html, when, Chrome, Signed};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use orgd_core::cases::events;
use orgd_core::clock::from_millis;
use std::collections::HashMap;

/// The filters the form shows, as typed.
pub struct Filters {
    from: String,
    to: String,
    actor: String,
    object: String,
    kind: String,
}

pub struct Row {
    time: String,
    kind: String,
    actor: String,
    ip: String,
    object: String,
    changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/events.html")]
struct EventsPage {
    chrome: Chrome,
    tenant: String,
    filters: Filters,
    error: Option<String>,
    rows: Vec<Row>,
    older: Option<String>,
}

/// `GET /app/configui/events`.
pub async fn page(State(state): State<AppState>, s: Signed, Query(q): Query<HashMap<String, String>>) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let field = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let filters = Filters {
        from: field("from"),
        to: field("to"),
        actor: field("actor"),
        object: field("object"),
        kind: field("kind"),
    };
    // Empty fields of the form filter nothing.
    let params: Vec<(String, String)> = ["from", "to", "actor", "object", "kind", "cursor"]
        .into_iter()
        .map(|k| (k.to_string(), field(k)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let (rows, older, error) = match events::query(Some(&org.org_id), &params) {
        Err(e) => (Vec::new(), None, Some(e.orgvue_message())),
        Ok(query) => match events::list(state.store.as_ref(), &query).await {
            Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
            Ok(page) => {
                let rows = page.events.iter().map(row).collect();
                let older = page.next_cursor.map(|c| older_link(org.tenant_id.as_str(), &params, &c));
                (rows, older, None)
            }
        },
    };
    let chrome = Chrome { title: format!("Change history — {}", org.name), me: Some(s.me()), notice: None };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    html(status, &EventsPage { chrome, tenant: org.tenant_id.to_string(), filters, error, rows, older })
}

fn row(e: &orgd_core::events::Event) -> Row {
    let changes = e
        .changes
        .iter()
        .map(|c| format!("{}: {} → {}", c.field, c.before, c.after))
        .chain((!e.detail.is_null()).then(|| e.detail.to_string()))
        .collect();
    Row {
        time: when(from_millis(e.at)),
        kind: e.kind.clone(),
        actor: format!("{} {}", e.actor.kind, e.actor.id),
        ip: e.ip.clone().unwrap_or_else(|| "—".into()),
        object: format!("{} {}", e.object_type, e.object_id),
        changes,
    }
}

/// The link to the next, older page: the same filters and the page's cursor.
fn older_link(tenant: &str, params: &[(String, String)], cursor: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("tenant", tenant);
    for (k, v) in params.iter().filter(|(k, _)| k != "cursor") {
        q.append_pair(k, v);
    }
    q.append_pair("cursor", cursor);
    format!("/app/configui/events?{}", q.finish())
}
