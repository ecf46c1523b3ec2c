//! Items on PostgreSQL through sqlx's typed driver: lookups by `= ANY` arrays, new rows by `COPY`, changed
//! rows through a staging table, scans streamed from one repeatable-read snapshot.

use super::{column, select_list, table, PAGE};
use crate::map_err;
use async_trait::async_trait;
use futures_util::TryStreamExt;
use orgd_core::data::row::{Row, Val};
use orgd_core::data::{Dataset, Item, PropertyType};
use orgd_core::error::StoreError;
use orgd_core::store::{ItemScan, ItemWrite, Lookup, StoreResult, TreeLink};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row as _, Transaction};
use tokio::sync::mpsc;

/// The item side of a PostgreSQL store.
#[derive(Debug, Clone)]
pub(crate) struct Pg {
    pool: PgPool,
}

fn decode(r: &PgRow, types: &[PropertyType]) -> Result<Row, sqlx::Error> {
    let mut row = super::empty_row(types.len());
    row.seq = r.try_get(0)?;
    row.id = r.try_get(1)?;
    row.created_at = r.try_get(2)?;
    row.modified_at = r.try_get(3)?;
    for (j, ty) in types.iter().enumerate() {
        let i = 4 + j;
        row.cells.push(match ty {
            PropertyType::Text | PropertyType::Date => r.try_get::<Option<String>, _>(i)?.map(Val::Text),
            PropertyType::Number => r.try_get::<Option<f64>, _>(i)?.map(Val::Number),
            PropertyType::Boolean => r.try_get::<Option<bool>, _>(i)?.map(Val::Bool),
        });
    }
    Ok(row)
}

fn types_of(ds: &Dataset, props: &[usize]) -> Vec<PropertyType> {
    props.iter().map(|&i| ds.properties[i].ty).collect()
}

/// One typed array parameter per column of a lookup.
enum Column {
    Text(Vec<String>),
    Number(Vec<f64>),
    Bool(Vec<bool>),
}

impl Column {
    fn of(ty: PropertyType, keys: &[Vec<Val>], j: usize) -> Column {
        let vals = keys.iter().map(|k| &k[j]);
        match ty {
            PropertyType::Text | PropertyType::Date => {
                Column::Text(vals.map(|v| v.as_text().unwrap_or_default().to_string()).collect())
            }
            PropertyType::Number => Column::Number(
                vals.map(|v| match v {
                    Val::Number(f) => *f,
                    _ => f64::NAN,
                })
                .collect(),
            ),
            PropertyType::Boolean => Column::Bool(vals.map(|v| matches!(v, Val::Bool(true))).collect()),
        }
    }

    fn cast(&self) -> &'static str {
        match self {
            Column::Text(_) => "text[]",
            Column::Number(_) => "float8[]",
            Column::Bool(_) => "bool[]",
        }
    }
}

/// Append a value in COPY's text format.
fn copy_value(v: &Option<Val>, out: &mut String) {
    match v {
        None => out.push_str("\\N"),
        Some(Val::Number(f)) => orgd_core::data::row::write_number(*f, out),
        Some(Val::Bool(b)) => out.push(if *b { 't' } else { 'f' }),
        Some(Val::Text(s)) => {
            for ch in s.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

/// Rows in COPY's text format (`seq, item_id, created_at, modified_at, c0…`).
fn copy_text(rows: &[Row]) -> String {
    let mut out = String::with_capacity(rows.len() * 128);
    for r in rows {
        out.push_str(itoa::Buffer::new().format(r.seq));
        out.push('\t');
        out.push_str(&r.id);
        out.push('\t');
        out.push_str(itoa::Buffer::new().format(r.created_at));
        out.push('\t');
        out.push_str(itoa::Buffer::new().format(r.modified_at));
        for v in &r.cells {
            out.push('\t');
            copy_value(v, &mut out);
        }
        out.push('\n');
    }
    out
}

impl Pg {
    /// The item side of the database at `url`.
    pub(crate) async fn connect(url: &str) -> Result<Pg, StoreError> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Pg { pool })
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn item_page(&self, ds: &Dataset, after: i64, limit: i64) -> StoreResult<Vec<Item>> {
        let props: Vec<usize> = (0..ds.properties.len()).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE seq > $1 ORDER BY seq LIMIT $2",
            select_list(props.clone()),
            table(&ds.id)
        );
        let types = types_of(ds, &props);
        let rows = sqlx::query(&sql).bind(after).bind(limit).fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|r| decode(r, &types).map(|r| r.to_item(ds)).map_err(map_err)).collect()
    }

    pub(crate) async fn get_item(&self, ds: &Dataset, item_id: &str) -> StoreResult<Option<Item>> {
        let props: Vec<usize> = (0..ds.properties.len()).collect();
        let sql = format!("SELECT {} FROM {} WHERE item_id = $1", select_list(props.clone()), table(&ds.id));
        let types = types_of(ds, &props);
        let row = sqlx::query(&sql).bind(item_id).fetch_optional(&self.pool).await.map_err(map_err)?;
        row.map(|r| decode(&r, &types).map(|r| r.to_item(ds)).map_err(map_err)).transpose()
    }

    pub(crate) async fn scan(&self, ds: &Dataset, props: &[usize], passes: usize) -> StoreResult<Box<dyn ItemScan>> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let sql = format!("SELECT {} FROM {} ORDER BY seq", select_list(props.iter().copied()), table(&ds.id));
        let types = types_of(ds, props);
        // The snapshot starts with the first read, before `scan` returns.
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *conn).await.map_err(map_err)?;
        sqlx::query(&format!("SELECT 1 FROM {} LIMIT 1", table(&ds.id))).execute(&mut *conn).await.map_err(map_err)?;
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            let read = async {
                for pass in 0..passes {
                    let mut rows = sqlx::query(&sql).fetch(&mut *conn);
                    let mut page = Vec::with_capacity(PAGE);
                    while let Some(r) = rows.try_next().await? {
                        page.push(decode(&r, &types)?);
                        if page.len() == PAGE && tx.send(Ok((pass, std::mem::take(&mut page)))).await.is_err() {
                            return Ok(());
                        }
                    }
                    if !page.is_empty() && tx.send(Ok((pass, page))).await.is_err() {
                        return Ok(());
                    }
                }
                Ok::<(), sqlx::Error>(())
            };
            if let Err(e) = read.await {
                let _ = tx.send(Err(map_err(e))).await;
            }
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        });
        Ok(Box::new(Scan { rx }))
    }

    pub(crate) async fn tree_links(&self, ds: &Dataset) -> StoreResult<Vec<TreeLink>> {
        let pos = |k: &Option<String>| k.as_deref().and_then(|k| ds.properties.iter().position(|p| p.key == k));
        let (Some(tree), Some(parent)) = (pos(&ds.tree_id), pos(&ds.tree_parent_id)) else { return Ok(Vec::new()) };
        let t = table(&ds.id);
        let (tc, pc) = (column(tree), column(parent));
        let sql = if ds.properties[tree].ty == ds.properties[parent].ty {
            format!("SELECT c.seq, (SELECT p.seq FROM {t} p WHERE p.{tc} = c.{pc} LIMIT 1), c.{pc} IS NOT NULL FROM {t} c ORDER BY c.seq")
        } else {
            format!("SELECT seq, NULL::bigint, {pc} IS NOT NULL FROM {t} ORDER BY seq")
        };
        let rows: Vec<(i64, Option<i64>, bool)> = sqlx::query_as(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
        Ok(rows)
    }

    pub(crate) async fn index_items(&self, ds: &Dataset, props: &[usize]) -> StoreResult<()> {
        let sql = super::create_index(&table(&ds.id), props);
        match sqlx::query(&sql).execute(&self.pool).await {
            Ok(_) => Ok(()),
            // Two nodes made the same index at once: it exists.
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("23505") || e.code().as_deref() == Some("42P07") =>
            {
                Ok(())
            }
            Err(e) => Err(map_err(e)),
        }
    }

    pub(crate) async fn begin(&self, ds: &Dataset) -> StoreResult<Box<dyn ItemWrite>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT 1 FROM datasets WHERE dataset_id = $1 FOR UPDATE")
            .bind(&ds.id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(Box::new(PgWrite {
            tx,
            ds: ds.clone(),
            seen: false,
            staged: false,
            dropped: Vec::new(),
            pending: String::new(),
        }))
    }
}

struct Scan {
    rx: mpsc::Receiver<StoreResult<(usize, Vec<Row>)>>,
}

#[async_trait]
impl ItemScan for Scan {
    async fn next(&mut self) -> StoreResult<Option<(usize, Vec<Row>)>> {
        self.rx.recv().await.transpose()
    }
}

struct PgWrite {
    tx: Transaction<'static, Postgres>,
    ds: Dataset,
    seen: bool,
    staged: bool,
    /// The definitions of the indexes a bulk load dropped.
    dropped: Vec<String>,
    /// New rows in COPY text not sent yet: inserts go in large COPYs, sent before anything reads.
    pending: String,
}

/// New rows gathered before one COPY sends them.
const PENDING: usize = 4 * 1024 * 1024;

impl PgWrite {
    fn table(&self) -> String {
        table(&self.ds.id)
    }

    async fn copy(&mut self, target: &str, text: String) -> StoreResult<()> {
        let cols = select_list(0..self.ds.properties.len());
        let mut copy = self.tx.copy_in_raw(&format!("COPY {target} ({cols}) FROM STDIN")).await.map_err(map_err)?;
        copy.send(text.into_bytes()).await.map_err(map_err)?;
        copy.finish().await.map_err(map_err)?;
        Ok(())
    }

    /// Send the new rows gathered so far.
    async fn flush(&mut self) -> StoreResult<()> {
        if !self.pending.is_empty() {
            let text = std::mem::take(&mut self.pending);
            let t = self.table();
            self.copy(&t, text).await?;
        }
        Ok(())
    }

    async fn seen_table(&mut self) -> StoreResult<()> {
        if !self.seen {
            sqlx::query("CREATE TEMP TABLE IF NOT EXISTS import_seen (seq BIGINT PRIMARY KEY) ON COMMIT DELETE ROWS")
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
            sqlx::query("TRUNCATE import_seen").execute(&mut *self.tx).await.map_err(map_err)?;
            self.seen = true;
        }
        Ok(())
    }
}

#[async_trait]
impl ItemWrite for PgWrite {
    async fn last_seq(&mut self) -> StoreResult<i64> {
        self.flush().await?;
        let sql = format!("SELECT COALESCE(MAX(seq), 0)::bigint FROM {}", self.table());
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut *self.tx).await.map_err(map_err)?;
        Ok(n)
    }

    async fn find(&mut self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        self.flush().await?;
        let props: Vec<usize> = (0..ds.properties.len()).collect();
        let types = types_of(ds, &props);
        let head = format!("SELECT {} FROM {}", select_list(props), table(&ds.id));
        let rows = match lookup {
            Lookup::Ids(ids) => sqlx::query(&format!("{head} WHERE item_id = ANY($1)"))
                .bind(ids)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_err)?,
            Lookup::Values { props, keys } => {
                let columns: Vec<Column> =
                    props.iter().enumerate().map(|(j, &i)| Column::of(ds.properties[i].ty, keys, j)).collect();
                let sql = if props.len() == 1 {
                    format!("{head} WHERE {} = ANY($1::{})", column(props[0]), columns[0].cast())
                } else {
                    let cols: Vec<String> = props.iter().map(|&i| column(i)).collect();
                    let arrays: Vec<String> =
                        columns.iter().enumerate().map(|(j, c)| format!("${}::{}", j + 1, c.cast())).collect();
                    format!("{head} WHERE ({}) IN (SELECT * FROM UNNEST({}))", cols.join(", "), arrays.join(", "))
                };
                let mut q = sqlx::query(&sql);
                for c in columns {
                    q = match c {
                        Column::Text(v) => q.bind(v),
                        Column::Number(v) => q.bind(v),
                        Column::Bool(v) => q.bind(v),
                    };
                }
                q.fetch_all(&mut *self.tx).await.map_err(map_err)?
            }
        };
        rows.iter().map(|r| decode(r, &types).map_err(map_err)).collect()
    }

    async fn write(&mut self, inserts: Vec<Row>, updates: Vec<Row>, deletes: Vec<i64>) -> StoreResult<()> {
        if !updates.is_empty() || !deletes.is_empty() {
            self.flush().await?;
        }
        let t = self.table();
        if !deletes.is_empty() {
            sqlx::query(&format!("DELETE FROM {t} WHERE seq = ANY($1)"))
                .bind(&deletes)
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
        }
        if !updates.is_empty() {
            let stage = format!("stage_{}", &t["items_".len()..]);
            if !self.staged {
                sqlx::query(&format!("CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {t}) ON COMMIT DROP"))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                self.staged = true;
            }
            sqlx::query(&format!("TRUNCATE {stage}")).execute(&mut *self.tx).await.map_err(map_err)?;
            self.copy(&stage, copy_text(&updates)).await?;
            let mut sets = vec![
                "item_id = s.item_id".to_string(),
                "created_at = s.created_at".into(),
                "modified_at = s.modified_at".into(),
            ];
            sets.extend((0..self.ds.properties.len()).map(|i| format!("{0} = s.{0}", column(i))));
            sqlx::query(&format!("UPDATE {t} SET {} FROM {stage} s WHERE {t}.seq = s.seq", sets.join(", ")))
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
        }
        if !inserts.is_empty() {
            self.pending.push_str(&copy_text(&inserts));
            if self.pending.len() >= PENDING {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn mark_seen(&mut self, seqs: Vec<i64>) -> StoreResult<()> {
        self.seen_table().await?;
        sqlx::query("INSERT INTO import_seen SELECT UNNEST($1::bigint[]) ON CONFLICT DO NOTHING")
            .bind(&seqs)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn unseen(&mut self, after: i64, limit: i64) -> StoreResult<Vec<(i64, String)>> {
        self.flush().await?;
        self.seen_table().await?;
        let sql = format!(
            "SELECT t.seq, t.item_id FROM {} t WHERE t.seq > $1 AND NOT EXISTS \
             (SELECT 1 FROM import_seen s WHERE s.seq = t.seq) ORDER BY t.seq LIMIT $2",
            self.table()
        );
        sqlx::query_as(&sql).bind(after).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_err)
    }

    async fn finish(&mut self, count_delta: i64, cache_key: &str, modified_at: i64) -> StoreResult<()> {
        self.flush().await?;
        sqlx::query(
            "UPDATE datasets SET item_count = item_count + $2, cache_key = $3, modified_at = $4 WHERE dataset_id = $1",
        )
        .bind(&self.ds.id)
        .bind(count_delta)
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

    async fn put_result_chunk(&mut self, job_id: &str, n: i64, data: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO job_chunks (job_id, n, data) VALUES ($1, $2, $3) \
             ON CONFLICT (job_id, n) DO UPDATE SET data = excluded.data",
        )
        .bind(job_id)
        .bind(n)
        .bind(data)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn begin_bulk(&mut self) -> StoreResult<bool> {
        let t = self.table();
        let (empty,): (bool,) = sqlx::query_as(&format!("SELECT NOT EXISTS (SELECT 1 FROM {t})"))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_err)?;
        if !empty {
            return Ok(false);
        }
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT i.indexname::text, i.indexdef FROM pg_indexes i WHERE i.tablename = $1 AND i.schemaname = current_schema() \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        )
        .bind(&t)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_err)?;
        for (name, _) in &indexes {
            sqlx::query(&format!("DROP INDEX {name}")).execute(&mut *self.tx).await.map_err(map_err)?;
        }
        self.dropped = indexes.into_iter().map(|(_, def)| def).collect();
        Ok(true)
    }

    async fn end_bulk(&mut self) -> StoreResult<()> {
        self.flush().await?;
        for def in std::mem::take(&mut self.dropped) {
            sqlx::query(&def).execute(&mut *self.tx).await.map_err(map_err)?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.flush().await?;
        self.tx.commit().await.map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let row = Row {
            id: "ID".into(),
            seq: 7,
            created_at: 1,
            modified_at: 2,
            cells: vec![Some(Val::Text("a\tb\\c\nd".into())), None, Some(Val::Number(2.5)), Some(Val::Bool(false))],
        };
        assert_eq!(copy_text(&[row]), "7\tID\t1\t2\ta\\tb\\\\c\\nd\t\\N\t2.5\tf\n");
    }
}
