//! Starting the server: TLS (or a readable refusal of plain HTTP on the TLS port), the accept loop,
//! background tasks, and graceful shutdown. [`start`] returns once the port is bound.

use crate::app::router;
use crate::bare_refusals::Dressed;
use crate::config::{ServerConfig, TlsSource};
use crate::context::PeerAddr;
use crate::state::AppState;
use crate::tls;
use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{Request, Uri};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use orgd_core::store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// A running server.
pub struct Server {
    /// The bound address.
    pub addr: SocketAddr,
    /// The base URL of links.
    pub public_url: String,
    /// The certificate file clients should trust (`None` in insecure HTTP mode).
    pub cert_path: Option<PathBuf>,
    /// SHA-256 fingerprint of the certificate.
    pub fingerprint: Option<String>,
    /// The shared state (tests and the control plane reach the clock and caches through it).
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Stop accepting, let in-flight requests finish (up to 10 s), flush token uses.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Run until `signal` resolves, then shut down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.shutdown().await;
    }
}

/// Bind, prepare TLS and start serving.
pub async fn start(config: ServerConfig, store: Arc<dyn Store>) -> anyhow::Result<Server> {
    let tls = match &config.tls {
        TlsSource::Files { cert, key } => Some(tls::load(cert, key, false)?),
        TlsSource::SelfSigned => {
            let (cert, key) = tls::ensure_self_signed(&config.data_dir)?;
            Some(tls::load(&cert, &key, true)?)
        }
        TlsSource::InsecureHttp => None,
    };
    if tls.is_none() && !config.listen.ip().is_loopback() && config.trusted_proxies.is_empty() {
        bail!(
            "--insecure-http refuses to listen on the non-loopback address {} without --trusted-proxy: \
             plain HTTP is only for running behind a TLS-terminating proxy",
            config.listen
        );
    }
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another orgd, such as `orgd demo`, may be running: stop it, or choose another address with --listen)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on {}: {e}{hint}", config.listen)
    })?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("{scheme}://localhost:{}", addr.port()));
    match &tls {
        Some(t) if t.self_signed => tracing::info!(
            cert = %t.cert_path.display(), sha256 = %t.fingerprint,
            "serving HTTPS with a self-signed certificate; clients can trust it with --cacert {}", t.cert_path.display()
        ),
        Some(t) => tracing::info!(cert = %t.cert_path.display(), sha256 = %t.fingerprint, "serving HTTPS"),
        None => tracing::warn!(
            "INSECURE: serving plain HTTP on {addr}; credentials cross the network in clear unless a TLS proxy fronts this port"
        ),
    }
    let cert_path = tls.as_ref().map(|t| t.cert_path.clone());
    let fingerprint = tls.as_ref().map(|t| t.fingerprint.clone());
    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
    let signing_key =
        store.secret("presign").await.context("cannot read the signing key from the database")?.into_bytes();
    let state = AppState::new(store, config, public_url.clone(), signing_key)?;
    if let Some(seed) = state.config.seed.clone() {
        let now = orgd_core::clock::Clock::now(state.clock.as_ref());
        let (memo, report) = crate::standin::apply_at_start(state.store.as_ref(), &seed, &state.config, now).await?;
        tracing::info!(
            seed = %seed.file, created = report.created, updated = report.updated, unchanged = report.unchanged,
            "seed applied"
        );
        if let Some(s) = &state.standin {
            s.remember(memo).await;
        }
    }
    if state.standin.is_some() {
        tracing::warn!("the control API is on at /_orgd/ (stand-in for tests): reset, clock, faults and journal");
    }
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, acceptor, state.clone(), stop_rx));
    tracing::info!(%addr, url = %public_url, "orgd is listening");
    Ok(Server { addr, public_url, cert_path, fingerprint, state, stop, task })
}

async fn serve(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    stop: watch::Receiver<bool>,
) {
    let app = router(state.clone());
    let background = tokio::spawn(background_tasks(state.clone(), stop.clone()));
    let workers: Vec<_> = (0..state.config.job_workers.max(1))
        .map(|_| tokio::spawn(crate::jobs::worker(state.clone(), stop.clone())))
        .collect();
    let deliverer = tokio::spawn(crate::deliverer::run(state.clone(), stop.clone()));
    serve_router(listener, acceptor, app, state.public_url.clone(), stop).await;
    let _ = background.await;
    let _ = deliverer.await;
    for w in workers {
        let _ = w.await;
    }
    if let Err(e) = state.gate.cache.flush_uses().await {
        tracing::warn!(error = %e, "could not write the last token uses");
    }
}

/// orgd's connection layer: accept, refuse plain HTTP on a TLS port, TLS handshake, HTTP/1.1 and HTTP/2
/// with a header timeout, peer address and trailing-slash normalization, graceful shutdown when `stop`
/// changes. Public so the benchmark's baseline server runs the very same layer around a trivial router.
pub async fn serve_router(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    public_url: String,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        let public_url = public_url.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                normalize_trailing_slash(&mut req);
                app.clone().oneshot(req.map(Body::new))
            });
            let mut builder = Builder::new(TokioExecutor::new());
            let head = crate::head_limits::CONNECTION_HEAD_LIMIT;
            builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(30)).max_buf_size(head);
            builder.http2().max_header_list_size(head as u32);
            match acceptor {
                Some(acceptor) => {
                    if !looks_like_tls(&stream).await {
                        refuse_plain_http(stream, &public_url).await;
                        return;
                    }
                    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(Dressed::new(tls)), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(Dressed::new(stream)), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("some connections were still busy after 10 s and were closed");
    }
}

/// One trailing `/` is ignored on every route.
fn normalize_trailing_slash(req: &mut Request<Incoming>) {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(p) = pq.parse() {
            parts.path_and_query = Some(p);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
}

/// A TLS connection starts with a handshake record (0x16). Waits up to 10 s for the first byte.
async fn looks_like_tls(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(tokio::time::timeout(Duration::from_secs(10), stream.peek(&mut first)).await, Ok(Ok(1)) if first[0] == 0x16)
}

/// Answer a plain-HTTP request on the TLS port with a readable 400, as nginx does.
async fn refuse_plain_http(mut stream: TcpStream, public_url: &str) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
    let body = format!(
        "400 Bad Request: the plain HTTP request was sent to an HTTPS port. orgd speaks HTTPS only; use {public_url}\n"
    );
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn background_tasks(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut epoch = tokio::time::interval(orgd_core::auth_cache::EPOCH_POLL);
    let mut flush = tokio::time::interval(Duration::from_secs(5));
    let mut purge = tokio::time::interval(Duration::from_secs(3600));
    // This node's name among those sharing the database, for the leases of shared periodic tasks.
    let node = orgd_core::ids::new_id();
    let mut retention = tokio::time::interval(Duration::from_secs(30));
    let mut stale = tokio::time::interval(crate::jobs::heartbeat(&state));
    epoch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = epoch.tick() => state.poll_epochs().await,
            _ = flush.tick() => {
                if let Err(e) = state.gate.cache.flush_uses().await {
                    tracing::warn!(error = %e, "cannot write token uses");
                }
            }
            _ = purge.tick() => {
                use orgd_core::clock::Clock;
                let now = orgd_core::clock::to_millis(state.clock.now());
                let every = 3_600_000;
                match orgd_core::cases::events::enforce_retention(state.store.as_ref(), &node, now, every).await {
                    Ok(Some(n)) if n > 0 => tracing::info!(events = n, "deleted events past their org's retention"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e.orgvue_message(), "cannot enforce the events' retention"),
                }
                let cut = state.clock.now() - time::Duration::hours(24);
                match state.store.purge_sessions(cut).await {
                    Ok(n) if n > 0 => tracing::info!(sessions = n, "purged sessions that ended over 24 h ago"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot purge old sessions"),
                }
            }
            _ = retention.tick() => crate::jobs::purge(&state).await,
            _ = stale.tick() => crate::jobs::requeue_stale(&state).await,
            _ = stop.changed() => return,
        }
    }
}
