//! Datasets and items in SQL: one row per item with its values as JSON text, ordered by `seq`.

use crate::{map_err, SqlStore, BUMP_DATA_EPOCH};
use async_trait::async_trait;
use orgd_core::data::actions::Change;
use orgd_core::data::{Dataset, DatasetType, Item};
use orgd_core::error::StoreError;
use orgd_core::ids::OrgId;
use orgd_core::store::{DatasetWrite, StoreResult};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

const DS_COLS: &str = "dataset_id, org_id, name, type, definition, cache_key, item_count, created_at, modified_at";
const ITEM_COLS: &str = "item_id, seq, data, created_at, modified_at";

fn dataset_from_row(r: &AnyRow) -> Result<Dataset, StoreError> {
    let get_s = |c: &str| r.try_get::<String, _>(c).map_err(map_err);
    let get_i = |c: &str| r.try_get::<i64, _>(c).map_err(map_err);
    let def: serde_json::Value =
        serde_json::from_str(&get_s("definition")?).map_err(|e| StoreError::Other(format!("definition: {e}")))?;
    let base = Dataset {
        id: get_s("dataset_id")?,
        org_id: get_s("org_id")?,
        name: get_s("name")?,
        ty: DatasetType::parse(&get_s("type")?).ok_or_else(|| StoreError::Other("bad dataset type".into()))?,
        auto_id: None,
        label_id: None,
        tree_id: None,
        tree_parent_id: None,
        tags: vec![],
        properties: vec![],
        from_dataset: None,
        to_dataset: None,
        cache_key: get_s("cache_key")?,
        item_count: get_i("item_count")?,
        created_at: get_i("created_at")?,
        modified_at: get_i("modified_at")?,
    };
    Ok(Dataset::from_definition(base, &def))
}

fn item_from_row(r: &AnyRow) -> Result<Item, StoreError> {
    let data: String = r.try_get("data").map_err(map_err)?;
    let values = match serde_json::from_str(&data) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => return Err(StoreError::Other("item data is not a JSON object".into())),
    };
    Ok(Item {
        id: r.try_get("item_id").map_err(map_err)?,
        seq: r.try_get("seq").map_err(map_err)?,
        created_at: r.try_get("created_at").map_err(map_err)?,
        modified_at: r.try_get("modified_at").map_err(map_err)?,
        values,
    })
}

impl SqlStore {
    pub(crate) async fn insert_dataset_impl(&self, ds: &Dataset) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(BUMP_DATA_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        sqlx::query(&format!(
            "INSERT INTO datasets ({DS_COLS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&ds.id)
        .bind(&ds.org_id)
        .bind(&ds.name)
        .bind(ds.ty.as_str())
        .bind(ds.definition_json().to_string())
        .bind(&ds.cache_key)
        .bind(ds.item_count)
        .bind(ds.created_at)
        .bind(ds.modified_at)
        .bind(ds.name.to_lowercase())
        .execute(&mut *tx)
        .await
        .map_err(|e| match map_err(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("A dataset named '{}' already exists in the tenant.", ds.name))
            }
            other => other,
        })?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn list_datasets_impl(&self, org_id: &OrgId) -> StoreResult<Vec<Dataset>> {
        let rows = sqlx::query(&format!("SELECT {DS_COLS} FROM datasets WHERE org_id = $1"))
            .bind(org_id.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        rows.iter().map(dataset_from_row).collect()
    }

    pub(crate) async fn get_dataset_impl(&self, id: &str) -> StoreResult<Option<Dataset>> {
        let row = sqlx::query(&format!("SELECT {DS_COLS} FROM datasets WHERE dataset_id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(map_err)?;
        row.map(|r| dataset_from_row(&r)).transpose()
    }

    pub(crate) async fn delete_dataset_impl(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(BUMP_DATA_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        sqlx::query("DELETE FROM items WHERE dataset_id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
        let done = sqlx::query("DELETE FROM datasets WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn item_page_impl(&self, id: &str, after: i64, limit: i64) -> StoreResult<Vec<Item>> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM items WHERE dataset_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.iter().map(item_from_row).collect()
    }

    pub(crate) async fn get_item_impl(&self, id: &str, item_id: &str) -> StoreResult<Option<Item>> {
        let row = sqlx::query(&format!("SELECT {ITEM_COLS} FROM items WHERE dataset_id = $1 AND item_id = $2"))
            .bind(id)
            .bind(item_id)
            .fetch_optional(self.pool())
            .await
            .map_err(map_err)?;
        row.map(|r| item_from_row(&r)).transpose()
    }

    pub(crate) async fn begin_write_impl(&self, id: &str) -> StoreResult<Box<dyn DatasetWrite>> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        // Writing first takes the dataset's lock (SQLite's write lock, PostgreSQL's row lock) at once.
        sqlx::query("UPDATE datasets SET modified_at = modified_at WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(Box::new(SqlDatasetWrite { tx, dataset_id: id.to_string() }))
    }
}

struct SqlDatasetWrite {
    tx: Transaction<'static, Any>,
    dataset_id: String,
}

#[async_trait]
impl DatasetWrite for SqlDatasetWrite {
    async fn items(&mut self) -> StoreResult<Vec<Item>> {
        let rows = sqlx::query(&format!("SELECT {ITEM_COLS} FROM items WHERE dataset_id = $1 ORDER BY seq"))
            .bind(&self.dataset_id)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_err)?;
        rows.iter().map(item_from_row).collect()
    }

    async fn apply(
        &mut self,
        changes: &[Change],
        item_count: i64,
        cache_key: &str,
        modified_at: i64,
    ) -> StoreResult<()> {
        for c in changes {
            match c {
                Change::Insert(it) => {
                    sqlx::query(&format!(
                        "INSERT INTO items (dataset_id, {ITEM_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"
                    ))
                    .bind(&self.dataset_id)
                    .bind(&it.id)
                    .bind(it.seq)
                    .bind(serde_json::Value::Object(it.values.clone()).to_string())
                    .bind(it.created_at)
                    .bind(it.modified_at)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                }
                Change::Update(it) => {
                    sqlx::query("UPDATE items SET data = $3, modified_at = $4 WHERE dataset_id = $1 AND item_id = $2")
                        .bind(&self.dataset_id)
                        .bind(&it.id)
                        .bind(serde_json::Value::Object(it.values.clone()).to_string())
                        .bind(it.modified_at)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                }
                Change::Delete(item_id) => {
                    sqlx::query("DELETE FROM items WHERE dataset_id = $1 AND item_id = $2")
                        .bind(&self.dataset_id)
                        .bind(item_id)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                }
            }
        }
        sqlx::query("UPDATE datasets SET item_count = $2, cache_key = $3, modified_at = $4 WHERE dataset_id = $1")
            .bind(&self.dataset_id)
            .bind(item_count)
            .bind(cache_key)
            .bind(modified_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn job_outcome(&mut self, job_id: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT body FROM job_outcomes WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(row.map(|(b,)| b))
    }

    async fn keep_job_outcome(&mut self, job_id: &str, body: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO job_outcomes (job_id, body) VALUES ($1, $2)")
            .bind(job_id)
            .bind(body)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_err)
    }
}
