//! Drafts and their changed items in SQL (one row per changed item of a draft's layer), deleted with
//! their dataset or org by the foreign keys.

use crate::{events, map_err, SqlStore};
use orgd_core::data::drafts::{Change, Draft, DraftItem, DEFAULT_LAYER};
use orgd_core::error::StoreError;
use orgd_core::events::Event;
use orgd_core::ids::{DatasetId, DraftId, OrgId};
use orgd_core::store::StoreResult;
use sqlx::any::AnyRow;
use sqlx::Row;

/// Rows written by one statement (9 parameters each, well under either engine's limit).
const ROWS_PER_STATEMENT: usize = 500;

const DRAFT_COLS: &str =
    "draft_id, org_id, dataset_id, name, created_by, created_at, modified_at, version, added, updated, removed";

fn draft_from_row(r: &AnyRow) -> Result<Draft, StoreError> {
    let s = |c: &str| r.try_get::<String, _>(c).map_err(map_err);
    let i = |c: &str| r.try_get::<i64, _>(c).map_err(map_err);
    let bad = |c: &str| StoreError::Other(format!("drafts.{c} holds an invalid value"));
    Ok(Draft {
        id: DraftId::parse(&s("draft_id")?).ok_or_else(|| bad("draft_id"))?,
        org_id: OrgId::parse(&s("org_id")?).ok_or_else(|| bad("org_id"))?,
        dataset_id: DatasetId::parse(&s("dataset_id")?).ok_or_else(|| bad("dataset_id"))?,
        name: s("name")?,
        created_by: s("created_by")?,
        created_at: i("created_at")?,
        modified_at: i("modified_at")?,
        version: i("version")?,
        added: i("added")?,
        updated: i("updated")?,
        removed: i("removed")?,
    })
}

fn item_from_row(r: &AnyRow) -> Result<DraftItem, StoreError> {
    let change: String = r.try_get("change").map_err(map_err)?;
    Ok(DraftItem {
        seq: r.try_get("seq").map_err(map_err)?,
        item_id: r.try_get("item_id").map_err(map_err)?,
        change: Change::parse(&change)
            .ok_or_else(|| StoreError::Other("draft_items.change holds an invalid value".into()))?,
        base_modified_at: r.try_get("base_modified_at").map_err(map_err)?,
        created_at: r.try_get("created_at").map_err(map_err)?,
        modified_at: r.try_get("modified_at").map_err(map_err)?,
        values: r.try_get("item_values").map_err(map_err)?,
    })
}

impl SqlStore {
    pub(crate) async fn insert_draft_impl(&self, d: &Draft) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(&format!(
            "INSERT INTO drafts ({DRAFT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(d.id.as_str())
        .bind(d.org_id.as_str())
        .bind(d.dataset_id.as_str())
        .bind(&d.name)
        .bind(&d.created_by)
        .bind(d.created_at)
        .bind(d.modified_at)
        .bind(d.version)
        .bind(d.added)
        .bind(d.updated)
        .bind(d.removed)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let detail = serde_json::json!({"name": d.name, "datasetId": d.dataset_id.as_str()});
        events::record(&mut tx, &Event::new(&d.org_id, "draft", d.id.as_str(), "draft.created").detail(detail)).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn list_drafts_impl(&self, org_id: &OrgId) -> StoreResult<Vec<Draft>> {
        let rows = sqlx::query(&format!("SELECT {DRAFT_COLS} FROM drafts WHERE org_id = $1"))
            .bind(org_id.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        rows.iter().map(draft_from_row).collect()
    }

    pub(crate) async fn get_draft_impl(&self, id: &DraftId) -> StoreResult<Option<Draft>> {
        let row = sqlx::query(&format!("SELECT {DRAFT_COLS} FROM drafts WHERE draft_id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(map_err)?;
        row.map(|r| draft_from_row(&r)).transpose()
    }

    pub(crate) async fn delete_draft_impl(&self, id: &DraftId) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query("DELETE FROM draft_items WHERE draft_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(org) = draft_org(&mut tx, id).await? else { return Ok(false) };
        let done = sqlx::query("DELETE FROM drafts WHERE draft_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        events::record(&mut tx, &Event::new(&org, "draft", id.as_str(), "draft.deleted")).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn draft_items_impl(&self, id: &DraftId) -> StoreResult<Vec<DraftItem>> {
        let rows = sqlx::query(
            "SELECT seq, item_id, change, base_modified_at, created_at, modified_at, item_values FROM draft_items \
             WHERE draft_id = $1 AND layer_key = $2 ORDER BY seq",
        )
        .bind(id.as_str())
        .bind(DEFAULT_LAYER)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.iter().map(item_from_row).collect()
    }

    pub(crate) async fn save_draft_impl(
        &self,
        d: &Draft,
        expected_version: i64,
        items: &[DraftItem],
        dropped: &[i64],
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        // The version check is the first write: it takes the row's lock (PostgreSQL) or the file's
        // (SQLite) before anything else is written.
        let moved = sqlx::query(
            "UPDATE drafts SET version = $1, modified_at = $2, added = $3, updated = $4, removed = $5 \
             WHERE draft_id = $6 AND version = $7",
        )
        .bind(d.version)
        .bind(d.modified_at)
        .bind(d.added)
        .bind(d.updated)
        .bind(d.removed)
        .bind(d.id.as_str())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if moved.rows_affected() == 0 {
            return Ok(false);
        }
        let seqs: Vec<i64> = dropped.iter().copied().chain(items.iter().map(|i| i.seq)).collect();
        for chunk in seqs.chunks(ROWS_PER_STATEMENT) {
            let marks: Vec<String> = (0..chunk.len()).map(|j| format!("${}", j + 3)).collect();
            let sql = format!(
                "DELETE FROM draft_items WHERE draft_id = $1 AND layer_key = $2 AND seq IN ({})",
                marks.join(", ")
            );
            let q = chunk.iter().fold(sqlx::query(&sql).bind(d.id.as_str()).bind(DEFAULT_LAYER), |q, s| q.bind(*s));
            q.execute(&mut *tx).await.map_err(map_err)?;
        }
        for chunk in items.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|j| {
                    let marks: Vec<String> = (1..=9).map(|c| format!("${}", j * 9 + c)).collect();
                    format!("({})", marks.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO draft_items (draft_id, layer_key, seq, item_id, change, base_modified_at, created_at, \
                 modified_at, item_values) VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for it in chunk {
                q = q
                    .bind(d.id.as_str())
                    .bind(DEFAULT_LAYER)
                    .bind(it.seq)
                    .bind(it.item_id.as_str())
                    .bind(it.change.as_str())
                    .bind(it.base_modified_at)
                    .bind(it.created_at)
                    .bind(it.modified_at)
                    .bind(it.values.as_deref());
            }
            q.execute(&mut *tx).await.map_err(map_err)?;
        }
        let counts = serde_json::json!({"added": d.added, "updated": d.updated, "removed": d.removed});
        events::record(&mut tx, &Event::new(&d.org_id, "draft", d.id.as_str(), "draft.staged").detail(counts)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn clear_draft_impl(&self, id: &DraftId, version: i64, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        let done = sqlx::query(
            "UPDATE drafts SET version = $1, modified_at = $2, added = 0, updated = 0, removed = 0 \
             WHERE draft_id = $3",
        )
        .bind(version)
        .bind(now_ms)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("DELETE FROM draft_items WHERE draft_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(org) = draft_org(&mut tx, id).await? {
            events::record(&mut tx, &Event::new(&org, "draft", id.as_str(), "draft.cleared")).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }
}

/// The org of a draft, read in a transaction.
async fn draft_org(tx: &mut sqlx::AnyConnection, id: &DraftId) -> StoreResult<Option<OrgId>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT org_id FROM drafts WHERE draft_id = $1")
        .bind(id.as_str())
        .fetch_optional(tx)
        .await
        .map_err(map_err)?;
    Ok(row.and_then(|(o,)| OrgId::parse(&o)))
}
