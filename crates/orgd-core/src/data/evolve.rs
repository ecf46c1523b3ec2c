//! Schema evolution (orgvue-dialect §11, an orgd extension): add a property, change its display name or
//! required flag, remove one. A change costs what it changes on the data layer: adding an optional
//! property adds an empty column, removing one drops its column, renames touch the definition only; no
//! item is rewritten. Every change gives the dataset a new `cacheKey`.

use super::schema::{parse_property, Property};
use super::{ops, Dataset, DatasetType};
use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::store::Store;
use serde_json::Value;

fn fault(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_fields(vec![FieldFault { field: field.into(), message: message.into() }])
}

/// Save `after` as the new definition of `before`'s dataset, with a new cache key.
async fn save(store: &dyn Store, before: &Dataset, mut after: Dataset, now_ms: i64) -> Result<Dataset, ApiError> {
    after.cache_key = ops::new_cache_key();
    after.modified_at = now_ms;
    if !store.evolve_dataset(before, &after).await? {
        return Err(ApiError::new(ErrorCode::DatasetNotFound));
    }
    Ok(after)
}

/// `POST …/properties`: add a property `{key, type, name?, isRequired?}`. A required one can only join an
/// empty dataset (its items would lack it): add it optional, fill it, then make it required.
pub async fn add(store: &dyn Store, ds: &Dataset, body: &Value, now_ms: i64) -> Result<Dataset, ApiError> {
    let mut faults = Vec::new();
    let parsed = parse_property(body, "", &ds.properties, &mut faults);
    if ds.ty == DatasetType::Links {
        if let Some(k) = body.get("key").and_then(Value::as_str).filter(|k| ["from_id", "to_id", "link_id"].contains(k))
        {
            faults.push(FieldFault {
                field: "key".into(),
                message: format!("'{k}' is one of the link's own properties"),
            });
        }
    }
    if ds.properties.len() >= 1000 {
        faults.push(FieldFault { field: "key".into(), message: "a dataset has at most 1000 properties".into() });
    }
    let Some(p) = parsed.filter(|_| faults.is_empty()) else { return Err(ApiError::invalid_fields(faults)) };
    if p.required && ds.item_count > 0 {
        return Err(fault(
            "isRequired",
            "a required property can only be added to an empty dataset: add it optional, fill it, then make it required",
        ));
    }
    let column = ds.properties.iter().map(|q| q.column + 1).max().unwrap_or(0);
    let mut after = ds.clone();
    after.properties.push(Property { column, ..p });
    save(store, ds, after, now_ms).await
}

/// `PATCH …/properties/{key}`: change a property's display name or required flag. Making it required
/// checks that every item holds a value (else 400 with how many do not, nothing changed).
pub async fn change(
    store: &dyn Store,
    ds: &Dataset,
    key: &str,
    body: &Value,
    now_ms: i64,
) -> Result<Dataset, ApiError> {
    let i = index_of(ds, key)?;
    let Some(b) = body.as_object() else { return Err(fault("body", "must be a JSON object {name?, isRequired?}")) };
    let mut faults = Vec::new();
    let mut after = ds.clone();
    for (k, v) in b {
        match (k.as_str(), v) {
            ("name", Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= 255 && !n.contains('\0') => {
                after.properties[i].name = n.clone();
            }
            ("name", _) => faults.push(FieldFault {
                field: "name".into(),
                message: "must be a string of 1 to 255 characters, without NUL".into(),
            }),
            ("isRequired", Value::Bool(r)) => after.properties[i].required = *r,
            ("isRequired", _) => {
                faults.push(FieldFault { field: "isRequired".into(), message: "must be true or false".into() })
            }
            ("type", _) => faults.push(FieldFault {
                field: "type".into(),
                message: "cannot change yet: add a property of the new type, fill it, then remove this one".into(),
            }),
            ("key", _) => faults.push(FieldFault {
                field: "key".into(),
                message: "cannot change (clients name items by it): add a property, fill it, then remove this one"
                    .into(),
            }),
            _ => faults.push(FieldFault {
                field: k.clone(),
                message: "unknown field; a change is {name?, isRequired?}".into(),
            }),
        }
    }
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    let (was, now) = (ds.properties[i].required, after.properties[i].required);
    let must_stay = [&ds.auto_id, &ds.label_id, &ds.tree_id].iter().any(|k| k.as_deref() == Some(key))
        || (ds.ty == DatasetType::Links && ["from_id", "to_id"].contains(&key));
    if was && !now && must_stay {
        return Err(fault("isRequired", format!("'{key}' identifies or labels items, so it stays required")));
    }
    if now && !was {
        let missing = missing_values(store, ds, i).await?;
        if missing > 0 {
            return Err(fault(
                "isRequired",
                format!("{missing} item(s) have no {key}: give each a value first (nothing was changed)"),
            ));
        }
    }
    if after == *ds {
        return Ok(after);
    }
    save(store, ds, after, now_ms).await
}

/// `DELETE …/properties/{key}`: remove a property and its values. The properties that identify, label or
/// place items (autoId, labelId, treeId, treeParentId, a link's own) cannot go.
pub async fn remove(store: &dyn Store, ds: &Dataset, key: &str, now_ms: i64) -> Result<Dataset, ApiError> {
    let i = index_of(ds, key)?;
    if ds.is_core(key) || ds.properties[i].read_only {
        let role = [
            ("autoId", &ds.auto_id),
            ("labelId", &ds.label_id),
            ("treeId", &ds.tree_id),
            ("treeParentId", &ds.tree_parent_id),
        ]
        .into_iter()
        .find(|(_, k)| k.as_deref() == Some(key))
        .map_or("a link's own property", |(r, _)| r);
        return Err(ApiError::new(ErrorCode::PathParameterInvalid)
            .with_context("pathParameter", "{key}")
            .with_message(format!("'{key}' is the dataset's {role} and cannot be removed.")));
    }
    let mut after = ds.clone();
    after.properties.remove(i);
    after.grants.restricted.remove(key);
    save(store, ds, after, now_ms).await
}

/// The index of property `key`, or 404 naming it.
fn index_of(ds: &Dataset, key: &str) -> Result<usize, ApiError> {
    ds.properties.iter().position(|p| p.key == key).ok_or_else(|| {
        ApiError::new(ErrorCode::PropertyNotFound)
            .with_context("pathParameter", "{key}")
            .with_message(format!("The dataset has no property '{key}'."))
    })
}

/// How many items hold no value for property `i` (one pass over that column).
async fn missing_values(store: &dyn Store, ds: &Dataset, i: usize) -> Result<u64, ApiError> {
    let mut scan = store.scan(ds, &[i], 1).await?;
    let mut missing = 0;
    while let Some((_, rows)) = scan.next().await? {
        missing += rows.iter().filter(|r| r.cells.first().is_none_or(Option::is_none)).count() as u64;
    }
    Ok(missing)
}
