//! Console sessions: a session token (made by the core's password login) in a Secure, HttpOnly,
//! SameSite=Strict cookie, checked by the same access pipeline as API calls; CSRF tokens bound to the
//! session for every form.

use super::Me;
use crate::context::RequestInfo;
use crate::state::AppState;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use orgd_core::access::Target;
use orgd_core::model::{Org, Role, TokenKind, TokenRecord, User};
use orgd_core::tree::OrgIndex;
use sha2::Sha256;
use std::net::IpAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The session cookie.
pub const SESSION_COOKIE: &str = "orgd_session";
/// The sign-in form's CSRF cookie (there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "orgd_login_csrf";

/// A cookie's value.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a console cookie; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64) -> String {
    format!("{name}={value}; Path={path}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict")
}

/// An HMAC-SHA-256 of `text` under the server's signing key, hex.
fn sign(state: &AppState, text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.signing_key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time equality of two strings.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A signed-in console user, checked like an API call (token window, user state, subnets, org plan).
pub struct Signed {
    /// The user.
    pub user: Arc<User>,
    /// The session token.
    pub token: Arc<TokenRecord>,
    /// The user's home org.
    pub home: Arc<Org>,
    /// The org tree.
    pub orgs: Arc<OrgIndex>,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

impl Signed {
    /// The header's view of the user.
    pub fn me(&self) -> Me {
        Me {
            user_id: self.user.user_id.clone(),
            tenant: self.home.tenant_id.to_string(),
            admin: self.user.role == Role::Administrator,
            csrf: self.csrf.clone(),
        }
    }

    /// Whether a submitted CSRF token belongs to this session.
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| same(p, &self.csrf))
    }

    /// A submitted form of this session: parsed, with its CSRF token checked (else the "form expired" page).
    pub fn form(&self, body: &[u8]) -> Result<super::FormData, Response> {
        let f = super::FormData::parse(body);
        if self.csrf_ok(f.get("csrf")) {
            Ok(f)
        } else {
            Err(super::message(
                axum::http::StatusCode::FORBIDDEN,
                Some(self.me()),
                "Form expired",
                "Reload the page and try again.",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let uri = parts.extensions.get::<OriginalUri>().map(|u| u.0.clone()).unwrap_or_else(|| parts.uri.clone());
        let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/tokens".into());
        let to_login = || {
            let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let info = parts.extensions.get::<RequestInfo>().cloned();
        let ip = info.as_ref().and_then(|i| i.client_ip);
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login()) };
        let caller = state.gate.identify(Ok(secret), ip).await.map_err(|_| to_login())?;
        if caller.token.kind != TokenKind::Session {
            return Err(to_login());
        }
        if let Some(i) = &info {
            i.slot.lock().token(&caller.token.token_id);
        }
        let token = caller.token.clone();
        let access = state.gate.admit(caller, Target::Home, ip).await.map_err(|e| {
            super::message(axum::http::StatusCode::FORBIDDEN, None, "Access refused", e.orgvue_message())
        })?;
        if let Some(i) = &info {
            i.slot.lock().tenant(access.home.tenant_id.as_str());
        }
        orgd_core::events::set_actor(orgd_core::events::Actor::user(&access.user, Some(&token.token_id)));
        let orgs = state.gate.cache.orgs().await.map_err(|e| super::failure(None, e))?;
        let csrf = sign(state, &format!("csrf/{}", token.token_id))[..32].to_string();
        Ok(Signed { user: access.user, token, home: access.home, orgs, ip, csrf })
    }
}
