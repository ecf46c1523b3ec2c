//! Validating async submissions (orgvue-dialect §3.7, §3.11, §7.3, §7.4): export plans with the async
//! projection rules, import sources, outbound locations and callbacks.

use super::export;
use super::ops::{filter_type, ExportPlan};
use super::{Dataset, DatasetType};
use crate::data::export::Format;
use crate::data::filter::Filter;
use crate::error::{ApiError, FieldFault};
use serde_json::{json, Map, Value};

fn fault(field: &str, message: &str) -> FieldFault {
    FieldFault { field: field.into(), message: message.into() }
}

/// An outbound location `{"method", "url"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// HTTP method.
    pub method: String,
    /// URL.
    pub url: String,
}

/// Check an outbound URL: https (http only when allowed), absolute, with a host.
pub fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        if !allow_http {
            return Err("must be an https URL".into());
        }
        r
    } else {
        return Err(if allow_http { "must be an http(s) URL" } else { "must be an https URL" }.into());
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(' ') {
        return Err("has no host".into());
    }
    Ok(())
}

/// Parse `{"method", "url"}` with the allowed methods.
pub fn location(
    v: Option<&Value>,
    field: &str,
    methods: &[&str],
    allow_http: bool,
    faults: &mut Vec<FieldFault>,
) -> Option<Location> {
    let v = v?;
    let Some(o) = v.as_object() else {
        faults.push(fault(field, "must be {\"method\", \"url\"}"));
        return None;
    };
    let method = o.get("method").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
    if !methods.contains(&method.as_str()) {
        faults.push(fault(&format!("{field}.method"), &format!("must be one of {}", methods.join(", "))));
    }
    let key = if field == "callback" { "urlTemplate" } else { "url" };
    for k in o.keys().filter(|k| *k != "method" && *k != key) {
        faults.push(fault(&format!("{field}.{k}"), "unknown field"));
    }
    let url = o.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    if let Err(why) = check_url(&url, allow_http) {
        faults.push(fault(&format!("{field}.{key}"), &why));
    }
    Some(Location { method, url })
}

/// The stored request of an async export, ready to re-plan when the job runs.
pub fn export_request(
    ds: &Dataset,
    params: &[(String, String)],
    body: Option<&Value>,
    allow_http: bool,
    links_of_tenant: &[Dataset],
) -> Result<Value, ApiError> {
    let Some(format) = crate::query::one(params, "exportFormat")?.map(String::from) else {
        return Err(ApiError::invalid_query("exportFormat", "is required"));
    };
    if Format::parse(&format).is_none() {
        return Err(ApiError::invalid_query("exportFormat", "must be jsonRows, jsonColumns, jsonObjects, csv or tsv"));
    }
    let body = body.cloned().unwrap_or(json!({}));
    let Some(b) = body.as_object() else { return Err(ApiError::invalid_field("body", "must be a JSON object")) };
    let mut faults = Vec::new();
    for k in b.keys() {
        if !["query", "linkingRelationships", "exportLocation", "callback"].contains(&k.as_str()) {
            faults.push(fault(k, "unknown field"));
        }
    }
    if let Err(e) = export::query_output(&body) {
        faults.extend(e);
    }
    location(b.get("exportLocation"), "exportLocation", &["PUT", "POST"], allow_http, &mut faults);
    location(b.get("callback"), "callback", &["GET", "POST"], allow_http, &mut faults);
    match b.get("linkingRelationships") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for (i, id) in a.iter().enumerate() {
                let ok = id
                    .as_str()
                    .and_then(crate::ids::DatasetId::parse)
                    .is_some_and(|id| links_of_tenant.iter().any(|d| d.id == id && d.ty == DatasetType::Links));
                if !ok {
                    faults.push(fault(
                        &format!("linkingRelationships[{i}]"),
                        "must be the id of a LINKS dataset of this tenant",
                    ));
                }
            }
        }
        Some(_) => faults.push(fault("linkingRelationships", "must be a list of LINKS dataset ids")),
    }
    let req = json!({"format": format, "params": params, "body": body});
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    plan_async_export(ds, &req)?;
    Ok(req)
}

/// Plan an async export from its stored request (async projection rules: `add`/`replace`, numeric order).
pub fn plan_async_export(ds: &Dataset, req: &Value) -> Result<ExportPlan, ApiError> {
    let format = Format::parse(req["format"].as_str().unwrap_or("")).expect("validated at submission");
    let params: Vec<(String, String)> = serde_json::from_value(req["params"].clone()).unwrap_or_default();
    let (text, generated) = super::ops::output_options(&params)?;
    let empty = Map::new();
    let output = export::query_output(&req["body"]).map_err(ApiError::invalid_fields)?.unwrap_or(&empty);
    let mut faults = Vec::new();
    let filter = match output.get("filter") {
        None | Some(Value::Null) => Filter::default(),
        Some(f) => Filter::parse(f, &|k| filter_type(ds, k, false), "query.output.filter").unwrap_or_else(|e| {
            faults.extend(e);
            Filter::default()
        }),
    };
    let replace = match output.get("projectionMode") {
        None | Some(Value::Null) => false,
        Some(Value::String(m)) if m == "add" => false,
        Some(Value::String(m)) if m == "replace" => true,
        Some(_) => {
            faults.push(fault("query.output.projectionMode", "must be add or replace"));
            false
        }
    };
    let columns = match output.get("projection") {
        None | Some(Value::Null) if !replace => export::default_columns(ds, generated),
        None | Some(Value::Null) => Vec::new(),
        Some(p) => export::project(ds, p, "query.output.projection", false, replace, generated).unwrap_or_else(|e| {
            faults.extend(e);
            Vec::new()
        }),
    };
    for k in output.keys() {
        if !["filter", "projection", "projectionMode"].contains(&k.as_str()) {
            faults.push(fault(&format!("query.output.{k}"), "unknown field"));
        }
    }
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok(ExportPlan::new(ds, format, columns, filter, text))
}

/// Check a `files/generate` body: its `targetType` and `targetEncoding`, nothing else.
pub fn file_request(body: &Value) -> Result<(String, String), ApiError> {
    let Some(b) = body.as_object() else { return Err(ApiError::invalid_field("body", "must be a JSON object")) };
    let mut faults = Vec::new();
    let mut field = |k: &str, allowed: &[&str]| match b.get(k).and_then(Value::as_str) {
        Some(x) if allowed.contains(&x) => x.to_string(),
        _ => {
            faults.push(fault(k, &format!("is required: one of {}", allowed.join(", "))));
            String::new()
        }
    };
    let target_type = field("targetType", &["json", "csv"]);
    let target_encoding = field("targetEncoding", &["identity", "gzip"]);
    for k in b.keys().filter(|k| *k != "targetType" && *k != "targetEncoding") {
        faults.push(fault(k, "unknown field"));
    }
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok((target_type, target_encoding))
}

/// Check an async import body; returns the stored request.
pub fn import_request(
    params: &[(String, String)],
    body: &Value,
    allow_http: bool,
    own_files_prefix: &str,
) -> Result<Value, ApiError> {
    let Some(b) = body.as_object() else { return Err(ApiError::invalid_field("body", "must be a JSON object")) };
    let mut faults = Vec::new();
    for k in b.keys() {
        if !["importLocation", "resultLocation", "callback"].contains(&k.as_str()) {
            faults.push(fault(k, "unknown field"));
        }
    }
    if b.get("importLocation").is_none() {
        faults.push(fault(
            "importLocation",
            "is required: {\"method\": \"GET\", \"url\": \"…\"} (a files/generate GET URL or an https URL)",
        ));
    }
    let own = b
        .get("importLocation")
        .and_then(|l| l.get("url"))
        .and_then(Value::as_str)
        .is_some_and(|u| u.starts_with(own_files_prefix));
    location(b.get("importLocation"), "importLocation", &["GET"], allow_http || own, &mut faults);
    location(b.get("resultLocation"), "resultLocation", &["PUT", "POST"], allow_http, &mut faults);
    location(b.get("callback"), "callback", &["GET", "POST"], allow_http, &mut faults);
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok(json!({"params": params, "body": body}))
}

/// Fill a callback URL template (`{{jobStatus}}`, `{{traceId}}`, `{{tenantId}}`, `{{jobId}}`, URL-encoded).
pub fn callback_url(template: &str, status: &str, trace: &str, tenant: &str, job: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    template
        .replace("{{jobStatus}}", &enc(status))
        .replace("{{traceId}}", &enc(trace))
        .replace("{{tenantId}}", &enc(tenant))
        .replace("{{jobId}}", &enc(job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_templates() {
        assert!(check_url("https://client.example/cb", false).is_ok());
        assert!(check_url("http://127.0.0.1:9/cb", false).is_err());
        assert!(check_url("http://127.0.0.1:9/cb", true).is_ok());
        assert!(check_url("ftp://x", true).is_err());
        assert!(check_url("https:///x", false).is_err());
        assert_eq!(
            callback_url(
                "https://c/cb?s={{jobStatus}}&t={{traceId}}&n={{tenantId}}",
                "completed",
                "Root=1-a-b",
                "ACME",
                "J"
            ),
            "https://c/cb?s=completed&t=Root%3D1-a-b&n=ACME"
        );
    }

    fn fields(e: ApiError) -> Vec<String> {
        e.faults.iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn file_requests_name_every_fault_and_refuse_unknown_keys() {
        let ok = file_request(&json!({"targetType": "csv", "targetEncoding": "gzip"})).unwrap();
        assert_eq!(ok, ("csv".to_string(), "gzip".to_string()));
        let e = file_request(&json!({"targetType": "xml", "extra": 1})).unwrap_err();
        assert_eq!(fields(e), ["targetType", "targetEncoding", "extra"]);
        assert!(file_request(&json!([])).is_err());
    }

    #[test]
    fn unknown_keys_in_query_and_locations_are_faults() {
        let body = json!({"query": {"output": {}, "extra": 1}});
        let faults = export::query_output(&body).unwrap_err();
        assert_eq!(faults.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["query.extra"]);
        let body = json!({"query": {"output": "everything"}});
        let faults = export::query_output(&body).unwrap_err();
        assert_eq!(
            faults.iter().map(|f| (f.field.as_str(), f.message.as_str())).collect::<Vec<_>>(),
            [("query.output", "must be an object")]
        );
        assert_eq!(export::query_output(&json!({"query": []})).unwrap_err()[0].field, "query");
        assert_eq!(export::query_output(&json!({"query": {"output": null}})).unwrap(), None);
        let mut faults = Vec::new();
        let v = json!({"method": "PUT", "url": "https://client.example/r", "headers": {}});
        location(Some(&v), "exportLocation", &["PUT"], false, &mut faults);
        assert_eq!(faults.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["exportLocation.headers"]);
    }
}
