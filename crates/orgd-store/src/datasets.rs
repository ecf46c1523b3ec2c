//! Dataset rows in SQL; each dataset's items live in its own table (see [`crate::items`]), made and
//! dropped in the same transaction as the dataset's row.

use crate::{events, items, map_err, Backend, SqlStore, BUMP_DATA_EPOCH};
use orgd_core::data::{Dataset, DatasetType};
use orgd_core::error::StoreError;
use orgd_core::events::{definition_changes, Event};
use orgd_core::ids::{DatasetId, OrgId};
use orgd_core::store::StoreResult;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

const DS_COLS: &str = "dataset_id, org_id, name, type, definition, cache_key, item_count, created_at, modified_at";

fn dataset_from_row(r: &AnyRow) -> Result<Dataset, StoreError> {
    let get_s = |c: &str| r.try_get::<String, _>(c).map_err(map_err);
    let get_i = |c: &str| r.try_get::<i64, _>(c).map_err(map_err);
    let def: serde_json::Value =
        serde_json::from_str(&get_s("definition")?).map_err(|e| StoreError::Other(format!("definition: {e}")))?;
    let base = Dataset {
        id: DatasetId::parse(&get_s("dataset_id")?)
            .ok_or_else(|| StoreError::Other("a stored dataset id does not read".into()))?,
        org_id: OrgId::parse(&get_s("org_id")?)
            .ok_or_else(|| StoreError::Other("a stored org id does not read".into()))?,
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
        grants: Default::default(),
        rows: None,
        view: None,
    };
    Ok(Dataset::from_definition(base, &def))
}

/// Drop the item tables of the datasets `filter` selects (`WHERE …` with `$1`, or all), in `tx`.
pub(crate) async fn drop_item_tables(
    tx: &mut Transaction<'static, Any>,
    filter: &str,
    arg: Option<&str>,
) -> StoreResult<()> {
    let sql = format!("SELECT dataset_id FROM datasets {filter}");
    let mut q = sqlx::query_as::<_, (String,)>(&sql);
    if let Some(a) = arg {
        q = q.bind(a.to_string());
    }
    let ids = q.fetch_all(&mut **tx).await.map_err(map_err)?;
    for (id,) in ids {
        sqlx::query(&items::drop_table(&id)).execute(&mut **tx).await.map_err(map_err)?;
    }
    Ok(())
}

impl SqlStore {
    pub(crate) async fn insert_dataset_impl(&self, ds: &Dataset) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(BUMP_DATA_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        sqlx::query(&format!(
            "INSERT INTO datasets ({DS_COLS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(ds.id.as_str())
        .bind(ds.org_id.as_str())
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
        // A permissioned view reads its dataset's table and has none of its own.
        let tables =
            if ds.view.is_some() { Vec::new() } else { items::create_table(ds, self.backend == Backend::Postgres) };
        for sql in tables {
            sqlx::query(&sql).execute(&mut *tx).await.map_err(map_err)?;
        }
        let kind = if ds.view.is_some() { "view.created" } else { "dataset.created" };
        let detail = serde_json::json!({"name": ds.name, "type": ds.ty.as_str()});
        events::record(&mut tx, &Event::new(&ds.org_id, "dataset", ds.id.as_str(), kind).detail(detail)).await?;
        tx.commit().await.map_err(map_err)?;
        self.data_changed();
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

    pub(crate) async fn update_dataset_definition_impl(&self, ds: &Dataset) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(BUMP_DATA_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        let before: Option<(String,)> = sqlx::query_as("SELECT definition FROM datasets WHERE dataset_id = $1")
            .bind(ds.id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some((before,)) = before else { return Ok(false) };
        let before: serde_json::Value =
            serde_json::from_str(&before).map_err(|e| StoreError::Other(format!("definition: {e}")))?;
        let changes = definition_changes(&before, &ds.definition_json());
        let done = sqlx::query("UPDATE datasets SET definition = $1, modified_at = $2 WHERE dataset_id = $3")
            .bind(ds.definition_json().to_string())
            .bind(ds.modified_at)
            .bind(ds.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if !changes.is_empty() {
            let e = Event::new(&ds.org_id, "dataset", ds.id.as_str(), "dataset.updated").changes(changes);
            events::record(&mut tx, &e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.data_changed();
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn evolve_dataset_impl(&self, before: &Dataset, after: &Dataset) -> StoreResult<bool> {
        let postgres = self.backend == Backend::Postgres;
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(BUMP_DATA_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        let done = sqlx::query(items::SAVE_DEFINITION)
            .bind(after.definition_json().to_string())
            .bind(&after.cache_key)
            .bind(after.modified_at)
            .bind(after.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let existing: Vec<(String,)> = sqlx::query_as(items::index_names(postgres))
            .bind(items::table(after.id.as_str()))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let existing: Vec<String> = existing.into_iter().map(|(n,)| n).collect();
        for sql in items::alter_table(before, after, &existing, postgres) {
            sqlx::query(&sql).execute(&mut *tx).await.map_err(map_err)?;
        }
        events::record(&mut tx, &schema_event(before, after)).await?;
        tx.commit().await.map_err(map_err)?;
        self.data_changed();
        Ok(true)
    }

    pub(crate) async fn delete_dataset_impl(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(BUMP_DATA_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        let org: Option<(String, String)> = sqlx::query_as("SELECT org_id, name FROM datasets WHERE dataset_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some((org, name)) = org else { return Ok(false) };
        sqlx::query(&items::drop_table(id)).execute(&mut *tx).await.map_err(map_err)?;
        sqlx::query("DELETE FROM item_versions WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let done = sqlx::query("DELETE FROM datasets WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(org) = OrgId::parse(&org) {
            let e = Event::new(&org, "dataset", id, "dataset.deleted").detail(serde_json::json!({"name": name}));
            events::record(&mut tx, &e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.data_changed();
        Ok(done.rows_affected() > 0)
    }
}

/// The event of a schema change from `before` to `after`: what changed in the properties.
pub(crate) fn schema_event(before: &Dataset, after: &Dataset) -> Event {
    let changes = definition_changes(&before.definition_json(), &after.definition_json());
    Event::new(&after.org_id, "dataset", after.id.as_str(), "dataset.schema_changed").changes(changes)
}
