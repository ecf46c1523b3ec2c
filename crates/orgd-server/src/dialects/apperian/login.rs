//! `POST /v2/users/authenticate/` and its alias `POST /users/authenticate/`.

use super::wire::user_json;
use crate::context::RequestInfo;
use crate::extract::JsonBody;
use crate::render::{Failure, Secret};
use crate::route_table::Table;
use crate::state::AppState;
use axum::extract::State;
use axum::http::Method;
use axum::routing::post;
use axum::{Extension, Json};
use orgd_core::clock::{iso_millis, Clock};
use orgd_core::login::LoginRequest;
use serde::Deserialize;
use serde_json::{json, Value};

/// `/users/authenticate`.
pub fn alias_routes() -> Table {
    Table::new().route("/users/authenticate", &[(Method::POST, SIGN_IN)], post(authenticate))
}

/// `/v1/users/authenticate` (the EASE Jenkins plugin up to 1.2.12 signs in there) and
/// `/v2/users/authenticate`.
pub fn versioned_routes() -> Table {
    Table::new().route("/users/authenticate", &[(Method::POST, SIGN_IN)], post(authenticate))
}

const SIGN_IN: &str = "Sign in with user id and password; answers a session token";

#[derive(Deserialize)]
struct LoginBody {
    user_id: String,
    password: String,
    #[serde(default)]
    remember_me: bool,
    org_id: Option<String>,
    new_password: Option<String>,
}

async fn authenticate(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Secret<Json<Value>>, Failure> {
    let req = LoginRequest {
        user_id: body.user_id,
        password: body.password,
        remember_me: body.remember_me,
        org_id: body.org_id,
        new_password: body.new_password,
    };
    let session = state.gate.login(req, info.client_ip).await?;
    {
        let mut slot = info.slot.lock();
        slot.tenant(session.org.tenant_id.as_str());
        slot.token(&session.record.token_id);
    }
    let now = state.clock.now();
    let ttl = session.record.ends_at.map(|e| (e - session.record.created_at).whole_seconds().max(0));
    let admin_view = session.user.role == orgd_core::model::Role::Administrator;
    Ok(Secret(Json(json!({
        "token": session.token,
        "expires_at": session.record.ends_at.map(iso_millis),
        "ttl_in_seconds": ttl,
        "user": user_json(&session.user, &session.org, admin_view, now),
        "organization": {
            "id": session.org.org_id.as_str(),
            "name": session.org.name,
            "parent_id": session.org.parent_id.as_ref().map(|p| p.as_str()),
            "tenant_id": session.org.tenant_id.as_str(),
        },
    }))))
}
