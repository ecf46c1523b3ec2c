//! The stand-in's control API under `/_orgd/`, mounted only with `--control-token` and guarded by it:
//! reset to the seed, the server's clock, fault rules, the request journal and the change history.

use crate::extract::{JsonBody, QueryList};
use crate::render::Failure;
use crate::standin::StandIn;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orgd_core::clock::{iso_millis, parse_date_or_datetime};
use orgd_core::error::{ApiError, ErrorCode, FieldFault};
use orgd_core::faults::parse_rules;
use serde_json::{json, Value};

/// The control routes (nest them under `/_orgd`).
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/reset", post(reset))
        .route("/clock", get(clock).put(set_clock).delete(real_clock))
        .route("/faults", get(faults).put(set_faults).delete(clear_faults))
        .route("/journal", get(journal).delete(clear_journal))
        .route("/events", get(events))
        .route("/webhooks", get(webhooks))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
}

fn standin(state: &AppState) -> &StandIn {
    state.standin.as_ref().expect("the control routes are mounted only with a stand-in")
}

/// Only `Authorization: Bearer <control token>` passes.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
    match presented {
        None => Failure(
            ApiError::new(ErrorCode::AuthorizationHeaderEmpty)
                .with_message("The control API needs Authorization: Bearer <the --control-token value>."),
        )
        .into_response(),
        Some(p) if !standin(&state).is_control_token(&p) => {
            Failure(ApiError::new(ErrorCode::ApiTokenInvalid).with_message("The control token is invalid."))
                .into_response()
        }
        Some(_) => next.run(req).await,
    }
}

async fn index(State(state): State<AppState>) -> Json<Value> {
    let s = standin(&state);
    Json(json!({
        "seed": s.seed.as_ref().map(|seed| seed.file.clone()),
        "journalCapacity": s.journal.capacity(),
        "endpoints": {
            "POST /_orgd/reset": "back to the seed (data, usage counters, clock and fault rules)",
            "GET|PUT|DELETE /_orgd/clock": "read, set ({\"now\", \"frozen\"}, {\"offsetSeconds\"} or {\"advanceSeconds\"}) or reset the clock",
            "GET|PUT|DELETE /_orgd/faults": "read, replace ({\"rules\": [...]}) or remove fault rules",
            "GET|DELETE /_orgd/journal": "the last requests (?limit=N, newest first), or forget them",
            "GET /_orgd/events": "the change history of every org, or of ?tenant=T, with the trail's filters",
            "GET /_orgd/webhooks": "the webhook subscriptions of every org, or of ?tenant=T, with their signing secrets",
        },
    }))
}

async fn reset(State(state): State<AppState>) -> Result<Json<Value>, Failure> {
    let s = standin(&state);
    let took = s.reset(state.store.as_ref(), &state.gate, &state.clock, &state.config).await.map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        tracing::error!(faults = %lines.join("; "), "reset failed");
        Failure(ApiError::new(ErrorCode::InternalError).with_message(format!("Reset failed: {}", lines.join("; "))))
    })?;
    Ok(Json(json!({
        "reset": true,
        "seed": s.seed.as_ref().map(|seed| seed.file.clone()),
        "millis": took.as_secs_f64() * 1000.0,
    })))
}

fn clock_json(state: &AppState) -> Json<Value> {
    let c = state.clock.state();
    Json(json!({"now": iso_millis(c.now), "offsetMs": c.offset_ms, "frozen": c.frozen}))
}

async fn clock(State(state): State<AppState>) -> Json<Value> {
    clock_json(&state)
}

fn invalid(field: &str, message: &str) -> Failure {
    Failure(ApiError::invalid_fields(vec![FieldFault { field: field.into(), message: message.into() }]))
}

async fn set_clock(State(state): State<AppState>, JsonBody(body): JsonBody<Value>) -> Result<Json<Value>, Failure> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(
            "now",
            "send {\"now\": \"2030-01-01T00:00:00Z\"}, {\"offsetSeconds\": N} or {\"advanceSeconds\": N}",
        ));
    };
    if let Some(k) = obj.keys().find(|k| !["now", "frozen", "offsetSeconds", "advanceSeconds"].contains(&k.as_str())) {
        return Err(invalid(k, "is not a known key (now, frozen, offsetSeconds, advanceSeconds)"));
    }
    let given: Vec<&str> =
        ["now", "offsetSeconds", "advanceSeconds"].into_iter().filter(|k| obj.contains_key(*k)).collect();
    if given.len() != 1 {
        return Err(invalid("now", "give exactly one of now, offsetSeconds and advanceSeconds"));
    }
    let frozen = match obj.get("frozen") {
        None => given[0] == "advanceSeconds" && state.clock.state().frozen,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("frozen", "must be true or false")),
    };
    let seconds = |k: &str| {
        obj.get(k)
            .and_then(Value::as_f64)
            .filter(|s| s.abs() <= 100.0 * 365.0 * 86_400.0)
            .ok_or_else(|| invalid(k, "must be a number of seconds (within 100 years)"))
    };
    let now = match given[0] {
        "now" => obj["now"]
            .as_str()
            .and_then(parse_date_or_datetime)
            .ok_or_else(|| invalid("now", "must be a date (YYYY-MM-DD) or an RFC 3339 date-time"))?,
        "offsetSeconds" => time::OffsetDateTime::now_utc() + time::Duration::seconds_f64(seconds("offsetSeconds")?),
        _ => state.clock.state().now + time::Duration::seconds_f64(seconds("advanceSeconds")?),
    };
    state.clock.set_now(now, frozen);
    Ok(clock_json(&state))
}

async fn real_clock(State(state): State<AppState>) -> Json<Value> {
    state.clock.reset();
    clock_json(&state)
}

async fn faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"rules": standin(&state).faults.to_json()}))
}

async fn set_faults(State(state): State<AppState>, JsonBody(body): JsonBody<Value>) -> Result<Json<Value>, Failure> {
    let rules = parse_rules(&body).map_err(ApiError::invalid_fields)?;
    standin(&state).faults.set(rules);
    Ok(Json(json!({"rules": standin(&state).faults.to_json()})))
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    standin(&state).faults.clear();
    StatusCode::NO_CONTENT
}

async fn journal(State(state): State<AppState>, uri: Uri) -> Result<Json<Value>, Failure> {
    let q = QueryList::parse(uri.query());
    let s = standin(&state);
    let limit = match q.all("limit").as_slice() {
        [] => 100,
        [one] => one.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Failure(
                ApiError::new(ErrorCode::QueryParameterInvalid)
                    .with_message(format!("limit must be a whole number from 1 to {}", s.journal.capacity()))
                    .with_context("queryParameter", "limit"),
            )
        })?,
        _ => {
            return Err(Failure(
                ApiError::new(ErrorCode::QueryParameterInvalid)
                    .with_message("limit may be given once")
                    .with_context("queryParameter", "limit"),
            ))
        }
    };
    let (entries, total) = s.journal.last(limit);
    Ok(Json(json!({
        "capacity": s.journal.capacity(),
        "recorded": total,
        "requests": entries.iter().map(|e| e.to_json()).collect::<Vec<_>>(),
    })))
}

async fn clear_journal(State(state): State<AppState>) -> StatusCode {
    standin(&state).journal.clear();
    StatusCode::NO_CONTENT
}

/// The org `?tenant=` names (a tenant or org id), `None` when absent.
async fn tenant_param(state: &AppState, q: &QueryList) -> Result<Option<orgd_core::ids::OrgId>, ApiError> {
    let Some(t) = q.one("tenant")? else { return Ok(None) };
    let org = orgd_core::cases::orgs::load(state.store.as_ref(), t).await.map_err(|e| match e.code {
        ErrorCode::TenantNotFound => ApiError::invalid_query("tenant", "is not a tenant or org id of this server"),
        _ => e,
    })?;
    Ok(Some(org.org_id.clone()))
}

/// `GET /_orgd/webhooks`: every subscription (or those of `tenant`) with its tenant and its signing
/// secret, so that a test's receiver can check the signatures of seeded subscriptions.
async fn webhooks(State(state): State<AppState>, q: QueryList) -> Result<crate::render::Secret<Json<Value>>, Failure> {
    use orgd_core::cases::webhooks;
    let org = tenant_param(&state, &q).await?;
    let orgs = state.gate.cache.orgs().await?;
    let subs = state.store.list_webhooks(org.as_ref()).await?;
    let list: Vec<Value> = subs
        .iter()
        .map(|s| {
            let mut v = webhooks::created_json(s, &orgd_core::webhooks::secret(&state.signing_key, &s.id));
            v["tenantId"] = json!(orgs.get(&s.org_id).map(|o| o.tenant_id.to_string()));
            v
        })
        .collect();
    Ok(crate::render::Secret(Json(json!({ "webhooks": list }))))
}

/// `GET /_orgd/events`: the change history of every org (or of `tenant`), newest first, with the filters
/// and pages of the audit trail.
async fn events(State(state): State<AppState>, q: QueryList) -> Result<Json<Value>, Failure> {
    use orgd_core::cases::events;
    let org = tenant_param(&state, &q).await?;
    let params: Vec<(String, String)> = q.0.into_iter().filter(|(k, _)| k != "tenant").collect();
    let page = events::list(state.store.as_ref(), &events::query(org.as_ref(), &params)?).await?;
    Ok(Json(events::page_json(&page)))
}
