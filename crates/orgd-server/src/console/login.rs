//! `/login` and `/logout`: the core's password login (org lockout and password rules included) turned
//! into a session cookie.

use super::session::{cookie, same, set_cookie, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use super::{html, Chrome, FormData, Signed};
use crate::context::RequestInfo;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use orgd_core::clock::Clock;
use orgd_core::error::ErrorCode;
use orgd_core::login::LoginRequest;
use rand::RngCore;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    csrf: String,
    next: String,
    user_id: String,
    org_id: String,
    ask_new_password: bool,
}

/// Only local paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/tokens".into(),
    }
}

fn render(mut page: LoginPage, status: StatusCode) -> Response {
    let mut token = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut token);
    page.csrf = hex::encode(token);
    let mut res = html(status, &page);
    if let Ok(v) = set_cookie(LOGIN_CSRF_COOKIE, &page.csrf, "/login", 3600).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn blank(next: String, notice: Option<String>) -> LoginPage {
    LoginPage {
        chrome: Chrome { title: "Sign in".into(), me: None, notice },
        error: None,
        csrf: String::new(),
        next,
        user_id: String::new(),
        org_id: String::new(),
        ask_new_password: false,
    }
}

/// `GET /login`.
pub async fn form(Query(q): Query<HashMap<String, String>>) -> Response {
    let notice = q.contains_key("signed_out").then(|| "You are signed out.".to_string());
    render(blank(safe_next(q.get("next").map(String::as_str)), notice), StatusCode::OK)
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    let mut page = blank(safe_next(f.get("next")), None);
    page.user_id = f.text("user_id");
    page.org_id = f.text("org_id");
    let csrf_ok = match (cookie(&headers, LOGIN_CSRF_COOKIE), f.get("csrf")) {
        (Some(c), Some(p)) => same(c, p),
        _ => false,
    };
    if !csrf_ok {
        page.error = Some("The sign-in form expired; please sign in again.".into());
        return render(page, StatusCode::FORBIDDEN);
    }
    let new_password = Some(f.text("new_password")).filter(|p| !p.is_empty());
    let req = LoginRequest {
        user_id: page.user_id.clone(),
        password: f.get("password").unwrap_or_default().to_string(),
        remember_me: false,
        org_id: Some(page.org_id.clone()).filter(|o| !o.is_empty()),
        new_password: new_password.clone(),
    };
    let session = match state.gate.login(req, info.client_ip).await {
        Ok(s) => s,
        Err(e) => {
            let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            page.ask_new_password = e.code == ErrorCode::PasswordExpired || new_password.is_some();
            page.error = Some(match e.code {
                ErrorCode::InvalidCredentials => "Invalid user ID or password.".into(),
                ErrorCode::PasswordExpired => "Your password has expired: choose a new one.".into(),
                ErrorCode::MultipleAccountsFound => {
                    "Several accounts have this user ID: enter the Org ID of the one to sign in to.".into()
                }
                _ if !e.faults.is_empty() => {
                    e.faults.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
                }
                _ => e.orgvue_message(),
            });
            return render(page, status);
        }
    };
    info.slot.lock().tenant(session.org.tenant_id.as_str());
    let max_age = session.record.ends_at.map(|end| (end - state.clock.now()).whole_seconds().max(1)).unwrap_or(3600);
    let mut res = Redirect::to(&page.next).into_response();
    let h = res.headers_mut();
    if let Ok(v) = set_cookie(SESSION_COOKIE, &session.token, "/", max_age).parse() {
        h.append(header::SET_COOKIE, v);
    }
    if let Ok(v) = set_cookie(LOGIN_CSRF_COOKIE, "", "/login", 0).parse() {
        h.append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct Confirm {
    chrome: Chrome,
    text: String,
    back: Option<String>,
}

/// `GET /logout`: a page with the sign-out button in its header (sign-out itself is a POST with CSRF).
pub async fn confirm_logout(signed: Result<Signed, Response>) -> Response {
    match signed {
        Ok(s) => {
            let chrome = Chrome { title: "Sign out".into(), me: Some(s.me()), notice: None };
            let text = "Use the Sign out button at the top of the page to end your session.".into();
            html(StatusCode::OK, &Confirm { chrome, text, back: Some("/tokens".into()) })
        }
        Err(_) => Redirect::to("/login").into_response(),
    }
}

/// `POST /logout`: revoke the session and drop the cookie.
pub async fn logout(State(state): State<AppState>, signed: Result<Signed, Response>, body: Bytes) -> Response {
    if let Ok(s) = &signed {
        if let Err(r) = s.form(&body) {
            return r;
        }
        if let Err(e) =
            orgd_core::cases::tokens::revoke(state.store.as_ref(), &s.token.token_id, state.clock.now()).await
        {
            return super::failure(Some(s.me()), e.orgvue_message());
        }
    }
    let mut res = Redirect::to("/login?signed_out=1").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", "/", 0).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
