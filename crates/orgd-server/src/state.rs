//! The state every handler shares.

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use orgd_core::access::Gate;
use orgd_core::clock::SystemClock;
use orgd_core::store::Store;
use std::ops::Deref;
use std::sync::Arc;

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
}

impl AppState {
    /// Build the state.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig, public_url: String) -> Self {
        let clock = Arc::new(SystemClock::default());
        let gate = Gate::new(store.clone(), clock.clone());
        AppState(Arc::new(Inner { gate, store, clock, config, public_url, metrics: Metrics::default() }))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
