//! Dataset operations over the store: create (with LINKS ends), import, and the plan of an export.
//! Who may do what with a dataset is [`super::grants`]' decision.

use super::actions::{Denied, Identify, Options};
use super::export::{self, Column, Format, TextOptions};
use super::filter::Filter;
use super::import::{self, Outcome, Run};
use super::schema::{parse_new, Property};
use super::source::InMemory;
use super::values::DateFormat;
use super::{new_id, Dataset, DatasetType, PropertyType};
use crate::error::{ApiError, ErrorCode};
use crate::ids::{DatasetId, OrgId};
use crate::query::{flag, one};
use crate::store::Store;
use serde_json::Value;

/// A fresh opaque cache key.
pub fn new_cache_key() -> String {
    new_id().replace('-', "").to_lowercase()
}

/// The dataset `id` of an org, a permissioned view as it shows its dataset ([`super::views::resolve`]):
/// 404001 when the org has no such dataset (another org's is not told apart).
pub async fn find(store: &dyn Store, org: &OrgId, id: &DatasetId) -> Result<Dataset, ApiError> {
    match store.get_dataset(id).await? {
        Some(ds) if ds.org_id == *org => super::views::resolve(store, ds).await,
        _ => Err(ApiError::new(ErrorCode::DatasetNotFound)),
    }
}

/// Create a dataset from a request body.
pub async fn create(store: &dyn Store, org: &OrgId, body: &Value, now_ms: i64) -> Result<Dataset, ApiError> {
    create_as(store, org, body, now_ms, Stamp { id: DatasetId::generate(), cache_key: new_cache_key() }).await
}

/// The id and cache key a write gives (random for API calls, derived for seed files).
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The dataset id (creation only).
    pub id: DatasetId,
    /// The new cache key.
    pub cache_key: String,
}

/// [`create`] with a given id and cache key.
pub async fn create_as(
    store: &dyn Store,
    org: &OrgId,
    body: &Value,
    now_ms: i64,
    stamp: Stamp,
) -> Result<Dataset, ApiError> {
    let n = parse_new(body).map_err(ApiError::invalid_fields)?;
    let mut properties = n.properties;
    if n.ty == DatasetType::Links {
        let mut faults = Vec::new();
        let mut types = Vec::new();
        for (field, id) in [("fromDatasetId", &n.from_dataset), ("toDatasetId", &n.to_dataset)] {
            let found = match id {
                Some(id) => store.get_dataset(id).await?,
                None => None,
            };
            match found {
                Some(d) if d.org_id == *org && d.ty != DatasetType::Links && d.view.is_none() => {
                    let ty =
                        d.auto_id.as_deref().and_then(|a| d.property(a)).map(|p| p.ty).unwrap_or(PropertyType::Text);
                    types.push(ty);
                }
                _ => {
                    faults.push(crate::error::FieldFault {
                        field: field.into(),
                        message: "must name a non-LINKS dataset of this tenant".into(),
                    });
                    types.push(PropertyType::Text);
                }
            }
        }
        if !faults.is_empty() {
            return Err(ApiError::invalid_fields(faults));
        }
        let mut core = vec![
            Property {
                key: "from_id".into(),
                name: "from_id".into(),
                ty: types[0],
                required: true,
                read_only: false,
                column: 0,
            },
            Property {
                key: "to_id".into(),
                name: "to_id".into(),
                ty: types[1],
                required: true,
                read_only: false,
                column: 0,
            },
            Property {
                key: "link_id".into(),
                name: "link_id".into(),
                ty: PropertyType::Text,
                required: false,
                read_only: true,
                column: 0,
            },
        ];
        core.append(&mut properties);
        properties = core;
    }
    for (i, p) in properties.iter_mut().enumerate() {
        p.column = i;
    }
    let ds = Dataset {
        id: stamp.id,
        org_id: org.clone(),
        name: n.name,
        ty: n.ty,
        auto_id: n.auto_id,
        label_id: n.label_id,
        tree_id: n.tree_id,
        tree_parent_id: n.tree_parent_id,
        tags: n.tags,
        properties,
        from_dataset: n.from_dataset,
        to_dataset: n.to_dataset,
        cache_key: stamp.cache_key,
        item_count: 0,
        created_at: now_ms,
        modified_at: now_ms,
        grants: Default::default(),
        rows: None,
        view: None,
    };
    store.insert_dataset(&ds).await?;
    Ok(ds)
}

/// Delete a dataset unless a LINKS dataset or a permissioned view refers to it (409001).
pub async fn delete(store: &dyn Store, org: &OrgId, ds: &Dataset) -> Result<(), ApiError> {
    // Nothing refers to a view.
    let all = if ds.view.is_none() { store.list_datasets(org).await? } else { Vec::new() };
    let linked = all.iter().find(|d| match &d.view {
        Some(v) => v.of == ds.id,
        None => {
            d.ty == DatasetType::Links
                && (d.from_dataset.as_ref() == Some(&ds.id) || d.to_dataset.as_ref() == Some(&ds.id))
        }
    });
    if let Some(l) = linked {
        let what = if l.view.is_some() { "permissioned view" } else { "LINKS dataset" };
        return Err(ApiError::new(ErrorCode::Conflict)
            .with_message(format!("The {what} '{}' refers to this dataset; delete it first.", l.name)));
    }
    store.delete_dataset(&ds.id).await?;
    Ok(())
}

fn query_fault(name: &str, why: &str) -> ApiError {
    ApiError::invalid_query(name, why)
}

/// Import options from the query parameters (orgvue-dialect §3.9).
pub fn import_options(ds: &Dataset, params: &[(String, String)]) -> Result<Options, ApiError> {
    let auto = flag(params, "autoId")?;
    let keys: Vec<String> = params.iter().filter(|(k, _)| k == "idKey").map(|(_, v)| v.clone()).collect();
    if one(params, "mergeKey")?.is_some() {
        return Err(query_fault("mergeKey", "is not supported; use idKey"));
    }
    if auto && !keys.is_empty() {
        return Err(query_fault("idKey", "cannot be combined with autoId=true"));
    }
    if ds.ty == DatasetType::Links && (auto || !keys.is_empty()) {
        let name = if auto { "autoId" } else { "idKey" };
        return Err(query_fault(name, "LINKS datasets are always identified by from_id and to_id"));
    }
    for k in &keys {
        if ds.property(k).is_none() {
            return Err(query_fault(
                "idKey",
                &format!("'{k}' is not a property of the dataset (idKey is repeated, never comma-separated)"),
            ));
        }
    }
    let date_format = match one(params, "dateFormat")? {
        None => DateFormat::Iso,
        Some(f) => DateFormat::parse(f)
            .ok_or_else(|| query_fault("dateFormat", "must be YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY"))?,
    };
    let skip_failures = match one(params, "onActionValidationFailure")? {
        None | Some("fail") => false,
        Some("skip") => true,
        Some(_) => return Err(query_fault("onActionValidationFailure", "must be fail or skip")),
    };
    let mut on_denied = [false; 2];
    for (skip, name) in on_denied.iter_mut().zip(["onPropertyAccessDenied", "onItemAccessDenied"]) {
        *skip = match one(params, name)? {
            None | Some("fail") => false,
            Some("skip") => true,
            Some(_) => return Err(query_fault(name, "must be fail or skip")),
        };
    }
    Ok(Options {
        identify: if auto {
            Some(Identify::AutoId)
        } else if !keys.is_empty() {
            Some(Identify::Keys(keys))
        } else {
            None
        },
        date_format,
        implicit_delete: flag(params, "implicitDelete")?,
        noop_token: one(params, "noopToken")?.map(String::from),
        derived_ids: None,
        keep_versions: false,
        clear_token: one(params, "clearToken")?.map(String::from),
        skip_failures,
        items_fixed: false,
        denied: Denied { skip_properties: on_denied[0], skip_items: on_denied[1], ..Denied::default() },
    })
}

/// Run an import of actions held in memory (a sync request body) in one transaction: every action
/// applies, or (in `fail` mode with a failure) none.
pub async fn import(
    store: &dyn Store,
    ds: &Dataset,
    actions: Vec<Value>,
    opts: &Options,
    now_ms: i64,
) -> Result<Outcome, ApiError> {
    import_as(store, ds, actions, opts, now_ms, new_cache_key()).await
}

/// [`import`] that gives the dataset a chosen cache key.
pub async fn import_as(
    store: &dyn Store,
    ds: &Dataset,
    actions: Vec<Value>,
    opts: &Options,
    now_ms: i64,
    cache_key: String,
) -> Result<Outcome, ApiError> {
    let mut source = InMemory::new(actions);
    let run = Run { now_ms, cache_key, results: true, job: None };
    import::run(store, ds, &mut source, opts, run, &mut |_| {}).await
}

/// The item `id` of `ds` as its caller sees it: 404002 when there is none, or when the caller's row rule
/// does not let it through.
pub async fn item(store: &dyn Store, ds: &Dataset, id: &str) -> Result<super::Item, ApiError> {
    let seen = |it: &super::Item| ds.rows.as_ref().is_none_or(|f| f.matches(|k| it.values.get(k).cloned()));
    store.get_item(ds, id).await?.filter(seen).ok_or_else(|| ApiError::new(ErrorCode::ItemNotFound))
}

/// `ds` with the number of items its caller sees: under a row rule, the items the rule lets through
/// (counted with one pass over the columns the rule reads), so that metadata does not tell how many
/// others there are.
pub async fn as_seen(store: &dyn Store, ds: &Dataset) -> Result<Dataset, ApiError> {
    let mut seen = ds.clone();
    let Some(rows) = ds.rows.as_ref().filter(|r| !r.is_empty()) else { return Ok(seen) };
    let keys: Vec<(&str, usize)> =
        rows.keys().filter_map(|k| Some((k, ds.properties.iter().position(|p| p.key == k)?))).collect();
    let props: Vec<usize> = keys.iter().map(|(_, i)| *i).collect();
    let mut scan = store.scan(ds, &props, 1).await?;
    let mut count = 0;
    let at = |k: &str| keys.iter().position(|(x, _)| *x == k);
    while let Some((_, page)) = scan.next().await? {
        count += page.iter().filter(|r| rows.matches_cells(at, &r.cells)).count();
    }
    seen.item_count = count as i64;
    Ok(seen)
}

/// What an export will do.
#[derive(Debug, Clone)]
pub struct ExportPlan {
    /// Format.
    pub format: Format,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Row filter.
    pub filter: Filter,
    /// How CSV and TSV text is written.
    pub text: TextOptions,
    /// Whether generated hierarchy values are needed (columns or filter).
    pub needs_hierarchy: bool,
}

impl ExportPlan {
    /// A plan; hierarchy values are computed only when a column or the filter uses one.
    pub fn new(ds: &Dataset, format: Format, columns: Vec<Column>, filter: Filter, text: TextOptions) -> ExportPlan {
        let generated = |k: &str| export::GENERATED.iter().any(|(g, _)| *g == k);
        let needs_hierarchy =
            ds.is_hierarchical() && (columns.iter().any(|c| generated(&c.key)) || filter.keys().any(generated));
        // A row rule of the caller's view holds in every export, whatever else filters it.
        let filter = match &ds.rows {
            Some(rows) => filter.and(rows),
            None => filter,
        };
        ExportPlan { format, columns, filter, text, needs_hierarchy }
    }
}

/// `lineEndings`, `safeCsv` and `generated` of an export's query parameters (the first two shape CSV and
/// TSV text; JSON formats check and ignore them).
pub fn output_options(params: &[(String, String)]) -> Result<(TextOptions, bool), ApiError> {
    let unix = match one(params, "lineEndings")? {
        None | Some("windows") => false,
        Some("unix") => true,
        Some(_) => return Err(query_fault("lineEndings", "must be windows or unix")),
    };
    Ok((TextOptions { unix, safe: flag(params, "safeCsv")? }, flag(params, "generated")?))
}

/// The type of a key usable in a filter of a dataset (properties, system and generated keys).
pub fn filter_type(ds: &Dataset, key: &str, raw_only: bool) -> Option<PropertyType> {
    if raw_only && key.starts_with('_') && !["_id", "_createdAt", "_modifiedAt"].contains(&key) {
        return None;
    }
    export::column(ds, key).and_then(|c| PropertyType::parse(c.ty))
}

/// Plan a synchronous export from its query parameters and optional body (orgvue-dialect §3.6).
pub fn plan_sync_export(
    ds: &Dataset,
    format: &str,
    params: &[(String, String)],
    body: Option<&Value>,
) -> Result<ExportPlan, ApiError> {
    let format = Format::parse(format).ok_or_else(|| {
        ApiError::new(ErrorCode::PathParameterUnsupportedValue).with_context("pathParameter", "{format}")
    })?;
    let (text, generated) = output_options(params)?;
    let output = match body {
        None => None,
        Some(whole @ Value::Object(b)) => {
            for k in b.keys() {
                if k != "query" {
                    return Err(ApiError::invalid_field(
                        k.clone(),
                        "unknown field; the body is {\"query\":{\"output\":{\"filter\",\"projection\"}}}",
                    ));
                }
            }
            export::query_output(whole).map_err(ApiError::invalid_fields)?
        }
        Some(_) => return Err(ApiError::invalid_field("body", "must be a JSON object")),
    };
    let mut faults = Vec::new();
    let filter = match output.as_ref().and_then(|o| o.get("filter")) {
        None | Some(Value::Null) => Filter::default(),
        Some(f) => Filter::parse(f, &|k| filter_type(ds, k, false), "query.output.filter").unwrap_or_else(|e| {
            faults.extend(e);
            Filter::default()
        }),
    };
    let columns = match output.as_ref().and_then(|o| o.get("projection")) {
        None | Some(Value::Null) => export::default_columns(ds, generated),
        Some(p) => export::project(ds, p, "query.output.projection", true, false, generated).unwrap_or_else(|e| {
            faults.extend(e);
            Vec::new()
        }),
    };
    if let Some(o) = &output {
        for k in o.keys() {
            if k != "filter" && k != "projection" {
                faults.push(crate::error::FieldFault {
                    field: format!("query.output.{k}"),
                    message: "unknown field".into(),
                });
            }
        }
    }
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok(ExportPlan::new(ds, format, columns, filter, text))
}
