//! Running an import (orgvue-dialect §3.9, §6.3): actions from a [source](super::source) a batch at a
//! time, each batch's items found by index in one transaction, applied in order, written, and its
//! results spooled. An import reads only the items its actions name (plus, with `implicitDelete`, the ids
//! of the items it deletes), so its cost follows its size, not the dataset's.

use super::actions::{self, apply_batch, needs, ActionName, Done, LinkEnds, Options, Plan};
use super::row::{Row, Val};
use super::source::ActionSource;
use super::spool::Spool;
use super::{Dataset, DatasetType};
use crate::error::{ApiError, ErrorCode, StoreError};
use crate::events::Event;
use crate::ids::JobId;
use crate::store::{ItemWrite, Lookup, Store};
use rustc_hash::FxHashSet as HashSet;
use serde_json::{json, Value};

/// The most failing actions an answer lists; the count of all of them comes after.
pub const MAX_LISTED: usize = 1000;

/// Bytes of results per job chunk.
const RESULT_CHUNK: usize = 64 * 1024;

/// What an import did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The results, a JSON array of one object per action then the implicit deletions (§3.9). Empty for
    /// a job's import: its results go to the job's result chunks as they are made.
    pub results: Spool,
    /// Actions read.
    pub actions: u64,
    /// Actions that failed (`skip` mode).
    pub failed: u64,
    /// Items deleted because no action named them.
    pub implicit_deletes: u64,
    /// A job's outcome kept by an earlier attempt: nothing was applied now.
    pub kept: bool,
}

/// Who runs the import, for the details that differ.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    /// The time of the change (ms).
    pub now_ms: i64,
    /// The cache key the dataset gets when something changes.
    pub cache_key: String,
    /// Whether the per-action results are wanted (else [`Outcome::results`] stays an empty array and only
    /// the counts are kept: an operator's import that prints counts).
    pub results: bool,
    /// An async import's job id: its results are kept in the same transaction as its changes, so that a
    /// job taken again after its node died does not apply twice.
    pub job: Option<&'a JobId>,
}

/// Where the results go: the outcome's spool, or for a job, its result chunks, put as each fills so that
/// the store writes them while the import goes on (the job's outcome, kept with the changes, makes them
/// its results).
struct Results<'a> {
    job: Option<&'a JobId>,
    pending: Vec<u8>,
    chunks: i64,
}

impl Results<'_> {
    async fn push(&mut self, out: &mut Outcome, tx: &mut dyn ItemWrite, text: &str) -> Result<(), ApiError> {
        let Some(job) = self.job else { return out.results.push_str(text).map_err(store_fault) };
        self.pending.extend_from_slice(text.as_bytes());
        while self.pending.len() >= RESULT_CHUNK {
            let chunk: Vec<u8> = self.pending.drain(..RESULT_CHUNK).collect();
            tx.put_result_chunk(job, self.chunks, chunk).await?;
            self.chunks += 1;
        }
        Ok(())
    }

    /// Put the last chunk and keep the job's outcome.
    async fn finish(mut self, tx: &mut dyn ItemWrite) -> Result<(), ApiError> {
        let Some(job) = self.job else { return Ok(()) };
        if !self.pending.is_empty() {
            tx.put_result_chunk(job, self.chunks, std::mem::take(&mut self.pending)).await?;
            self.chunks += 1;
        }
        tx.keep_job_outcome(job, &json!({"chunks": self.chunks}).to_string()).await?;
        Ok(())
    }
}

/// A fault of the store during an import.
fn store_fault(e: std::io::Error) -> ApiError {
    ApiError::from(StoreError::Other(format!("cannot keep import results: {e}")))
}

/// The LINKS end datasets and the index of their autoId property.
pub struct Ends {
    from: Option<(Dataset, usize)>,
    to: Option<(Dataset, usize)>,
}

/// The LINKS end datasets of `ds` (none for other datasets).
pub async fn ends(store: &dyn Store, ds: &Dataset) -> Result<Ends, ApiError> {
    let mut out = Ends { from: None, to: None };
    if ds.ty != DatasetType::Links {
        return Ok(out);
    }
    for (id, slot) in [(&ds.from_dataset, &mut out.from), (&ds.to_dataset, &mut out.to)] {
        let Some(id) = id else { continue };
        let Some(end) = store.get_dataset(id).await? else { continue };
        let Some(auto) = end.auto_id.as_deref().and_then(|a| end.properties.iter().position(|p| p.key == a)) else {
            continue;
        };
        *slot = Some((end, auto));
    }
    Ok(out)
}

fn tuples(values: &[Val]) -> Vec<Vec<Val>> {
    values.iter().map(|v| vec![v.clone()]).collect()
}

async fn existing(
    tx: &mut dyn ItemWrite,
    end: &Option<(Dataset, usize)>,
    values: &[Val],
) -> Result<Vec<Val>, ApiError> {
    let Some((ds, auto)) = end else { return Ok(Vec::new()) };
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tx.find(ds, Lookup::Values { props: &[*auto], keys: &tuples(values) }).await?;
    Ok(rows.into_iter().filter_map(|r| r.cells[*auto].clone()).collect())
}

/// The column sets a batch looks items up by: the identifying columns, the unique key, `treeId` (merged
/// when they are the same columns).
fn column_sets(plan: &Plan<'_>) -> Vec<Vec<usize>> {
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for props in [plan.keyed().map(|k| k.props.clone()), plan.unique().map(|u| vec![u]), plan.tree().map(|t| vec![t])]
        .into_iter()
        .flatten()
    {
        if !sets.contains(&props) {
            sets.push(props);
        }
    }
    sets
}

/// A first load into an empty dataset runs without its indexes (built once at the end, which is much
/// cheaper than keeping them up to date row by row); meanwhile, a key is looked up only when this import
/// may have written it: the fingerprints of every id and key it wrote tell. Past [`BULK_MISSES`] lookups
/// that had to go to the table (duplicates in the file), or past [`BULK_KEYS`] fingerprints (a file of
/// millions of rows), the indexes are built and the load goes on as any import.
struct Bulk {
    /// Fingerprints of the ids written (only when actions identify items by `_id`).
    ids: Option<HashSet<u64>>,
    keys: Vec<HashSet<u64>>,
    misses: usize,
    /// The most fingerprints kept.
    limit: usize,
}

/// Table lookups a bulk load tolerates before it builds its indexes.
const BULK_MISSES: usize = 1000;

/// Fingerprints a bulk load keeps: what a hash set of 2^21 slots holds (7/8 of them; 16 MiB, 27 MiB while it
/// grows into them) less one batch, so that the load's memory does not grow with the file.
const BULK_KEYS: usize = (1 << 21) / 8 * 7 - super::source::BATCH;

fn fingerprint<T: std::hash::Hash + ?Sized>(v: &T) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(v)
}

/// The fingerprint of a key's values, in order.
fn key_fingerprint<'v>(values: impl IntoIterator<Item = &'v Val>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    for v in values {
        v.hash(&mut h);
    }
    h.finish()
}

impl Bulk {
    fn new(ids: bool, sets: usize, limit: usize) -> Bulk {
        Bulk { ids: ids.then(HashSet::default), keys: vec![HashSet::default(); sets], misses: 0, limit }
    }

    /// Whether the load should build its indexes now and go on as any import.
    fn over(&self) -> bool {
        let kept = self.ids.as_ref().map_or(0, HashSet::len) + self.keys.iter().map(HashSet::len).sum::<usize>();
        self.misses > BULK_MISSES || kept > self.limit
    }

    fn remember(&mut self, sets: &[Vec<usize>], rows: &[Row]) {
        for r in rows {
            if let Some(ids) = self.ids.as_mut() {
                ids.insert(fingerprint(r.id.as_str()));
            }
            for (set, props) in self.keys.iter_mut().zip(sets) {
                if props.iter().all(|&i| r.cells[i].is_some()) {
                    set.insert(key_fingerprint(props.iter().filter_map(|&i| r.cells[i].as_ref())));
                }
            }
        }
    }
}

/// The items a batch needs, found in the store: one lookup per column set. In a bulk load, only the keys
/// the import may have written are looked up.
async fn working_set(
    tx: &mut dyn ItemWrite,
    plan: &Plan<'_>,
    sets: &[Vec<usize>],
    n: actions::Needs,
    bulk: &mut Option<Bulk>,
) -> Result<Vec<Row>, ApiError> {
    let ds = plan.dataset();
    let mut lookups: Vec<Vec<Vec<Val>>> = vec![Vec::new(); sets.len()];
    let mut known: Vec<HashSet<&[Val]>> = vec![HashSet::default(); sets.len()];
    let keyed = plan.keyed().map(|k| k.props.clone());
    let mut wanted: Vec<(Vec<usize>, Vec<Vec<Val>>)> = Vec::new();
    if let Some(k) = keyed {
        wanted.push((k, n.keys));
    }
    if let Some(u) = plan.unique() {
        wanted.push((vec![u], tuples(&n.unique)));
    }
    if let Some(t) = plan.tree() {
        wanted.push((vec![t], tuples(&n.tree)));
    }
    let mut ids = n.ids;
    if let Some(b) = bulk.as_mut() {
        ids.retain(|id| b.ids.as_ref().is_some_and(|known| known.contains(&fingerprint(id.as_str()))));
        b.misses += ids.len();
    }
    for (props, keys) in &wanted {
        let at = sets.iter().position(|s| s == props).expect("every column set is listed");
        for key in keys {
            if let Some(b) = bulk.as_mut() {
                if !b.keys[at].contains(&key_fingerprint(key)) {
                    continue;
                }
                b.misses += 1;
            }
            if known[at].insert(key.as_slice()) {
                lookups[at].push(key.clone());
            }
        }
    }
    drop(known);
    if bulk.as_ref().is_some_and(Bulk::over) {
        tx.end_bulk().await?;
        *bulk = None;
    }
    let mut rows = Vec::new();
    if !ids.is_empty() {
        rows.extend(tx.find(ds, Lookup::Ids(&ids)).await?);
    }
    for (props, keys) in sets.iter().zip(&lookups) {
        if !keys.is_empty() {
            rows.extend(tx.find(ds, Lookup::Values { props, keys }).await?);
        }
    }
    Ok(rows)
}

/// A batch read and prepared, waiting for its turn.
struct Staged {
    raw_len: usize,
    prepared: Vec<Result<actions::Prepared, actions::Failure>>,
    names: Vec<ActionName>,
    needs: actions::Needs,
}

/// Read the next batch and prepare it (pure work, no store); `None` at the end.
async fn read_batch(source: &mut dyn ActionSource, plan: &Plan<'_>, base: usize) -> Result<Option<Staged>, ApiError> {
    let raw = source.next_batch().await?;
    if raw.is_empty() {
        return Ok(None);
    }
    let (prepared, names) = actions::prepare_batch(plan, base, &raw);
    let needs = needs(plan, prepared.iter().filter_map(|p| p.as_ref().ok()));
    Ok(Some(Staged { raw_len: raw.len(), prepared, names, needs }))
}

/// Run an import of `source` into `ds` in one transaction: every action applies, or (in `fail` mode with
/// a failure) none, and the error lists the failures (at most [`MAX_LISTED`], then their count).
/// `progress` hears the number of actions read so far, once per batch.
pub async fn run(
    store: &dyn Store,
    ds: &Dataset,
    source: &mut dyn ActionSource,
    opts: &Options,
    run: Run<'_>,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Outcome, ApiError> {
    ds.writable()?;
    prepare_indexes(store, ds, opts).await?;
    let ends = ends(store, ds).await?;
    let opts = &Options { keep_versions: super::history::kept(store, ds).await?, ..opts.clone() };
    let tx = store.begin_items(ds).await?;
    run_in(tx, ds, &ends, source, opts, run, progress).await
}

/// Make the lookups an import with `opts` does index lookups (an `idKey` gets its index).
pub async fn prepare_indexes(store: &dyn Store, ds: &Dataset, opts: &Options) -> Result<(), ApiError> {
    if let Some(k) = Plan::new(ds, opts).keyed() {
        store.index_items(ds, &k.props).await?;
    }
    Ok(())
}

/// [`run`] in a write already begun: the dataset's own, or a draft's (which keeps the changes beside
/// the dataset).
pub async fn run_in(
    mut tx: Box<dyn ItemWrite + '_>,
    ds: &Dataset,
    ends: &Ends,
    source: &mut dyn ActionSource,
    opts: &Options,
    run: Run<'_>,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Outcome, ApiError> {
    let history = opts.keep_versions;
    let plan = Plan::new(ds, opts);
    // The import's event, made now so that the item versions it keeps can name it; its counts come last.
    let event = Event::new(&ds.org_id, "dataset", ds.id.as_str(), "items.imported");
    if let Some(job) = run.job {
        if tx.job_outcome(job).await?.is_some() {
            return Ok(Outcome { kept: true, ..Outcome::default() });
        }
    }
    let mut next_seq = tx.last_seq().await? + 1;
    let sets = column_sets(&plan);
    let mut bulk: Option<Bulk> = None;
    let mut first_batch = true;
    let mut out = Outcome::default();
    let mut text = String::with_capacity(1 << 16);
    let mut listed: Vec<Value> = Vec::new();
    let (mut delta, mut changed, mut first) = (0i64, false, true);
    let mut results = Results { job: run.job, pending: Vec::new(), chunks: 0 };
    results.push(&mut out, tx.as_mut(), "[").await?;
    let mut next = read_batch(source, &plan, 0).await?;
    while let Some(Staged { raw_len, prepared, names, needs: n }) = next.take() {
        out.actions += raw_len as u64;
        let mut links = LinkEnds::default();
        links.from.extend(existing(tx.as_mut(), &ends.from, &n.from).await?);
        links.to.extend(existing(tx.as_mut(), &ends.to, &n.to).await?);
        // A load that fills a whole first batch into an empty dataset is a bulk load.
        if std::mem::take(&mut first_batch)
            && raw_len == super::source::BATCH
            && next_seq == 1
            && tx.begin_bulk().await?
        {
            bulk = Some(Bulk::new(plan.keyed().is_none(), sets.len(), BULK_KEYS));
        }
        let working = working_set(tx.as_mut(), &plan, &sets, n, &mut bulk).await?;
        let batch = apply_batch(&plan, working, prepared, names, &links, run.now_ms, &mut next_seq);
        if let Some(b) = bulk.as_mut() {
            b.remember(&sets, &batch.inserts);
            b.remember(&sets, &batch.updates);
        }
        text.clear();
        for (name, done) in &batch.results {
            if let Done::Failed(f) = done {
                out.failed += 1;
                if listed.len() < MAX_LISTED {
                    listed.push(f.to_json());
                }
            }
            if run.results {
                if !std::mem::take(&mut first) {
                    text.push(',');
                }
                actions::write_result(name, done, &mut text);
            }
        }
        results.push(&mut out, tx.as_mut(), &text).await?;
        if opts.implicit_delete && !batch.seen.is_empty() {
            tx.mark_seen(batch.seen).await?;
        }
        // After a failure in `fail` mode nothing will be kept; the rest is applied only so that later
        // actions see the earlier ones and every failure is listed. The next batch is read and prepared
        // while the database takes this one's rows.
        let base = out.actions as usize;
        if !batch.inserts.is_empty() || !batch.updates.is_empty() || !batch.deletes.is_empty() {
            delta += batch.inserts.len() as i64 - batch.deletes.len() as i64;
            changed = true;
            let versions = history.then(|| {
                super::history::versions(ds, &event, &batch.before, &batch.inserts, &batch.updates, &batch.deletes)
            });
            let (written, read) =
                tokio::join!(tx.write(batch.inserts, batch.updates, batch.deletes), read_batch(source, &plan, base));
            written?;
            if let Some(v) = versions {
                tx.keep_versions(v).await?;
            }
            next = read?;
        } else {
            next = read_batch(source, &plan, base).await?;
        }
        progress(out.actions);
    }
    if out.failed > 0 && !opts.skip_failures {
        drop(tx);
        return Err(failed(listed, out.failed));
    }
    // The indexes come back before the implicit deletion, which reads the table by `seq`.
    if bulk.take().is_some() {
        tx.end_bulk().await?;
    }
    if opts.implicit_delete {
        let mut after = 0;
        loop {
            let gone = tx.unseen(after, actions_page()).await?;
            let Some(&(last, _)) = gone.last() else { break };
            after = last;
            text.clear();
            for (_, id) in gone.iter().filter(|_| run.results) {
                if !std::mem::take(&mut first) {
                    text.push(',');
                }
                actions::write_implicit_delete(id, &mut text);
            }
            results.push(&mut out, tx.as_mut(), &text).await?;
            let seqs: Vec<i64> = gone.iter().map(|(s, _)| *s).collect();
            out.implicit_deletes += seqs.len() as u64;
            delta -= seqs.len() as i64;
            let versions = if history {
                let ids: Vec<String> = gone.iter().map(|(_, id)| id.clone()).collect();
                let before = tx.find(ds, Lookup::Ids(&ids)).await?;
                Some(super::history::versions(ds, &event, &before, &[], &[], &seqs))
            } else {
                None
            };
            tx.write(Vec::new(), Vec::new(), seqs).await?;
            if let Some(v) = versions {
                tx.keep_versions(v).await?;
            }
            changed = true;
        }
    }
    results.push(&mut out, tx.as_mut(), "]").await?;
    if changed {
        let counts = serde_json::json!({"actions": out.actions, "failed": out.failed,
            "implicitDeletes": out.implicit_deletes, "itemCountChange": delta, "jobId": run.job.map(|j| j.as_str())});
        tx.finish(delta, &run.cache_key, run.now_ms, &event.detail(counts)).await?;
    }
    results.finish(tx.as_mut()).await?;
    tx.commit().await?;
    Ok(out)
}

/// Items deleted per round of an implicit deletion.
fn actions_page() -> i64 {
    super::source::BATCH as i64
}

/// The 400 (or the 409 or 403 of its first failure) of a `fail`-mode import: every failing action, up to
/// [`MAX_LISTED`], and a last entry with the count when there are more.
fn failed(mut listed: Vec<Value>, count: u64) -> ApiError {
    let first = listed.first().and_then(|e| e["code"].as_str()).and_then(|c| c.parse::<u32>().ok());
    let code = [ErrorCode::Conflict, ErrorCode::DatasetPermissionDenied]
        .into_iter()
        .find(|c| Some(c.code()) == first)
        .unwrap_or(ErrorCode::RequestBodyInvalid);
    if count > listed.len() as u64 {
        listed.push(json!({"name": ErrorCode::RequestBodyInvalid.name(), "code": ErrorCode::RequestBodyInvalid.code().to_string(),
            "message": format!("{count} actions failed; the first {MAX_LISTED} are listed above."),
            "errorCount": count, "listed": MAX_LISTED}));
    }
    let mut e = ApiError::new(code).with_message(format!("{count} action(s) failed; nothing was applied."));
    e.listed = listed;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, key: f64) -> Row {
        Row { id: id.into(), seq: 1, created_at: 0, modified_at: 0, cells: vec![Some(Val::Number(key))] }
    }

    #[test]
    fn a_bulk_load_ends_past_its_fingerprints_or_its_misses() {
        let sets = vec![vec![0]];
        let mut b = Bulk::new(true, 1, 4);
        b.remember(&sets, &[row("A", 1.0), row("B", 2.0)]);
        assert!(!b.over(), "4 fingerprints kept, 4 allowed");
        b.remember(&sets, &[row("C", 3.0)]);
        assert!(b.over(), "6 fingerprints (ids and keys) are past 4: build the indexes");
        let mut b = Bulk::new(false, 1, usize::MAX);
        b.misses = BULK_MISSES;
        assert!(!b.over());
        b.misses += 1;
        assert!(b.over(), "past the misses a bulk load tolerates");
    }
}
