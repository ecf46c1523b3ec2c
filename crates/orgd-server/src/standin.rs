//! The stand-in's state on this node: the control secret, the seed and what its first application left
//! for fast resets, the fault rules and the request journal.

use crate::config::ServerConfig;
use orgd_core::access::Gate;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::faults::Faults;
use orgd_core::journal::Journal;
use orgd_core::seed::{self, Memo, Report, Seed};
use orgd_core::store::Store;
use std::sync::Arc;
use std::time::Instant;

/// Present when the control API is enabled (`--control-token`).
pub struct StandIn {
    token_hash: [u8; 32],
    /// The seed reset goes back to.
    pub seed: Option<Arc<Seed>>,
    memo: tokio::sync::Mutex<Option<Memo>>,
    /// Fault rules in force.
    pub faults: Faults,
    /// The last requests.
    pub journal: Journal,
}

impl StandIn {
    /// The stand-in of a configuration, or `None` when the control API is off.
    pub fn from_config(config: &ServerConfig) -> Option<StandIn> {
        let token = config.control_token.as_ref()?;
        Some(StandIn {
            token_hash: orgd_core::token::hash(&token.0),
            seed: config.seed.clone(),
            memo: tokio::sync::Mutex::new(None),
            faults: Faults::default(),
            journal: Journal::new(config.journal_size),
        })
    }

    /// Whether `presented` is the control secret (constant-time on the hashes).
    pub fn is_control_token(&self, presented: &str) -> bool {
        orgd_core::token::verify(presented, &self.token_hash)
    }

    /// Keep what the first application of the seed left.
    pub async fn remember(&self, memo: Memo) {
        *self.memo.lock().await = Some(memo);
    }

    /// Back to the seed: every org, user, token, dataset and job goes, the seed is applied again at the
    /// instant of its first application, and this node's counters, clock and fault rules start afresh.
    /// Returns how long it took.
    pub async fn reset(
        &self,
        store: &dyn Store,
        gate: &Gate,
        clock: &SystemClock,
        config: &ServerConfig,
    ) -> Result<std::time::Duration, Vec<seed::SeedError>> {
        let started = Instant::now();
        let mut memo = self.memo.lock().await;
        let fail = |e: orgd_core::StoreError| {
            vec![seed::SeedError { file: String::new(), line: None, field: String::new(), message: e.to_string() }]
        };
        store.wipe().await.map_err(fail)?;
        gate.cache.forget_all();
        self.faults.clear();
        clock.reset();
        gate.limiter.clear().await;
        gate.logins.clear();
        if let Some(seed) = &self.seed {
            let m = memo.get_or_insert_with(|| Memo::new(clock.now()));
            seed::apply(store, seed, &config.default_usage_plan, m).await?;
        }
        Ok(started.elapsed())
    }
}

/// Apply the configured seed at start; returns the memo for resets and what was done.
pub async fn apply_at_start(
    store: &dyn Store,
    seed: &Seed,
    config: &ServerConfig,
    now: time::OffsetDateTime,
) -> anyhow::Result<(Memo, Report)> {
    let mut memo = Memo::new(now);
    let report = seed::apply(store, seed, &config.default_usage_plan, &mut memo).await.map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("the seed file has faults:\n  {}", lines.join("\n  "))
    })?;
    Ok((memo, report))
}
