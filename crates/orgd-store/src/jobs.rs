//! Jobs, temporary files and their chunked bytes in SQL, plus shared secrets.

use crate::{events, map_err, Backend, SqlStore};
use orgd_core::data::jobs::{ChunkOwner, FileRecord, Job, JobKind, JobStatus};
use orgd_core::error::StoreError;
use orgd_core::events::Event;
use orgd_core::ids::{DatasetId, JobId, OrgId};
use orgd_core::store::StoreResult;
use rand::RngCore;
use sqlx::any::AnyRow;
use sqlx::Row;

const JOB_COLS: &str = "job_id, org_id, dataset_id, kind, status, created_by, created_by_psk, trace_id, request, \
    result_type, result_kept, errors, error_count, created_at, modified_at, finished_at";

fn job_from_row(r: &AnyRow) -> Result<Job, StoreError> {
    let s = |c: &str| r.try_get::<String, _>(c).map_err(map_err);
    let i = |c: &str| r.try_get::<i64, _>(c).map_err(map_err);
    let bad = |c: &str| StoreError::Other(format!("jobs.{c} holds an invalid value"));
    let errors: Option<String> = r.try_get("errors").map_err(map_err)?;
    Ok(Job {
        id: JobId::parse(&s("job_id")?).ok_or_else(|| StoreError::Other("a stored job id does not read".into()))?,
        org_id: OrgId::parse(&s("org_id")?).ok_or_else(|| StoreError::Other("a stored org id does not read".into()))?,
        dataset_id: DatasetId::parse(&s("dataset_id")?)
            .ok_or_else(|| StoreError::Other("a stored dataset id does not read".into()))?,
        kind: JobKind::parse(&s("kind")?).ok_or_else(|| bad("kind"))?,
        status: JobStatus::parse(&s("status")?).ok_or_else(|| bad("status"))?,
        created_by: s("created_by")?,
        created_by_psk: i("created_by_psk")?,
        trace_id: s("trace_id")?,
        request: serde_json::from_str(&s("request")?).map_err(|_| bad("request"))?,
        result_type: r.try_get("result_type").map_err(map_err)?,
        result_kept: i("result_kept")? != 0,
        errors: errors.map(|e| serde_json::from_str(&e)).transpose().map_err(|_| bad("errors"))?,
        error_count: i("error_count")?,
        created_at: i("created_at")?,
        modified_at: i("modified_at")?,
        finished_at: r.try_get("finished_at").map_err(map_err)?,
    })
}

/// `files.uploaded`: open for its one upload, being uploaded (claimed), uploaded.
const OPEN: i64 = 0;
const UPLOADED: i64 = 1;
const UPLOADING: i64 = 2;

fn file_from_row(r: &AnyRow) -> Result<FileRecord, StoreError> {
    Ok(FileRecord {
        id: r.try_get("file_id").map_err(map_err)?,
        org_id: OrgId::parse(&r.try_get::<String, _>("org_id").map_err(map_err)?)
            .ok_or_else(|| StoreError::Other("a stored org id does not read".into()))?,
        target_type: r.try_get("target_type").map_err(map_err)?,
        target_encoding: r.try_get("target_encoding").map_err(map_err)?,
        uploaded: r.try_get::<i64, _>("uploaded").map_err(map_err)? == UPLOADED,
        created_at: r.try_get("created_at").map_err(map_err)?,
        expires_at: r.try_get("expires_at").map_err(map_err)?,
    })
}

fn owner_sql(owner: &ChunkOwner) -> (&'static str, &'static str, &str) {
    match owner {
        ChunkOwner::Job(id) => ("job_chunks", "job_id", id.as_str()),
        ChunkOwner::File(id) => ("file_chunks", "file_id", id.as_str()),
    }
}

impl SqlStore {
    pub(crate) async fn secret_impl(&self, name: &str) -> StoreResult<String> {
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        let fresh: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let sql = match self.backend() {
            Backend::Sqlite => "INSERT OR IGNORE INTO secrets (name, value) VALUES ($1, $2)",
            Backend::Postgres => "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        };
        sqlx::query(sql).bind(name).bind(fresh).execute(self.pool()).await.map_err(map_err)?;
        let row: (String,) = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await
            .map_err(map_err)?;
        Ok(row.0)
    }

    pub(crate) async fn insert_job_impl(&self, j: &Job) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(&format!(
            "INSERT INTO jobs ({JOB_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(j.id.as_str())
        .bind(j.org_id.as_str())
        .bind(j.dataset_id.as_str())
        .bind(j.kind.as_str())
        .bind(j.status.as_str())
        .bind(&j.created_by)
        .bind(j.created_by_psk)
        .bind(&j.trace_id)
        .bind(j.request.to_string())
        .bind(j.result_type.clone())
        .bind(j.result_kept as i64)
        .bind(j.errors.as_ref().map(|e| serde_json::Value::from(e.clone()).to_string()))
        .bind(j.error_count)
        .bind(j.created_at)
        .bind(j.modified_at)
        .bind(j.finished_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let detail = serde_json::json!({"type": j.kind.as_str(), "datasetId": j.dataset_id.as_str()});
        events::record(&mut tx, &Event::new(&j.org_id, "job", j.id.as_str(), "job.queued").detail(detail)).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn get_job_impl(&self, id: &str) -> StoreResult<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLS} FROM jobs WHERE job_id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(map_err)?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    pub(crate) async fn claim_job_impl(&self, now: i64, per_org: i64) -> StoreResult<Option<Job>> {
        let candidate: Option<(String,)> = sqlx::query_as(
            "SELECT job_id FROM jobs j WHERE status = 'created' AND (SELECT COUNT(*) FROM jobs r \
             WHERE r.org_id = j.org_id AND r.status = 'running') < $1 ORDER BY created_at, job_id LIMIT 1",
        )
        .bind(per_org)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        let Some((id,)) = candidate else { return Ok(None) };
        let done = sqlx::query(
            "UPDATE jobs SET status = 'running', modified_at = $2, attempts = attempts + 1 \
             WHERE job_id = $1 AND status = 'created'",
        )
        .bind(&id)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_job_impl(&id).await
    }

    pub(crate) async fn save_job_impl(&self, j: &Job) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(
            "UPDATE jobs SET status = $2, result_type = $3, result_kept = $4, errors = $5, error_count = $6, \
             modified_at = $7, finished_at = $8 WHERE job_id = $1",
        )
        .bind(j.id.as_str())
        .bind(j.status.as_str())
        .bind(j.result_type.clone())
        .bind(j.result_kept as i64)
        .bind(j.errors.as_ref().map(|e| serde_json::Value::from(e.clone()).to_string()))
        .bind(j.error_count)
        .bind(j.modified_at)
        .bind(j.finished_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let kind = match j.status {
            JobStatus::Completed => Some("job.completed"),
            JobStatus::Failed => Some("job.failed"),
            JobStatus::Created | JobStatus::Running => None,
        };
        if let Some(kind) = kind {
            let detail = serde_json::json!({"type": j.kind.as_str(), "datasetId": j.dataset_id.as_str(),
                "errorCount": j.error_count});
            events::record(&mut tx, &Event::new(&j.org_id, "job", j.id.as_str(), kind).detail(detail)).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn touch_job_impl(&self, id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET modified_at = $2 WHERE job_id = $1 AND status = 'running'")
            .bind(id)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn requeue_stale_jobs_impl(
        &self,
        before: i64,
        now: i64,
        max_attempts: i64,
        errors: &str,
    ) -> StoreResult<(u64, u64)> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(
            "DELETE FROM job_chunks WHERE job_id IN (SELECT job_id FROM jobs WHERE status = 'running' AND modified_at < $1) \
             AND job_id NOT IN (SELECT job_id FROM job_outcomes)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'created', modified_at = $2 \
             WHERE status = 'running' AND modified_at < $1 AND attempts < $3",
        )
        .bind(before)
        .bind(now)
        .bind(max_attempts)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let failed: Vec<(String, String, String, String)> = sqlx::query_as(
            "UPDATE jobs SET status = 'failed', errors = $3, error_count = 1, modified_at = $2, finished_at = $2 \
             WHERE status = 'running' AND modified_at < $1 RETURNING job_id, org_id, kind, dataset_id",
        )
        .bind(before)
        .bind(now)
        .bind(errors)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        // A job given up after its nodes died fails as any other: with its event (made by orgd itself).
        for (job, org, kind, dataset) in &failed {
            let Some(org) = OrgId::parse(org) else { continue };
            let detail = serde_json::json!({"type": kind, "datasetId": dataset, "errorCount": 1});
            events::record(&mut tx, &Event::new(&org, "job", job, "job.failed").detail(detail)).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok((requeued.rows_affected(), failed.len() as u64))
    }

    pub(crate) async fn release_job_impl(&self, id: &str, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query("DELETE FROM job_chunks WHERE job_id = $1 AND job_id NOT IN (SELECT job_id FROM job_outcomes)")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let done = sqlx::query(
            "UPDATE jobs SET status = 'created', modified_at = $2, attempts = attempts - 1 \
             WHERE job_id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn purge_jobs_impl(&self, before: i64) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        for table in ["job_chunks", "job_outcomes"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE job_id IN (SELECT job_id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1)"
            ))
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        let done = sqlx::query("DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn put_chunk_impl(&self, owner: &ChunkOwner, n: i64, data: &[u8]) -> StoreResult<()> {
        let (table, col, id) = owner_sql(owner);
        sqlx::query(&format!("INSERT INTO {table} ({col}, n, data) VALUES ($1, $2, $3)"))
            .bind(id)
            .bind(n)
            .bind(data.to_vec())
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn chunks_impl(
        &self,
        owner: &ChunkOwner,
        from: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let (table, col, id) = owner_sql(owner);
        let rows =
            sqlx::query(&format!("SELECT n, data FROM {table} WHERE {col} = $1 AND n >= $2 ORDER BY n LIMIT $3"))
                .bind(id)
                .bind(from)
                .bind(limit)
                .fetch_all(self.pool())
                .await
                .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok((r.try_get::<i64, _>("n").map_err(map_err)?, r.try_get::<Vec<u8>, _>("data").map_err(map_err)?))
            })
            .collect()
    }

    pub(crate) async fn delete_chunks_impl(&self, owner: &ChunkOwner) -> StoreResult<()> {
        let (table, col, id) = owner_sql(owner);
        sqlx::query(&format!("DELETE FROM {table} WHERE {col} = $1"))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn insert_file_impl(&self, f: &FileRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO files (file_id, org_id, target_type, target_encoding, uploaded, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&f.id)
        .bind(f.org_id.as_str())
        .bind(&f.target_type)
        .bind(&f.target_encoding)
        .bind(f.uploaded as i64)
        .bind(f.created_at)
        .bind(f.expires_at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_file_impl(&self, id: &str) -> StoreResult<Option<FileRecord>> {
        let row = sqlx::query(
            "SELECT file_id, org_id, target_type, target_encoding, uploaded, created_at, expires_at FROM files WHERE file_id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        row.map(|r| file_from_row(&r)).transpose()
    }

    pub(crate) async fn claim_upload_impl(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE files SET uploaded = $2 WHERE file_id = $1 AND uploaded = $3")
            .bind(id)
            .bind(UPLOADING)
            .bind(OPEN)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn end_upload_impl(&self, id: &str, kept: bool) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        if !kept {
            sqlx::query("DELETE FROM file_chunks WHERE file_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query("UPDATE files SET uploaded = $2 WHERE file_id = $1 AND uploaded = $3")
            .bind(id)
            .bind(if kept { UPLOADED } else { OPEN })
            .bind(UPLOADING)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn purge_files_impl(&self, before: i64) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query("DELETE FROM file_chunks WHERE file_id IN (SELECT file_id FROM files WHERE expires_at < $1)")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let done = sqlx::query("DELETE FROM files WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
