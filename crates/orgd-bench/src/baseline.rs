//! The baseline of the small-request scenarios: a minimal axum handler that returns the bytes orgd returned,
//! run by `orgd-bench baseline-serve` in its own process on orgd's own connection layer
//! (`orgd_server::startup::serve_router`: the same rustls config, hyper builder and runtime).

use axum::http::header;
use axum::routing::get;
use axum::Router;
use std::path::PathBuf;

/// `orgd-bench baseline-serve CERT KEY ORGS_BODY DATASETS_BODY`: prints the port, serves until killed.
pub async fn serve(args: &[String]) -> anyhow::Result<()> {
    let [cert, key, orgs, datasets] = args else {
        anyhow::bail!("usage: orgd-bench baseline-serve CERT KEY ORGS_BODY_FILE DATASETS_BODY_FILE");
    };
    let tls = orgd_server::tls::load(&PathBuf::from(cert), &PathBuf::from(key), true)?;
    let orgs: &'static [u8] = Box::leak(std::fs::read(orgs)?.into_boxed_slice());
    let datasets: &'static [u8] = Box::leak(std::fs::read(datasets)?.into_boxed_slice());
    const JSON: (header::HeaderName, &str) = (header::CONTENT_TYPE, "application/json; charset=UTF-8");
    let app = Router::new()
        .route("/v3/organizations/{id}", get(move || async move { ([JSON], orgs) }))
        .route("/api/v1/{tenant}/datasets", get(move || async move { ([JSON], datasets) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
    orgd_server::startup::serve_router(listener, Some(acceptor), app, "https://localhost".into(), stop_rx).await;
    Ok(())
}
