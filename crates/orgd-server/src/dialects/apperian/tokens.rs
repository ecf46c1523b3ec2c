//! `/v1/tokens` and `/v1/session`: API tokens and the presenting token's session.

use crate::extract::{Acting, Guarded, JsonBody, PathParams, QueryList};
use crate::policy::Read;
use crate::render::{Failure, Secret};
use crate::route_table::Table;
use crate::state::AppState;
use axum::extract::State;
use axum::http::Method;
use axum::routing::{delete, get};
use axum::Json;
use orgd_core::cases;
use orgd_core::clock::{iso_millis, parse_date_or_datetime, Clock};
use orgd_core::error::{ApiError, FieldFault};
use orgd_core::model::{TokenKind, TokenRecord};
use orgd_core::net::CidrList;
use serde::Deserialize;
use serde_json::{json, Value};

/// The token and session routes of `/v1`.
pub fn routes() -> Table {
    Table::new()
        .route(
            "/tokens",
            &[(Method::GET, "List the caller's API tokens"), (Method::POST, "Create an API token")],
            get(list_tokens).post(create_token),
        )
        .route("/tokens/{token_id}", &[(Method::DELETE, "Revoke an API token")], delete(revoke_token))
        .route(
            "/session",
            &[
                (Method::GET, "Read the current session"),
                (Method::PUT, "Extend the current session"),
                (Method::DELETE, "End the current session"),
            ],
            get(session).put(extend_session).delete(end_session),
        )
}

/// The token object of the wire (never the secret).
pub fn token_json(t: &TokenRecord) -> Value {
    json!({
        "token_id": t.token_id,
        "user_psk": t.user_psk,
        "label": t.label,
        "starts_at": iso_millis(t.starts_at),
        "ends_at": t.ends_at.map(iso_millis),
        "subnets": t.subnets.to_strings(),
        "created_at": iso_millis(t.created_at),
        "last_used_at": t.last_used_at.map(iso_millis),
        "last_used_ip": t.last_used_ip,
    })
}

async fn list_tokens(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    q: QueryList,
) -> Result<Json<Value>, Failure> {
    let requested = match q.one("user_psk")? {
        None => None,
        Some(v) => {
            Some(v.trim().parse::<i64>().map_err(|_| ApiError::invalid_query("user_psk", "must be an integer"))?)
        }
    };
    let owner =
        cases::tokens::owner_for_listing(state.store.as_ref(), &acting.user, &acting.target.org_id, requested).await?;
    let tokens = state.store.list_tokens(&owner.org_id, Some(owner.psk)).await?;
    let list: Vec<Value> = tokens.iter().filter(|t| t.kind == TokenKind::Api).map(token_json).collect();
    Ok(Json(json!({ "tokens": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenBody {
    label: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(default)]
    subnets: Vec<String>,
}

async fn create_token(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<Secret<Json<Value>>, Failure> {
    let mut faults = Vec::new();
    let mut date = |field: &str, v: &Option<String>| match v.as_deref().map(parse_date_or_datetime) {
        Some(None) => {
            faults.push(FieldFault {
                field: field.into(),
                message: "must be YYYY-MM-DD or an RFC 3339 date-time".into(),
            });
            None
        }
        Some(t) => t,
        None => None,
    };
    let starts_at = date("starts_at", &body.starts_at);
    let ends_at = date("ends_at", &body.ends_at);
    let subnets = CidrList::parse(&body.subnets, "subnets").unwrap_or_else(|f| {
        faults.extend(f);
        CidrList::any()
    });
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults).into());
    }
    let input = cases::tokens::NewToken { label: body.label, starts_at, ends_at, subnets, fixed: None };
    let (secret, record) =
        cases::tokens::create_api(state.store.as_ref(), &acting.user, input, state.clock.now()).await?;
    Ok(Secret(Json(json!({ "token": secret, "api_token": token_json(&record) }))))
}

async fn revoke_token(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let token_id = params.of("token_id").to_string();
    let orgs = state.gate.cache.orgs().await?;
    cases::tokens::revoke_as(state.store.as_ref(), &orgs, &acting.user, &token_id, state.clock.now()).await?;
    Ok(Json(json!({ "token_revoked": true })))
}

fn ttl(acting: &Acting, now: time::OffsetDateTime) -> Value {
    match acting.token.ends_at {
        Some(end) => json!(((end - now).whole_seconds()).max(0)),
        None => Value::Null,
    }
}

async fn session(State(state): State<AppState>, acting: Guarded<Read>) -> Json<Value> {
    let now = state.clock.now();
    Json(json!({
        "expires_at": acting.token.ends_at.map(iso_millis),
        "ttl_in_seconds": ttl(&acting, now),
        "token_kind": acting.token.kind.as_str(),
    }))
}

async fn extend_session(State(state): State<AppState>, acting: Guarded<Read>) -> Result<Json<Value>, Failure> {
    let minutes =
        cases::tokens::extend_session(state.store.as_ref(), &acting.token, &acting.home, state.clock.now()).await?;
    Ok(Json(json!({ "ttl_in_seconds": minutes.map(|m| m * 60) })))
}

async fn end_session(State(state): State<AppState>, acting: Guarded<Read>) -> Result<Json<Value>, Failure> {
    cases::tokens::revoke(state.store.as_ref(), &acting.token.token_id, state.clock.now()).await?;
    Ok(Json(json!({ "token_revoked": true })))
}
