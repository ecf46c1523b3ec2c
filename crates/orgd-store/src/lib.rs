//! orgd's storage: one [`SqlStore`] that implements the core [`Store`] trait on SQLite (embedded, WAL) and
//! on PostgreSQL, with the migrations of each applied at open. Queries are written once in the SQL both
//! engines share; only the migrations differ. This file opens the store and answers the [`Store`] trait;
//! the SQL lives by aggregate: `orgs`, `users`, `tokens`, `datasets`, `items` (each dataset's table),
//! `jobs` (jobs, files and their chunks), with `rows` decoding them.

mod datasets;
mod drafts;
mod events;
mod history;
mod items;
mod jobs;
mod orgs;
mod rows;
pub mod testing;
mod tokens;
mod users;
mod wal;
mod webhooks;

use async_trait::async_trait;
use orgd_core::clock::to_millis;
use orgd_core::data::drafts::{Draft, DraftItem};
use orgd_core::data::jobs::{ChunkOwner, FileRecord, Job};
use orgd_core::data::row::Row;
use orgd_core::data::{Dataset, Item};
use orgd_core::error::StoreError;
use orgd_core::ids::{DatasetId, DraftId, JobId, OrgId, TenantId};
use orgd_core::model::{Org, TokenRecord, TokenUse, User};
use orgd_core::store::{ItemScan, ItemWrite, LocalChanges, Lookup, Store, StoreResult, TreeLink};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

pub use rows::{org_from_row, token_from_row, user_from_row};

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The SQL store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    items: items::Items,
    changes: std::sync::Arc<Changes>,
}

/// What this process committed through the store (shared by its clones), counted as it commits.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    auth: AtomicU64,
    data: AtomicU64,
}

/// A transaction that changes what auth caches hold (orgs, users, tokens): it moves the store's auth epoch
/// as its first write (on SQLite that takes the write lock before any read), and its commit moves this
/// process's count of auth changes, so no cache over this store can miss it.
pub(crate) struct AuthTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    changes: std::sync::Arc<Changes>,
    data: bool,
}

impl AuthTx {
    /// Also a change of the dataset list (the data epoch moves too).
    pub(crate) async fn with_data(mut self) -> StoreResult<AuthTx> {
        sqlx::query(BUMP_DATA_EPOCH).execute(&mut *self.tx).await.map_err(map_err)?;
        self.data = true;
        Ok(self)
    }

    /// The transaction, for helpers that take one.
    pub(crate) fn tx(&mut self) -> &mut sqlx::Transaction<'static, sqlx::Any> {
        &mut self.tx
    }

    /// Commit, then count the change.
    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_err)?;
        self.changes.auth.fetch_add(1, Ordering::AcqRel);
        if self.data {
            self.changes.data.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }
}

impl std::ops::Deref for AuthTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for AuthTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// Map a driver error to the core's store error.
pub fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
        sqlx::Error::Database(db) if db.code().is_some_and(|c| server_unavailable(&c)) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

/// SQLSTATEs of a server that is going away or not taking connections: connection exceptions (08…),
/// shutdown (57P01 admin, 57P02 crash, 57P03 cannot connect now), too many connections (53300).
fn server_unavailable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

impl SqlStore {
    /// Open (creating the SQLite file and its folder if needed) and migrate. `url` is `sqlite://PATH` or
    /// `postgres://…`.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(file).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
                }
            }
            let url = if path.contains("mode=") { url.to_string() } else { format!("sqlite://{file}?mode=rwc") };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::Other(format!(
                "unsupported database URL '{url}': use sqlite://PATH or postgres://USER@HOST/DB"
            )));
        };
        let opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        let opts = match backend {
            Backend::Sqlite => opts.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 60000; PRAGMA foreign_keys = ON;")
                        .await?;
                    conn.execute(wal::CONNECTION_PRAGMAS).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => opts.max_connections(16),
        };
        let pool = opts.connect(&url).await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&pool).await.map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        let items = match backend {
            Backend::Sqlite => {
                let file = url.trim_start_matches("sqlite://");
                let path = std::path::PathBuf::from(file.split('?').next().unwrap_or(file));
                let at = path.clone();
                tokio::task::spawn_blocking(move || items::upgrade::sqlite(&at))
                    .await
                    .map_err(|e| StoreError::Other(format!("the upgrade stopped: {e}")))??;
                let checkpoints = wal::Checkpointer::start(path.clone())
                    .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite checkpoint thread: {e}")))?;
                items::Items::Lite(items::lite::Lite::new(path, checkpoints))
            }
            Backend::Postgres => {
                let pg = items::pg::Pg::connect(&url).await?;
                items::upgrade::postgres(pg.pool()).await?;
                items::Items::Pg(pg)
            }
        };
        Ok(SqlStore { pool, backend, items, changes: Default::default() })
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool (for capabilities that add their own tables).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Close the pools.
    pub async fn close(&self) {
        self.items.close().await;
        self.pool.close().await;
    }
}

pub(crate) const BUMP_EPOCH: &str = "UPDATE meta SET value = value + 1 WHERE key = 'auth_epoch'";
pub(crate) const BUMP_DATA_EPOCH: &str = "UPDATE meta SET value = value + 1 WHERE key = 'data_epoch'";

pub(crate) fn ms(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(to_millis)
}

pub(crate) fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("model values always serialize")
}

pub(crate) fn bool_int(b: bool) -> i64 {
    b as i64
}

impl SqlStore {
    /// Begin an [`AuthTx`].
    pub(crate) async fn auth_tx(&self) -> StoreResult<AuthTx> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(BUMP_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        Ok(AuthTx { tx, changes: self.changes.clone(), data: false })
    }

    /// Count a committed change of the dataset list made outside an [`AuthTx`].
    pub(crate) fn data_changed(&self) {
        self.changes.data.fetch_add(1, Ordering::AcqRel);
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn auth_epoch(&self) -> StoreResult<i64> {
        let row: (i64,) = sqlx::query_as("SELECT value FROM meta WHERE key = 'auth_epoch'")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row.0)
    }

    async fn data_epoch(&self) -> StoreResult<i64> {
        let row: (i64,) = sqlx::query_as("SELECT value FROM meta WHERE key = 'data_epoch'")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row.0)
    }

    fn local_changes(&self) -> LocalChanges {
        LocalChanges {
            auth: self.changes.auth.load(Ordering::Acquire),
            data: self.changes.data.load(Ordering::Acquire),
        }
    }

    async fn insert_org(&self, org: &Org) -> StoreResult<()> {
        self.insert_org_impl(org).await
    }

    async fn update_org(&self, org: &Org) -> StoreResult<()> {
        self.update_org_impl(org).await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        self.list_orgs_impl().await
    }

    async fn get_org(&self, org_id: &OrgId) -> StoreResult<Option<Org>> {
        self.get_org_impl(org_id).await
    }

    async fn get_org_by_tenant(&self, tenant_id: &TenantId) -> StoreResult<Option<Org>> {
        self.get_org_by_tenant_impl(tenant_id).await
    }

    async fn delete_org(&self, org_id: &OrgId, descendants: bool) -> StoreResult<Vec<OrgId>> {
        self.delete_org_impl(org_id, descendants).await
    }

    async fn insert_user(&self, u: &User) -> StoreResult<User> {
        self.insert_user_impl(u).await
    }

    async fn record_login(&self, u: &User) -> StoreResult<()> {
        self.record_login_impl(u).await
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        self.update_user_impl(u).await
    }

    async fn get_user(&self, psk: i64) -> StoreResult<Option<User>> {
        self.get_user_impl(psk).await
    }

    async fn find_users(&self, user_id: &str, org_id: Option<&OrgId>) -> StoreResult<Vec<User>> {
        self.find_users_impl(user_id, org_id).await
    }

    async fn list_users(&self, org_id: &OrgId) -> StoreResult<Vec<User>> {
        self.list_users_impl(org_id).await
    }

    async fn delete_user(&self, psk: i64) -> StoreResult<bool> {
        self.delete_user_impl(psk).await
    }

    async fn insert_token(&self, t: &TokenRecord, hash: &[u8; 32]) -> StoreResult<()> {
        self.insert_token_impl(t, hash).await
    }

    async fn get_token(&self, token_id: &str) -> StoreResult<Option<(TokenRecord, Vec<u8>)>> {
        self.get_token_impl(token_id).await
    }

    async fn list_tokens(&self, org_id: &OrgId, user_psk: Option<i64>) -> StoreResult<Vec<TokenRecord>> {
        self.list_tokens_impl(org_id, user_psk).await
    }

    async fn revoke_token(&self, token_id: &str, at: OffsetDateTime) -> StoreResult<bool> {
        self.revoke_token_impl(token_id, at).await
    }

    async fn delete_token(&self, token_id: &str) -> StoreResult<bool> {
        self.delete_token_impl(token_id).await
    }

    async fn wipe(&self) -> StoreResult<()> {
        // A write first: on SQLite it takes the write lock now, before the read of the dataset list (a
        // transaction that reads, then writes after another connection wrote, fails at once).
        let mut tx = self.auth_tx().await?.with_data().await?;
        datasets::drop_item_tables(tx.tx(), "", None).await?;
        for table in [
            "file_chunks",
            "files",
            "job_chunks",
            "job_outcomes",
            "jobs",
            "draft_items",
            "drafts",
            "datasets",
            "tokens",
            "users",
            "orgs",
            "events",
            "item_versions",
            "webhook_deliveries",
            "webhook_kinds",
            "webhooks",
        ] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await.map_err(map_err)?;
        }
        let restart = match self.backend {
            Backend::Sqlite => "DELETE FROM sqlite_sequence WHERE name = 'users'",
            Backend::Postgres => "SELECT setval(pg_get_serial_sequence('users', 'psk'), 1, false)",
        };
        sqlx::query(restart).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await
    }

    async fn revoke_sessions(&self, user_psk: i64, except: Option<&str>, at: OffsetDateTime) -> StoreResult<()> {
        self.revoke_sessions_impl(user_psk, except, at).await
    }

    async fn set_token_end(&self, token_id: &str, ends_at: Option<OffsetDateTime>) -> StoreResult<()> {
        self.set_token_end_impl(token_id, ends_at).await
    }

    async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.purge_sessions_impl(before).await
    }

    async fn insert_dataset(&self, ds: &Dataset) -> StoreResult<()> {
        self.insert_dataset_impl(ds).await
    }

    async fn list_datasets(&self, org_id: &OrgId) -> StoreResult<Vec<Dataset>> {
        self.list_datasets_impl(org_id).await
    }

    async fn get_dataset(&self, dataset_id: &DatasetId) -> StoreResult<Option<Dataset>> {
        self.get_dataset_impl(dataset_id.as_str()).await
    }

    async fn update_dataset_definition(&self, ds: &Dataset) -> StoreResult<bool> {
        self.update_dataset_definition_impl(ds).await
    }
    async fn evolve_dataset(&self, before: &Dataset, after: &Dataset) -> StoreResult<bool> {
        self.evolve_dataset_impl(before, after).await
    }
    async fn retype_property(
        &self,
        before: &Dataset,
        after: &Dataset,
        i: usize,
        convert: orgd_core::store::Convert,
    ) -> StoreResult<Option<u64>> {
        let kept = self.items.retype(before, after, i, convert).await?;
        if kept.is_some() {
            self.data_changed();
        }
        Ok(kept)
    }
    async fn delete_dataset(&self, dataset_id: &DatasetId) -> StoreResult<bool> {
        self.delete_dataset_impl(dataset_id.as_str()).await
    }

    async fn item_page(&self, ds: &Dataset, after: i64, limit: i64) -> StoreResult<Vec<Item>> {
        self.items.item_page(ds, after, limit).await
    }

    async fn get_item(&self, ds: &Dataset, item_id: &str) -> StoreResult<Option<Item>> {
        self.items.get_item(ds, item_id).await
    }

    async fn scan(&self, ds: &Dataset, props: &[usize], passes: usize) -> StoreResult<Box<dyn ItemScan>> {
        self.items.scan(ds, props, passes).await
    }

    async fn tree_links(&self, ds: &Dataset) -> StoreResult<Vec<TreeLink>> {
        self.items.tree_links(ds).await
    }

    async fn index_items(&self, ds: &Dataset, props: &[usize]) -> StoreResult<()> {
        self.items.index_items(ds, props).await
    }

    async fn begin_items(&self, ds: &Dataset) -> StoreResult<Box<dyn ItemWrite>> {
        self.items.begin(ds).await
    }

    async fn find_items(&self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        self.items.find_items(ds, lookup).await
    }

    async fn insert_draft(&self, draft: &Draft) -> StoreResult<()> {
        self.insert_draft_impl(draft).await
    }

    async fn list_drafts(&self, org_id: &OrgId) -> StoreResult<Vec<Draft>> {
        self.list_drafts_impl(org_id).await
    }

    async fn get_draft(&self, draft_id: &DraftId) -> StoreResult<Option<Draft>> {
        self.get_draft_impl(draft_id).await
    }

    async fn delete_draft(&self, draft_id: &DraftId) -> StoreResult<bool> {
        self.delete_draft_impl(draft_id).await
    }

    async fn draft_items(&self, draft_id: &DraftId) -> StoreResult<Vec<DraftItem>> {
        self.draft_items_impl(draft_id).await
    }

    async fn save_draft(
        &self,
        draft: &Draft,
        expected_version: i64,
        items: &[DraftItem],
        dropped: &[i64],
    ) -> StoreResult<bool> {
        self.save_draft_impl(draft, expected_version, items, dropped).await
    }

    async fn clear_draft(&self, draft_id: &DraftId, version: i64, now_ms: i64) -> StoreResult<bool> {
        self.clear_draft_impl(draft_id, version, now_ms).await
    }

    async fn list_events(
        &self,
        query: &orgd_core::events::EventQuery,
    ) -> StoreResult<Vec<(i64, orgd_core::events::Event)>> {
        self.list_events_impl(query).await
    }

    async fn purge_events(&self, org_id: &OrgId, before: i64) -> StoreResult<u64> {
        self.purge_events_impl(org_id, before).await
    }

    async fn claim_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool> {
        self.claim_lease_impl(name, holder, now, until).await
    }

    async fn item_versions(
        &self,
        dataset_id: &DatasetId,
        item_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<orgd_core::data::history::Version>> {
        self.item_versions_impl(dataset_id, item_id, limit).await
    }

    async fn versions_after(
        &self,
        dataset_id: &DatasetId,
        at: i64,
    ) -> StoreResult<Vec<orgd_core::data::history::Version>> {
        self.versions_after_impl(dataset_id, at).await
    }

    async fn purge_versions(&self, org_id: &OrgId, before: i64) -> StoreResult<u64> {
        self.purge_versions_impl(org_id, before).await
    }

    async fn insert_webhook(&self, sub: &orgd_core::webhooks::Subscription) -> StoreResult<()> {
        self.insert_webhook_impl(sub).await
    }

    async fn list_webhooks(&self, org_id: Option<&OrgId>) -> StoreResult<Vec<orgd_core::webhooks::Subscription>> {
        self.list_webhooks_impl(org_id).await
    }

    async fn get_webhook(
        &self,
        id: &orgd_core::ids::WebhookId,
    ) -> StoreResult<Option<orgd_core::webhooks::Subscription>> {
        self.get_webhook_impl(id).await
    }

    async fn delete_webhook(&self, id: &orgd_core::ids::WebhookId) -> StoreResult<bool> {
        self.delete_webhook_impl(id).await
    }

    async fn list_deliveries(
        &self,
        id: &orgd_core::ids::WebhookId,
        state: Option<orgd_core::webhooks::DeliveryState>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<orgd_core::webhooks::Delivery>> {
        self.list_deliveries_impl(id, state, before, limit).await
    }

    async fn get_delivery(
        &self,
        id: &orgd_core::ids::WebhookId,
        delivery_id: i64,
    ) -> StoreResult<Option<orgd_core::webhooks::Delivery>> {
        self.get_delivery_impl(id, delivery_id).await
    }

    async fn claim_deliveries(&self, now: i64, until: i64, limit: i64) -> StoreResult<Vec<orgd_core::webhooks::Due>> {
        self.claim_deliveries_impl(now, until, limit).await
    }

    async fn finish_deliveries(&self, attempts: &[(i64, orgd_core::webhooks::Attempt)]) -> StoreResult<()> {
        self.finish_deliveries_impl(attempts).await
    }

    async fn redeliver(&self, id: &orgd_core::ids::WebhookId, delivery_id: i64, now: i64) -> StoreResult<bool> {
        self.redeliver_impl(id, delivery_id, now).await
    }

    async fn secret(&self, name: &str) -> StoreResult<String> {
        self.secret_impl(name).await
    }

    async fn insert_job(&self, job: &Job) -> StoreResult<()> {
        self.insert_job_impl(job).await
    }

    async fn get_job(&self, job_id: &JobId) -> StoreResult<Option<Job>> {
        self.get_job_impl(job_id.as_str()).await
    }

    async fn claim_job(&self, now: i64, per_org: i64) -> StoreResult<Option<Job>> {
        self.claim_job_impl(now, per_org).await
    }

    async fn save_job(&self, job: &Job) -> StoreResult<()> {
        self.save_job_impl(job).await
    }

    async fn touch_job(&self, job_id: &JobId, now: i64) -> StoreResult<()> {
        self.touch_job_impl(job_id.as_str(), now).await
    }

    async fn requeue_stale_jobs(
        &self,
        before: i64,
        now: i64,
        max_attempts: i64,
        errors: &str,
    ) -> StoreResult<(u64, u64)> {
        self.requeue_stale_jobs_impl(before, now, max_attempts, errors).await
    }

    async fn release_job(&self, job_id: &JobId, now: i64) -> StoreResult<bool> {
        self.release_job_impl(job_id.as_str(), now).await
    }

    async fn purge_jobs(&self, before: i64) -> StoreResult<u64> {
        self.purge_jobs_impl(before).await
    }

    async fn put_chunk(&self, owner: &ChunkOwner, n: i64, data: &[u8]) -> StoreResult<()> {
        self.put_chunk_impl(owner, n, data).await
    }

    async fn chunks(&self, owner: &ChunkOwner, from: i64, limit: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        self.chunks_impl(owner, from, limit).await
    }

    async fn delete_chunks(&self, owner: &ChunkOwner) -> StoreResult<()> {
        self.delete_chunks_impl(owner).await
    }

    async fn insert_file(&self, file: &FileRecord) -> StoreResult<()> {
        self.insert_file_impl(file).await
    }

    async fn get_file(&self, file_id: &str) -> StoreResult<Option<FileRecord>> {
        self.get_file_impl(file_id).await
    }

    async fn claim_upload(&self, file_id: &str) -> StoreResult<bool> {
        self.claim_upload_impl(file_id).await
    }

    async fn end_upload(&self, file_id: &str, kept: bool) -> StoreResult<()> {
        self.end_upload_impl(file_id, kept).await
    }

    async fn purge_files(&self, before: i64) -> StoreResult<u64> {
        self.purge_files_impl(before).await
    }

    async fn record_token_uses(&self, uses: &[TokenUse]) -> StoreResult<()> {
        self.record_token_uses_impl(uses).await
    }
}
