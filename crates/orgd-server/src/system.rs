//! Server endpoints outside both dialects: health, readiness, metrics, info.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the store answers (within [`crate::state::DATABASE_PROBE`]).
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let pinged = if state.database_down() {
        Err(orgd_core::StoreError::Unavailable("out of reach at the last poll".into()))
    } else {
        tokio::time::timeout(crate::state::DATABASE_PROBE, state.store.ping())
            .await
            .unwrap_or_else(|_| Err(orgd_core::StoreError::Unavailable("no answer in time".into())))
    };
    match pinged {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "reason": "database"})))
        }
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = state.metrics.render();
    if state.config.shared_limits.is_some() {
        body.push_str("# HELP orgd_shared_limits_degraded 1 while the shared usage counters (Redis) are out of reach and this node counts alone.\n");
        body.push_str("# TYPE orgd_shared_limits_degraded gauge\n");
        body.push_str(&format!("orgd_shared_limits_degraded {}\n", u8::from(state.gate.limiter.degraded())));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

/// `GET /info`: what this server is.
pub async fn info(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "name": "orgd",
        "version": env!("CARGO_PKG_VERSION"),
        "region": state.config.region,
        "publicUrl": state.public_url,
        "dialects": {"orgvue": format!("{}/api/v1", state.public_url), "apperian": format!("{}/v1", state.public_url)},
    }))
}
