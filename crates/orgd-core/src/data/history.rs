//! Item history (orgd extension): with the org setting `item_history` on, every write of items keeps one
//! version per changed item — its values before and after, the event and the actor — in the transaction
//! of the change. An item's versions answer `GET …/items/{itemId}/history`; the versions after a time
//! undo the changes since, which reads the dataset as it was then (`asOf=`) without a copy of it: the
//! state at `t` of an item changed since is the "before" of its first version after `t`, and every other
//! item is as it is now.

use super::drafts::overlay::{Entry, Overlay};
use super::drafts::{Change, ADDED_BASE};
use super::row::Row;
use super::{Dataset, Item};
use crate::clock::{from_millis, iso_millis, parse_date_or_datetime, to_millis};
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::org_settings::OrgSettings;
use crate::store::Store;
use rustc_hash::FxHashMap as HashMap;
use serde_json::{json, Value};

/// One kept change of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// `_id`.
    pub item_id: String,
    /// The item's `seq`.
    pub item_seq: i64,
    /// When (ms).
    pub at: i64,
    /// The event of the write that made it.
    pub event_id: String,
    /// Who (the actor's id).
    pub actor: String,
    /// The item before (JSON: `createdAt`, `modifiedAt`, `values`); `None` when the change created it.
    pub before: Option<String>,
    /// The item after; `None` when the change deleted it.
    pub after: Option<String>,
}

fn snapshot(ds: &Dataset, row: &Row) -> String {
    let item = row.to_item(ds);
    json!({"createdAt": item.created_at, "modifiedAt": item.modified_at, "values": item.values}).to_string()
}

/// The row a snapshot holds, laid out by `ds` as it is now (values of properties gone since are
/// dropped, as a type change drops what the new type cannot hold). A snapshot that does not read is an
/// error, never an item without values (nor, in a past state, an item that was not there).
fn row_of(ds: &Dataset, id: &str, seq: i64, text: &str) -> Result<Row, ApiError> {
    let v: Value = serde_json::from_str(text).map_err(|e| unreadable(id, &e.to_string()))?;
    let (Some(created_at), Some(modified_at), Some(values)) =
        (v["createdAt"].as_i64(), v["modifiedAt"].as_i64(), v["values"].as_object())
    else {
        return Err(unreadable(id, "it lacks createdAt, modifiedAt or values"));
    };
    let item = Item { id: id.to_string(), seq, created_at, modified_at, values: values.clone() };
    Ok(Row::from_item(ds, &item))
}

fn unreadable(id: &str, why: &str) -> ApiError {
    ApiError::from(crate::error::StoreError::Other(format!("a stored version of item {id} does not read: {why}")))
}

/// The row of a version's side (`None` where the item did not exist), or the error of one that does not
/// read.
fn side(ds: &Dataset, v: &Version, text: Option<&str>) -> Result<Option<Row>, ApiError> {
    text.map(|t| row_of(ds, &v.item_id, v.item_seq, t)).transpose()
}

/// Whether writes to `ds` keep versions: its org's `item_history`.
pub async fn kept(store: &dyn Store, ds: &Dataset) -> Result<bool, ApiError> {
    Ok(store.get_org(&ds.org_id).await?.is_some_and(|o| OrgSettings::of(&o.settings).item_history))
}

/// The versions of one write made under `event`: `before` holds the rows as they were of every item
/// updated or deleted (by `seq`); `inserts` and `updates` the rows after; `deletes` the deleted `seq`s.
pub fn versions(
    ds: &Dataset,
    event: &Event,
    before: &[Row],
    inserts: &[Row],
    updates: &[Row],
    deletes: &[i64],
) -> Vec<Version> {
    let old: HashMap<i64, &Row> = before.iter().map(|r| (r.seq, r)).collect();
    let version = |id: &str, seq: i64, before: Option<&Row>, after: Option<&Row>| Version {
        item_id: id.to_string(),
        item_seq: seq,
        at: event.at,
        event_id: event.id.clone(),
        actor: event.actor.id.clone(),
        before: before.map(|r| snapshot(ds, r)),
        after: after.map(|r| snapshot(ds, r)),
    };
    let mut out = Vec::with_capacity(inserts.len() + updates.len() + deletes.len());
    out.extend(inserts.iter().map(|r| version(&r.id, r.seq, None, Some(r))));
    out.extend(updates.iter().map(|r| version(&r.id, r.seq, old.get(&r.seq).copied(), Some(r))));
    out.extend(deletes.iter().filter_map(|s| old.get(s)).map(|r| version(&r.id, r.seq, Some(r), None)));
    out
}

/// Versions per page of an item's history.
pub const HISTORY_LIMIT: i64 = 1000;

/// An item's history, newest first: `{"itemId", "versions": [{time, eventId, actor, change, item}]}`,
/// `item` being the item after the change as `GET …/items/{itemId}` shows it (`null` once deleted), in
/// `ds` as its caller sees it. 404 when the item never had a version and does not exist, or when the
/// caller's row rule hides every version of it.
pub async fn of_item(store: &dyn Store, ds: &Dataset, item_id: &str) -> Result<Value, ApiError> {
    let versions = store.item_versions(&ds.id, item_id, HISTORY_LIMIT).await?;
    let seen = |row: &Row| {
        let item = row.to_item(ds);
        ds.rows.as_ref().is_none_or(|f| f.matches(|k| item.values.get(k).cloned()))
    };
    let mut list = Vec::new();
    for v in &versions {
        let after = side(ds, v, v.after.as_deref())?;
        let before = side(ds, v, v.before.as_deref())?;
        // Under a row rule, a version shows only if the item was visible before or after it.
        if !(after.as_ref().is_some_and(seen) || before.as_ref().is_some_and(seen)) {
            continue;
        }
        let change = match (&v.before, &v.after) {
            (None, _) => "created",
            (_, None) => "deleted",
            _ => "updated",
        };
        let item = after.filter(seen).map(|r| r.to_item(ds).raw_json()).unwrap_or(Value::Null);
        list.push(json!({"time": iso_millis(from_millis(v.at)), "eventId": v.event_id, "actor": v.actor,
            "change": change, "item": item}));
    }
    if list.is_empty() && super::ops::item(store, ds, item_id).await.is_err() {
        return Err(ApiError::new(ErrorCode::ItemNotFound));
    }
    Ok(json!({"itemId": item_id, "versions": list}))
}

/// The time `asOf` names, checked against the org's history: a date or an RFC 3339 time, not in the
/// future, and not before item history was switched on (or before what retention keeps).
pub async fn as_of(store: &dyn Store, ds: &Dataset, text: &str, now: i64) -> Result<i64, ApiError> {
    let bad = |why: &str| ApiError::invalid_query("asOf", why);
    let at = parse_date_or_datetime(text)
        .map(to_millis)
        .ok_or_else(|| bad("must be a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    if at > now {
        return Err(bad("must not be in the future"));
    }
    let org = store.get_org(&ds.org_id).await?.ok_or_else(|| ApiError::new(ErrorCode::TenantNotFound))?;
    let settings = OrgSettings::of(&org.settings);
    let since = match (settings.item_history, settings.item_history_since) {
        (true, Some(since)) => since.max(now - settings.events_retention_days * 86_400_000),
        _ => return Err(bad("needs item history, which is off for this org (the org setting item_history)")),
    };
    if at < since {
        return Err(bad(&format!(
            "must be at or after {}, since when item history is kept",
            iso_millis(from_millis(since))
        )));
    }
    Ok(at)
}

/// The overlay that turns `ds` as it is now into `ds` as it was at `at`: each item changed since, as its
/// first version after `at` found it (items created since are removed; items deleted since come back,
/// after the others, in their order).
pub async fn overlay_at(store: &dyn Store, ds: &Dataset, at: i64) -> Result<Overlay, ApiError> {
    let mut o = Overlay::past();
    for v in store.versions_after(&ds.id, at).await? {
        let before = side(ds, &v, v.before.as_deref())?;
        let modified = before.as_ref().map(|r| r.modified_at);
        match (before, v.after.is_some()) {
            // Created since: it was not there.
            (None, _) => o.put(v.item_seq, entry(Change::Removed, &v.item_id, None, None)),
            // Still there: as it was.
            (Some(row), true) => o.put(v.item_seq, entry(Change::Updated, &v.item_id, modified, Some(row))),
            // Deleted since: it comes back.
            (Some(row), false) => {
                let seq = ADDED_BASE + row.seq;
                o.put(seq, entry(Change::Added, &v.item_id, modified, Some(Row { seq, ..row })));
            }
        }
    }
    Ok(o)
}

fn entry(change: Change, id: &str, base_modified_at: Option<i64>, row: Option<Row>) -> Entry {
    Entry { change, id: id.to_string(), base_modified_at, row }
}
