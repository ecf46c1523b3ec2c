//! The state every handler shares.

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use orgd_core::access::Gate;
use orgd_core::clock::SystemClock;
use orgd_core::store::Store;
use std::ops::Deref;
use std::sync::Arc;

/// How long the background poll waits for the database before counting it out of reach.
pub const DATABASE_PROBE: std::time::Duration = std::time::Duration::from_secs(1);

/// Shared server state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// The access pipeline with its caches and usage counters.
    pub gate: Gate,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock (shared with the gate).
    pub clock: Arc<SystemClock>,
    /// Configuration.
    pub config: ServerConfig,
    /// Base URL for absolute links, without a trailing slash.
    pub public_url: String,
    /// Counters.
    pub metrics: Metrics,
    /// Key of presigned URLs (shared by every node through the store).
    pub signing_key: Vec<u8>,
    /// Wakes the job workers when a job is queued here.
    pub jobs_queued: tokio::sync::Notify,
    /// Client for outbound calls (callbacks, export/result/import locations).
    pub outbound: reqwest::Client,
    /// Rendered `GET /v3/organizations/{id}` bodies of the cached orgs.
    pub rendered_orgs: crate::response_cache::RenderedOrgs,
    /// Rendered `GET /api/v1/{tenantId}/datasets` bodies per data epoch.
    pub rendered_lists: crate::response_cache::RenderedLists,
    /// The stand-in's control state, when `--control-token` is set.
    pub standin: Option<crate::standin::StandIn>,
    /// Set while the database does not answer the background poll: API requests get 503 at once
    /// instead of each waiting for a connection.
    pub database_down: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Build the state.
    pub fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        public_url: String,
        signing_key: Vec<u8>,
    ) -> anyhow::Result<Self> {
        let clock = Arc::new(SystemClock::default());
        let mut gate = Gate::new(store.clone(), clock.clone());
        if let Some(url) = &config.shared_limits {
            let shared = crate::shared_usage::RedisUsage::new(&url.0)?;
            gate.limiter = orgd_core::usage::UsageLimiter::shared(Arc::new(shared));
        }
        let outbound = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("the outbound HTTP client builds with static settings");
        let standin = crate::standin::StandIn::from_config(&config);
        Ok(AppState(Arc::new(Inner {
            rendered_orgs: Default::default(),
            rendered_lists: Default::default(),
            standin,
            gate,
            store,
            clock,
            config,
            public_url,
            metrics: Metrics::default(),
            signing_key,
            jobs_queued: tokio::sync::Notify::new(),
            outbound,
            database_down: Default::default(),
        })))
    }
}

impl AppState {
    /// Whether the database was out of reach at the last poll.
    pub fn database_down(&self) -> bool {
        self.database_down.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Poll the auth and data epochs, at most [`DATABASE_PROBE`] long; notes (and logs) the database going
    /// out of reach and coming back.
    pub async fn poll_epochs(&self) {
        let polled = tokio::time::timeout(DATABASE_PROBE, async {
            self.gate.cache.refresh_epoch().await?;
            self.refresh_data_epoch().await;
            Ok::<(), orgd_core::StoreError>(())
        })
        .await;
        let why = match polled {
            Ok(Ok(())) => {
                if self.database_down.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!("the database answers again; API requests are served");
                }
                if self.gate.cache.org_tree_wanted() {
                    let state = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = state.gate.cache.warm_orgs().await {
                            tracing::warn!(error = %e, "could not load the org tree ahead of the requests that need it");
                        }
                    });
                }
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", DATABASE_PROBE.as_millis()),
        };
        if !self.database_down.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::error!(error = %why, "the database is out of reach; API requests get 503 until it answers");
        }
    }

    /// Re-read the store's data epoch, so that dataset lists see datasets made or deleted by other nodes
    /// (this node's own are seen at once: see [`crate::response_cache::RenderedLists`]).
    async fn refresh_data_epoch(&self) {
        match self.store.data_epoch().await {
            Ok(e) => self.rendered_lists.set_epoch(e),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the data epoch; dataset lists are not cached");
                self.rendered_lists.set_epoch(i64::MIN);
            }
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
