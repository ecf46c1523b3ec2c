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

/// `GET /readyz`: the store answers.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "reason": "database"})))
        }
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
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
