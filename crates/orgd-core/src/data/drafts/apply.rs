//! Applying a draft to its dataset (all or nothing, in one write that holds the dataset's lock), and a
//! draft's changes as item actions.
//!
//! An item the draft changed is a conflict when its baseline moved after the draft staged the change
//! (its `_modifiedAt` differs, or it is gone); `force` applies the draft's values anyway. An item that
//! already holds the draft's values counts as applied, so applying a draft twice changes nothing the
//! second time. Unique keys (autoId, `treeId`) are checked against the dataset as it is now.

use super::overlay::{Entry, Overlay};
use super::Change;
use crate::data::actions::{Options, Plan};
use crate::data::row::{Row, Val};
use crate::data::Dataset;
use crate::error::{ApiError, ErrorCode};
use crate::store::{Lookup, Store};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{json, Map, Value};

/// Items looked up per round.
const BATCH: usize = 1000;

/// What an apply did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Items created.
    pub added: u64,
    /// Items changed.
    pub updated: u64,
    /// Items deleted.
    pub removed: u64,
    /// Items that already were as the draft has them.
    pub unchanged: u64,
}

impl Applied {
    /// The result document of an apply job.
    pub fn to_json(&self) -> Value {
        json!({"added": self.added, "updated": self.updated, "removed": self.removed, "unchanged": self.unchanged})
    }
}

fn conflict(id: &str, reason: &'static str, message: String) -> Value {
    json!({"name": ErrorCode::Conflict.name(), "code": ErrorCode::Conflict.code().to_string(), "message": message,
           "_id": id, "reason": reason})
}

/// Apply `overlay` (a draft of `ds`) to `ds`.
pub async fn apply(
    store: &dyn Store,
    ds: &Dataset,
    overlay: &Overlay,
    force: bool,
    now_ms: i64,
    cache_key: &str,
) -> Result<Applied, ApiError> {
    let history = crate::data::history::kept(store, ds).await?;
    let mut tx = store.begin_items(ds).await?;
    let mut next_seq = tx.last_seq().await? + 1;
    let ids: Vec<String> = overlay.iter().map(|(_, e)| e.id.clone()).collect();
    let mut current: HashMap<String, Row> = HashMap::default();
    for chunk in ids.chunks(BATCH) {
        for r in tx.find(ds, Lookup::Ids(chunk)).await? {
            current.insert(r.id.clone(), r);
        }
    }
    let mut done = Applied::default();
    let (mut inserts, mut updates, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
    let mut conflicts = Vec::new();
    for (_, e) in overlay.iter() {
        let cur = current.get(&e.id);
        let moved = |c: &Row| e.base_modified_at != Some(c.modified_at);
        match (e.change, &e.row, cur) {
            (Change::Removed, _, None) => done.unchanged += 1,
            (Change::Removed, _, Some(c)) if moved(c) && !force => conflicts.push(conflict(
                &e.id,
                "baselineChanged",
                "The item changed in the dataset after the draft removed it; apply with force to remove it anyway."
                    .into(),
            )),
            (Change::Removed, _, Some(c)) => {
                deletes.push(c.seq);
                done.removed += 1;
            }
            (_, Some(row), Some(c)) if c.cells == row.cells => done.unchanged += 1,
            (Change::Updated, Some(_), None) if !force => conflicts.push(conflict(
                &e.id,
                "baselineRemoved",
                "The item was deleted from the dataset after the draft changed it; apply with force to create it again."
                    .into(),
            )),
            (Change::Updated, Some(_), Some(c)) if moved(c) && !force => conflicts.push(conflict(
                &e.id,
                "baselineChanged",
                "The item changed in the dataset after the draft changed it; apply with force to keep the draft's values."
                    .into(),
            )),
            (Change::Added, Some(_), Some(_)) if !force => conflicts.push(conflict(
                &e.id,
                "baselineChanged",
                "The item the draft added was changed in the dataset since; apply with force to keep the draft's values."
                    .into(),
            )),
            (_, Some(row), Some(c)) => {
                updates.push(Row { seq: c.seq, created_at: c.created_at, modified_at: now_ms, ..row.clone() });
                done.updated += 1;
            }
            (change, Some(row), None) => {
                inserts.push(Row { seq: next_seq, created_at: now_ms, modified_at: now_ms, ..row.clone() });
                next_seq += 1;
                if change == Change::Added {
                    done.added += 1;
                } else {
                    done.updated += 1;
                }
            }
            (_, None, _) => {}
        }
    }
    conflicts.extend(taken_keys(&mut *tx, ds, &inserts, &updates, &deletes).await?);
    if !conflicts.is_empty() {
        let n = conflicts.len();
        let mut e = ApiError::new(ErrorCode::Conflict)
            .with_message(format!("{n} item(s) of the draft conflict with the dataset; nothing was applied."));
        e.listed = conflicts.into_iter().take(crate::data::import::MAX_LISTED).collect();
        return Err(e);
    }
    let delta = inserts.len() as i64 - deletes.len() as i64;
    let changed = !(inserts.is_empty() && updates.is_empty() && deletes.is_empty());
    if changed {
        let counts = json!({"added": done.added, "updated": done.updated, "removed": done.removed});
        let event = crate::events::Event::new(&ds.org_id, "dataset", ds.id.as_str(), "draft.applied").detail(counts);
        let versions = history.then(|| {
            let before: Vec<Row> = current.into_values().collect();
            crate::data::history::versions(ds, &event, &before, &inserts, &updates, &deletes)
        });
        tx.write(inserts, updates, deletes).await?;
        if let Some(v) = versions {
            tx.keep_versions(v).await?;
        }
        tx.finish(delta, cache_key, now_ms, &event).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Unique values (autoId or `link_id`, and `treeId`) the written rows would share with another item.
async fn taken_keys(
    tx: &mut dyn crate::store::ItemWrite,
    ds: &Dataset,
    inserts: &[Row],
    updates: &[Row],
    deletes: &[i64],
) -> Result<Vec<Value>, ApiError> {
    let opts = Options::default();
    let plan = Plan::new(ds, &opts);
    let mut props: Vec<usize> = plan.unique().into_iter().collect();
    props.extend(plan.tree().filter(|t| Some(*t) != plan.unique()));
    let written: HashSet<i64> = updates.iter().map(|r| r.seq).chain(deletes.iter().copied()).collect();
    let mut out = Vec::new();
    for p in props {
        let key = &ds.properties[p].key;
        let mut owner: HashMap<&Val, &str> = HashMap::default();
        for r in inserts.iter().chain(updates) {
            let Some(v) = &r.cells[p] else { continue };
            if let Some(other) = owner.insert(v, &r.id) {
                out.push(conflict(
                    &r.id,
                    "duplicateKey",
                    format!("The draft gives {key} {} to {other} too.", v.to_json()),
                ));
            }
        }
        let values: Vec<Vec<Val>> = owner.keys().map(|v| vec![(*v).clone()]).collect();
        for chunk in values.chunks(BATCH) {
            for found in tx.find(ds, Lookup::Values { props: &[p], keys: chunk }).await? {
                let Some(v) = &found.cells[p] else { continue };
                if written.contains(&found.seq) || owner.get(v) == Some(&found.id.as_str()) {
                    continue;
                }
                let id = owner.get(v).copied().unwrap_or_default();
                out.push(conflict(
                    id,
                    "duplicateKey",
                    format!("Item {} of the dataset already has {key} {}.", found.id, v.to_json()),
                ));
            }
        }
    }
    Ok(out)
}

fn values(ds: &Dataset, row: &Row, only: Option<&Row>, out: &mut Map<String, Value>) {
    for (i, p) in ds.properties.iter().enumerate() {
        if p.read_only {
            continue;
        }
        let v = row.cells[i].as_ref();
        match only {
            Some(base) if base.cells[i].as_ref() == v => {}
            Some(_) => {
                out.insert(p.key.clone(), v.map_or(Value::Null, Val::to_json));
            }
            None => {
                if let Some(v) = v {
                    out.insert(p.key.clone(), v.to_json());
                }
            }
        }
    }
}

/// The item action of one change: `create` with every value, `update` by `_id` with the changed values
/// (null clears), `delete` by `_id`.
pub fn action(ds: &Dataset, e: &Entry, base: Option<&Row>) -> Value {
    let mut m = Map::new();
    match (e.change, &e.row) {
        (Change::Added, Some(row)) => {
            m.insert("_action".into(), json!("create"));
            values(ds, row, None, &mut m);
        }
        (Change::Removed, _) => {
            m.insert("_action".into(), json!("delete"));
            m.insert("_id".into(), json!(e.id));
        }
        (_, Some(row)) => {
            m.insert("_action".into(), json!("update"));
            m.insert("_id".into(), json!(e.id));
            match base {
                Some(b) => values(ds, row, Some(b), &mut m),
                None => values(ds, row, None, &mut m),
            }
        }
        (_, None) => {}
    }
    Value::Object(m)
}

/// A draft's changes as item actions for `PUT …/items`: deletions, then updates, then creations (so a
/// unique value a draft frees is free before it is given again).
pub async fn actions(store: &dyn Store, ds: &Dataset, overlay: &Overlay) -> Result<Vec<Value>, ApiError> {
    let base = super::diff::baseline_of(store, ds, overlay).await?;
    let mut out: Vec<Value> = Vec::with_capacity(overlay.len());
    for change in [Change::Removed, Change::Updated, Change::Added] {
        for (seq, e) in overlay.iter().filter(|(_, e)| e.change == change) {
            out.push(action(ds, e, base.get(&seq)));
        }
    }
    Ok(out)
}
