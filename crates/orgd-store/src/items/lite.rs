//! Items on SQLite through rusqlite, on blocking threads: prepared statements stepped at the engine's own
//! speed. An import holds one connection in `BEGIN IMMEDIATE` for its whole run and takes its batches as
//! calls; a scan reads one snapshot on its own connection and hands pages over a small channel.

use super::{select_list, table, PAGE};
use crate::wal::Checkpointer;
use async_trait::async_trait;
use orgd_core::data::row::{Row, Val};
use orgd_core::data::{Dataset, Item, PropertyType};
use orgd_core::error::StoreError;
use orgd_core::events::Event;
use orgd_core::ids::JobId;
use orgd_core::store::{ItemScan, ItemWrite, Lookup, StoreResult, TreeLink};
use parking_lot::Mutex;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// How long a statement waits for another writer's lock before it gives up.
pub(crate) const BUSY_TIMEOUT_MS: u32 = 60_000;

/// Idle connections kept for reuse.
const IDLE: usize = 8;

/// The item side of a SQLite store.
#[derive(Clone)]
pub(crate) struct Lite {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    checkpoints: Checkpointer,
}

impl std::fmt::Debug for Lite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lite").field("path", &self.path).finish()
    }
}

/// A pooled connection, back to the pool when dropped outside a transaction.
struct Conn {
    conn: Option<Connection>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl std::ops::Deref for Conn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
            let mut idle = self.idle.lock();
            if idle.len() < IDLE {
                idle.push(c);
            }
        }
    }
}

/// A driver error as a store error.
pub(crate) fn lite_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable(e.to_string()),
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        Some(ErrorCode::DiskFull | ErrorCode::CannotOpen | ErrorCode::SystemIoFailure) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

fn gone() -> StoreError {
    StoreError::Other("the database thread stopped".into())
}

/// A value bound to a statement.
struct Bind<'a>(&'a Option<Val>);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            None => ToSqlOutput::Borrowed(ValueRef::Null),
            Some(Val::Text(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Some(Val::Number(f)) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Some(Val::Bool(b)) => ToSqlOutput::Borrowed(ValueRef::Integer(*b as i64)),
        })
    }
}

/// A key value bound to a statement.
struct Key<'a>(&'a Val);

impl ToSql for Key<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Number(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Val::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(*b as i64)),
        })
    }
}

/// Decode `seq, item_id, created_at, modified_at` and the columns of `props`.
fn decode(r: &rusqlite::Row, types: &[PropertyType]) -> rusqlite::Result<Row> {
    let mut row = super::empty_row(types.len());
    row.seq = r.get(0)?;
    row.id = r.get(1)?;
    row.created_at = r.get(2)?;
    row.modified_at = r.get(3)?;
    for (j, ty) in types.iter().enumerate() {
        row.cells.push(match r.get_ref(4 + j)? {
            ValueRef::Null | ValueRef::Blob(_) => None,
            ValueRef::Integer(n) => Some(match ty {
                PropertyType::Boolean => Val::Bool(n != 0),
                PropertyType::Number => Val::Number(n as f64),
                _ => Val::Text(n.to_string()),
            }),
            ValueRef::Real(f) => Some(Val::Number(f)),
            ValueRef::Text(t) => Some(Val::Text(String::from_utf8_lossy(t).into_owned())),
        });
    }
    Ok(row)
}

fn types_of(ds: &Dataset, props: &[usize]) -> Vec<PropertyType> {
    props.iter().map(|&i| ds.properties[i].ty).collect()
}

fn all_props(ds: &Dataset) -> Vec<usize> {
    (0..ds.properties.len()).collect()
}

/// The page cache of a pooled connection, set again (and the rest given back) after work that used
/// another size.
const POOLED_CACHE: &str = "PRAGMA cache_size = -16384; PRAGMA shrink_memory;";

/// A lookup that owns its keys, to send to a connection's thread.
enum Owned {
    Ids(Vec<String>),
    Values(Vec<usize>, Vec<Vec<Val>>),
}

impl Owned {
    fn of(lookup: Lookup<'_>) -> Owned {
        match lookup {
            Lookup::Ids(ids) => Owned::Ids(ids.to_vec()),
            Lookup::Values { props, keys } => Owned::Values(props.to_vec(), keys.to_vec()),
        }
    }
}

/// The items of `ds` a lookup names, with all their values.
fn find_rows(c: &Connection, ds: &Dataset, lookup: &Owned) -> rusqlite::Result<Vec<Row>> {
    let props = all_props(ds);
    let types = types_of(ds, &props);
    let head = format!("SELECT {} FROM {}", select_list(ds, props), table(ds.table_id().as_str()));
    let mut out = Vec::new();
    match lookup {
        Owned::Ids(ids) => {
            let mut st = c.prepare_cached(&format!("{head} WHERE item_id = ?1"))?;
            for id in ids {
                let mut rows = st.query([id])?;
                while let Some(r) = rows.next()? {
                    out.push(decode(r, &types)?);
                }
            }
        }
        Owned::Values(props, keys) => {
            let cond: Vec<String> =
                props.iter().enumerate().map(|(j, &i)| format!("{} = ?{}", super::column(ds, i), j + 1)).collect();
            let mut st = c.prepare_cached(&format!("{head} WHERE {}", cond.join(" AND ")))?;
            for key in keys {
                for (j, v) in key.iter().enumerate() {
                    st.raw_bind_parameter(j + 1, Key(v))?;
                }
                let mut rows = st.raw_query();
                while let Some(r) = rows.next()? {
                    out.push(decode(r, &types)?);
                }
            }
        }
    }
    Ok(out)
}

impl Lite {
    /// The item side of the SQLite file at `path`.
    pub(crate) fn new(path: PathBuf, checkpoints: Checkpointer) -> Lite {
        Lite { path, idle: Arc::default(), checkpoints }
    }

    fn take(&self) -> rusqlite::Result<Conn> {
        let conn = match self.idle.lock().pop() {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path)?;
                c.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS as u64))?;
                c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
                c.execute_batch(crate::wal::CONNECTION_PRAGMAS)?;
                c.execute_batch(POOLED_CACHE)?;
                c
            }
        };
        Ok(Conn { conn: Some(conn), idle: self.idle.clone() })
    }

    /// Run `f` on a pooled connection on a blocking thread.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> StoreResult<R> {
        let lite = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = lite.take()?;
            f(&mut c)
        })
        .await
        .map_err(|_| gone())?
        .map_err(lite_err)
    }

    /// See [`orgd_core::store::Store::retype_property`]: one write transaction on this connection.
    pub(crate) async fn retype(
        &self,
        before: Dataset,
        after: Dataset,
        i: usize,
        convert: orgd_core::store::Convert,
    ) -> StoreResult<Option<u64>> {
        let event = crate::datasets::schema_event(&before, &after);
        self.run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let t = table(before.id.as_str());
            let indexes: Vec<String> = tx
                .prepare(super::index_names(false))?
                .query_map([&t], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let (old, new) = (super::column(&before, i), super::column(&after, i));
            let all = super::alter_table(&before, &after, &indexes, false);
            let (adds, drops): (Vec<String>, Vec<String>) = all.into_iter().partition(|s| s.contains(" ADD COLUMN "));
            for sql in &adds {
                tx.execute_batch(sql)?;
            }
            let old_ty = [before.properties[i].ty];
            let (mut after_seq, mut kept) = (0i64, 0u64);
            loop {
                let sql = format!(
                    "SELECT seq, item_id, created_at, modified_at, {old} FROM {t} WHERE seq > ?1 AND {old} IS NOT NULL ORDER BY seq LIMIT 2000"
                );
                let rows: Vec<Row> =
                    tx.prepare(&sql)?.query_map([after_seq], |r| decode(r, &old_ty))?.collect::<rusqlite::Result<_>>()?;
                let Some(last) = rows.last() else { break };
                after_seq = last.seq;
                let mut st = tx.prepare(&format!("UPDATE {t} SET {new} = ?1 WHERE seq = ?2"))?;
                for r in &rows {
                    let Some(v) = r.cells[0].as_ref() else { continue };
                    let Ok(converted) = convert(v) else { return Ok(None) };
                    kept += u64::from(converted.is_some());
                    st.execute(rusqlite::params![Bind(&converted), r.seq])?;
                }
            }
            for sql in &drops {
                tx.execute_batch(sql)?;
            }
            let def = after.definition_json().to_string();
            let done = tx.execute(
                super::SAVE_DEFINITION,
                rusqlite::params![def, after.cache_key, after.modified_at, after.id.as_str()],
            )?;
            if done == 0 {
                return Ok(None);
            }
            record(&tx, &event)?;
            tx.execute_batch(crate::BUMP_DATA_EPOCH)?;
            tx.commit()?;
            Ok(Some(kept))
        })
        .await
    }

    pub(crate) async fn item_page(&self, ds: &Dataset, after: i64, limit: i64) -> StoreResult<Vec<Item>> {
        let ds = ds.clone();
        self.run(move |c| {
            let props = all_props(&ds);
            let sql = format!(
                "SELECT {} FROM {} WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                select_list(&ds, props.clone()),
                table(ds.table_id().as_str())
            );
            let types = types_of(&ds, &props);
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map([after, limit], |r| decode(r, &types))?;
            rows.map(|r| r.map(|r| r.to_item(&ds))).collect()
        })
        .await
    }

    pub(crate) async fn get_item(&self, ds: &Dataset, item_id: &str) -> StoreResult<Option<Item>> {
        let (ds, id) = (ds.clone(), item_id.to_string());
        self.run(move |c| {
            let props = all_props(&ds);
            let sql = format!(
                "SELECT {} FROM {} WHERE item_id = ?1",
                select_list(&ds, props.clone()),
                table(ds.table_id().as_str())
            );
            let types = types_of(&ds, &props);
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query([id])?;
            rows.next()?.map(|r| decode(r, &types).map(|r| r.to_item(&ds))).transpose()
        })
        .await
    }

    pub(crate) async fn scan(&self, ds: &Dataset, props: &[usize], passes: usize) -> StoreResult<Box<dyn ItemScan>> {
        let (tx, rx) = mpsc::channel(2);
        let (ready, started) = oneshot::channel();
        let (lite, ds, props) = (self.clone(), ds.clone(), props.to_vec());
        tokio::task::spawn_blocking(move || {
            let read = || -> rusqlite::Result<bool> {
                let c = lite.take()?;
                // The snapshot starts with the first read, before `scan` returns.
                c.execute_batch("BEGIN")?;
                c.query_row(
                    &format!("SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1)", table(ds.table_id().as_str())),
                    [],
                    |_| Ok(()),
                )?;
                let _ = ready.send(());
                let sql = format!(
                    "SELECT {} FROM {} ORDER BY seq",
                    select_list(&ds, props.iter().copied()),
                    table(ds.table_id().as_str())
                );
                let types = types_of(&ds, &props);
                for pass in 0..passes {
                    let mut st = c.prepare_cached(&sql)?;
                    let mut rows = st.query([])?;
                    let mut page = Vec::with_capacity(PAGE);
                    while let Some(r) = rows.next()? {
                        page.push(decode(r, &types)?);
                        if page.len() == PAGE && tx.blocking_send(Ok((pass, std::mem::take(&mut page)))).is_err() {
                            return Ok(false);
                        }
                    }
                    if !page.is_empty() && tx.blocking_send(Ok((pass, page))).is_err() {
                        return Ok(false);
                    }
                }
                c.execute_batch("COMMIT")?;
                Ok(true)
            };
            if let Err(e) = read() {
                let _ = tx.blocking_send(Err(lite_err(e)));
            }
        });
        let _ = started.await;
        Ok(Box::new(Scan { rx }))
    }

    pub(crate) async fn tree_links(&self, ds: &Dataset) -> StoreResult<Vec<TreeLink>> {
        let ds = ds.clone();
        self.run(move |c| {
            let pos = |k: &Option<String>| k.as_deref().and_then(|k| ds.properties.iter().position(|p| p.key == k));
            let (Some(tree), Some(parent)) = (pos(&ds.tree_id), pos(&ds.tree_parent_id)) else { return Ok(Vec::new()) };
            let t = table(ds.table_id().as_str());
            let (tc, pc) = (super::column(&ds, tree), super::column(&ds, parent));
            let sql = if ds.properties[tree].ty == ds.properties[parent].ty {
                format!("SELECT c.seq, (SELECT p.seq FROM {t} p WHERE p.{tc} = c.{pc} LIMIT 1), c.{pc} IS NOT NULL FROM {t} c ORDER BY c.seq")
            } else {
                format!("SELECT seq, NULL, {pc} IS NOT NULL FROM {t} ORDER BY seq")
            };
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
        .await
    }

    /// Build an index with a small page cache (which also bounds the sorter's memory; it spills to a
    /// temporary file), so that an index over millions of items does not grow the server by the size
    /// of its sort. An index that is there is found in the schema first: `CREATE INDEX IF NOT EXISTS`
    /// would wait for the write lock an import in progress holds.
    pub(crate) async fn find_items(&self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        let (ds, lookup) = (ds.clone(), Owned::of(lookup));
        self.run(move |c| find_rows(c, &ds, &lookup)).await
    }

    pub(crate) async fn index_items(&self, ds: &Dataset, props: &[usize]) -> StoreResult<()> {
        let t = table(ds.table_id().as_str());
        let (name, sql) = (super::index_name(&t, ds, props), super::create_index(&t, ds, props));
        self.run(move |c| {
            let there: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            if there {
                return Ok(());
            }
            c.execute_batch("PRAGMA cache_size = -2048; PRAGMA temp_store = FILE;")?;
            let built = c.execute_batch(&sql);
            c.execute_batch(POOLED_CACHE)?;
            built
        })
        .await
    }

    pub(crate) async fn begin(&self, ds: &Dataset) -> StoreResult<Box<dyn ItemWrite>> {
        let (calls, rx) = std::sync::mpsc::channel::<Call>();
        let (ready, started) = oneshot::channel();
        let lite = self.clone();
        let dataset_id = ds.id.to_string();
        tokio::task::spawn_blocking(move || {
            let open = || -> rusqlite::Result<Conn> {
                let c = lite.take()?;
                // A large import works on a larger page cache, given back when it ends.
                c.execute_batch("PRAGMA cache_size = -32768; BEGIN IMMEDIATE")?;
                c.execute_batch(
                    "CREATE TEMP TABLE IF NOT EXISTS import_seen (seq INTEGER PRIMARY KEY); DELETE FROM import_seen;",
                )?;
                Ok(c)
            };
            let mut conn = match open() {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let _ = ready.send(Ok(()));
            while let Ok(call) = rx.recv() {
                call(&mut conn);
            }
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let _ = conn.execute_batch(POOLED_CACHE);
        });
        started.await.map_err(|_| gone())?.map_err(lite_err)?;
        Ok(Box::new(LiteWrite {
            calls,
            ds: Arc::new(ds.clone()),
            dataset_id,
            failed: Arc::default(),
            dropped: Vec::new(),
            in_flight: None,
            checkpoints: self.checkpoints.clone(),
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

type Call = Box<dyn FnOnce(&mut Connection) + Send>;

/// An import's transaction, on the connection of its blocking thread. Writes are queued without waiting
/// for them (the thread runs calls in order, so a later lookup sees them), so that the engine prepares
/// the next batch while SQLite writes this one; a failed write fails the next call and the commit.
struct LiteWrite {
    calls: std::sync::mpsc::Sender<Call>,
    ds: Arc<Dataset>,
    dataset_id: String,
    failed: Arc<Mutex<Option<rusqlite::Error>>>,
    /// The statements of the indexes a bulk load dropped.
    dropped: Vec<String>,
    /// Ends when the write queued last is done.
    in_flight: Option<oneshot::Receiver<()>>,
    /// Woken once the transaction commits, to copy its pages into the file off the commit path.
    checkpoints: Checkpointer,
}

impl LiteWrite {
    fn check(&self) -> StoreResult<()> {
        match self.failed.lock().take() {
            Some(e) => Err(lite_err(e)),
            None => Ok(()),
        }
    }

    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> StoreResult<R> {
        let (tx, rx) = oneshot::channel();
        let failed = self.failed.clone();
        self.calls
            .send(Box::new(move |c| {
                let r = match failed.lock().take() {
                    Some(e) => Err(e),
                    None => f(c),
                };
                drop(tx.send(r));
            }))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?.map_err(lite_err)
    }

    /// Queue `f` without waiting for it, once the write queued before it is done (so at most one write
    /// is in flight and memory does not pile up); its failure is kept for the next call.
    async fn queue(
        &mut self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> StoreResult<()> {
        if let Some(previous) = self.in_flight.take() {
            let _ = previous.await;
        }
        self.check()?;
        self.in_flight = Some(self.send(f)?);
        Ok(())
    }

    /// Send `f` to the connection's thread without waiting (it runs after everything sent before); its
    /// failure is kept for the next call. The receiver ends when it has run.
    fn send(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> StoreResult<oneshot::Receiver<()>> {
        let failed = self.failed.clone();
        let (done, finished) = oneshot::channel();
        self.calls
            .send(Box::new(move |c| {
                if failed.lock().is_none() {
                    if let Err(e) = f(c) {
                        *failed.lock() = Some(e);
                    }
                }
                let _ = done.send(());
            }))
            .map_err(|_| gone())?;
        Ok(finished)
    }
}

#[async_trait]
impl ItemWrite for LiteWrite {
    async fn last_seq(&mut self) -> StoreResult<i64> {
        let sql = format!("SELECT COALESCE(MAX(seq), 0) FROM {}", table(&self.dataset_id));
        self.call(move |c| c.query_row(&sql, [], |r| r.get(0))).await
    }

    async fn find(&mut self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        let (ds, lookup) = (ds.clone(), Owned::of(lookup));
        self.call(move |c| find_rows(c, &ds, &lookup)).await
    }

    async fn write(&mut self, inserts: Vec<Row>, updates: Vec<Row>, deletes: Vec<i64>) -> StoreResult<()> {
        let t = table(&self.dataset_id);
        let width = self.ds.properties.len();
        let all = select_list(&self.ds, 0..width);
        let cols: Vec<String> = (0..width).map(|i| super::column(&self.ds, i)).collect();
        self.queue(move |c| {
            if !inserts.is_empty() {
                let marks: Vec<String> = (1..=width + 4).map(|i| format!("?{i}")).collect();
                let sql = format!("INSERT INTO {t} ({all}) VALUES ({})", marks.join(", "));
                let mut st = c.prepare_cached(&sql)?;
                for r in &inserts {
                    bind_row(&mut st, r)?;
                    st.raw_execute()?;
                }
            }
            if !updates.is_empty() {
                let sets: Vec<String> = cols.iter().enumerate().map(|(i, c)| format!("{c} = ?{}", i + 5)).collect();
                let sql = format!(
                    "UPDATE {t} SET item_id = ?2, created_at = ?3, modified_at = ?4{}{} WHERE seq = ?1",
                    if width > 0 { ", " } else { "" },
                    sets.join(", ")
                );
                let mut st = c.prepare_cached(&sql)?;
                for r in &updates {
                    bind_row(&mut st, r)?;
                    st.raw_execute()?;
                }
            }
            if !deletes.is_empty() {
                let mut st = c.prepare_cached(&format!("DELETE FROM {t} WHERE seq = ?1"))?;
                for s in &deletes {
                    st.execute([s])?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn keep_versions(&mut self, versions: Vec<orgd_core::data::history::Version>) -> StoreResult<()> {
        let id = self.dataset_id.clone();
        self.queue(move |c| {
            let mut st = c.prepare_cached(crate::history::INSERT_VERSION)?;
            for v in &versions {
                st.execute(rusqlite::params![id, v.item_id, v.item_seq, v.at, v.event_id, v.actor, v.before, v.after])?;
            }
            Ok(())
        })
        .await
    }

    async fn mark_seen(&mut self, seqs: Vec<i64>) -> StoreResult<()> {
        self.queue(move |c| {
            let mut st = c.prepare_cached("INSERT OR IGNORE INTO import_seen (seq) VALUES (?1)")?;
            for s in &seqs {
                st.execute([s])?;
            }
            Ok(())
        })
        .await
    }

    async fn unseen(&mut self, after: i64, limit: i64) -> StoreResult<Vec<(i64, String)>> {
        let sql = format!(
            "SELECT seq, item_id FROM {} WHERE seq > ?1 AND seq NOT IN (SELECT seq FROM import_seen) ORDER BY seq LIMIT ?2",
            table(&self.dataset_id)
        );
        self.call(move |c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map([after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    async fn finish(&mut self, count_delta: i64, cache_key: &str, modified_at: i64, event: &Event) -> StoreResult<()> {
        let (id, key, event) = (self.dataset_id.clone(), cache_key.to_string(), event.clone());
        self.call(move |c| {
            c.execute(
                "UPDATE datasets SET item_count = item_count + ?2, cache_key = ?3, modified_at = ?4 WHERE dataset_id = ?1",
                rusqlite::params![id, count_delta, key, modified_at],
            )?;
            record(c, &event)
        })
        .await
    }

    async fn job_outcome(&mut self, job: &JobId) -> StoreResult<Option<String>> {
        let job_id = job.as_str();
        let id = job_id.to_string();
        self.call(move |c| {
            let mut st = c.prepare_cached("SELECT body FROM job_outcomes WHERE job_id = ?1")?;
            let mut rows = st.query([id])?;
            rows.next()?.map(|r| r.get(0)).transpose()
        })
        .await
    }

    async fn keep_job_outcome(&mut self, job: &JobId, body: &str) -> StoreResult<()> {
        let job_id = job.as_str();
        let (id, body) = (job_id.to_string(), body.to_string());
        self.call(move |c| c.execute("INSERT INTO job_outcomes (job_id, body) VALUES (?1, ?2)", [id, body]).map(drop))
            .await
    }

    /// In the import's transaction (SQLite has one writer), queued behind its writes without waiting.
    async fn put_result_chunk(&mut self, job: &JobId, n: i64, data: Vec<u8>) -> StoreResult<()> {
        self.check()?;
        let id = job.as_str().to_string();
        self.send(move |c| {
            c.execute(
                "INSERT INTO job_chunks (job_id, n, data) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (job_id, n) DO UPDATE SET data = excluded.data",
                rusqlite::params![id, n, data],
            )
            .map(drop)
        })?;
        Ok(())
    }

    async fn begin_bulk(&mut self) -> StoreResult<bool> {
        let t = table(&self.dataset_id);
        let dropped = self
            .call(move |c| {
                let empty: bool = c.query_row(&format!("SELECT NOT EXISTS (SELECT 1 FROM {t})"), [], |r| r.get(0))?;
                if !empty {
                    return Ok(None);
                }
                // Rows only go at the end of the table now, and the index builds sort in this much memory.
                c.execute_batch("PRAGMA cache_size = -8192")?;
                let mut st = c.prepare(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
                )?;
                let indexes: Vec<(String, String)> =
                    st.query_map([&t], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
                for (name, _) in &indexes {
                    c.execute_batch(&format!("DROP INDEX {name}"))?;
                }
                Ok(Some(indexes.into_iter().map(|(_, sql)| sql).collect::<Vec<String>>()))
            })
            .await?;
        let bulk = dropped.is_some();
        self.dropped = dropped.unwrap_or_default();
        Ok(bulk)
    }

    async fn end_bulk(&mut self) -> StoreResult<()> {
        let sql = std::mem::take(&mut self.dropped);
        self.call(move |c| {
            for s in &sql {
                c.execute_batch(s)?;
            }
            Ok(())
        })
        .await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.call(|c| c.execute_batch("COMMIT")).await?;
        self.checkpoints.wake();
        Ok(())
    }
}

/// Bind `seq, item_id, created_at, modified_at` and every cell of a row, in that order.
fn bind_row(st: &mut rusqlite::CachedStatement, r: &Row) -> rusqlite::Result<()> {
    st.raw_bind_parameter(1, r.seq)?;
    st.raw_bind_parameter(2, r.id.as_str())?;
    st.raw_bind_parameter(3, r.created_at)?;
    st.raw_bind_parameter(4, r.modified_at)?;
    for (j, v) in r.cells.iter().enumerate() {
        st.raw_bind_parameter(5 + j, Bind(v))?;
    }
    Ok(())
}

/// Write `e` in the transaction of its change, on this connection (the engine queues its deliveries).
fn record(c: &rusqlite::Connection, e: &orgd_core::events::Event) -> rusqlite::Result<()> {
    let (id, at, org, actor, object, kind, trace, body) = crate::events::values(e);
    c.prepare_cached(crate::events::INSERT_EVENT)?
        .execute(rusqlite::params![id, at, org, actor, object, kind, trace, body])?;
    Ok(())
}
