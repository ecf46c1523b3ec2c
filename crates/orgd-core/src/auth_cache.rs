//! The short-lived cache that keeps the access pipeline free of database round trips: tokens, users
//! and the org tree. It drops everything on its next read after this process committed a change of an org,
//! a user or a token through the store ([`Store::local_changes`]: nobody has to invalidate it by hand),
//! whenever the store's auth epoch moves (checked a few times a second, so a change made by another
//! process or node is seen within [`EPOCH_POLL`]), and at the latest after [`TTL`].
//! Token uses are collected here and written in batches.

use crate::error::StoreError;
use crate::model::{TokenRecord, TokenUse, User};
use crate::net::canonical;
use crate::store::Store;
use crate::tree::OrgIndex;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How long an entry may be served without the epoch telling anything.
pub const TTL: Duration = Duration::from_secs(30);
/// How often the epoch is polled.
pub const EPOCH_POLL: Duration = Duration::from_millis(200);
/// A tree that requests use is loaded again this long before its TTL runs out, so none has to wait for it.
pub const ORG_REFRESH_AHEAD: Duration = Duration::from_secs(5);
/// A token's last use is written at most this often.
pub const USE_WRITE_INTERVAL: time::Duration = time::Duration::minutes(1);

type TokenEntry = Option<Arc<(TokenRecord, Vec<u8>)>>;
type UserEntry = (Option<Arc<User>>, Instant);

/// See the module documentation.
pub struct AuthCache {
    store: Arc<dyn Store>,
    tokens: Mutex<HashMap<String, (TokenEntry, Instant)>>,
    users: Mutex<HashMap<i64, UserEntry>>,
    orgs: RwLock<Option<(Arc<OrgIndex>, Instant)>>,
    org_reload: tokio::sync::Mutex<()>,
    /// Moves before every drop, so a load that began before one is not kept after it.
    generation: std::sync::atomic::AtomicU64,
    /// [`Store::local_changes`]`.auth` when last looked at.
    local_seen: std::sync::atomic::AtomicU64,
    /// The store's auth epoch read just before the cached org tree was (`i64::MIN`: none yet).
    orgs_epoch: AtomicI64,
    /// When the org tree was last asked for, in whole seconds since `born`, plus one (0: never).
    orgs_asked: std::sync::atomic::AtomicU64,
    born: Instant,
    epoch: AtomicI64,
    uses: Mutex<HashMap<String, TokenUse>>,
    written: Mutex<HashMap<String, OffsetDateTime>>,
}

impl AuthCache {
    /// An empty cache over a store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AuthCache {
            store,
            tokens: Mutex::default(),
            users: Mutex::default(),
            orgs: RwLock::default(),
            org_reload: tokio::sync::Mutex::new(()),
            generation: std::sync::atomic::AtomicU64::new(0),
            local_seen: std::sync::atomic::AtomicU64::new(0),
            orgs_epoch: AtomicI64::new(i64::MIN),
            orgs_asked: std::sync::atomic::AtomicU64::new(0),
            born: Instant::now(),
            epoch: AtomicI64::new(i64::MIN),
            uses: Mutex::default(),
            written: Mutex::default(),
        }
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Drop every entry.
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tokens.lock().clear();
        self.users.lock().clear();
        *self.orgs.write() = None;
    }

    /// The generation of the entries, after dropping them if this process changed orgs, users or tokens
    /// since the last look.
    fn current(&self) -> u64 {
        let changes = self.store.local_changes().auth;
        if self.local_seen.load(Ordering::Acquire) != changes
            && self.local_seen.swap(changes, Ordering::AcqRel) != changes
        {
            self.invalidate();
        }
        self.generation.load(Ordering::Acquire)
    }

    /// Drop one user's entry (its record changed on this node).
    pub fn forget_user(&self, psk: i64) {
        self.users.lock().remove(&psk);
    }

    /// Drop every entry and the token uses not yet written (the stand-in's reset: the tokens they
    /// belong to are gone).
    pub fn forget_all(&self) {
        self.invalidate();
        self.uses.lock().clear();
        self.written.lock().clear();
    }

    /// Poll the store's epoch once; drop everything when it moved. Returns whether it moved.
    pub async fn refresh_epoch(&self) -> Result<bool, StoreError> {
        let now = self.store.auth_epoch().await?;
        let before = self.epoch.swap(now, Ordering::AcqRel);
        if before != now {
            self.invalidate();
        }
        Ok(before != now)
    }

    /// A token with its hash (cached, negative answers too).
    pub async fn token(&self, id: &str) -> Result<TokenEntry, StoreError> {
        let generation = self.current();
        if let Some((e, at)) = self.tokens.lock().get(id) {
            if at.elapsed() < TTL {
                return Ok(e.clone());
            }
        }
        let e = self.store.get_token(id).await?.map(Arc::new);
        let _ = self.current();
        let mut tokens = self.tokens.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            tokens.insert(id.to_string(), (e.clone(), Instant::now()));
        }
        Ok(e)
    }

    /// A user (cached).
    pub async fn user(&self, psk: i64) -> Result<Option<Arc<User>>, StoreError> {
        let generation = self.current();
        if let Some((u, at)) = self.users.lock().get(&psk) {
            if at.elapsed() < TTL {
                return Ok(u.clone());
            }
        }
        let u = self.store.get_user(psk).await?.map(Arc::new);
        let _ = self.current();
        let mut users = self.users.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            users.insert(psk, (u.clone(), Instant::now()));
        }
        Ok(u)
    }

    /// The org tree (cached).
    pub async fn orgs(&self) -> Result<Arc<OrgIndex>, StoreError> {
        self.current();
        let asked = self.born.elapsed().as_secs() + 1;
        if self.orgs_asked.load(Ordering::Relaxed) != asked {
            self.orgs_asked.store(asked, Ordering::Relaxed);
        }
        let cached = self.orgs.read().as_ref().map(|(idx, at)| (idx.clone(), at.elapsed() < TTL));
        let _reload = match cached {
            Some((idx, true)) => return Ok(idx),
            // Past its TTL (not invalidated): one request reloads, the others keep the current tree.
            Some((idx, false)) => match self.org_reload.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(idx),
            },
            // Invalidated: everyone waits for one reload instead of each loading the whole tree.
            None => {
                let guard = self.org_reload.lock().await;
                if let Some((idx, at)) = self.orgs.read().as_ref() {
                    if at.elapsed() < TTL {
                        return Ok(idx.clone());
                    }
                }
                guard
            }
        };
        self.load_orgs().await
    }

    /// The org tree at least as recent as the store's auth epoch now: the cached one when it was loaded
    /// at that epoch or later, else loaded again. For a tenant the cached tree does not know (an org made a
    /// moment ago elsewhere): costs one epoch read, and a reload only when the store moved since.
    pub async fn orgs_as_of_now(&self) -> Result<Arc<OrgIndex>, StoreError> {
        let now = self.store.auth_epoch().await?;
        if self.orgs_epoch.load(Ordering::Acquire) < now {
            let _reload = self.org_reload.lock().await;
            if self.orgs_epoch.load(Ordering::Acquire) < now {
                return self.load_orgs().await;
            }
        }
        self.orgs().await
    }

    /// Load the org tree and keep it unless an invalidation came meanwhile; the caller holds `org_reload`.
    async fn load_orgs(&self) -> Result<Arc<OrgIndex>, StoreError> {
        let generation = self.current();
        let epoch = self.store.auth_epoch().await?;
        let started = Instant::now();
        let orgs = self.store.list_orgs().await?;
        let read = started.elapsed();
        let idx = tokio::task::spawn_blocking(move || OrgIndex::new(orgs))
            .await
            .map(Arc::new)
            .map_err(|e| StoreError::Other(format!("indexing the orgs stopped: {e}")))?;
        tracing::debug!(
            orgs = idx.len(),
            read_ms = read.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "org tree loaded"
        );
        let _ = self.current();
        let mut slot = self.orgs.write();
        if self.generation.load(Ordering::Acquire) == generation {
            *slot = Some((idx.clone(), Instant::now()));
            self.orgs_epoch.store(epoch, Ordering::Release);
        }
        Ok(idx)
    }

    /// How long ago the org tree in the cache was loaded (`None`: not loaded since the last invalidation).
    pub fn org_tree_age(&self) -> Option<Duration> {
        self.current();
        self.orgs.read().as_ref().map(|(_, at)| at.elapsed())
    }

    /// Make the cached org tree look `by` older (for tests of the TTL, which cannot wait half a minute).
    #[doc(hidden)]
    pub fn backdate_org_tree(&self, by: Duration) {
        if let Some((_, at)) = self.orgs.write().as_mut() {
            *at = at.checked_sub(by).unwrap_or(*at);
        }
    }

    /// Whether [`warm_orgs`](Self::warm_orgs) has work: the tree was dropped by a change, or requests use
    /// it and its TTL runs out within [`ORG_REFRESH_AHEAD`].
    pub fn org_tree_wanted(&self) -> bool {
        let since_asked = match self.orgs_asked.load(Ordering::Relaxed) {
            0 => Duration::MAX,
            asked => (self.born.elapsed() + Duration::from_secs(1)).saturating_sub(Duration::from_secs(asked)),
        };
        org_refresh_due(self.org_tree_age(), since_asked)
    }

    /// Load the org tree in the background, before a request has to wait for it (a tree of 10,000 orgs
    /// takes a few hundred milliseconds): after an invalidation, and shortly before the TTL of a tree that
    /// requests use. Skipped otherwise, or while another load runs: an idle server does not rebuild (and
    /// briefly hold twice) a large tree every half minute for nobody.
    pub async fn warm_orgs(&self) -> Result<(), StoreError> {
        let Ok(_reload) = self.org_reload.try_lock() else { return Ok(()) };
        if !self.org_tree_wanted() {
            return Ok(());
        }
        self.load_orgs().await.map(|_| ())
    }

    /// Note a token use; it is queued for writing unless one was written less than a minute ago.
    pub fn note_use(&self, token: &TokenRecord, at: OffsetDateTime, ip: Option<IpAddr>) {
        let mut written = self.written.lock();
        let last = written.get(&token.token_id).copied().or(token.last_used_at);
        if last.is_some_and(|l| at - l < USE_WRITE_INTERVAL && at >= l) {
            return;
        }
        written.insert(token.token_id.clone(), at);
        drop(written);
        let ip = ip.map(|i| canonical(i).to_string());
        self.uses.lock().insert(token.token_id.clone(), TokenUse { token_id: token.token_id.clone(), at, ip });
    }

    /// Write the queued token uses in one batch.
    pub async fn flush_uses(&self) -> Result<usize, StoreError> {
        let batch: Vec<TokenUse> = self.uses.lock().drain().map(|(_, u)| u).collect();
        if batch.is_empty() {
            return Ok(0);
        }
        self.store.record_token_uses(&batch).await?;
        Ok(batch.len())
    }
}

/// The rule behind [`AuthCache::org_tree_wanted`], given the tree's age (`None`: dropped) and how long
/// ago a request last asked for it.
fn org_refresh_due(age: Option<Duration>, since_asked: Duration) -> bool {
    match age {
        None => true,
        Some(age) => age + ORG_REFRESH_AHEAD >= TTL && since_asked < TTL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_tree_is_always_loaded_again() {
        assert!(org_refresh_due(None, Duration::ZERO));
        assert!(org_refresh_due(None, Duration::from_secs(3600)), "even when nobody asked for a long time");
    }

    #[test]
    fn a_tree_in_use_is_loaded_again_shortly_before_its_ttl() {
        let asked = Duration::from_secs(1);
        assert!(!org_refresh_due(Some(Duration::ZERO), asked), "a fresh tree is kept");
        assert!(!org_refresh_due(Some(TTL - ORG_REFRESH_AHEAD - Duration::from_millis(1)), asked));
        assert!(org_refresh_due(Some(TTL - ORG_REFRESH_AHEAD), asked), "within the refresh-ahead window");
        assert!(org_refresh_due(Some(TTL + Duration::from_secs(10)), asked), "and past the TTL");
    }

    #[test]
    fn a_tree_nobody_asks_for_is_left_to_expire() {
        assert!(!org_refresh_due(Some(TTL), TTL), "unused for a whole TTL");
        assert!(!org_refresh_due(Some(TTL * 10), TTL * 2));
        assert!(org_refresh_due(Some(TTL), TTL - Duration::from_secs(1)), "asked within the last TTL");
    }
}
