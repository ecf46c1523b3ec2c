//! The upgrade from the item layout of earlier releases, where the items of every dataset were rows of one
//! shared `items` table holding their values as JSON text. At start, in one transaction, every dataset
//! gets its typed table with each item, its `seq` and timestamps; the dataset rows (cache keys, counts,
//! times) are left as they were; then the old table goes. A new database passes through it too (its
//! `items` table is empty).

use super::{create_table, lite::lite_err, select_list, table};
use crate::map_err;
use orgd_core::data::row::Row;
use orgd_core::data::{Dataset, DatasetType, Item, PropertyType};
use orgd_core::error::StoreError;
use orgd_core::ids::{DatasetId, OrgId};
use rusqlite::OptionalExtension;
use sqlx::postgres::PgPool;
use std::path::Path;

/// A dataset as its row describes it (enough to lay out its items).
fn dataset(id: String, ty: &str, definition: &str) -> Result<Dataset, StoreError> {
    let def: serde_json::Value =
        serde_json::from_str(definition).map_err(|e| StoreError::Other(format!("dataset {id}: definition: {e}")))?;
    let base = Dataset {
        id: DatasetId::parse(&id).ok_or_else(|| StoreError::Other(format!("dataset {id}: the id does not read")))?,
        // Only the layout of its items is read here; the owner does not matter.
        org_id: OrgId::generate(),
        name: String::new(),
        ty: DatasetType::parse(ty).ok_or_else(|| StoreError::Other(format!("bad dataset type {ty}")))?,
        auto_id: None,
        label_id: None,
        tree_id: None,
        tree_parent_id: None,
        tags: vec![],
        properties: vec![],
        from_dataset: None,
        to_dataset: None,
        cache_key: String::new(),
        item_count: 0,
        created_at: 0,
        modified_at: 0,
        grants: Default::default(),
        rows: None,
        view: None,
    };
    Ok(Dataset::from_definition(base, &def))
}

/// Upgrade a SQLite file, when it still has the shared table.
pub(crate) fn sqlite(path: &Path) -> Result<(), StoreError> {
    let mut c = rusqlite::Connection::open(path).map_err(lite_err)?;
    c.busy_timeout(std::time::Duration::from_millis(super::lite::BUSY_TIMEOUT_MS as u64)).map_err(lite_err)?;
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(lite_err)?;
    let old: Option<i64> = tx
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'", [], |r| r.get(0))
        .optional()
        .map_err(lite_err)?;
    if old.is_none() {
        return Ok(());
    }
    let datasets: Vec<(String, String, String)> = {
        let mut st = tx.prepare("SELECT dataset_id, type, definition FROM datasets").map_err(lite_err)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(lite_err)?;
        rows.collect::<Result<_, _>>().map_err(lite_err)?
    };
    let mut moved = 0u64;
    for (id, ty, def) in datasets {
        let ds = dataset(id, &ty, &def)?;
        for sql in create_table(&ds, false) {
            tx.execute_batch(&sql).map_err(lite_err)?;
        }
        let width = ds.properties.len();
        let marks: Vec<String> = (1..=width + 4).map(|i| format!("?{i}")).collect();
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO {} ({}) VALUES ({})",
                table(ds.table_id().as_str()),
                select_list(&ds, 0..width),
                marks.join(", ")
            ))
            .map_err(lite_err)?;
        let mut read = tx
            .prepare("SELECT item_id, seq, data, created_at, modified_at FROM items WHERE dataset_id = ?1 ORDER BY seq")
            .map_err(lite_err)?;
        let mut rows = read.query([ds.id.as_str()]).map_err(lite_err)?;
        while let Some(r) = rows.next().map_err(lite_err)? {
            let data: String = r.get(2).map_err(lite_err)?;
            let values = match serde_json::from_str(&data) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => {
                    return Err(StoreError::Other(format!("dataset {}: an item's values are not a JSON object", ds.id)))
                }
            };
            let item = Item {
                id: r.get(0).map_err(lite_err)?,
                seq: r.get(1).map_err(lite_err)?,
                created_at: r.get(3).map_err(lite_err)?,
                modified_at: r.get(4).map_err(lite_err)?,
                values,
            };
            let row = Row::from_item(&ds, &item);
            insert.raw_bind_parameter(1, row.seq).map_err(lite_err)?;
            insert.raw_bind_parameter(2, row.id.as_str()).map_err(lite_err)?;
            insert.raw_bind_parameter(3, row.created_at).map_err(lite_err)?;
            insert.raw_bind_parameter(4, row.modified_at).map_err(lite_err)?;
            for (j, v) in row.cells.iter().enumerate() {
                let value = match v {
                    None => rusqlite::types::Value::Null,
                    Some(orgd_core::data::row::Val::Text(s)) => rusqlite::types::Value::Text(s.clone()),
                    Some(orgd_core::data::row::Val::Number(f)) => rusqlite::types::Value::Real(*f),
                    Some(orgd_core::data::row::Val::Bool(b)) => rusqlite::types::Value::Integer(*b as i64),
                };
                insert.raw_bind_parameter(5 + j, value).map_err(lite_err)?;
            }
            insert.raw_execute().map_err(lite_err)?;
            moved += 1;
        }
    }
    tx.execute_batch("DROP TABLE items").map_err(lite_err)?;
    tx.commit().map_err(lite_err)?;
    if moved > 0 {
        tracing::info!(items = moved, "items moved to one typed table per dataset");
    }
    Ok(())
}

/// The SQL of one property's value read from the old JSON text (`$n` = its key).
fn pg_value(ty: PropertyType, n: usize) -> String {
    match ty {
        PropertyType::Text | PropertyType::Date => {
            format!("CASE WHEN jsonb_typeof(data::jsonb -> ${n}) = 'string' THEN data::jsonb ->> ${n} END")
        }
        PropertyType::Number => {
            format!("CASE WHEN jsonb_typeof(data::jsonb -> ${n}) = 'number' THEN (data::jsonb ->> ${n})::float8 END")
        }
        PropertyType::Boolean => {
            format!("CASE WHEN jsonb_typeof(data::jsonb -> ${n}) = 'boolean' THEN (data::jsonb ->> ${n})::boolean END")
        }
    }
}

/// Upgrade a PostgreSQL database (one node at a time): move the items of the shared table, when it is
/// still there, and make the text item ids of the first typed tables `uuid`s.
pub(crate) async fn postgres(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock(7263001)").execute(&mut *tx).await.map_err(map_err)?;
    let (old,): (Option<String>,) =
        sqlx::query_as("SELECT to_regclass('items')::text").fetch_one(&mut *tx).await.map_err(map_err)?;
    if old.is_some() {
        let moved = pg_shared_table(&mut tx).await?;
        if moved > 0 {
            tracing::info!(items = moved, "items moved to one typed table per dataset");
        }
    }
    let text_ids: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
         AND column_name = 'item_id' AND data_type = 'text' AND table_name LIKE 'items\\_%'",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(map_err)?;
    for (t,) in &text_ids {
        sqlx::query(&format!("ALTER TABLE {t} ALTER COLUMN item_id TYPE uuid USING item_id::uuid"))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    tx.commit().await.map_err(map_err)?;
    if !text_ids.is_empty() {
        tracing::info!(datasets = text_ids.len(), "item ids kept as uuid");
    }
    Ok(())
}

/// Move every item of the shared table to its dataset's typed table, then drop the shared table.
async fn pg_shared_table(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>) -> Result<u64, StoreError> {
    let datasets: Vec<(String, String, String)> = sqlx::query_as("SELECT dataset_id, type, definition FROM datasets")
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)?;
    let mut moved = 0u64;
    for (id, ty, def) in datasets {
        let ds = dataset(id, &ty, &def)?;
        for sql in create_table(&ds, true) {
            sqlx::query(&sql).execute(&mut **tx).await.map_err(map_err)?;
        }
        let values: Vec<String> = ds.properties.iter().enumerate().map(|(i, p)| pg_value(p.ty, i + 2)).collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT seq, item_id::uuid, created_at, modified_at{}{} FROM items WHERE dataset_id = $1",
            table(ds.table_id().as_str()),
            select_list(&ds, 0..ds.properties.len()),
            if values.is_empty() { "" } else { ", " },
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(ds.id.as_str());
        for p in &ds.properties {
            q = q.bind(&p.key);
        }
        moved += q.execute(&mut **tx).await.map_err(map_err)?.rows_affected();
    }
    sqlx::query("DROP TABLE items").execute(&mut **tx).await.map_err(map_err)?;
    Ok(moved)
}
