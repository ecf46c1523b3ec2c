//! The route table of the whole server.

use crate::context::request_context;
use crate::render::Failure;
use crate::state::AppState;
use crate::system;
use axum::http::Uri;
use axum::routing::get;
use axum::{middleware, Router};
use orgd_core::error::{ApiError, ErrorCode};
use tower_http::compression::CompressionLayer;

/// Build the router with every route, the request-context middleware and response compression.
pub fn router(state: AppState) -> Router {
    let control = match state.standin {
        Some(_) => Router::new().nest("/_orgd", crate::control::routes(&state)),
        None => Router::new(),
    };
    Router::new()
        .merge(control)
        .merge(crate::routes::api().into_router())
        .merge(crate::signed::routes())
        .merge(crate::console::routes())
        .merge(crate::openapi::routes())
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/info", get(system::info))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), crate::intake::read_body))
        .layer(middleware::from_fn_with_state(state.clone(), request_context))
        .layer(CompressionLayer::new().gzip(true))
        .layer(middleware::from_fn(crate::drain::drain_unread))
        .with_state(state)
}

async fn not_found(uri: Uri) -> Failure {
    Failure(ApiError::new(ErrorCode::RouteNotFound).with_message(format!("No route for {}", uri.path())))
}
