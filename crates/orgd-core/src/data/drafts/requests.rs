//! The bodies and query parameters of the draft operations that run as jobs or read through a draft:
//! export draft (`POST /drafts/actions`), apply draft, and `?draftId=` on exports.

use super::overlay::Overlay;
use super::{find, layers};
use crate::data::async_ops::location;
use crate::data::Dataset;
use crate::error::{ApiError, FieldFault};
use crate::ids::{DraftId, OrgId};
use crate::store::Store;
use serde_json::Value;
use std::sync::Arc;

fn unknown(b: &serde_json::Map<String, Value>, known: &[&str], faults: &mut Vec<FieldFault>) {
    for k in b.keys().filter(|k| !known.contains(&k.as_str())) {
        faults.push(FieldFault { field: k.clone(), message: "unknown field".into() });
    }
}

fn object(body: &Value) -> Result<&serde_json::Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| ApiError::invalid_field("body", "must be a JSON object"))
}

/// Check an export-draft body (`layers`, optional `resultLocation` and `callback`); the drafts it names.
pub fn actions_request(body: &Value, allow_http: bool) -> Result<Vec<DraftId>, ApiError> {
    let b = object(body)?;
    let drafts = layers(body)?;
    let mut faults = Vec::new();
    unknown(b, &["layers", "resultLocation", "callback"], &mut faults);
    location(b.get("resultLocation"), "resultLocation", &["PUT", "POST"], allow_http, &mut faults);
    location(b.get("callback"), "callback", &["GET", "POST"], allow_http, &mut faults);
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok(drafts)
}

/// An apply-draft request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyRequest {
    /// The draft to apply.
    pub draft: DraftId,
    /// Apply the draft's values over conflicts.
    pub force: bool,
}

/// Check an apply-draft body (`layers` with one draft, `foldScheme` `distinct`, optional `force`,
/// `resultLocation` and `callback`).
pub fn apply_request(body: &Value, allow_http: bool) -> Result<ApplyRequest, ApiError> {
    let b = object(body)?;
    let drafts = layers(body)?;
    let mut faults = Vec::new();
    unknown(b, &["layers", "foldScheme", "force", "resultLocation", "callback"], &mut faults);
    if drafts.len() > 1 {
        faults.push(FieldFault {
            field: "layers".into(),
            message: "must name one draft: a dataset takes one draft at a time".into(),
        });
    }
    match b.get("foldScheme") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "distinct" => {}
        Some(_) => faults.push(FieldFault { field: "foldScheme".into(), message: "must be \"distinct\"".into() }),
    }
    let force = match b.get("force") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(f)) => *f,
        Some(_) => {
            faults.push(FieldFault { field: "force".into(), message: "must be true or false".into() });
            false
        }
    };
    location(b.get("resultLocation"), "resultLocation", &["PUT", "POST"], allow_http, &mut faults);
    location(b.get("callback"), "callback", &["GET", "POST"], allow_http, &mut faults);
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok(ApplyRequest { draft: drafts[0].clone(), force })
}

/// The overlay an export of `ds` reads through when its query names `draftId` (a draft of `ds` in
/// `org`): 404007 for an unknown draft or another tenant's, 400701 for a draft of another dataset; or
/// `asOf` (the dataset as it was then, from its item history; checked at `now`).
pub async fn export_overlay(
    store: &dyn Store,
    org: &OrgId,
    ds: &Dataset,
    params: &[(String, String)],
    now: i64,
) -> Result<Option<Arc<Overlay>>, ApiError> {
    if let Some(at) = crate::query::one(params, "asOf")? {
        if crate::query::one(params, "draftId")?.is_some() {
            return Err(ApiError::invalid_query(
                "asOf",
                "reads the dataset as it was; a draft is not, so leave out draftId",
            ));
        }
        let at = crate::data::history::as_of(store, ds, at, now).await?;
        return Ok(Some(Arc::new(crate::data::history::overlay_at(store, ds, at).await?)));
    }
    let Some(raw) = crate::query::one(params, "draftId")? else { return Ok(None) };
    let id = DraftId::parse(raw).ok_or_else(|| ApiError::invalid_query("draftId", "must be a draft's UUID"))?;
    let draft = find(store, org, &id).await?;
    if draft.dataset_id != ds.id {
        return Err(ApiError::invalid_query("draftId", "names a draft of another dataset"));
    }
    Ok(Some(Overlay::load(store, ds, &draft).await?))
}
