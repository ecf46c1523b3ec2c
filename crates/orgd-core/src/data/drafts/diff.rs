//! The diff of a draft: per changed item, its key, the kind of change and each changed property with
//! its baseline and draft values. Reads only the baseline items the draft changed.

use super::overlay::{Entry, Overlay};
use super::Change;
use crate::data::row::{Row, Val};
use crate::data::Dataset;
use crate::error::ApiError;
use crate::store::{Lookup, Store};
use rustc_hash::FxHashMap as HashMap;
use serde_json::{json, Map, Value};

/// Baseline rows read per lookup.
const BATCH: usize = 1000;

/// The baseline items a draft changed (updated or removed), by `seq`.
pub async fn baseline_of(store: &dyn Store, ds: &Dataset, overlay: &Overlay) -> Result<HashMap<i64, Row>, ApiError> {
    let ids: Vec<String> =
        overlay.iter().filter(|(_, e)| e.change != Change::Added).map(|(_, e)| e.id.clone()).collect();
    let mut out = HashMap::default();
    for chunk in ids.chunks(BATCH) {
        for r in store.find_items(ds, Lookup::Ids(chunk)).await? {
            out.insert(r.seq, r);
        }
    }
    Ok(out)
}

fn json_of(v: Option<&Val>) -> Value {
    v.map_or(Value::Null, Val::to_json)
}

/// The key of an item: its autoId value when the dataset has one, else none (the `_id` tells it).
fn key_of(ds: &Dataset, row: Option<&Row>) -> Value {
    let (Some(auto), Some(row)) = (ds.auto_id.as_deref(), row) else { return Value::Null };
    let Some(i) = ds.properties.iter().position(|p| p.key == auto) else { return Value::Null };
    let mut m = Map::new();
    m.insert(auto.to_string(), json_of(row.cells[i].as_ref()));
    Value::Object(m)
}

/// One changed item of the diff; `None` when an updated item's baseline is gone (it shows as a
/// conflict when the draft is applied).
pub fn item_diff(ds: &Dataset, entry: &Entry, base: Option<&Row>) -> Value {
    let draft = entry.row.as_ref();
    let mut props = Vec::new();
    for (i, p) in ds.properties.iter().enumerate() {
        let before = base.and_then(|b| b.cells[i].as_ref());
        let after = draft.and_then(|d| d.cells[i].as_ref());
        if before != after {
            props.push(json!({"key": p.key, "baseline": json_of(before), "draft": json_of(after)}));
        }
    }
    let label = ds
        .label_id
        .as_deref()
        .and_then(|l| ds.properties.iter().position(|p| p.key == l))
        .map(|i| json_of(draft.or(base).and_then(|r| r.cells[i].as_ref())))
        .unwrap_or(Value::Null);
    let mut v = json!({
        "_id": entry.id, "change": entry.change.as_str(), "key": key_of(ds, base.or(draft)), "label": label,
        "properties": props,
    });
    if entry.change != Change::Added && base.is_none() {
        v["baselineMissing"] = json!(true);
    }
    v
}

/// The whole diff of a draft, as its caller sees it: under a row rule, only the items it lets through
/// before or after the change.
pub async fn diff(store: &dyn Store, ds: &Dataset, overlay: &Overlay) -> Result<Vec<Value>, ApiError> {
    let base = baseline_of(store, ds, overlay).await?;
    let seen = |r: Option<&Row>| match (&ds.rows, r) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(f), Some(r)) => f.matches_cells(|k| ds.properties.iter().position(|p| p.key == k), &r.cells),
    };
    Ok(overlay
        .iter()
        .filter(|(seq, e)| seen(base.get(seq)) || seen(e.row.as_ref()))
        .map(|(seq, e)| item_diff(ds, e, base.get(&seq)))
        .collect())
}
