//! `/app/configui/webhooks`: an org's webhook subscriptions for its administrators — subscribe (the
//! secret shown once), delete, and each subscription's deliveries with a redeliver button; the use cases
//! of [`orgd_core::cases::webhooks`], as the APIs call them.

use super::configui::acting;
use super::{html, when, Chrome, Signed};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orgd_core::cases::webhooks;
use orgd_core::clock::{from_millis, to_millis, Clock};
use orgd_core::webhooks::{Delivery, DeliveryState, Subscription};
use serde_json::json;
use std::collections::HashMap;

type Q = Query<HashMap<String, String>>;

/// The subscribe form, as typed.
pub struct HookForm {
    url: String,
    events: String,
    include_descendants: bool,
    description: String,
}

impl Default for HookForm {
    fn default() -> Self {
        HookForm { url: String::new(), events: "*".into(), include_descendants: false, description: String::new() }
    }
}

pub struct HookRow {
    id: String,
    url: String,
    events: String,
    below: bool,
    description: String,
    status: &'static str,
    failures: i64,
    last_attempt: String,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct HooksPage {
    chrome: Chrome,
    csrf: String,
    tenant: String,
    created: Option<(String, String)>,
    errors: Vec<String>,
    form: HookForm,
    hooks: Vec<HookRow>,
}

pub struct DeliveryRow {
    id: String,
    kind: String,
    object: String,
    state: &'static str,
    attempts: i64,
    queued: String,
    last: String,
    next: String,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct DeliveriesPage {
    chrome: Chrome,
    csrf: String,
    tenant: String,
    hook: HookRow,
    rows: Vec<DeliveryRow>,
}

fn hook_row(s: &Subscription) -> HookRow {
    HookRow {
        id: s.id.to_string(),
        url: s.url.clone(),
        events: s.kinds.join(", "),
        below: s.include_descendants,
        description: s.description.clone(),
        status: s.status(),
        failures: s.consecutive_failures,
        last_attempt: s.last_attempt_at.map(|t| when(from_millis(t))).unwrap_or_else(|| "never".into()),
    }
}

fn delivery_row(d: &Delivery) -> DeliveryRow {
    let last = match (&d.last_status, &d.last_error) {
        (_, Some(e)) => e.clone(),
        (Some(s), None) => format!("answered {s}"),
        (None, None) => "not tried yet".into(),
    };
    DeliveryRow {
        id: d.id.to_string(),
        kind: d.kind.clone(),
        object: d.object_id.clone(),
        state: d.state.as_str(),
        attempts: d.attempts,
        queued: when(from_millis(d.created_at)),
        last,
        next: if d.state == DeliveryState::Pending { when(from_millis(d.next_at)) } else { "—".into() },
    }
}

async fn render(
    state: &AppState,
    s: &Signed,
    org: &orgd_core::model::Org,
    form: HookForm,
    errors: Vec<String>,
    created: Option<(String, String)>,
    notice: Option<String>,
) -> Response {
    let hooks = match state.store.list_webhooks(Some(&org.org_id)).await {
        Ok(h) => h,
        Err(e) => return super::failure(Some(s.me()), e),
    };
    let page = HooksPage {
        chrome: Chrome { title: format!("Webhooks — {}", org.name), me: Some(s.me()), notice },
        csrf: s.csrf.clone(),
        tenant: org.tenant_id.to_string(),
        created,
        errors,
        form,
        hooks: hooks.iter().map(hook_row).collect(),
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    html(status, &page)
}

/// `GET /app/configui/webhooks`.
pub async fn page(State(state): State<AppState>, s: Signed, Query(q): Q) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let notice = q.get("deleted").map(|id| format!("Webhook {id} is deleted, with its deliveries."));
    render(&state, &s, &org, HookForm::default(), Vec::new(), None, notice).await
}

/// `POST /app/configui/webhooks`: subscribe.
pub async fn create(State(state): State<AppState>, s: Signed, Query(q): Q, body: Bytes) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let f = match s.form(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let form = HookForm {
        url: f.text("url"),
        events: f.text("events"),
        include_descendants: f.checked("include_descendants"),
        description: f.text("description"),
    };
    let events: Vec<&str> = form.events.split([',', ' ']).map(str::trim).filter(|e| !e.is_empty()).collect();
    let body = json!({"url": form.url, "events": events, "includeDescendants": form.include_descendants,
        "description": form.description});
    let new = match webhooks::parse_new(&body, state.config.outbound_rules()) {
        Ok(n) => n,
        Err(e) => return render(&state, &s, &org, form, super::configui::faults_of(&e), None, None).await,
    };
    let now = to_millis(state.clock.now());
    match webhooks::create(state.store.as_ref(), &org.org_id, new, &s.user.user_id, now, &state.signing_key).await {
        Ok((sub, secret)) => {
            let created = Some((sub.id.to_string(), secret));
            let mut r = render(&state, &s, &org, HookForm::default(), Vec::new(), created, None).await;
            r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => render(&state, &s, &org, form, super::configui::faults_of(&e), None, None).await,
    }
}

/// `POST /app/configui/webhooks/{webhook_id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(r) = s.form(&body) {
        return r;
    }
    match webhooks::delete(state.store.as_ref(), &org.org_id, &id).await {
        Ok(()) => {
            Redirect::to(&format!("/app/configui/webhooks?tenant={}&deleted={id}", org.tenant_id)).into_response()
        }
        Err(e) => super::message(StatusCode::NOT_FOUND, Some(s.me()), "Webhook not found", e.orgvue_message()),
    }
}

/// `GET /app/configui/webhooks/{webhook_id}`: its deliveries, newest first.
pub async fn deliveries(State(state): State<AppState>, s: Signed, Path(id): Path<String>, Query(q): Q) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let sub = match webhooks::get(state.store.as_ref(), &org.org_id, &id).await {
        Ok(sub) => sub,
        Err(e) => return super::message(StatusCode::NOT_FOUND, Some(s.me()), "Webhook not found", e.orgvue_message()),
    };
    let (page, _) = match webhooks::deliveries(state.store.as_ref(), &sub, &[]).await {
        Ok(p) => p,
        Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
    };
    let notice = q.get("redelivered").map(|d| format!("Delivery {d} is queued again; it goes out within seconds."));
    let page = DeliveriesPage {
        chrome: Chrome { title: format!("Webhook deliveries — {}", org.name), me: Some(s.me()), notice },
        csrf: s.csrf.clone(),
        tenant: org.tenant_id.to_string(),
        hook: hook_row(&sub),
        rows: page.iter().map(delivery_row).collect(),
    };
    html(StatusCode::OK, &page)
}

/// `POST /app/configui/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver`.
pub async fn redeliver(
    State(state): State<AppState>,
    s: Signed,
    Path((id, delivery)): Path<(String, String)>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(r) = s.form(&body) {
        return r;
    }
    let now = to_millis(state.clock.now());
    let done = match webhooks::get(state.store.as_ref(), &org.org_id, &id).await {
        Ok(sub) => webhooks::redeliver(state.store.as_ref(), &sub, &delivery, now).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Redirect::to(&format!("/app/configui/webhooks/{id}?tenant={}&redelivered={delivery}", org.tenant_id))
            .into_response(),
        Err(e) => super::message(StatusCode::NOT_FOUND, Some(s.me()), "Not found", e.orgvue_message()),
    }
}
