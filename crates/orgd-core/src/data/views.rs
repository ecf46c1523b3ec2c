//! Permissioned views (orgvue-dialect §12, an orgd extension): a named, saved projection and filter over
//! a dataset, with grants of its own. A view is listed with `isPermissionedView: true`, read and exported
//! like a dataset, and never written through: it holds no items, it shows its dataset's.

use super::filter::Filter;
use super::grants::{Grants, Level};
use super::schema::View;
use super::{ops, Dataset};
use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::ids::DatasetId;
use crate::model::{Role, User};
use crate::store::Store;
use serde_json::{json, Value};

/// A stored dataset as it is read: a view becomes its dataset narrowed to what the view shows (its
/// projection, its filter as the items it lets through) under the view's own id, name and grants.
pub async fn resolve(store: &dyn Store, stored: Dataset) -> Result<Dataset, ApiError> {
    let Some(v) = &stored.view else { return Ok(stored) };
    let base = store
        .get_dataset(&v.of)
        .await?
        .filter(|b| b.org_id == stored.org_id && b.view.is_none())
        .ok_or_else(|| ApiError::new(ErrorCode::DatasetNotFound))?;
    Ok(narrow(&base, stored))
}

/// `base` as the view `stored` shows it. A filter that no longer reads (a property it names was removed
/// or changed type) lets no item through until the view is made again.
fn narrow(base: &Dataset, stored: Dataset) -> Dataset {
    let v = stored.view.as_ref().expect("a view");
    let properties: Vec<_> =
        base.properties.iter().filter(|p| base.is_core(&p.key) || v.projection.contains(&p.key)).cloned().collect();
    let types = |k: &str| properties.iter().find(|p| p.key == k).map(|p| p.ty);
    let rows = Filter::parse(&v.filter, &types, "filter").unwrap_or_else(|_| Filter::nothing());
    Dataset {
        ty: base.ty,
        auto_id: base.auto_id.clone(),
        label_id: base.label_id.clone(),
        tree_id: base.tree_id.clone(),
        tree_parent_id: base.tree_parent_id.clone(),
        from_dataset: base.from_dataset.clone(),
        to_dataset: base.to_dataset.clone(),
        cache_key: base.cache_key.clone(),
        item_count: base.item_count,
        properties,
        rows: Some(rows),
        ..stored
    }
}

fn fault(field: impl Into<String>, message: &str) -> FieldFault {
    FieldFault { field: field.into(), message: message.into() }
}

/// Make a view of `base` (as its creator sees it, so that it cannot show what the creator may not read)
/// from `{"name", "projection"?: [key…], "filter"?: {…}, "permissions"?: {…}}`. Without `permissions`,
/// only administrators and its creator see it (`manage`).
pub async fn create(
    store: &dyn Store,
    base: &Dataset,
    creator: &User,
    body: &Value,
    now_ms: i64,
) -> Result<Dataset, ApiError> {
    base.writable()?;
    let Some(b) = body.as_object() else { return Err(ApiError::invalid_field("body", "must be a JSON object")) };
    let mut faults = Vec::new();
    for k in b.keys().filter(|k| !["name", "projection", "filter", "permissions"].contains(&k.as_str())) {
        faults.push(fault(k.clone(), "unknown field; a view is {name, projection?, filter?, permissions?}"));
    }
    let name = match b.get("name").and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() && n.chars().count() <= 255 && !n.chars().any(char::is_control) => n.to_string(),
        _ => {
            faults.push(fault("name", "is required: 1 to 255 characters, no control characters"));
            String::new()
        }
    };
    let projection: Vec<String> = match b.get("projection") {
        None | Some(Value::Null) => base.properties.iter().map(|p| p.key.clone()).collect(),
        Some(Value::Array(keys)) => {
            let mut out = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                match k.as_str().filter(|k| base.property(k).is_some()) {
                    Some(k) if !out.iter().any(|x| x == k) => out.push(k.to_string()),
                    Some(_) => faults.push(fault(format!("projection[{i}]"), "is listed twice")),
                    None => faults.push(fault(format!("projection[{i}]"), "is not a property of the dataset")),
                }
            }
            out
        }
        Some(_) => {
            faults.push(fault("projection", "must be a list of property keys"));
            Vec::new()
        }
    };
    let filter = b.get("filter").filter(|f| !f.is_null()).cloned().unwrap_or_else(|| json!({}));
    let stored = Dataset {
        id: DatasetId::generate(),
        name,
        properties: Vec::new(),
        cache_key: ops::new_cache_key(),
        item_count: 0,
        created_at: now_ms,
        modified_at: now_ms,
        grants: Grants::default(),
        rows: None,
        view: Some(View { of: base.id.clone(), projection, filter: filter.clone() }),
        ..base.clone()
    };
    let shown = narrow(base, stored.clone());
    let types = |k: &str| shown.property(k).map(|p| p.ty);
    if let Err(e) = Filter::parse(&filter, &types, "filter") {
        faults.extend(
            e.into_iter()
                .map(|f| FieldFault { message: format!("{} (a view filters on properties it shows)", f.message), ..f }),
        );
    }
    let permissions = match b.get("permissions") {
        Some(p) if !p.is_null() => p.clone(),
        _ if creator.role == Role::Administrator => json!({"roles": {"user_manager": "none", "user": "none"}}),
        _ => json!({"roles": {"user_manager": "none", "user": "none"}, "users": {&creator.user_id: "manage"}}),
    };
    let (ids, _) = super::grants::grantable(store, &base.org_id).await?;
    let grants = match Grants::parse(&permissions, &ids, &shown) {
        Ok(g) => g,
        Err(e) => {
            faults.extend(e.into_iter().map(|f| FieldFault { field: format!("permissions.{}", f.field), ..f }));
            Grants::default()
        }
    };
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    if creator.role != Role::Administrator && grants.level_of(creator) < Level::Manage {
        return Err(ApiError::invalid_field("permissions", "would leave you without manage on the view you make"));
    }
    let stored = Dataset { grants, ..stored };
    store.insert_dataset(&stored).await?;
    Ok(narrow(base, stored))
}
