//! `/tokens`: the signed-in user's API tokens — create (secret shown once), list with status, revoke.

use super::{day, html, when, Chrome, Signed};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orgd_core::cases;
use orgd_core::cases::tokens::NewToken;
use orgd_core::clock::{parse_date_or_datetime, Clock};
use orgd_core::model::{Role, TokenKind, TokenStatus};
use orgd_core::net::{display_ip, CidrList};
use std::collections::HashMap;

#[derive(Default)]
pub struct TokenForm {
    label: String,
    starts_at: String,
    ends_at: String,
    subnets: String,
}

pub struct Row {
    id: String,
    label: String,
    starts: String,
    ends: String,
    subnets: String,
    created: String,
    last_used: String,
    status: &'static str,
    status_text: &'static str,
    revocable: bool,
}

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    csrf: String,
    created: Option<String>,
    token_access: bool,
    errors: Vec<String>,
    form: TokenForm,
    current_ip: String,
    current_cidr: String,
    org_name: String,
    admins: Vec<String>,
    tokens: Vec<Row>,
}

async fn render(
    state: &AppState,
    s: &Signed,
    form: TokenForm,
    errors: Vec<String>,
    created: Option<String>,
    notice: Option<String>,
) -> Response {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let (tokens, users) =
        match (store.list_tokens(&s.home.org_id, Some(s.user.psk)).await, store.list_users(&s.home.org_id).await) {
            (Ok(t), Ok(u)) => (t, u),
            (Err(e), _) | (_, Err(e)) => return super::failure(Some(s.me()), e),
        };
    let rows = tokens
        .iter()
        .filter(|t| t.kind == TokenKind::Api)
        .map(|t| {
            let (status, status_text) = match t.status(now) {
                TokenStatus::Active => ("active", "active"),
                TokenStatus::NotYetActive => ("not-yet-active", "not yet active"),
                TokenStatus::Expired => ("expired", "expired"),
                TokenStatus::Revoked => ("revoked", "revoked"),
            };
            Row {
                id: t.token_id.clone(),
                label: t.label.clone(),
                starts: when(t.starts_at),
                ends: t.ends_at.map(when).unwrap_or_else(|| "no end".into()),
                subnets: if t.subnets.is_empty() { "any".into() } else { t.subnets.to_strings().join(", ") },
                created: when(t.created_at),
                last_used: match (&t.last_used_at, &t.last_used_ip) {
                    (Some(at), Some(ip)) => format!("{} from {ip}", when(*at)),
                    (Some(at), None) => when(*at),
                    _ => "never".into(),
                },
                status,
                status_text,
                revocable: t.revoked_at.is_none(),
            }
        })
        .collect();
    let admins = users
        .iter()
        .filter(|u| u.role == Role::Administrator && u.enabled)
        .map(|u| if u.email.is_empty() { u.user_id.clone() } else { u.email.clone() })
        .collect();
    let current_cidr = match s.ip {
        Some(std::net::IpAddr::V4(ip)) => format!("{ip}/32"),
        Some(std::net::IpAddr::V6(ip)) => format!("{ip}/128"),
        None => String::new(),
    };
    let page = TokensPage {
        chrome: Chrome { title: "API tokens".into(), me: Some(s.me()), notice },
        csrf: s.csrf.clone(),
        created,
        token_access: s.user.token_access,
        errors,
        form,
        current_ip: display_ip(s.ip),
        current_cidr,
        org_name: s.home.name.clone(),
        admins,
        tokens: rows,
    };
    html(StatusCode::OK, &page)
}

/// The create form as a new page shows it: the default label, starting today.
fn blank_form(state: &AppState) -> TokenForm {
    TokenForm {
        label: cases::tokens::DEFAULT_TOKEN_LABEL.into(),
        starts_at: day(state.clock.now()),
        ..TokenForm::default()
    }
}

/// `GET /tokens`.
pub async fn page(State(state): State<AppState>, s: Signed, Query(q): Query<HashMap<String, String>>) -> Response {
    let notice = q.get("revoked").map(|id| format!("Token {id} is revoked; it stops working at once."));
    render(&state, &s, blank_form(&state), vec![], None, notice).await
}

/// `POST /tokens`: create, or fill the subnets with the current address (`use_ip`).
pub async fn submit(State(state): State<AppState>, s: Signed, body: Bytes) -> Response {
    let f = match s.form(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut form = TokenForm {
        label: f.text("label"),
        starts_at: f.text("starts_at"),
        ends_at: f.text("ends_at"),
        subnets: f.text("subnets"),
    };
    if let Some(cidr) = f.get("use_ip") {
        form.subnets = cidr.to_string();
        return render(&state, &s, form, vec![], None, None).await;
    }
    let mut errors = Vec::new();
    let mut date = |label: &str, text: &str| {
        if text.is_empty() {
            return None;
        }
        let t = parse_date_or_datetime(text);
        if t.is_none() {
            errors.push(format!("{label}: must be a date (YYYY-MM-DD)"));
        }
        t
    };
    let starts_at = date("Start date", &form.starts_at);
    let ends_at = date("End date", &form.ends_at);
    let subnets = match CidrList::parse_comma(&form.subnets, "subnets") {
        Ok(l) => l,
        Err(faults) => {
            errors.extend(faults.iter().map(|f| format!("Subnets: {}", f.message)));
            CidrList::default()
        }
    };
    if !errors.is_empty() {
        return render(&state, &s, form, errors, None, None).await;
    }
    let label = Some(form.label.clone()).filter(|l| !l.is_empty());
    let input = NewToken { label, starts_at, ends_at, subnets, fixed: None };
    match cases::tokens::create_api(state.store.as_ref(), &s.user, input, state.clock.now()).await {
        Ok((secret, record)) => {
            tracing::info!(token_id = %record.token_id, "API token created in the console");
            render(&state, &s, blank_form(&state), vec![], Some(secret), None).await
        }
        Err(e) => {
            let errors = if e.faults.is_empty() {
                vec![e.orgvue_message()]
            } else {
                e.faults.iter().map(|f| format!("{}: {}", f.field, f.message)).collect()
            };
            render(&state, &s, form, errors, None, None).await
        }
    }
}

/// `POST /tokens/{token_id}/revoke`.
pub async fn revoke(State(state): State<AppState>, s: Signed, Path(token_id): Path<String>, body: Bytes) -> Response {
    if let Err(r) = s.form(&body) {
        return r;
    }
    let now = state.clock.now();
    match cases::tokens::revoke_as(state.store.as_ref(), &s.orgs, &s.user, &token_id, now).await {
        Ok(()) => Redirect::to(&format!("/tokens?revoked={token_id}")).into_response(),
        Err(e) => super::message(StatusCode::NOT_FOUND, Some(s.me()), "Token not found", e.orgvue_message()),
    }
}
