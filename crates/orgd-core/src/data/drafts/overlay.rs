//! A draft's overlay in memory: its changed items by `seq` and by `_id`, read from the store at once. A
//! draft holds what a team models by hand or by script (thousands of changes, not millions), so the
//! overlay is held whole; the baseline never is.

use super::{Change, Draft, DraftItem};
use crate::data::row::Row;
use crate::data::Dataset;
use crate::error::ApiError;
use crate::ids::DraftId;
use crate::store::Store;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

fn remember(k: Key, o: Arc<Overlay>) {
    let mut recent = RECENT.lock();
    recent.retain(|(e, _)| e.0 != k.0);
    if o.len() > KEPT_CHANGES {
        return;
    }
    if recent.len() >= KEPT {
        recent.remove(0);
    }
    recent.push((k, o));
}

/// One changed item.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Added, updated or removed.
    pub change: Change,
    /// `_id`.
    pub id: String,
    /// The baseline's `_modifiedAt` when the draft first changed the item.
    pub base_modified_at: Option<i64>,
    /// The item in the draft; `None` when removed.
    pub row: Option<Row>,
}

/// The changed items of a draft.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    entries: BTreeMap<i64, Entry>,
    by_id: HashMap<String, i64>,
    /// Removed items are left out of reads (a past state), not shown as removed (a draft's to-be view).
    leaves_out_removed: bool,
}

/// Overlays read or saved lately, by draft, version and schema. A draft's version is drawn at random on
/// every save, so an entry names one saved state of one draft and is never stale; another node's save
/// gives the draft a version no entry has.
static RECENT: parking_lot::Mutex<Vec<(Key, Arc<Overlay>)>> = parking_lot::Mutex::new(Vec::new());

/// Overlays kept in [`RECENT`].
const KEPT: usize = 8;
/// The most changes an overlay kept in [`RECENT`] holds (a bigger one is read again each time, so that
/// what stays in memory between requests is bounded).
const KEPT_CHANGES: usize = 50_000;

type Key = (DraftId, i64, u64);

fn key(ds: &Dataset, draft: &Draft) -> Key {
    (draft.id.clone(), draft.version, schema_fingerprint(ds))
}

/// The properties' keys and types, which the overlay's rows are laid out by.
fn schema_fingerprint(ds: &Dataset) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    for p in &ds.properties {
        p.key.hash(&mut h);
        p.ty.as_str().hash(&mut h);
    }
    h.finish()
}

impl Overlay {
    /// An empty overlay of a past state: the items it removes are left out of reads.
    pub fn past() -> Overlay {
        Overlay { leaves_out_removed: true, ..Overlay::default() }
    }

    /// Whether reads leave the removed items out (a past state) instead of showing them as removed.
    pub fn leaves_out_removed(&self) -> bool {
        self.leaves_out_removed
    }

    /// The overlay of `draft` over `ds` (shared with others reading the same saved state).
    pub async fn load(store: &dyn Store, ds: &Dataset, draft: &Draft) -> Result<Arc<Overlay>, ApiError> {
        let k = key(ds, draft);
        if let Some((_, o)) = RECENT.lock().iter().find(|(e, _)| *e == k) {
            return Ok(o.clone());
        }
        let items = store.draft_items(&draft.id).await?;
        let o = Arc::new(Overlay::of_items(ds, items));
        remember(k, o.clone());
        Ok(o)
    }

    /// The overlay of `draft` for a staging, which changes it: taken out of [`RECENT`] so that it is not
    /// copied while nobody else reads it.
    pub async fn take(store: &dyn Store, ds: &Dataset, draft: &Draft) -> Result<Arc<Overlay>, ApiError> {
        let k = key(ds, draft);
        let cached = {
            let mut recent = RECENT.lock();
            recent.iter().position(|(e, _)| *e == k).map(|i| recent.remove(i).1)
        };
        match cached {
            Some(o) => Ok(o),
            None => Ok(Arc::new(Overlay::of_items(ds, store.draft_items(&draft.id).await?))),
        }
    }

    /// Keep the overlay a staging saved as `draft`'s new state.
    pub fn saved(ds: &Dataset, draft: &Draft, overlay: Arc<Overlay>) {
        remember(key(ds, draft), overlay);
    }

    /// An overlay from stored items.
    pub fn of_items(ds: &Dataset, items: Vec<DraftItem>) -> Overlay {
        let mut o = Overlay::default();
        for it in items {
            let row = it.row(ds);
            o.put(it.seq, Entry { change: it.change, id: it.item_id, base_modified_at: it.base_modified_at, row });
        }
        o
    }

    /// Set the entry of `seq`.
    pub fn put(&mut self, seq: i64, entry: Entry) {
        self.by_id.insert(entry.id.clone(), seq);
        self.entries.insert(seq, entry);
    }

    /// Drop the entry of `seq` (the item is as in the baseline again, or an added item went).
    pub fn drop_seq(&mut self, seq: i64) -> Option<Entry> {
        let e = self.entries.remove(&seq)?;
        self.by_id.remove(&e.id);
        Some(e)
    }

    /// The entry of `seq`.
    pub fn get(&self, seq: i64) -> Option<&Entry> {
        self.entries.get(&seq)
    }

    /// The `seq` of an item the draft changed, by `_id`.
    pub fn seq_of(&self, id: &str) -> Option<i64> {
        self.by_id.get(id).copied()
    }

    /// What the draft did to the item at `seq`.
    pub fn change(&self, seq: i64) -> Change {
        self.entries.get(&seq).map_or(Change::None, |e| e.change)
    }

    /// Every entry, by `seq` (baseline items first, then added ones in the order they were added).
    pub fn iter(&self) -> impl Iterator<Item = (i64, &Entry)> {
        self.entries.iter().map(|(s, e)| (*s, e))
    }

    /// The added items, in order.
    pub fn added(&self) -> impl Iterator<Item = &Row> {
        self.entries.range(super::ADDED_BASE..).filter_map(|(_, e)| e.row.as_ref())
    }

    /// The highest `seq` of an added item.
    pub fn last_added(&self) -> Option<i64> {
        self.entries.range(super::ADDED_BASE..).next_back().map(|(s, _)| *s)
    }

    /// Counts of (added, updated, removed).
    pub fn counts(&self) -> (i64, i64, i64) {
        let mut c = (0, 0, 0);
        for e in self.entries.values() {
            match e.change {
                Change::Added => c.0 += 1,
                Change::Updated => c.1 += 1,
                Change::Removed => c.2 += 1,
                Change::None => {}
            }
        }
        c
    }

    /// Number of changed items.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No changes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
