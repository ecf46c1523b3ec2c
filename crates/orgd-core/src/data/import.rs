//! Running an import (orgvue-dialect §3.9, §6.3): actions from a [source](super::source) a batch at a
//! time, each batch's items found by index in one transaction, applied in order, written, and its
//! results spooled. An import reads only the items its actions name (plus, with `implicitDelete`, the ids
//! of the items it deletes), so its cost follows its size, not the dataset's.

use super::actions::{self, action_name, apply_batch, needs, Done, LinkEnds, Options, Plan};
use super::row::{Row, Val};
use super::source::ActionSource;
use super::spool::Spool;
use super::{Dataset, DatasetType};
use crate::error::{ApiError, ErrorCode, StoreError};
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
    /// The results, a JSON array of one object per action then the implicit deletions (§3.9). Empty when
    /// the import is a job's that had applied before ([`Outcome::kept`]): its results are kept already.
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
    /// An async import's job id: its results are kept in the same transaction as its changes, so that a
    /// job taken again after its node died does not apply twice.
    pub job: Option<&'a str>,
}

/// A fault of the store during an import.
fn store_fault(e: std::io::Error) -> ApiError {
    ApiError::from(StoreError::Other(format!("cannot keep import results: {e}")))
}

/// The LINKS end datasets and the index of their autoId property.
struct Ends {
    from: Option<(Dataset, usize)>,
    to: Option<(Dataset, usize)>,
}

async fn ends(store: &dyn Store, ds: &Dataset) -> Result<Ends, ApiError> {
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

/// One lookup of a batch: the property columns, the keys to find, and the keys already asked for.
type KeyLookup = (Vec<usize>, Vec<Vec<Val>>, HashSet<Vec<Val>>);

/// The items a batch needs, found in the store: one lookup per column set (the identifying columns, the
/// unique key, `treeId`; merged when they are the same columns).
async fn working_set(tx: &mut dyn ItemWrite, plan: &Plan<'_>, n: actions::Needs) -> Result<Vec<Row>, ApiError> {
    let ds = plan.dataset();
    let mut rows = Vec::new();
    if !n.ids.is_empty() {
        rows.extend(tx.find(ds, Lookup::Ids(&n.ids)).await?);
    }
    let mut lookups: Vec<KeyLookup> = Vec::new();
    let mut add = |props: Vec<usize>, keys: Vec<Vec<Val>>| {
        if keys.is_empty() {
            return;
        }
        let at = match lookups.iter().position(|(p, _, _)| *p == props) {
            Some(at) => at,
            None => {
                lookups.push((props, Vec::new(), HashSet::default()));
                lookups.len() - 1
            }
        };
        let (_, list, known) = &mut lookups[at];
        for key in keys {
            if known.insert(key.clone()) {
                list.push(key);
            }
        }
    };
    if let Some(k) = plan.keyed() {
        add(k.props.clone(), n.keys);
    }
    if let Some(u) = plan.unique() {
        add(vec![u], tuples(&n.unique));
    }
    if let Some(t) = plan.tree() {
        add(vec![t], tuples(&n.tree));
    }
    for (props, keys, _) in &lookups {
        rows.extend(tx.find(ds, Lookup::Values { props, keys }).await?);
    }
    Ok(rows)
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
    let plan = Plan::new(ds, opts);
    if let Some(k) = plan.keyed() {
        store.index_items(ds, &k.props).await?;
    }
    let ends = ends(store, ds).await?;
    let mut tx = store.begin_items(ds).await?;
    if let Some(job) = run.job {
        if tx.job_outcome(job).await?.is_some() {
            return Ok(Outcome { kept: true, ..Outcome::default() });
        }
    }
    let mut next_seq = tx.last_seq().await? + 1;
    let mut out = Outcome::default();
    let mut text = String::with_capacity(1 << 16);
    let mut listed: Vec<Value> = Vec::new();
    let (mut delta, mut changed, mut first) = (0i64, false, true);
    out.results.push_str("[").map_err(store_fault)?;
    loop {
        let raw = source.next_batch().await?;
        if raw.is_empty() {
            break;
        }
        let base = out.actions as usize;
        out.actions += raw.len() as u64;
        let prepared: Vec<_> = raw.iter().enumerate().map(|(j, a)| actions::prepare(&plan, base + j, a)).collect();
        let names: Vec<String> = raw.iter().map(action_name).collect();
        drop(raw);
        let n = needs(&plan, prepared.iter().filter_map(|p| p.as_ref().ok()));
        let mut links = LinkEnds::default();
        links.from.extend(existing(tx.as_mut(), &ends.from, &n.from).await?);
        links.to.extend(existing(tx.as_mut(), &ends.to, &n.to).await?);
        let working = working_set(tx.as_mut(), &plan, n).await?;
        let batch = apply_batch(&plan, working, prepared, names, &links, run.now_ms, &mut next_seq);
        text.clear();
        for (name, done) in &batch.results {
            if let Done::Failed(f) = done {
                out.failed += 1;
                if listed.len() < MAX_LISTED {
                    listed.push(f.to_json());
                }
            }
            if !std::mem::take(&mut first) {
                text.push(',');
            }
            actions::write_result(name, done, &mut text);
        }
        out.results.push_str(&text).map_err(store_fault)?;
        // After a failure in `fail` mode nothing will be kept; the rest is applied only so that later
        // actions see the earlier ones and every failure is listed.
        if !batch.inserts.is_empty() || !batch.updates.is_empty() || !batch.deletes.is_empty() {
            delta += batch.inserts.len() as i64 - batch.deletes.len() as i64;
            changed = true;
            tx.write(batch.inserts, batch.updates, batch.deletes).await?;
        }
        if opts.implicit_delete && !batch.seen.is_empty() {
            tx.mark_seen(batch.seen).await?;
        }
        progress(out.actions);
    }
    if out.failed > 0 && !opts.skip_failures {
        drop(tx);
        return Err(failed(listed, out.failed));
    }
    if opts.implicit_delete {
        let mut after = 0;
        loop {
            let gone = tx.unseen(after, actions_page()).await?;
            let Some(&(last, _)) = gone.last() else { break };
            after = last;
            text.clear();
            for (_, id) in &gone {
                if !std::mem::take(&mut first) {
                    text.push(',');
                }
                actions::write_implicit_delete(id, &mut text);
            }
            out.results.push_str(&text).map_err(store_fault)?;
            let seqs: Vec<i64> = gone.iter().map(|(s, _)| *s).collect();
            out.implicit_deletes += seqs.len() as u64;
            delta -= seqs.len() as i64;
            tx.write(Vec::new(), Vec::new(), seqs).await?;
            changed = true;
        }
    }
    out.results.push_str("]").map_err(store_fault)?;
    if changed {
        tx.finish(delta, &run.cache_key, run.now_ms).await?;
    }
    if let Some(job) = run.job {
        let mut n = 0;
        let mut pieces = out.results.pieces(RESULT_CHUNK).map_err(store_fault)?;
        while let Some(piece) = pieces.next_piece().map_err(store_fault)? {
            tx.put_result_chunk(job, n, &piece).await?;
            n += 1;
        }
        tx.keep_job_outcome(job, &json!({"chunks": n}).to_string()).await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// Items deleted per round of an implicit deletion.
fn actions_page() -> i64 {
    super::source::BATCH as i64
}

/// The 400 (or 409) of a `fail`-mode import: every failing action, up to [`MAX_LISTED`], and a last entry
/// with the count when there are more.
fn failed(mut listed: Vec<Value>, count: u64) -> ApiError {
    let first = listed.first().and_then(|e| e["code"].as_str()).and_then(|c| c.parse::<u32>().ok());
    let code =
        if first == Some(ErrorCode::Conflict.code()) { ErrorCode::Conflict } else { ErrorCode::RequestBodyInvalid };
    if count > listed.len() as u64 {
        listed.push(json!({"name": ErrorCode::RequestBodyInvalid.name(), "code": ErrorCode::RequestBodyInvalid.code().to_string(),
            "message": format!("{count} actions failed; the first {MAX_LISTED} are listed above."),
            "errorCount": count, "listed": MAX_LISTED}));
    }
    let mut e = ApiError::new(code).with_message(format!("{count} action(s) failed; nothing was applied."));
    e.listed = listed;
    e
}
