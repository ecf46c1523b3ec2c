//! The web console: server-rendered pages over the same core rules as the APIs — sign-in, the Tokens page,
//! the Settings app (users, datasets, organization, change history, webhooks) and the tenant listing. Every form
//! carries a CSRF token; every page works without JavaScript except the copy buttons.

mod charts;
mod configui;
mod hooks;
mod login;
mod session;
mod tenants;
mod tokens;
mod trail;

use crate::state::AppState;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use time::OffsetDateTime;

pub use session::Signed;

/// The console's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", get(login::confirm_logout).post(login::logout))
        .route("/tokens", get(tokens::page).post(tokens::submit))
        .route("/tokens/{token_id}/revoke", post(tokens::revoke))
        .route("/tenants/tenants", get(tenants::page))
        .route("/app/configui", get(configui::overview))
        .route("/app/configui/users/new", get(configui::new_user).post(configui::create_user))
        .route("/app/configui/users/{psk}", get(configui::edit_user).post(configui::update_user))
        .route("/app/configui/datasets/{dataset_id}", get(configui::dataset))
        .route("/app/configui/datasets/{dataset_id}/permissions", post(configui::save_dataset_permissions))
        .route("/app/configui/datasets/{dataset_id}/properties", post(configui::change_dataset_properties))
        .route("/app/configui/datasets/{dataset_id}/chart", get(charts::page))
        .route("/app/configui/organization", get(configui::organization).post(configui::save_organization))
        .route("/app/configui/events", get(trail::page))
        .route("/app/configui/webhooks", get(hooks::page).post(hooks::create))
        .route("/app/configui/webhooks/{webhook_id}", get(hooks::deliveries))
        .route("/app/configui/webhooks/{webhook_id}/delete", post(hooks::delete))
        .route("/app/configui/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", post(hooks::redeliver))
        .route(
            "/console/console.css",
            get(|| asset("text/css; charset=utf-8", include_str!("../../assets/console.css"))),
        )
        .route(
            "/console/console.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("../../assets/console.js"))),
        )
        .route("/", get(|| async { Redirect::to("/tokens") }))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// The signed-in user as the page header shows it.
pub struct Me {
    /// Login name.
    pub user_id: String,
    /// Home tenant.
    pub tenant: String,
    /// Sees the Settings app.
    pub admin: bool,
    /// CSRF token of the sign-out form.
    pub csrf: String,
}

/// What every page's layout needs.
pub struct Chrome {
    /// Page title.
    pub title: String,
    /// The signed-in user, if any.
    pub me: Option<Me>,
    /// A one-line notice at the top.
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct Message {
    chrome: Chrome,
    text: String,
    back: Option<String>,
}

/// Render a template as an HTML page with the console's security headers.
pub fn html(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => {
            let mut res = (status, body).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be rendered.").into_response()
        }
    }
}

/// A page that only says something (errors, refusals).
pub fn message(status: StatusCode, me: Option<Me>, title: &str, text: impl Into<String>) -> Response {
    let chrome = Chrome { title: title.into(), me, notice: None };
    html(status, &Message { chrome, text: text.into(), back: Some("/tokens".into()) })
}

/// The page for an unexpected failure (logged with its cause).
pub fn failure(me: Option<Me>, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console request failed");
    message(StatusCode::INTERNAL_SERVER_ERROR, me, "Something went wrong", "The request failed; try again shortly.")
}

/// Instants as the console shows them: `2026-11-22 21:02 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), t.month() as u8, t.day(), t.hour(), t.minute())
}

/// A date for a `<input type="date">`: `2026-11-22`.
pub fn day(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day())
}

/// A submitted form: every pair in order; `get` gives the last value of a name (so a checkbox after a
/// hidden "off" of the same name wins when ticked).
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// Parse an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The trimmed value of `name`, or "".
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_string()
    }

    /// Whether a checkbox is ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name) == Some("on")
    }
}
