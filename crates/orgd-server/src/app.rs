//! The route table of the whole server.

use crate::config::TlsSource;
use crate::mounts::Mounts;
use crate::render::Failure;
use crate::state::AppState;
use crate::system;
use axum::http::{header, HeaderValue, Uri};
use axum::routing::get;
use axum::{middleware, Router};
use orgd_core::error::{ApiError, ErrorCode};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// Build the router with every route, the request layers (one job each, outermost first: request info,
/// CORS, access log, usage plan, error envelope, stand-in faults, database down, head limits, body
/// intake), response compression and the headers every answer carries (`nosniff`; HSTS when orgd itself
/// serves TLS).
pub fn router(state: AppState) -> Router {
    let hsts = match state.config.tls {
        TlsSource::InsecureHttp => None,
        _ => Some(HeaderValue::from_static("max-age=31536000")),
    };
    let control = match state.standin {
        Some(_) => Router::new().nest("/_orgd", crate::control::routes(&state)),
        None => Router::new(),
    };
    let api = crate::routes::api();
    Mounts::serve(api.endpoints());
    Router::new()
        .merge(control)
        .merge(api.into_router())
        .merge(crate::signed::routes())
        .merge(crate::console::routes())
        .merge(crate::openapi::routes())
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/info", get(system::info))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), crate::intake::read_body))
        .layer(middleware::from_fn(crate::head_limits::check))
        .layer(middleware::from_fn_with_state(state.clone(), crate::unavailable::when_database_down))
        .layer(middleware::from_fn_with_state(state.clone(), crate::fault_injection::inject))
        .layer(middleware::from_fn(crate::error_envelope::render))
        .layer(middleware::from_fn(crate::admission::hold))
        .layer(middleware::from_fn_with_state(state.clone(), crate::access_log::record))
        .layer(middleware::from_fn_with_state(state.clone(), crate::cors::layer))
        .layer(middleware::from_fn_with_state(state.clone(), crate::context::request_info))
        .layer(CompressionLayer::new().gzip(true))
        .layer(middleware::from_fn(crate::drain::drain_unread))
        .layer(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, hsts)),
        )
        .with_state(state)
}

async fn not_found(uri: Uri) -> Failure {
    Failure(ApiError::new(ErrorCode::RouteNotFound).with_message(format!("No route for {}", uri.path())))
}
