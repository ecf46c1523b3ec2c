//! Items on PostgreSQL through sqlx's typed driver: lookups by `= ANY` arrays, new rows by `COPY`, changed
//! rows through a staging table, scans streamed from one repeatable-read snapshot.

use super::{column, select_list, table, PAGE};
use crate::map_err;
use async_trait::async_trait;
use futures_util::TryStreamExt;
use orgd_core::data::row::{Row, Val};
use orgd_core::data::{Dataset, Item, PropertyType};
use orgd_core::error::StoreError;
use orgd_core::events::Event;
use orgd_core::ids::JobId;
use orgd_core::store::{ItemScan, ItemWrite, Lookup, StoreResult, TreeLink};
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{Postgres, Row as _, Transaction};
use std::borrow::Cow;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The item side of a PostgreSQL store.
#[derive(Debug, Clone)]
pub(crate) struct Pg {
    pool: PgPool,
    /// Indexes this process found or made, by name and the creation time of their dataset (a dataset
    /// made again under the same id has a table of its own): asked for again, they cost no round trip.
    indexed: std::sync::Arc<parking_lot::Mutex<std::collections::HashSet<(String, i64)>>>,
}

fn decode(r: &PgRow, types: &[PropertyType]) -> Result<Row, sqlx::Error> {
    let mut row = super::empty_row(types.len());
    row.seq = r.try_get(0)?;
    row.id = item_text(&r.try_get(1)?);
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

/// An item id as PostgreSQL keeps it (a `uuid`).
fn item_uuid(id: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| StoreError::Other(format!("the item id {id} is not a UUID")))
}

/// An item id as the API writes it: upper-case hex with hyphens.
fn item_text(id: &Uuid) -> String {
    orgd_core::ids::uuid_upper(id.as_bytes())
}

fn types_of(ds: &Dataset, props: &[usize]) -> Vec<PropertyType> {
    props.iter().map(|&i| ds.properties[i].ty).collect()
}

/// A value as a column of type `ty` keeps it: a text (or date) column any value's plain text, a number or
/// boolean column only its own kind; anything else is refused, never sent.
enum Typed<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    Bool(bool),
}

fn typed(ty: PropertyType, v: &Val) -> StoreResult<Typed<'_>> {
    Ok(match (ty, v) {
        (PropertyType::Text | PropertyType::Date, Val::Text(s)) => Typed::Text(Cow::Borrowed(s)),
        (PropertyType::Text | PropertyType::Date, v) => {
            let mut s = String::new();
            v.write_plain(&mut s);
            Typed::Text(Cow::Owned(s))
        }
        (PropertyType::Number, Val::Number(f)) => Typed::Number(*f),
        (PropertyType::Boolean, Val::Bool(b)) => Typed::Bool(*b),
        (ty, v) => return Err(StoreError::Other(format!("a {v:?} value cannot be kept in a {ty:?} column"))),
    })
}

/// The values of one column (lookup keys, or changed rows) as a typed array parameter; `None` is NULL.
enum Cells<'a> {
    Text(Vec<Option<Cow<'a, str>>>),
    Number(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
}

impl<'a> Cells<'a> {
    /// The values of a column of type `ty`, typed as the column keeps them.
    fn of(ty: PropertyType, values: impl ExactSizeIterator<Item = Option<&'a Val>>) -> StoreResult<Cells<'a>> {
        let n = values.len();
        let mut cells = match ty {
            PropertyType::Text | PropertyType::Date => Cells::Text(Vec::with_capacity(n)),
            PropertyType::Number => Cells::Number(Vec::with_capacity(n)),
            PropertyType::Boolean => Cells::Bool(Vec::with_capacity(n)),
        };
        for v in values {
            let v = v.map(|v| typed(ty, v)).transpose()?;
            match (&mut cells, v) {
                (Cells::Text(c), None) => c.push(None),
                (Cells::Number(c), None) => c.push(None),
                (Cells::Bool(c), None) => c.push(None),
                (Cells::Text(c), Some(Typed::Text(s))) => c.push(Some(s)),
                (Cells::Number(c), Some(Typed::Number(f))) => c.push(Some(f)),
                (Cells::Bool(c), Some(Typed::Bool(b))) => c.push(Some(b)),
                _ => unreachable!("`typed` gives a value of the column's own kind"),
            }
        }
        Ok(cells)
    }

    fn cast(&self) -> &'static str {
        match self {
            Cells::Text(_) => "text[]",
            Cells::Number(_) => "float8[]",
            Cells::Bool(_) => "bool[]",
        }
    }

    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>
    where
        'a: 'q,
    {
        match self {
            Cells::Text(v) => q.bind(v),
            Cells::Number(v) => q.bind(v),
            Cells::Bool(v) => q.bind(v),
        }
    }
}

/// The signature, flags and header extension of COPY's binary format.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The end of COPY's binary format.
const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// Append one field: its length, then its bytes.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Append a value of a column of type `ty` in COPY's binary format (what the column's type receives).
fn copy_value(ty: PropertyType, v: &Option<Val>, out: &mut Vec<u8>) -> StoreResult<()> {
    match v.as_ref().map(|v| typed(ty, v)).transpose()? {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(Typed::Text(s)) => field(out, s.as_bytes()),
        Some(Typed::Number(f)) => field(out, &f.to_be_bytes()),
        Some(Typed::Bool(b)) => field(out, &[u8::from(b)]),
    }
    Ok(())
}

/// Append rows in COPY's binary format (`seq, item_id, created_at, modified_at, c0…`), without the
/// header and trailer.
fn copy_rows(types: &[PropertyType], rows: &[Row], out: &mut Vec<u8>) -> StoreResult<()> {
    for r in rows {
        out.extend_from_slice(&((4 + types.len()) as i16).to_be_bytes());
        field(out, &r.seq.to_be_bytes());
        field(out, item_uuid(&r.id)?.as_bytes());
        field(out, &r.created_at.to_be_bytes());
        field(out, &r.modified_at.to_be_bytes());
        for (ty, v) in types.iter().zip(&r.cells) {
            copy_value(*ty, v, out)?;
        }
    }
    Ok(())
}

/// The statement that copies rows in binary into `target`.
fn copy_statement(ds: &Dataset, target: &str) -> String {
    format!("COPY {target} ({}) FROM STDIN (FORMAT binary)", select_list(ds, 0..ds.properties.len()))
}

type Tx = Transaction<'static, Postgres>;

/// The transaction of a write, or the task that holds it while one COPY streams the new rows into the
/// table: the database takes them while the import prepares its next batches.
enum Conn {
    Idle(Tx),
    Copying {
        chunks: mpsc::Sender<Vec<Row>>,
        task: JoinHandle<(Tx, Result<u64, sqlx::Error>)>,
    },
    /// Only while changing from one to the other, or after the copy task died.
    Gone,
}

/// Batches of new rows queued for the COPY (each at most 2,000 rows).
const QUEUED_CHUNKS: usize = 4;

/// The items of `ds` a lookup names, with all their values.
async fn find_rows<'c, E>(c: E, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let props: Vec<usize> = (0..ds.properties.len()).collect();
    let types = types_of(ds, &props);
    let head = format!("SELECT {} FROM {}", select_list(ds, props), table(ds.table_id().as_str()));
    let rows = match lookup {
        Lookup::Ids(ids) => sqlx::query(&format!("{head} WHERE item_id = ANY($1)"))
            .bind(ids.iter().filter_map(|id| Uuid::parse_str(id).ok()).collect::<Vec<Uuid>>())
            .fetch_all(c)
            .await
            .map_err(map_err)?,
        Lookup::Values { props, keys } => {
            let columns = props
                .iter()
                .enumerate()
                .map(|(j, &i)| Cells::of(ds.properties[i].ty, keys.iter().map(|k| Some(&k[j]))))
                .collect::<StoreResult<Vec<Cells>>>()?;
            // One index probe per key, whatever the planner's statistics say: right after a bulk load the
            // table has none, and `c = ANY($1)` with 100 keys was then planned as a scan of every row.
            // `OFFSET 0` keeps the subquery from being flattened into a join the planner could hash; a key
            // given twice is probed once.
            let arrays: Vec<String> =
                columns.iter().enumerate().map(|(j, c)| format!("${}::{}", j + 1, c.cast())).collect();
            let keys: Vec<String> = (0..props.len()).map(|j| format!("k{j}")).collect();
            let matches: Vec<String> =
                props.iter().zip(&keys).map(|(&i, k)| format!("{} = k.{k}", column(ds, i))).collect();
            let sql = format!(
                "SELECT i.* FROM (SELECT DISTINCT * FROM UNNEST({})) AS k({}) CROSS JOIN LATERAL ({head} WHERE {} OFFSET 0) AS i",
                arrays.join(", "),
                keys.join(", "),
                matches.join(" AND ")
            );
            let q = columns.into_iter().fold(sqlx::query(&sql), |q, c| c.bind(q));
            q.fetch_all(c).await.map_err(map_err)?
        }
    };
    rows.iter().map(|r| decode(r, &types).map_err(map_err)).collect()
}

impl Pg {
    /// The item side of the database at `url`.
    pub(crate) async fn connect(url: &str) -> Result<Pg, StoreError> {
        // No JIT: item statements are lookups, writes and streamed scans, for which compiling a plan
        // (100–300 ms, triggered by cost estimates that are far off while a table has no statistics yet)
        // costs more than it can save.
        let options = url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .options([("jit", "off")]);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Pg { pool, indexed: Default::default() })
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
            select_list(ds, props.clone()),
            table(ds.table_id().as_str())
        );
        let types = types_of(ds, &props);
        let rows = sqlx::query(&sql).bind(after).bind(limit).fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|r| decode(r, &types).map(|r| r.to_item(ds)).map_err(map_err)).collect()
    }

    pub(crate) async fn get_item(&self, ds: &Dataset, item_id: &str) -> StoreResult<Option<Item>> {
        let props: Vec<usize> = (0..ds.properties.len()).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE item_id = $1",
            select_list(ds, props.clone()),
            table(ds.table_id().as_str())
        );
        let types = types_of(ds, &props);
        let Ok(id) = Uuid::parse_str(item_id) else { return Ok(None) };
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(map_err)?;
        row.map(|r| decode(&r, &types).map(|r| r.to_item(ds)).map_err(map_err)).transpose()
    }

    pub(crate) async fn scan(&self, ds: &Dataset, props: &[usize], passes: usize) -> StoreResult<Box<dyn ItemScan>> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let sql = format!(
            "SELECT {} FROM {} ORDER BY seq",
            select_list(ds, props.iter().copied()),
            table(ds.table_id().as_str())
        );
        let types = types_of(ds, props);
        // The snapshot starts with the first read, before `scan` returns.
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *conn).await.map_err(map_err)?;
        sqlx::query(&format!("SELECT 1 FROM {} LIMIT 1", table(ds.table_id().as_str())))
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
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
        let t = table(ds.table_id().as_str());
        let (tc, pc) = (column(ds, tree), column(ds, parent));
        let sql = if ds.properties[tree].ty == ds.properties[parent].ty {
            format!("SELECT c.seq, (SELECT p.seq FROM {t} p WHERE p.{tc} = c.{pc} LIMIT 1), c.{pc} IS NOT NULL FROM {t} c ORDER BY c.seq")
        } else {
            format!("SELECT seq, NULL::bigint, {pc} IS NOT NULL FROM {t} ORDER BY seq")
        };
        let rows: Vec<(i64, Option<i64>, bool)> = sqlx::query_as(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
        Ok(rows)
    }

    /// See [`orgd_core::store::Store::retype_property`]: one transaction on this pool.
    pub(crate) async fn retype(
        &self,
        before: &Dataset,
        after: &Dataset,
        i: usize,
        convert: orgd_core::store::Convert,
    ) -> StoreResult<Option<u64>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let t = table(before.id.as_str());
        let indexes: Vec<(String,)> =
            sqlx::query_as(super::index_names(true)).bind(&t).fetch_all(&mut *tx).await.map_err(map_err)?;
        let indexes: Vec<String> = indexes.into_iter().map(|(n,)| n).collect();
        let (old, new) = (column(before, i), column(after, i));
        let (adds, drops): (Vec<String>, Vec<String>) =
            super::alter_table(before, after, &indexes, true).into_iter().partition(|s| s.contains(" ADD COLUMN "));
        for sql in &adds {
            sqlx::query(sql).execute(&mut *tx).await.map_err(map_err)?;
        }
        let (old_ty, new_ty) = ([before.properties[i].ty], after.properties[i].ty);
        let (mut after_seq, mut kept) = (0i64, 0u64);
        loop {
            let sql = format!(
                "SELECT seq, item_id, created_at, modified_at, {old} FROM {t} WHERE seq > $1 AND {old} IS NOT NULL ORDER BY seq LIMIT 2000"
            );
            let rows = sqlx::query(&sql).bind(after_seq).fetch_all(&mut *tx).await.map_err(map_err)?;
            let rows = rows.iter().map(|r| decode(r, &old_ty)).collect::<Result<Vec<Row>, _>>().map_err(map_err)?;
            let Some(last) = rows.last() else { break };
            after_seq = last.seq;
            let mut values = Vec::with_capacity(rows.len());
            for r in &rows {
                let Some(v) = r.cells[0].as_ref() else { continue };
                let Ok(converted) = convert(v) else { return Ok(None) };
                kept += u64::from(converted.is_some());
                values.push(converted);
            }
            let cells = Cells::of(new_ty, values.iter().map(Option::as_ref))?;
            let sql = format!(
                "UPDATE {t} SET {new} = s.v FROM UNNEST($1::bigint[], $2::{}) AS s(seq, v) WHERE {t}.seq = s.seq",
                cells.cast()
            );
            let q = sqlx::query(&sql).bind(rows.iter().map(|r| r.seq).collect::<Vec<i64>>());
            cells.bind(q).execute(&mut *tx).await.map_err(map_err)?;
        }
        for sql in &drops {
            sqlx::query(sql).execute(&mut *tx).await.map_err(map_err)?;
        }
        let done = sqlx::query(super::SAVE_DEFINITION)
            .bind(after.definition_json().to_string())
            .bind(&after.cache_key)
            .bind(after.modified_at)
            .bind(after.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        record(&mut tx, &crate::datasets::schema_event(before, after)).await?;
        sqlx::query(crate::BUMP_DATA_EPOCH).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(kept))
    }

    pub(crate) async fn find_items(&self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        find_rows(&self.pool, ds, lookup).await
    }

    pub(crate) async fn index_items(&self, ds: &Dataset, props: &[usize]) -> StoreResult<()> {
        let t = table(ds.table_id().as_str());
        // Keyed by the properties too: a removed property's column number may come back for a new one.
        let keys: Vec<&str> = props.iter().map(|&i| ds.properties[i].key.as_str()).collect();
        let known = (format!("{}/{}", super::index_name(&t, ds, props), keys.join("\u{0}")), ds.created_at);
        if self.indexed.lock().contains(&known) {
            return Ok(());
        }
        self.find_or_make_index(ds, props).await?;
        self.indexed.lock().insert(known);
        Ok(())
    }

    async fn find_or_make_index(&self, ds: &Dataset, props: &[usize]) -> StoreResult<()> {
        let t = table(ds.table_id().as_str());
        // Found in the catalog first: `CREATE INDEX IF NOT EXISTS` takes a lock on the table that waits
        // for any write in progress there, even when the index exists.
        let (there,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1)",
        )
        .bind(super::index_name(&t, ds, props))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        if there {
            return Ok(());
        }
        let sql = super::create_index(&t, ds, props);
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
            .bind(ds.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(Box::new(PgWrite {
            pool: self.pool.clone(),
            results: None,
            conn: Conn::Idle(tx),
            ds: ds.clone(),
            types: ds.properties.iter().map(|p| p.ty).collect(),
            seen: false,
            dropped: Vec::new(),
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
    pool: PgPool,
    /// The writer of the job's result chunks, once the import put one.
    results: Option<ResultWriter>,
    conn: Conn,
    ds: Dataset,
    types: Vec<PropertyType>,
    seen: bool,
    /// The statements that make again the indexes and the primary key a bulk load dropped.
    dropped: Vec<String>,
}

/// Result chunks queued for their writer (each at most 64 KiB).
const QUEUED_RESULTS: usize = 16;

/// A task that stores a job's result chunks in a transaction of its own, beside the import's, while the
/// import goes on; the import's commit commits it just before. Chunks without a kept outcome (the node
/// died, or the import's commit failed, between the two) are partial and dropped when the job fails or is
/// queued again.
struct ResultWriter {
    chunks: mpsc::Sender<(String, i64, Vec<u8>)>,
    task: JoinHandle<Result<(), sqlx::Error>>,
}

impl ResultWriter {
    fn spawn(pool: PgPool) -> ResultWriter {
        let (chunks, mut rx) = mpsc::channel::<(String, i64, Vec<u8>)>(QUEUED_RESULTS);
        let task = tokio::spawn(async move {
            // One transaction: one WAL flush at its commit, not one per chunk (each flush would also wait
            // for the import's COPY written so far); rolled back if the import gives up.
            let mut conn = pool.begin().await?;
            while let Some((job, n, data)) = rx.recv().await {
                sqlx::query(
                    "INSERT INTO job_chunks (job_id, n, data) VALUES ($1, $2, $3) \
                     ON CONFLICT (job_id, n) DO UPDATE SET data = excluded.data",
                )
                .bind(job)
                .bind(n)
                .bind(data)
                .execute(&mut *conn)
                .await?;
            }
            conn.commit().await
        });
        ResultWriter { chunks, task }
    }

    /// Wait until every chunk sent is stored.
    async fn finish(self) -> StoreResult<()> {
        drop(self.chunks);
        let stored = self.task.await.map_err(|e| StoreError::Other(format!("the result writer failed: {e}")))?;
        stored.map_err(map_err)
    }
}

impl Drop for PgWrite {
    /// An import given up stops storing its results: their transaction rolls back.
    fn drop(&mut self) {
        if let Some(w) = &self.results {
            w.task.abort();
        }
    }
}

/// The connection of the transaction, once the COPY in flight (if any) has finished.
async fn conn(c: &mut Conn) -> StoreResult<&mut PgConnection> {
    if let Conn::Copying { .. } = c {
        let Conn::Copying { chunks, task } = std::mem::replace(c, Conn::Gone) else { unreachable!() };
        drop(chunks);
        let (tx, copied) = task.await.map_err(|e| StoreError::Other(format!("the COPY task failed: {e}")))?;
        *c = Conn::Idle(tx);
        copied.map_err(map_err)?;
    }
    match c {
        Conn::Idle(tx) => Ok(&mut **tx),
        _ => Err(StoreError::Other("the transaction was lost with its COPY task".into())),
    }
}

impl PgWrite {
    fn table(&self) -> String {
        table(self.ds.table_id().as_str())
    }

    /// Queue new rows for the table's COPY, starting it when none is in flight. The COPY task encodes
    /// them, so the import's own task goes on with its next batch.
    async fn stream(&mut self, rows: Vec<Row>) -> StoreResult<()> {
        if let Conn::Idle(_) = self.conn {
            let Conn::Idle(mut tx) = std::mem::replace(&mut self.conn, Conn::Gone) else { unreachable!() };
            let (chunks, mut rx) = mpsc::channel::<Vec<Row>>(QUEUED_CHUNKS);
            let stmt = copy_statement(&self.ds, &self.table());
            let types = self.types.clone();
            let task = tokio::spawn(async move {
                let copied = async {
                    let mut copy = tx.copy_in_raw(&stmt).await?;
                    copy.send(COPY_HEADER).await?;
                    let mut data = Vec::new();
                    while let Some(rows) = rx.recv().await {
                        data.clear();
                        if let Err(e) = copy_rows(&types, &rows, &mut data) {
                            // Ended on the wire too, so the connection goes back to the pool clean.
                            copy.abort(e.to_string()).await?;
                            return Err(sqlx::Error::Protocol(e.to_string()));
                        }
                        drop(rows);
                        copy.send(data.as_slice()).await?;
                    }
                    copy.send(COPY_TRAILER).await?;
                    copy.finish().await
                }
                .await;
                (tx, copied)
            });
            self.conn = Conn::Copying { chunks, task };
        }
        let sent = match &self.conn {
            Conn::Copying { chunks, .. } => chunks.send(rows).await.is_ok(),
            _ => false,
        };
        if !sent {
            // The task ended early: its error says why.
            conn(&mut self.conn).await?;
            return Err(StoreError::Other("the COPY of new rows ended early".into()));
        }
        Ok(())
    }

    async fn seen_table(&mut self) -> StoreResult<()> {
        if !self.seen {
            let c = conn(&mut self.conn).await?;
            sqlx::query("CREATE TEMP TABLE IF NOT EXISTS import_seen (seq BIGINT PRIMARY KEY) ON COMMIT DELETE ROWS")
                .execute(&mut *c)
                .await
                .map_err(map_err)?;
            sqlx::query("TRUNCATE import_seen").execute(c).await.map_err(map_err)?;
            self.seen = true;
        }
        Ok(())
    }
}

#[async_trait]
impl ItemWrite for PgWrite {
    async fn last_seq(&mut self) -> StoreResult<i64> {
        let sql = format!("SELECT COALESCE(MAX(seq), 0)::bigint FROM {}", self.table());
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(conn(&mut self.conn).await?).await.map_err(map_err)?;
        Ok(n)
    }

    async fn find(&mut self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        find_rows(conn(&mut self.conn).await?, ds, lookup).await
    }

    async fn write(&mut self, inserts: Vec<Row>, updates: Vec<Row>, deletes: Vec<i64>) -> StoreResult<()> {
        let t = self.table();
        if !deletes.is_empty() {
            sqlx::query(&format!("DELETE FROM {t} WHERE seq = ANY($1)"))
                .bind(&deletes)
                .execute(conn(&mut self.conn).await?)
                .await
                .map_err(map_err)?;
        }
        if !updates.is_empty() {
            // One statement, the changed rows as one typed array per column: no staging table to make
            // (a temporary table per write churned the catalog) and nothing to copy twice.
            let mut sets = vec![
                "item_id = s.item_id".to_string(),
                "created_at = s.created_at".into(),
                "modified_at = s.modified_at".into(),
            ];
            let cells = (0..self.types.len())
                .map(|i| Cells::of(self.types[i], updates.iter().map(|r| r.cells.get(i).and_then(Option::as_ref))))
                .collect::<StoreResult<Vec<Cells>>>()?;
            let mut names = vec!["seq".to_string(), "item_id".into(), "created_at".into(), "modified_at".into()];
            let mut arrays =
                vec!["$1::bigint[]".to_string(), "$2::uuid[]".into(), "$3::bigint[]".into(), "$4::bigint[]".into()];
            for (i, c) in cells.iter().enumerate() {
                sets.push(format!("{0} = s.{0}", column(&self.ds, i)));
                names.push(column(&self.ds, i));
                arrays.push(format!("${}::{}", i + 5, c.cast()));
            }
            let sql = format!(
                "UPDATE {t} SET {} FROM UNNEST({}) AS s({}) WHERE {t}.seq = s.seq",
                sets.join(", "),
                arrays.join(", "),
                names.join(", ")
            );
            let ids = updates.iter().map(|r| item_uuid(&r.id)).collect::<StoreResult<Vec<Uuid>>>()?;
            let q = sqlx::query(&sql)
                .bind(updates.iter().map(|r| r.seq).collect::<Vec<i64>>())
                .bind(ids)
                .bind(updates.iter().map(|r| r.created_at).collect::<Vec<i64>>())
                .bind(updates.iter().map(|r| r.modified_at).collect::<Vec<i64>>());
            let q = cells.into_iter().fold(q, |q, c| c.bind(q));
            q.execute(conn(&mut self.conn).await?).await.map_err(map_err)?;
        }
        if !inserts.is_empty() {
            self.stream(inserts).await?;
        }
        Ok(())
    }

    async fn keep_versions(&mut self, versions: Vec<orgd_core::data::history::Version>) -> StoreResult<()> {
        // One statement per write, the versions as one array per column.
        let col = |f: fn(&orgd_core::data::history::Version) -> String| versions.iter().map(f).collect::<Vec<String>>();
        sqlx::query(
            "INSERT INTO item_versions (dataset_id, item_id, item_seq, at, event_id, actor_id, before_json, after_json) \
             SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])",
        )
        .bind(self.ds.id.as_str())
        .bind(col(|v| v.item_id.clone()))
        .bind(versions.iter().map(|v| v.item_seq).collect::<Vec<i64>>())
        .bind(versions.iter().map(|v| v.at).collect::<Vec<i64>>())
        .bind(col(|v| v.event_id.clone()))
        .bind(col(|v| v.actor.clone()))
        .bind(versions.iter().map(|v| v.before.clone()).collect::<Vec<Option<String>>>())
        .bind(versions.iter().map(|v| v.after.clone()).collect::<Vec<Option<String>>>())
        .execute(conn(&mut self.conn).await?)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn mark_seen(&mut self, seqs: Vec<i64>) -> StoreResult<()> {
        self.seen_table().await?;
        sqlx::query("INSERT INTO import_seen SELECT UNNEST($1::bigint[]) ON CONFLICT DO NOTHING")
            .bind(&seqs)
            .execute(conn(&mut self.conn).await?)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn unseen(&mut self, after: i64, limit: i64) -> StoreResult<Vec<(i64, String)>> {
        self.seen_table().await?;
        let sql = format!(
            "SELECT t.seq, t.item_id FROM {} t WHERE t.seq > $1 AND NOT EXISTS \
             (SELECT 1 FROM import_seen s WHERE s.seq = t.seq) ORDER BY t.seq LIMIT $2",
            self.table()
        );
        let rows: Vec<(i64, Uuid)> = sqlx::query_as(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(conn(&mut self.conn).await?)
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(|(seq, id)| (*seq, item_text(id))).collect())
    }

    async fn finish(&mut self, count_delta: i64, cache_key: &str, modified_at: i64, event: &Event) -> StoreResult<()> {
        sqlx::query(
            "UPDATE datasets SET item_count = item_count + $2, cache_key = $3, modified_at = $4 WHERE dataset_id = $1",
        )
        .bind(self.ds.id.as_str())
        .bind(count_delta)
        .bind(cache_key)
        .bind(modified_at)
        .execute(conn(&mut self.conn).await?)
        .await
        .map_err(map_err)?;
        record(conn(&mut self.conn).await?, event).await
    }

    async fn job_outcome(&mut self, job: &JobId) -> StoreResult<Option<String>> {
        let job_id = job.as_str();
        let row: Option<(String,)> = sqlx::query_as("SELECT body FROM job_outcomes WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(conn(&mut self.conn).await?)
            .await
            .map_err(map_err)?;
        Ok(row.map(|(b,)| b))
    }

    async fn keep_job_outcome(&mut self, job: &JobId, body: &str) -> StoreResult<()> {
        let job_id = job.as_str();
        sqlx::query("INSERT INTO job_outcomes (job_id, body) VALUES ($1, $2)")
            .bind(job_id)
            .bind(body)
            .execute(conn(&mut self.conn).await?)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn put_result_chunk(&mut self, job: &JobId, n: i64, data: Vec<u8>) -> StoreResult<()> {
        let pool = &self.pool;
        let w = self.results.get_or_insert_with(|| ResultWriter::spawn(pool.clone()));
        if w.chunks.send((job.as_str().to_string(), n, data)).await.is_err() {
            // The writer ended early: its error says why.
            if let Some(w) = self.results.take() {
                w.finish().await?;
            }
            return Err(StoreError::Other("the writer of the job's results ended early".into()));
        }
        Ok(())
    }

    async fn begin_bulk(&mut self) -> StoreResult<bool> {
        let t = self.table();
        let (empty,): (bool,) = sqlx::query_as(&format!("SELECT NOT EXISTS (SELECT 1 FROM {t})"))
            .fetch_one(conn(&mut self.conn).await?)
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
        .fetch_all(conn(&mut self.conn).await?)
        .await
        .map_err(map_err)?;
        for (name, _) in &indexes {
            sqlx::query(&format!("DROP INDEX {name}")).execute(conn(&mut self.conn).await?).await.map_err(map_err)?;
        }
        self.dropped = indexes.into_iter().map(|(_, def)| def).collect();
        // The primary key (on `seq`) too, built once at the end like the indexes. Meanwhile an update or a
        // delete of a row the load wrote scans the table, as finding that row already does without the id
        // index; a bulk load meets those only where the file repeats a key.
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'",
        )
        .bind(&t)
        .fetch_all(conn(&mut self.conn).await?)
        .await
        .map_err(map_err)?;
        for (name, def) in keys {
            sqlx::query(&format!("ALTER TABLE {t} DROP CONSTRAINT {name}"))
                .execute(conn(&mut self.conn).await?)
                .await
                .map_err(map_err)?;
            self.dropped.insert(0, format!("ALTER TABLE {t} ADD CONSTRAINT {name} {def}"));
        }
        Ok(true)
    }

    async fn end_bulk(&mut self) -> StoreResult<()> {
        let dropped = std::mem::take(&mut self.dropped);
        if dropped.is_empty() {
            return Ok(());
        }
        // Sorted in memory, not on tape: the default 64 MB, shared by a parallel build's workers, spills
        // the keys of a million-row load to temporary files. For this transaction only.
        sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(conn(&mut self.conn).await?)
            .await
            .map_err(map_err)?;
        for def in dropped {
            sqlx::query(&def).execute(conn(&mut self.conn).await?).await.map_err(map_err)?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        if let Some(w) = self.results.take() {
            w.finish().await?;
        }
        conn(&mut self.conn).await?;
        let Conn::Idle(tx) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            return Err(StoreError::Other("the transaction was lost with its COPY task".into()));
        };
        tx.commit().await.map_err(map_err)
    }
}

/// Write `e` in the transaction of its change, on this connection (the engine queues its deliveries).
async fn record(c: &mut sqlx::PgConnection, e: &orgd_core::events::Event) -> StoreResult<()> {
    let (id, at, org, actor, object, kind, trace, body) = crate::events::values(e);
    let q = sqlx::query(crate::events::INSERT_EVENT).bind(id).bind(at).bind(org).bind(actor).bind(object).bind(kind);
    q.bind(trace).bind(body).execute(c).await.map_err(map_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0190A2B4-1C2D-7E3F-8A4B-5C6D7E8F9A0B";

    #[test]
    fn rows_are_copied_in_binary_by_column_type() {
        let row = Row {
            id: ID.into(),
            seq: 7,
            created_at: 1,
            modified_at: 2,
            cells: vec![Some(Val::Text("a\tb".into())), None, Some(Val::Number(2.5)), Some(Val::Bool(true))],
        };
        let types = [PropertyType::Text, PropertyType::Date, PropertyType::Number, PropertyType::Boolean];
        let mut out = Vec::new();
        copy_rows(&types, &[row], &mut out).unwrap();
        let mut want = vec![0, 8];
        let id = Uuid::parse_str(ID).unwrap();
        for f in [&7i64.to_be_bytes()[..], id.as_bytes(), &1i64.to_be_bytes(), &2i64.to_be_bytes(), b"a\tb"] {
            want.extend_from_slice(&(f.len() as i32).to_be_bytes());
            want.extend_from_slice(f);
        }
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 8]);
        want.extend_from_slice(&2.5f64.to_be_bytes());
        want.extend_from_slice(&[0, 0, 0, 1, 1]);
        assert_eq!(out, want);
        assert_eq!(COPY_HEADER.len(), 19);
        assert_eq!(item_text(&id), ID, "ids read back as the API writes them");
        let mut bad = Vec::new();
        let not_an_id = Row { id: "ID".into(), seq: 1, created_at: 1, modified_at: 1, cells: vec![] };
        assert!(copy_rows(&[], &[not_an_id], &mut bad).is_err(), "an id that is not a UUID is refused, not sent");
    }

    #[test]
    fn a_value_its_column_cannot_hold_is_refused_not_sent() {
        let row =
            Row { id: ID.into(), seq: 1, created_at: 1, modified_at: 1, cells: vec![Some(Val::Text("x".into()))] };
        let mut out = Vec::new();
        assert!(copy_rows(&[PropertyType::Number], std::slice::from_ref(&row), &mut out).is_err());
        out.clear();
        let number = Row { cells: vec![Some(Val::Number(3.0))], ..row };
        copy_rows(&[PropertyType::Text], &[number], &mut out).unwrap();
        assert!(out.ends_with(&[0, 0, 0, 1, b'3']), "{out:?}");
    }

    #[test]
    fn array_parameters_type_values_as_their_column_keeps_them() {
        let (text, three, yes) = (Val::Text("x".into()), Val::Number(3.0), Val::Bool(true));
        let Cells::Text(t) = Cells::of(PropertyType::Text, [Some(&text), Some(&three), None].into_iter()).unwrap()
        else {
            panic!("a text column's values are text")
        };
        assert_eq!(t, [Some(Cow::Borrowed("x")), Some(Cow::Owned("3".to_string())), None]);
        assert!(Cells::of(PropertyType::Number, [Some(&text)].into_iter()).is_err(), "no number is made up");
        assert!(Cells::of(PropertyType::Boolean, [Some(&three)].into_iter()).is_err(), "nor a boolean");
        let Cells::Bool(b) = Cells::of(PropertyType::Boolean, [Some(&yes), None].into_iter()).unwrap() else {
            panic!("a boolean column's values are booleans")
        };
        assert_eq!(b, [Some(true), None]);
    }
}
