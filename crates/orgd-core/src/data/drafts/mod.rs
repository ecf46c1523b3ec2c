//! Drafts (orgvue-dialect §9): modelled changes to a dataset, kept beside it and never in it. A draft
//! holds one overlay of changed items (its `default` layer) over the dataset as it is (the baseline):
//! items added, updated (whole rows), removed. Staging runs the import rules against baseline + overlay
//! ([`stage`]); the to-be view merges them while an export streams ([`view`]); [`diff`] compares them;
//! [`apply`] writes the overlay into the dataset with a check that the baseline did not move meanwhile.
//! Memory follows the draft's size, never the dataset's.

pub mod apply;
pub mod diff;
pub mod overlay;
pub mod requests;
pub mod stage;
pub mod view;

use super::grants::{self, Level};
use super::row::Row;
use super::Dataset;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{DatasetId, DraftId, OrgId};
use crate::model::User;
use crate::store::Store;
use serde_json::{json, Value};

/// The one layer a draft has today.
pub const DEFAULT_LAYER: &str = "default";

/// A new version for a draft's saved state: drawn at random, so that no two saved states of a draft, on
/// any node, ever share one (caches key overlays by it).
pub fn fresh_version() -> i64 {
    rand::random::<i64>() & i64::MAX
}

/// Added items take `seq` from here up, so they sort after every baseline item (which count from 1).
pub const ADDED_BASE: i64 = 1 << 50;

/// A draft's record.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// `draftId`.
    pub id: DraftId,
    /// Tenant.
    pub org_id: OrgId,
    /// The dataset it models.
    pub dataset_id: DatasetId,
    /// Name.
    pub name: String,
    /// The user id of its creator.
    pub created_by: String,
    /// Creation (ms).
    pub created_at: i64,
    /// Last staging or clearing (ms).
    pub modified_at: i64,
    /// Moves with every change of its items: two stagings at once cannot both keep theirs.
    pub version: i64,
    /// Items added.
    pub added: i64,
    /// Items updated.
    pub updated: i64,
    /// Items removed.
    pub removed: i64,
}

impl Draft {
    /// The draft as the API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "draftId": self.id, "name": self.name, "datasetId": self.dataset_id,
            "layers": [{"layerKey": DEFAULT_LAYER}],
            "counts": {"added": self.added, "updated": self.updated, "removed": self.removed},
            "_createdBy": self.created_by,
            "_createdAt": crate::data::values::timestamp(self.created_at),
            "_modifiedAt": crate::data::values::timestamp(self.modified_at),
        })
    }
}

/// What a draft did to an item (`_change` of the to-be view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Unchanged (baseline only).
    None,
    /// New in the draft.
    Added,
    /// Values changed in the draft.
    Updated,
    /// Removed in the draft.
    Removed,
}

impl Change {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::None => "none",
            Change::Added => "added",
            Change::Updated => "updated",
            Change::Removed => "removed",
        }
    }

    /// Parse the stored name.
    pub fn parse(s: &str) -> Option<Change> {
        Some(match s {
            "none" => Change::None,
            "added" => Change::Added,
            "updated" => Change::Updated,
            "removed" => Change::Removed,
            _ => return None,
        })
    }
}

/// One changed item of a draft, as stored: its values are a JSON object by property key (so that a
/// dataset's later schema changes read them by name), absent for a removed item.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftItem {
    /// The item's `seq`: the baseline's, or [`ADDED_BASE`] and up for added items.
    pub seq: i64,
    /// `_id`.
    pub item_id: String,
    /// Added, updated or removed.
    pub change: Change,
    /// The baseline item's `_modifiedAt` when the draft first changed it (none for added items).
    pub base_modified_at: Option<i64>,
    /// Creation (ms).
    pub created_at: i64,
    /// Last change in the draft (ms).
    pub modified_at: i64,
    /// The item's values in the draft (JSON object text); `None` when removed.
    pub values: Option<String>,
}

impl DraftItem {
    /// The stored item of a row.
    pub fn of_row(ds: &Dataset, change: Change, base_modified_at: Option<i64>, row: &Row) -> DraftItem {
        DraftItem {
            seq: row.seq,
            item_id: row.id.clone(),
            change,
            base_modified_at,
            created_at: row.created_at,
            modified_at: row.modified_at,
            values: (change != Change::Removed).then(|| Value::Object(row.to_item(ds).values).to_string()),
        }
    }

    /// The row it holds (`None` for a removed item).
    pub fn row(&self, ds: &Dataset) -> Option<Row> {
        let values = self.values.as_deref()?;
        let values = match serde_json::from_str::<Value>(values) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let item = super::Item {
            id: self.item_id.clone(),
            seq: self.seq,
            created_at: self.created_at,
            modified_at: self.modified_at,
            values,
        };
        Some(Row::from_item(ds, &item))
    }
}

/// The draft `id` of an org: 404007 when the org has none by that id (another org's is not told apart).
pub async fn find(store: &dyn Store, org: &OrgId, id: &DraftId) -> Result<Draft, ApiError> {
    match store.get_draft(id).await? {
        Some(d) if d.org_id == *org => Ok(d),
        _ => Err(ApiError::new(ErrorCode::DraftNotFound)),
    }
}

/// The draft `id` of an org and its dataset as the caller sees it ([`grants::view`]), for a caller who
/// needs `need` on that dataset; a caller who may not read the dataset is told the draft does not exist
/// (404007).
pub async fn open(
    store: &dyn Store,
    org: &OrgId,
    user: &User,
    id: &DraftId,
    need: Level,
) -> Result<(Draft, Dataset), ApiError> {
    let draft = find(store, org, id).await?;
    let ds = dataset_of(store, &draft).await?;
    match grants::authorize(&ds, user, need) {
        Ok(_) => Ok((draft, grants::view(&ds, user))),
        Err(e) if e.code == ErrorCode::DatasetNotFound => Err(ApiError::new(ErrorCode::DraftNotFound)),
        Err(e) => Err(e),
    }
}

/// Create a draft of a dataset of `org` from `{"name", "datasetId"}`; modelling a dataset needs `manage`
/// on it.
pub async fn create(
    store: &dyn Store,
    org: &OrgId,
    creator: &User,
    body: &Value,
    now_ms: i64,
) -> Result<Draft, ApiError> {
    let Some(b) = body.as_object() else { return Err(ApiError::invalid_field("body", "must be a JSON object")) };
    let mut faults = Vec::new();
    let fault = |field: &str, message: &str| crate::error::FieldFault { field: field.into(), message: message.into() };
    for k in b.keys().filter(|k| !["name", "datasetId"].contains(&k.as_str())) {
        faults.push(fault(k, "unknown field; a draft is {\"name\", \"datasetId\"}"));
    }
    let name = match b.get("name").and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() && n.chars().count() <= 200 && !n.contains('\0') => Some(n.to_string()),
        _ => {
            faults.push(fault("name", "is required: text of 1 to 200 characters"));
            None
        }
    };
    let dataset = match b.get("datasetId").and_then(Value::as_str).and_then(DatasetId::parse) {
        Some(id) => Some(id),
        None => {
            faults.push(fault("datasetId", "is required: the UUID of a dataset of this tenant"));
            None
        }
    };
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    let (Some(name), Some(dataset)) = (name, dataset) else { unreachable!("faults are empty") };
    let ds = match store.get_dataset(&dataset).await? {
        Some(ds) if ds.org_id == *org && grants::visible(&ds, creator) => ds,
        _ => return Err(ApiError::invalid_field("datasetId", "names no dataset of this tenant")),
    };
    grants::authorize(&ds, creator, Level::Manage)?;
    ds.writable()?;
    insert(store, &ds, DraftId::generate(), name, &creator.user_id, now_ms).await
}

/// Insert a new, empty draft of `ds` with a given id.
pub async fn insert(
    store: &dyn Store,
    ds: &Dataset,
    id: DraftId,
    name: String,
    creator: &str,
    now_ms: i64,
) -> Result<Draft, ApiError> {
    let draft = Draft {
        id,
        org_id: ds.org_id.clone(),
        dataset_id: ds.id.clone(),
        name,
        created_by: creator.to_string(),
        created_at: now_ms,
        modified_at: now_ms,
        version: fresh_version(),
        added: 0,
        updated: 0,
        removed: 0,
    };
    store.insert_draft(&draft).await?;
    Ok(draft)
}

/// Drafts of an org whose datasets `user` reads, optionally of one dataset, newest first.
pub async fn list(
    store: &dyn Store,
    org: &OrgId,
    user: &User,
    dataset: Option<&DatasetId>,
) -> Result<Vec<Draft>, ApiError> {
    let readable: std::collections::HashSet<DatasetId> =
        store.list_datasets(org).await?.into_iter().filter(|ds| grants::visible(ds, user)).map(|ds| ds.id).collect();
    let mut all = store.list_drafts(org).await?;
    all.retain(|d| dataset.is_none_or(|id| d.dataset_id == *id) && readable.contains(&d.dataset_id));
    all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    Ok(all)
}

/// Drop every staged change of a draft (the draft stays).
pub async fn clear(store: &dyn Store, draft: &Draft, now_ms: i64) -> Result<Draft, ApiError> {
    if !store.clear_draft(&draft.id, fresh_version(), now_ms).await? {
        return Err(ApiError::new(ErrorCode::DraftNotFound));
    }
    find(store, &draft.org_id, &draft.id).await
}

/// The dataset a draft models (gone with it: a deleted dataset deletes its drafts).
pub async fn dataset_of(store: &dyn Store, draft: &Draft) -> Result<Dataset, ApiError> {
    match store.get_dataset(&draft.dataset_id).await? {
        Some(ds) if ds.org_id == draft.org_id => Ok(ds),
        _ => Err(ApiError::new(ErrorCode::DraftNotFound)
            .with_message("The draft's dataset no longer exists, and the draft went with it.")),
    }
}

/// The `layers` of an export-draft or apply-draft body (`[{"draftId", "layerKey": "default"}]`): the
/// draft ids, each once, in order.
pub fn layers(body: &Value) -> Result<Vec<DraftId>, ApiError> {
    let Some(list) = body.get("layers") else {
        return Err(ApiError::invalid_field(
            "layers",
            "is required: [{\"draftId\": \"…\", \"layerKey\": \"default\"}]",
        ));
    };
    let Some(list) = list.as_array() else {
        return Err(ApiError::invalid_field("layers", "must be a list of {\"draftId\", \"layerKey\"}"));
    };
    if list.is_empty() {
        return Err(ApiError::invalid_field("layers", "must name at least one draft layer"));
    }
    let mut faults = Vec::new();
    let mut out: Vec<DraftId> = Vec::new();
    for (i, l) in list.iter().enumerate() {
        let fault = |k: &str, m: &str| crate::error::FieldFault { field: format!("layers[{i}]{k}"), message: m.into() };
        let Some(o) = l.as_object() else {
            faults.push(fault("", "must be {\"draftId\", \"layerKey\"}"));
            continue;
        };
        for k in o.keys().filter(|k| *k != "draftId" && *k != "layerKey") {
            faults.push(fault(&format!(".{k}"), "unknown field"));
        }
        match o.get("layerKey") {
            None => {}
            Some(Value::String(k)) if k == DEFAULT_LAYER => {}
            Some(_) => faults.push(fault(".layerKey", "must be \"default\", a draft's one layer")),
        }
        match o.get("draftId").and_then(Value::as_str).and_then(DraftId::parse) {
            Some(id) if !out.contains(&id) => out.push(id),
            Some(_) => faults.push(fault(".draftId", "names a draft already listed")),
            None => faults.push(fault(".draftId", "is required: a draft's UUID")),
        }
    }
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_name_default_layers_of_drafts() {
        let id = "36A1E02D-DC20-61C5-A11F-DD85440C652C";
        assert_eq!(
            layers(&json!({"layers":[{"draftId": id.to_lowercase(), "layerKey":"default"}]})).unwrap()[0].as_str(),
            id
        );
        let faults = |v: Value| layers(&v).unwrap_err().faults.iter().map(|f| f.field.clone()).collect::<Vec<_>>();
        assert_eq!(faults(json!({"layers": []})), ["layers"]);
        assert_eq!(faults(json!({})), ["layers"]);
        assert_eq!(faults(json!({"layers":[{"draftId": id, "layerKey":"other"}]})), ["layers[0].layerKey"]);
        assert_eq!(
            faults(json!({"layers":[{"draftId": "x"}, {"draftId": id, "x": 1}]})),
            ["layers[0].draftId", "layers[1].x"]
        );
        assert_eq!(faults(json!({"layers":[{"draftId": id}, {"draftId": id}]})), ["layers[1].draftId"]);
    }

    #[test]
    fn changes_name_themselves() {
        for c in [Change::None, Change::Added, Change::Updated, Change::Removed] {
            assert_eq!(Change::parse(c.as_str()), Some(c));
        }
        assert_eq!(Change::parse("moved"), None);
    }
}
