//! Staging item actions into a draft: the import of `PUT …/items` with every rule, identification mode
//! and error it has, run against the baseline seen through the draft's overlay, and written only to the
//! overlay. A staging is all or nothing like an import, and two stagings at once cannot both keep theirs.

use super::overlay::{Entry, Overlay};
use super::{Change, Draft, DraftItem, ADDED_BASE};
use crate::data::actions::Options;
use crate::data::import::{self, Outcome, Run};
use crate::data::row::{Row, Val};
use crate::data::source::InMemory;
use crate::data::Dataset;
use crate::error::{ApiError, StoreError};
use crate::ids::JobId;
use crate::store::{ItemWrite, Lookup, Store, StoreResult};
use async_trait::async_trait;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Stage `actions` into `draft` (of `ds`) with the options of an import; `implicitDelete` is refused.
pub async fn stage(
    store: &dyn Store,
    draft: &Draft,
    ds: &Dataset,
    actions: Vec<Value>,
    opts: &Options,
    now_ms: i64,
) -> Result<Outcome, ApiError> {
    if opts.implicit_delete {
        return Err(ApiError::invalid_query(
            "implicitDelete",
            "is not available on drafts: stage a delete action for each item the draft removes",
        ));
    }
    import::prepare_indexes(store, ds, opts).await?;
    let ends = import::ends(store, ds).await?;
    let overlay = Overlay::take(store, ds, draft).await?;
    let tx = Box::new(DraftWrite {
        store,
        ds: ds.clone(),
        draft: draft.clone(),
        overlay,
        base: HashMap::default(),
        dirty: BTreeSet::new(),
        dropped: Vec::new(),
        now_ms,
    });
    let run = Run { now_ms, cache_key: String::new(), results: true, job: None };
    import::run_in(tx, ds, &ends, &mut InMemory::new(actions), opts, run, &mut |_| {}).await
}

/// A staging's write: reads see the overlay over the baseline, writes go to the overlay, and the commit
/// saves the overlay's changed items with the draft's version check.
struct DraftWrite<'a> {
    store: &'a dyn Store,
    ds: Dataset,
    draft: Draft,
    overlay: Arc<Overlay>,
    /// Baseline items this staging found, by `seq` (a batch's worth).
    base: HashMap<i64, Row>,
    dirty: BTreeSet<i64>,
    dropped: Vec<i64>,
    now_ms: i64,
}

impl DraftWrite<'_> {
    fn found(&mut self, rows: Vec<Row>, out: &mut Vec<Row>) {
        for r in rows {
            if self.overlay.get(r.seq).is_none() {
                self.base.insert(r.seq, r.clone());
                out.push(r);
            }
        }
    }

    fn item(&self, seq: i64, e: &Entry) -> DraftItem {
        match &e.row {
            Some(r) => DraftItem::of_row(&self.ds, e.change, e.base_modified_at, r),
            None => DraftItem {
                seq,
                item_id: e.id.clone(),
                change: e.change,
                base_modified_at: e.base_modified_at,
                created_at: self.now_ms,
                modified_at: self.now_ms,
                values: None,
            },
        }
    }

    /// Updated items whose values are the baseline's again leave the draft. The baseline rows this staging
    /// found are compared at once; only items the draft had changed before are read again.
    async fn drop_reverted(&mut self) -> StoreResult<()> {
        let updated: Vec<(i64, String)> = self
            .dirty
            .iter()
            .filter_map(|&s| self.overlay.get(s).map(|e| (s, e)))
            .filter(|(_, e)| e.change == Change::Updated)
            .map(|(s, e)| (s, e.id.clone()))
            .collect();
        let unread: Vec<String> =
            updated.iter().filter(|(s, _)| !self.base.contains_key(s)).map(|(_, id)| id.clone()).collect();
        if !unread.is_empty() {
            for b in self.store.find_items(&self.ds, Lookup::Ids(&unread)).await? {
                self.base.insert(b.seq, b);
            }
        }
        for (seq, _) in updated {
            let same = self.base.get(&seq).zip(self.overlay.get(seq).and_then(|e| e.row.as_ref()));
            if same.is_some_and(|(b, r)| b.cells == r.cells) {
                Arc::make_mut(&mut self.overlay).drop_seq(seq);
                self.dirty.remove(&seq);
                self.dropped.push(seq);
            }
        }
        Ok(())
    }
}

fn refused(what: &str) -> StoreError {
    StoreError::Other(format!("a draft's staging does not {what}"))
}

#[async_trait]
impl ItemWrite for DraftWrite<'_> {
    async fn last_seq(&mut self) -> StoreResult<i64> {
        Ok(self.overlay.last_added().unwrap_or(ADDED_BASE - 1))
    }

    async fn find(&mut self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>> {
        if ds.id != self.ds.id {
            return self.store.find_items(ds, lookup).await;
        }
        let mut out = Vec::new();
        match lookup {
            Lookup::Ids(ids) => {
                let mut rest = Vec::new();
                for id in ids {
                    match self.overlay.seq_of(id) {
                        Some(seq) => out.extend(self.overlay.get(seq).and_then(|e| e.row.clone())),
                        None => rest.push(id.clone()),
                    }
                }
                if !rest.is_empty() {
                    let rows = self.store.find_items(ds, Lookup::Ids(&rest)).await?;
                    self.found(rows, &mut out);
                }
            }
            Lookup::Values { props, keys } => {
                // One key column (autoId, treeId) is matched without copying a value; a tuple is built
                // only for an `idKey` of several columns.
                let rows = self.overlay.iter().filter_map(|(_, e)| e.row.as_ref());
                if let [p] = *props {
                    let wanted: HashSet<&Val> = keys.iter().filter_map(|k| k.first()).collect();
                    out.extend(rows.filter(|r| r.cells[p].as_ref().is_some_and(|v| wanted.contains(v))).cloned());
                } else {
                    let wanted: HashSet<&[Val]> = keys.iter().map(Vec::as_slice).collect();
                    let mut tuple: Vec<Val> = Vec::with_capacity(props.len());
                    for r in rows {
                        tuple.clear();
                        tuple.extend(props.iter().map_while(|&i| r.cells[i].clone()));
                        if tuple.len() == props.len() && wanted.contains(tuple.as_slice()) {
                            out.push(r.clone());
                        }
                    }
                }
                let rows = self.store.find_items(ds, lookup).await?;
                self.found(rows, &mut out);
            }
        }
        Ok(out)
    }

    async fn write(&mut self, inserts: Vec<Row>, updates: Vec<Row>, deletes: Vec<i64>) -> StoreResult<()> {
        for r in inserts {
            self.dirty.insert(r.seq);
            Arc::make_mut(&mut self.overlay)
                .put(r.seq, Entry { change: Change::Added, id: r.id.clone(), base_modified_at: None, row: Some(r) });
        }
        for r in updates {
            let (change, base_modified_at) = match self.overlay.get(r.seq) {
                Some(e) => {
                    (if e.change == Change::Added { Change::Added } else { Change::Updated }, e.base_modified_at)
                }
                None => (Change::Updated, self.base.get(&r.seq).map(|b| b.modified_at)),
            };
            self.dirty.insert(r.seq);
            Arc::make_mut(&mut self.overlay)
                .put(r.seq, Entry { change, id: r.id.clone(), base_modified_at, row: Some(r) });
        }
        for seq in deletes {
            let entry = match self.overlay.get(seq) {
                Some(e) if e.change == Change::Added => None,
                Some(e) => Some(Entry {
                    change: Change::Removed,
                    id: e.id.clone(),
                    base_modified_at: e.base_modified_at,
                    row: None,
                }),
                None => {
                    let b = self.base.get(&seq).ok_or_else(|| refused("delete an item it did not find"))?;
                    Some(Entry {
                        change: Change::Removed,
                        id: b.id.clone(),
                        base_modified_at: Some(b.modified_at),
                        row: None,
                    })
                }
            };
            match entry {
                Some(e) => {
                    self.dirty.insert(seq);
                    Arc::make_mut(&mut self.overlay).put(seq, e);
                }
                None => {
                    Arc::make_mut(&mut self.overlay).drop_seq(seq);
                    self.dirty.remove(&seq);
                    self.dropped.push(seq);
                }
            }
        }
        Ok(())
    }

    async fn keep_versions(&mut self, _versions: Vec<crate::data::history::Version>) -> StoreResult<()> {
        // A draft is not the dataset: its changes become versions when the draft is applied.
        Ok(())
    }

    async fn mark_seen(&mut self, _seqs: Vec<i64>) -> StoreResult<()> {
        Err(refused("delete implicitly"))
    }

    async fn unseen(&mut self, _after: i64, _limit: i64) -> StoreResult<Vec<(i64, String)>> {
        Err(refused("delete implicitly"))
    }

    async fn finish(
        &mut self,
        _count_delta: i64,
        _cache_key: &str,
        _modified_at: i64,
        _event: &crate::events::Event,
    ) -> StoreResult<()> {
        Ok(())
    }

    async fn job_outcome(&mut self, _job_id: &JobId) -> StoreResult<Option<String>> {
        Ok(None)
    }

    async fn keep_job_outcome(&mut self, _job_id: &JobId, _body: &str) -> StoreResult<()> {
        Err(refused("run as a job"))
    }

    async fn put_result_chunk(&mut self, _job_id: &JobId, _n: i64, _data: Vec<u8>) -> StoreResult<()> {
        Err(refused("run as a job"))
    }

    async fn begin_bulk(&mut self) -> StoreResult<bool> {
        Ok(false)
    }

    async fn end_bulk(&mut self) -> StoreResult<()> {
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        if self.dirty.is_empty() && self.dropped.is_empty() {
            // Nothing changed: the overlay taken for this staging is the draft's saved state still.
            Overlay::saved(&self.ds, &self.draft, self.overlay);
            return Ok(());
        }
        self.drop_reverted().await?;
        let (added, updated, removed) = self.overlay.counts();
        let draft = Draft {
            version: super::fresh_version(),
            modified_at: self.now_ms,
            added,
            updated,
            removed,
            ..self.draft.clone()
        };
        let items: Vec<DraftItem> =
            self.dirty.iter().filter_map(|&s| self.overlay.get(s).map(|e| self.item(s, e))).collect();
        if !self.store.save_draft(&draft, self.draft.version, &items, &self.dropped).await? {
            return Err(StoreError::Conflict(
                "The draft changed while these actions were staged; nothing was staged. Stage them again.".into(),
            ));
        }
        Overlay::saved(&self.ds, &draft, self.overlay);
        Ok(())
    }
}
