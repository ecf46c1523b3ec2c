//! orgd's storage: one [`SqlStore`] that implements the core [`Store`] trait on SQLite (embedded, WAL) and
//! on PostgreSQL, with the migrations of each applied at open. Queries are written once in the SQL both
//! engines share; only the migrations differ.

mod datasets;
mod items;
mod jobs;
mod rows;
pub mod testing;

use async_trait::async_trait;
use orgd_core::clock::to_millis;
use orgd_core::data::jobs::{ChunkOwner, FileRecord, Job};
use orgd_core::data::{Dataset, Item};
use orgd_core::error::StoreError;
use orgd_core::ids::{OrgId, TenantId};
use orgd_core::model::{Org, TokenRecord, TokenUse, User};
use orgd_core::store::{ItemScan, ItemWrite, LocalChanges, Store, StoreResult, TreeLink};
use sqlx::any::{AnyPoolOptions, AnyRow};
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
                items::Items::Lite(items::lite::Lite::new(path))
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

const BUMP_EPOCH: &str = "UPDATE meta SET value = value + 1 WHERE key = 'auth_epoch'";
pub(crate) const BUMP_DATA_EPOCH: &str = "UPDATE meta SET value = value + 1 WHERE key = 'data_epoch'";

const ORG_COLS: &str = "org_id, tenant_id, parent_id, name, allowed_subnets, usage_plan, settings, created_at";
const USER_COLS: &str = "psk, org_id, user_id, email, first_name, last_name, mobile_phone, role, enabled, \
    expires_at, token_access, allowed_subnets, password_hash, password_changed_at, password_history, \
    custom_metadata, failed_login_count, last_failed_login_at, locked_until, locked_permanently, created_at, \
    modified_at, last_login_at";
const TOKEN_COLS: &str = "token_id, kind, user_psk, label, starts_at, ends_at, subnets, remember_me, \
    created_at, last_used_at, last_used_ip, revoked_at";

fn ms(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(to_millis)
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("model values always serialize")
}

fn bool_int(b: bool) -> i64 {
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

    async fn one_org(&self, sql: &str, arg: &str) -> StoreResult<Option<Org>> {
        let row: Option<AnyRow> = sqlx::query(sql).bind(arg).fetch_optional(&self.pool).await.map_err(map_err)?;
        row.map(|r| org_from_row(&r)).transpose()
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
        let mut tx = self.auth_tx().await?;
        sqlx::query(&format!("INSERT INTO orgs ({ORG_COLS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(org.org_id.as_str())
            .bind(org.tenant_id.as_str())
            .bind(org.parent_id.as_ref().map(|p| p.as_str().to_string()))
            .bind(&org.name)
            .bind(json(&org.allowed_subnets.to_strings()))
            .bind(json(&org.usage_plan))
            .bind(json(&org.settings))
            .bind(to_millis(org.created_at))
            .bind(org.name.to_lowercase())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await
    }

    async fn update_org(&self, org: &Org) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        sqlx::query(
            "UPDATE orgs SET name = $2, name_key = $3, allowed_subnets = $4, usage_plan = $5, settings = $6 \
             WHERE org_id = $1",
        )
        .bind(org.org_id.as_str())
        .bind(&org.name)
        .bind(org.name.to_lowercase())
        .bind(json(&org.allowed_subnets.to_strings()))
        .bind(json(&org.usage_plan))
        .bind(json(&org.settings))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        let rows = sqlx::query(&format!("SELECT {ORG_COLS} FROM orgs")).fetch_all(&self.pool).await.map_err(map_err)?;
        // Decoding every org with its settings JSON is CPU work (≈ 150 ms for 10,000 orgs): keep it off the
        // async workers, which are serving requests meanwhile.
        tokio::task::spawn_blocking(move || rows.iter().map(org_from_row).collect())
            .await
            .map_err(|e| StoreError::Other(format!("decoding the orgs stopped: {e}")))?
    }

    async fn get_org(&self, org_id: &OrgId) -> StoreResult<Option<Org>> {
        self.one_org(&format!("SELECT {ORG_COLS} FROM orgs WHERE org_id = $1"), org_id.as_str()).await
    }

    async fn get_org_by_tenant(&self, tenant_id: &TenantId) -> StoreResult<Option<Org>> {
        self.one_org(&format!("SELECT {ORG_COLS} FROM orgs WHERE tenant_id = $1"), tenant_id.as_str()).await
    }

    async fn delete_org(&self, org_id: &OrgId, descendants: bool) -> StoreResult<Vec<OrgId>> {
        // Writes first, so that SQLite takes its write lock before the reads (see `wipe`).
        let mut tx = self.auth_tx().await?.with_data().await?;
        let below: Vec<(String, i64)> = sqlx::query_as(
            "WITH RECURSIVE below (org_id, depth) AS (SELECT org_id, 0 FROM orgs WHERE org_id = $1 \
             UNION ALL SELECT o.org_id, b.depth + 1 FROM orgs o JOIN below b ON o.parent_id = b.org_id) \
             SELECT org_id, depth FROM below ORDER BY depth DESC, org_id",
        )
        .bind(org_id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        if below.len() > 1 && !descendants {
            return Err(StoreError::Conflict(format!(
                "the org has {} org(s) below it; delete them first, or delete them with it",
                below.len() - 1
            )));
        }
        let mut deleted = Vec::with_capacity(below.len());
        for (id, _) in below {
            datasets::drop_item_tables(tx.tx(), "WHERE org_id = $1", Some(&id)).await?;
            for sql in [
                "DELETE FROM job_outcomes WHERE job_id IN (SELECT job_id FROM jobs WHERE org_id = $1)",
                "DELETE FROM tokens WHERE user_psk IN (SELECT psk FROM users WHERE org_id = $1)",
                "DELETE FROM users WHERE org_id = $1",
                // Datasets, jobs and files (with their chunks) go by their foreign keys.
                "DELETE FROM orgs WHERE org_id = $1",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *tx).await.map_err(map_err)?;
            }
            deleted.extend(OrgId::parse(&id));
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn insert_user(&self, u: &User) -> StoreResult<User> {
        let mut tx = self.auth_tx().await?;
        let row: (i64,) = sqlx::query_as(
            "INSERT INTO users (org_id, user_id, user_key, email, first_name, last_name, mobile_phone, role, \
             enabled, expires_at, token_access, allowed_subnets, password_hash, password_changed_at, \
             password_history, custom_metadata, failed_login_count, last_failed_login_at, locked_until, \
             locked_permanently, created_at, modified_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) RETURNING psk",
        )
        .bind(u.org_id.as_str())
        .bind(&u.user_id)
        .bind(u.user_id.to_lowercase())
        .bind(&u.email)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(u.mobile_phone.clone())
        .bind(u.role.as_str())
        .bind(bool_int(u.enabled))
        .bind(ms(u.expires_at))
        .bind(bool_int(u.token_access))
        .bind(json(&u.allowed_subnets.to_strings()))
        .bind(u.password_hash.clone())
        .bind(ms(u.password_changed_at))
        .bind(json(&u.password_history))
        .bind(json(&u.custom_metadata))
        .bind(u.failed_login_count as i64)
        .bind(ms(u.last_failed_login_at))
        .bind(ms(u.locked_until))
        .bind(bool_int(u.locked_permanently))
        .bind(to_millis(u.created_at))
        .bind(to_millis(u.modified_at))
        .bind(ms(u.last_login_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match map_err(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("user_id '{}' already exists in the org", u.user_id))
            }
            other => other,
        })?;
        tx.commit().await?;
        Ok(User { psk: row.0, ..u.clone() })
    }

    async fn record_login(&self, u: &User) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET failed_login_count = $2, last_failed_login_at = $3, locked_until = $4, \
             locked_permanently = $5, last_login_at = $6 WHERE psk = $1",
        )
        .bind(u.psk)
        .bind(u.failed_login_count as i64)
        .bind(ms(u.last_failed_login_at))
        .bind(ms(u.locked_until))
        .bind(bool_int(u.locked_permanently))
        .bind(ms(u.last_login_at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        sqlx::query(
            "UPDATE users SET email = $2, first_name = $3, last_name = $4, mobile_phone = $5, role = $6, \
             enabled = $7, expires_at = $8, token_access = $9, allowed_subnets = $10, password_hash = $11, \
             password_changed_at = $12, password_history = $13, custom_metadata = $14, failed_login_count = $15, \
             last_failed_login_at = $16, locked_until = $17, locked_permanently = $18, modified_at = $19, \
             last_login_at = $20 WHERE psk = $1",
        )
        .bind(u.psk)
        .bind(&u.email)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(u.mobile_phone.clone())
        .bind(u.role.as_str())
        .bind(bool_int(u.enabled))
        .bind(ms(u.expires_at))
        .bind(bool_int(u.token_access))
        .bind(json(&u.allowed_subnets.to_strings()))
        .bind(u.password_hash.clone())
        .bind(ms(u.password_changed_at))
        .bind(json(&u.password_history))
        .bind(json(&u.custom_metadata))
        .bind(u.failed_login_count as i64)
        .bind(ms(u.last_failed_login_at))
        .bind(ms(u.locked_until))
        .bind(bool_int(u.locked_permanently))
        .bind(to_millis(u.modified_at))
        .bind(ms(u.last_login_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await
    }

    async fn get_user(&self, psk: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE psk = $1"))
            .bind(psk)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn find_users(&self, user_id: &str, org_id: Option<&OrgId>) -> StoreResult<Vec<User>> {
        let rows = match org_id {
            Some(org) => {
                sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE user_key = $1 AND org_id = $2"))
                    .bind(user_id.to_lowercase())
                    .bind(org.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE user_key = $1 ORDER BY psk"))
                    .bind(user_id.to_lowercase())
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn list_users(&self, org_id: &OrgId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE org_id = $1 ORDER BY psk"))
            .bind(org_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete_user(&self, psk: i64) -> StoreResult<bool> {
        let mut tx = self.auth_tx().await?;
        sqlx::query("DELETE FROM tokens WHERE user_psk = $1").bind(psk).execute(&mut *tx).await.map_err(map_err)?;
        let done =
            sqlx::query("DELETE FROM users WHERE psk = $1").bind(psk).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_token(&self, t: &TokenRecord, hash: &[u8; 32]) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO tokens ({TOKEN_COLS}, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        let insert = sqlx::query(&sql)
            .bind(&t.token_id)
            .bind(t.kind.as_str())
            .bind(t.user_psk)
            .bind(&t.label)
            .bind(to_millis(t.starts_at))
            .bind(ms(t.ends_at))
            .bind(json(&t.subnets.to_strings()))
            .bind(bool_int(t.remember_me))
            .bind(to_millis(t.created_at))
            .bind(ms(t.last_used_at))
            .bind(t.last_used_ip.clone())
            .bind(ms(t.revoked_at))
            .bind(hash.to_vec());
        if t.kind == orgd_core::model::TokenKind::Session {
            insert.execute(&self.pool).await.map_err(map_err)?;
            return Ok(());
        }
        let mut tx = self.auth_tx().await?;
        insert.execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await
    }

    async fn get_token(&self, token_id: &str) -> StoreResult<Option<(TokenRecord, Vec<u8>)>> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLS}, hash FROM tokens WHERE token_id = $1"))
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            use sqlx::Row;
            let hash: Vec<u8> = r.try_get("hash").map_err(map_err)?;
            Ok((token_from_row(&r)?, hash))
        })
        .transpose()
    }

    async fn list_tokens(&self, org_id: &OrgId, user_psk: Option<i64>) -> StoreResult<Vec<TokenRecord>> {
        let cols = TOKEN_COLS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
        let base = format!("SELECT {cols} FROM tokens t JOIN users u ON u.psk = t.user_psk WHERE u.org_id = $1");
        let rows = match user_psk {
            Some(psk) => {
                sqlx::query(&format!("{base} AND t.user_psk = $2 ORDER BY t.created_at DESC, t.token_id"))
                    .bind(org_id.as_str())
                    .bind(psk)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(&format!("{base} ORDER BY t.created_at DESC, t.token_id"))
                    .bind(org_id.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, token_id: &str, at: OffsetDateTime) -> StoreResult<bool> {
        let mut tx = self.auth_tx().await?;
        let done = sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL")
            .bind(token_id)
            .bind(to_millis(at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_token(&self, token_id: &str) -> StoreResult<bool> {
        let mut tx = self.auth_tx().await?;
        let done = sqlx::query("DELETE FROM tokens WHERE token_id = $1")
            .bind(token_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn wipe(&self) -> StoreResult<()> {
        // A write first: on SQLite it takes the write lock now, before the read of the dataset list (a
        // transaction that reads, then writes after another connection wrote, fails at once).
        let mut tx = self.auth_tx().await?.with_data().await?;
        datasets::drop_item_tables(tx.tx(), "", None).await?;
        for table in
            ["file_chunks", "files", "job_chunks", "job_outcomes", "jobs", "datasets", "tokens", "users", "orgs"]
        {
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
        let mut tx = self.auth_tx().await?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = $2 WHERE user_psk = $1 AND kind = 'session' AND revoked_at IS NULL \
             AND token_id <> $3",
        )
        .bind(user_psk)
        .bind(to_millis(at))
        .bind(except.unwrap_or("").to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await
    }

    async fn set_token_end(&self, token_id: &str, ends_at: Option<OffsetDateTime>) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        sqlx::query("UPDATE tokens SET ends_at = $2 WHERE token_id = $1")
            .bind(token_id)
            .bind(ms(ends_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await
    }

    async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM tokens WHERE kind = 'session' AND ((ends_at IS NOT NULL AND ends_at < $1) \
             OR (revoked_at IS NOT NULL AND revoked_at < $1))",
        )
        .bind(to_millis(before))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_dataset(&self, ds: &Dataset) -> StoreResult<()> {
        self.insert_dataset_impl(ds).await
    }

    async fn list_datasets(&self, org_id: &OrgId) -> StoreResult<Vec<Dataset>> {
        self.list_datasets_impl(org_id).await
    }

    async fn get_dataset(&self, dataset_id: &str) -> StoreResult<Option<Dataset>> {
        self.get_dataset_impl(dataset_id).await
    }

    async fn delete_dataset(&self, dataset_id: &str) -> StoreResult<bool> {
        self.delete_dataset_impl(dataset_id).await
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

    async fn secret(&self, name: &str) -> StoreResult<String> {
        self.secret_impl(name).await
    }

    async fn insert_job(&self, job: &Job) -> StoreResult<()> {
        self.insert_job_impl(job).await
    }

    async fn get_job(&self, job_id: &str) -> StoreResult<Option<Job>> {
        self.get_job_impl(job_id).await
    }

    async fn claim_job(&self, now: i64, per_org: i64) -> StoreResult<Option<Job>> {
        self.claim_job_impl(now, per_org).await
    }

    async fn save_job(&self, job: &Job) -> StoreResult<()> {
        self.save_job_impl(job).await
    }

    async fn touch_job(&self, job_id: &str, now: i64) -> StoreResult<()> {
        self.touch_job_impl(job_id, now).await
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

    async fn release_job(&self, job_id: &str, now: i64) -> StoreResult<bool> {
        self.release_job_impl(job_id, now).await
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for u in uses {
            sqlx::query("UPDATE tokens SET last_used_at = $2, last_used_ip = $3 WHERE token_id = $1")
                .bind(&u.token_id)
                .bind(to_millis(u.at))
                .bind(u.ip.clone())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}
