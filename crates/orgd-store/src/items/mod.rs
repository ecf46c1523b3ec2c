//! Items: one typed table per dataset, `items_<dataset id as 32 hex>`, with `seq` (creation order, the
//! primary key), `item_id`, the timestamps, and a column `c<i>` per property `i` of the dataset (text and
//! dates as text, numbers as double precision, booleans). The identifying property (autoId, or `link_id`)
//! and `treeId` are indexed; the columns of an `idKey` get an index the first time an import asks for it.
//! A write reads only the rows its actions name; exports read at the engine's speed.
//!
//! The hot paths use each engine's own driver: rusqlite on SQLite (sqlx's SQLite driver moves every row
//! through a channel, several times slower), sqlx's typed PostgreSQL driver with COPY for bulk writes.

pub(crate) mod lite;
pub(crate) mod pg;
pub(crate) mod upgrade;

use orgd_core::data::row::Row;
use orgd_core::data::{Dataset, DatasetType, Item, PropertyType};
use orgd_core::store::{ItemScan, ItemWrite, Lookup, StoreResult, TreeLink};

/// The item side of a store, on its engine.
#[derive(Debug, Clone)]
pub(crate) enum Items {
    /// SQLite, through rusqlite.
    Lite(lite::Lite),
    /// PostgreSQL, through sqlx's typed driver.
    Pg(pg::Pg),
}

impl Items {
    pub(crate) async fn item_page(&self, ds: &Dataset, after: i64, limit: i64) -> StoreResult<Vec<Item>> {
        match self {
            Items::Lite(l) => l.item_page(ds, after, limit).await,
            Items::Pg(p) => p.item_page(ds, after, limit).await,
        }
    }

    pub(crate) async fn get_item(&self, ds: &Dataset, item_id: &str) -> StoreResult<Option<Item>> {
        match self {
            Items::Lite(l) => l.get_item(ds, item_id).await,
            Items::Pg(p) => p.get_item(ds, item_id).await,
        }
    }

    pub(crate) async fn scan(&self, ds: &Dataset, props: &[usize], passes: usize) -> StoreResult<Box<dyn ItemScan>> {
        match self {
            Items::Lite(l) => l.scan(ds, props, passes).await,
            Items::Pg(p) => p.scan(ds, props, passes).await,
        }
    }

    pub(crate) async fn tree_links(&self, ds: &Dataset) -> StoreResult<Vec<TreeLink>> {
        match self {
            Items::Lite(l) => l.tree_links(ds).await,
            Items::Pg(p) => p.tree_links(ds).await,
        }
    }

    pub(crate) async fn index_items(&self, ds: &Dataset, props: &[usize]) -> StoreResult<()> {
        match self {
            Items::Lite(l) => l.index_items(ds, props).await,
            Items::Pg(p) => p.index_items(ds, props).await,
        }
    }

    pub(crate) async fn find_items(&self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        match self {
            Items::Lite(l) => l.find_items(ds, lookup).await,
            Items::Pg(p) => p.find_items(ds, lookup).await,
        }
    }

    pub(crate) async fn begin(&self, ds: &Dataset) -> StoreResult<Box<dyn ItemWrite>> {
        match self {
            Items::Lite(l) => l.begin(ds).await,
            Items::Pg(p) => p.begin(ds).await,
        }
    }

    pub(crate) async fn retype(
        &self,
        before: &Dataset,
        after: &Dataset,
        i: usize,
        convert: orgd_core::store::Convert,
    ) -> StoreResult<Option<u64>> {
        match self {
            Items::Lite(l) => l.retype(before.clone(), after.clone(), i, convert).await,
            Items::Pg(p) => p.retype(before, after, i, convert).await,
        }
    }

    pub(crate) async fn close(&self) {
        if let Items::Pg(p) = self {
            p.close().await;
        }
    }
}

/// Rows per page of a scan.
pub(crate) const PAGE: usize = 2000;

/// The table of a dataset's items.
pub(crate) fn table(dataset_id: &str) -> String {
    let hex: String = dataset_id.chars().filter(char::is_ascii_hexdigit).collect::<String>().to_ascii_lowercase();
    format!("items_{hex}")
}

/// The column of property `i` (its own storage column, which outlives the removal of others).
pub(crate) fn column(ds: &Dataset, i: usize) -> String {
    format!("c{}", ds.properties[i].column)
}

/// `seq, item_id, created_at, modified_at` and the given properties' columns.
pub(crate) fn select_list(ds: &Dataset, props: impl IntoIterator<Item = usize>) -> String {
    let mut s = String::from("seq, item_id, created_at, modified_at");
    for i in props {
        s.push_str(", ");
        s.push_str(&column(ds, i));
    }
    s
}

/// The SQL type of a property on an engine. Text on PostgreSQL compares bytes (`COLLATE "C"`): items are
/// only ever compared for equality in SQL, and byte order builds and searches their indexes several times
/// faster than a locale's.
fn sql_type(ty: PropertyType, postgres: bool) -> &'static str {
    match (ty, postgres) {
        (PropertyType::Text | PropertyType::Date, false) => "TEXT",
        (PropertyType::Text | PropertyType::Date, true) => r#"TEXT COLLATE "C""#,
        (PropertyType::Number, false) => "REAL",
        (PropertyType::Number, true) => "DOUBLE PRECISION",
        (PropertyType::Boolean, false) => "INTEGER",
        (PropertyType::Boolean, true) => "BOOLEAN",
    }
}

/// The property indexes that get an index at creation: the unique key and `treeId`.
pub(crate) fn indexed(ds: &Dataset) -> Vec<usize> {
    let pos = |k: &str| ds.properties.iter().position(|p| p.key == k);
    let unique = if ds.ty == DatasetType::Links { pos("link_id") } else { ds.auto_id.as_deref().and_then(pos) };
    let tree = ds.tree_id.as_deref().and_then(pos);
    let mut out: Vec<usize> = unique.into_iter().collect();
    if let Some(t) = tree.filter(|t| Some(*t) != unique) {
        out.push(t);
    }
    out
}

/// The name of the index over some properties' columns (named by column, so it stays right when other
/// properties are removed).
pub(crate) fn index_name(table: &str, ds: &Dataset, props: &[usize]) -> String {
    let cols: Vec<String> = props.iter().map(|&i| ds.properties[i].column.to_string()).collect();
    format!("{table}_k{}", cols.join("_"))
}

/// `CREATE INDEX IF NOT EXISTS` over some properties' columns.
pub(crate) fn create_index(table: &str, ds: &Dataset, props: &[usize]) -> String {
    let cols: Vec<String> = props.iter().map(|&i| column(ds, i)).collect();
    format!("CREATE INDEX IF NOT EXISTS {} ON {table} ({})", index_name(table, ds, props), cols.join(", "))
}

/// The statements that make a dataset's table and its indexes.
pub(crate) fn create_table(ds: &Dataset, postgres: bool) -> Vec<String> {
    let t = table(ds.table_id().as_str());
    let (seq, int) = if postgres { ("BIGINT PRIMARY KEY", "BIGINT") } else { ("INTEGER PRIMARY KEY", "INTEGER") };
    // Item ids are UUIDs: PostgreSQL keeps them in 16 bytes, which halves the work of their unique index.
    let id = if postgres { "UUID" } else { "TEXT" };
    let mut cols = format!("seq {seq}, item_id {id} NOT NULL, created_at {int} NOT NULL, modified_at {int} NOT NULL");
    for (i, p) in ds.properties.iter().enumerate() {
        cols.push_str(&format!(", {} {}", column(ds, i), sql_type(p.ty, postgres)));
    }
    let mut out = vec![format!("CREATE TABLE {t} ({cols})"), format!("CREATE UNIQUE INDEX {t}_id ON {t} (item_id)")];
    out.extend(indexed(ds).into_iter().map(|i| create_index(&t, ds, &[i])));
    out
}

/// The statements that take a dataset's table from `before`'s schema to `after`'s: a column added for
/// each new property column, and for each column no longer used, the indexes of `existing` over it, then
/// the column itself.
pub(crate) fn alter_table(before: &Dataset, after: &Dataset, existing: &[String], postgres: bool) -> Vec<String> {
    let t = table(after.id.as_str());
    let had = |c: usize, ds: &Dataset| ds.properties.iter().any(|p| p.column == c);
    let mut out = Vec::new();
    for p in after.properties.iter().filter(|p| !had(p.column, before)) {
        out.push(format!("ALTER TABLE {t} ADD COLUMN c{} {}", p.column, sql_type(p.ty, postgres)));
    }
    for p in before.properties.iter().filter(|p| !had(p.column, after)) {
        let prefix = format!("{t}_k");
        let uses = |name: &String| {
            name.strip_prefix(&prefix).is_some_and(|cols| cols.split('_').any(|c| c == p.column.to_string()))
        };
        out.extend(existing.iter().filter(|n| uses(n)).map(|n| format!("DROP INDEX IF EXISTS {n}")));
        out.push(format!("ALTER TABLE {t} DROP COLUMN c{}", p.column));
    }
    out
}

/// The names of a table's indexes (`$1`), on each engine.
pub(crate) fn index_names(postgres: bool) -> &'static str {
    if postgres {
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
    }
}

/// The statement that saves a dataset's definition, cache key and `modified_at` (`$1`…`$4`).
pub(crate) const SAVE_DEFINITION: &str =
    "UPDATE datasets SET definition = $1, cache_key = $2, modified_at = $3 WHERE dataset_id = $4";

/// The statement that drops a dataset's table.
pub(crate) fn drop_table(dataset_id: &str) -> String {
    format!("DROP TABLE IF EXISTS {}", table(dataset_id))
}

/// A row with no values yet, for decoders to fill.
pub(crate) fn empty_row(width: usize) -> Row {
    Row { id: String::new(), seq: 0, created_at: 0, modified_at: 0, cells: Vec::with_capacity(width) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_and_columns_have_safe_names() {
        assert_eq!(super::table("F97434FC-D1B0-701E-D310-A44CC4C84947"), "items_f97434fcd1b0701ed310a44cc4c84947");
        let hostile = super::table("x'; DROP TABLE orgs; --");
        assert!(hostile.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{hostile}");
        let def = serde_json::json!({"name": "P", "type": "LOOKUP", "autoId": "a", "labelId": "a", "properties": [
            {"key": "a", "type": "text", "isRequired": true}, {"key": "b", "type": "number"}]});
        let new = orgd_core::data::schema::parse_new(&def).unwrap();
        let mut ds = orgd_core::data::Dataset {
            id: orgd_core::ids::DatasetId::generate(),
            org_id: orgd_core::ids::OrgId::generate(),
            name: new.name,
            ty: new.ty,
            auto_id: new.auto_id,
            label_id: new.label_id,
            tree_id: None,
            tree_parent_id: None,
            tags: vec![],
            properties: new.properties,
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
        assert_eq!(super::select_list(&ds, [0, 1]), "seq, item_id, created_at, modified_at, c0, c1");
        ds.properties.remove(0);
        assert_eq!(
            super::select_list(&ds, [0]),
            "seq, item_id, created_at, modified_at, c1",
            "columns outlive removals"
        );
        assert_eq!(super::index_name("t", &ds, &[0]), "t_k1");
    }
}
