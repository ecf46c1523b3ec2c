//! Schema evolution (orgvue-dialect §11, an orgd extension): add a property, change its display name or
//! required flag, remove one. A change costs what it changes on the data layer: adding an optional
//! property adds an empty column, removing one drops its column, renames touch the definition only; no
//! item is rewritten. Every change gives the dataset a new `cacheKey`.

use super::row::Val;
use super::schema::{parse_property, Property};
use super::values::{coerce_raw, DateFormat, Raw};
use super::{ops, Dataset, DatasetType, PropertyType};
use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::store::Store;
use serde_json::{json, Value};

/// How many unconvertible values a type change lists by item.
pub const LISTED: usize = 100;

/// The query parameters of `PATCH …/properties/{key}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChangeOptions {
    /// Check and report, change nothing.
    pub dry_run: bool,
    /// Clear the values a type change cannot convert instead of refusing it.
    pub force: bool,
}

/// What a property change did.
#[derive(Debug)]
pub enum Changed {
    /// The dataset as saved.
    Saved(Box<Dataset>),
    /// A dry run's report.
    Report(Value),
}

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
    ds.writable()?;
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

/// `PATCH …/properties/{key}`: change a property's display name, required flag or type. Making it required
/// checks that every item holds a value (else 400 with how many do not, nothing changed). A type change
/// converts every value as an import would coerce it; values that do not convert are listed (400, nothing
/// changed) unless `force` clears them; `dry_run` answers the report and changes nothing.
pub async fn change(
    store: &dyn Store,
    ds: &Dataset,
    key: &str,
    body: &Value,
    opts: ChangeOptions,
    now_ms: i64,
) -> Result<Changed, ApiError> {
    ds.writable()?;
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
            ("type", Value::String(t)) if PropertyType::parse(t).is_some() => {
                after.properties[i].ty = PropertyType::parse(t).expect("checked");
            }
            ("type", _) => faults.push(FieldFault {
                field: "type".into(),
                message: "must be one of text, number, date, boolean".into(),
            }),
            ("key", _) => faults.push(FieldFault {
                field: "key".into(),
                message: "cannot change (clients name items by it): add a property, fill it, then remove this one"
                    .into(),
            }),
            _ => faults.push(FieldFault {
                field: k.clone(),
                message: "unknown field; a change is {name?, isRequired?, type?}".into(),
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
    let (from, to) = (ds.properties[i].ty, after.properties[i].ty);
    if from == to {
        if opts.dry_run {
            return Ok(Changed::Report(json!({"property": key, "metadata": after.metadata()})));
        }
        if after == *ds {
            return Ok(Changed::Saved(Box::new(after)));
        }
        return save(store, ds, after, now_ms).await.map(|d| Changed::Saved(Box::new(d)));
    }
    if must_stay || ds.tree_parent_id.as_deref() == Some(key) || ds.properties[i].read_only {
        return Err(fault("type", format!("'{key}' identifies or places items, so its type stays")));
    }
    let (count, listed) = survey(store, ds, i, to).await?;
    if opts.dry_run {
        return Ok(Changed::Report(json!({"property": key, "from": from.as_str(), "to": to.as_str(),
            "unconvertible": count, "listed": listed.len(), "items": listed})));
    }
    if count > 0 && (!opts.force || after.properties[i].required) {
        let why = if opts.force { "; a required property keeps its values, so force cannot clear them" } else { "" };
        let mut faults: Vec<FieldFault> = listed
            .iter()
            .map(|x| FieldFault {
                field: "type".into(),
                message: format!("item {}: {} does not convert to {}", x["_id"], x["value"], to.as_str()),
            })
            .collect();
        faults.push(FieldFault {
            field: "type".into(),
            message: format!(
                "{count} value(s) do not convert (the first {} are listed){why}; fix them, or send force=true to \
                 clear them; nothing was changed",
                listed.len()
            ),
        });
        return Err(ApiError::invalid_fields(faults));
    }
    after.properties[i].column = ds.properties.iter().map(|q| q.column + 1).max().unwrap_or(0);
    after.cache_key = ops::new_cache_key();
    after.modified_at = now_ms;
    let force = opts.force;
    let convert: crate::store::Convert = std::sync::Arc::new(move |v: &Val| match converted(v, to) {
        Some(c) => Ok(Some(c)),
        None if force => Ok(None),
        None => Err(()),
    });
    match store.retype_property(ds, &after, i, convert).await? {
        Some(_) => Ok(Changed::Saved(Box::new(after))),
        None => Err(ApiError::new(ErrorCode::Conflict)
            .with_message("Values changed while the type was being changed; nothing was changed. Try again.")),
    }
}

/// A value in another type, as an import would coerce its JSON form; `None` when it does not convert.
fn converted(v: &Val, to: PropertyType) -> Option<Val> {
    coerce_raw(to, Raw::Json(&v.to_json()), DateFormat::Iso).ok()
}

/// How many values of property `i` do not convert to `to`, and the first [`LISTED`] of them by item.
async fn survey(store: &dyn Store, ds: &Dataset, i: usize, to: PropertyType) -> Result<(u64, Vec<Value>), ApiError> {
    let mut scan = store.scan(ds, &[i], 1).await?;
    let (mut count, mut listed) = (0u64, Vec::new());
    while let Some((_, rows)) = scan.next().await? {
        for r in rows {
            let Some(v) = r.cells.first().and_then(Option::as_ref) else { continue };
            if converted(v, to).is_none() {
                count += 1;
                if listed.len() < LISTED {
                    listed.push(json!({"_id": r.id, "value": v.to_json()}));
                }
            }
        }
    }
    Ok((count, listed))
}

/// `DELETE …/properties/{key}`: remove a property and its values. The properties that identify, label or
/// place items (autoId, labelId, treeId, treeParentId, a link's own) cannot go.
pub async fn remove(store: &dyn Store, ds: &Dataset, key: &str, now_ms: i64) -> Result<Dataset, ApiError> {
    ds.writable()?;
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
