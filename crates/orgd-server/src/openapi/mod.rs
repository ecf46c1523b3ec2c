//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the route table, and the `/docs` page
//! that renders it with a bundled script (no CDN). Every operation carries its dialect's credential,
//! its path and query parameters, its request and success bodies (`contract`, over the named schemas of
//! `schemas`), and the dialect's error envelope for every 4xx and 5xx.

use crate::render::Dialect;
use crate::route_table::Endpoint;
use crate::routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use contract::{Answer, Contract};
use orgd_core::data::export::Format;
use serde_json::{json, Map, Value};

pub mod contract;
pub mod schemas;

/// `/openapi.json`, `/docs` and its script.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(document))
        .route("/docs", get(|| async { Html(include_str!("../../assets/docs.html")) }))
        .route(
            "/docs/docs.js",
            get(|| async {
                let headers = [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")];
                (headers, include_str!("../../assets/docs.js")).into_response()
            }),
        )
}

async fn document(State(state): State<AppState>) -> Response {
    let mut res = Json(build(&state.public_url)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("max-age=60"));
    res
}

/// The whole document for a server at `base_url`.
pub fn build(base_url: &str) -> Value {
    let mut paths = Map::new();
    let table = routes::api();
    for e in table.endpoints() {
        let item = paths.entry(e.path.clone()).or_insert_with(|| json!({}));
        item[e.method.as_str().to_ascii_lowercase()] = operation(e);
    }
    for s in SYSTEM {
        let item = paths.entry(s.path.to_string()).or_insert_with(|| json!({}));
        item[s.method.to_ascii_lowercase()] = system_operation(s);
    }
    let mut schemas = schemas::components();
    schemas["OpenApiDocument"] = json!({"type": "object", "required": ["openapi", "paths"]});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "orgd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Organizations, users, API tokens and datasets. Two dialects over one core: the \
                Orgvue-style dataset API below /api/v1 (Authorization: Bearer, errors {\"errors\":[…]}) and the \
                Apperian-style organizations API below /v1, /v2 and /v3 (X-TOKEN, errors {\"error\":{…}}).",
        },
        "servers": [{"url": base_url}],
        "tags": [
            {"name": "orgvue", "description": "Orgvue-style dataset API"},
            {"name": "apperian", "description": "Apperian-style organizations API"},
            {"name": "system", "description": "Health, readiness, metrics and presigned URLs"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "An API or session token; the Orgvue dialect's own header, taken by both."},
                "xToken": {"type": "apiKey", "in": "header", "name": "X-TOKEN",
                    "description": "An API or session token; the Apperian dialect's own header, taken by both."},
            },
            "schemas": schemas,
        },
    })
}

/// An endpoint outside both dialects (not token-authenticated).
struct SystemEndpoint {
    path: &'static str,
    method: &'static str,
    summary: &'static str,
    /// Success status, content type and schema (`None`: any body of that type).
    ok: (u16, &'static str, Option<&'static str>),
}

const JSON: &str = "application/json";

const SYSTEM: &[SystemEndpoint] = &[
    SystemEndpoint { path: "/healthz", method: "GET", summary: "The process answers", ok: (200, JSON, Some("Health")) },
    SystemEndpoint {
        path: "/readyz",
        method: "GET",
        summary: "The database answers",
        ok: (200, JSON, Some("Readiness")),
    },
    SystemEndpoint { path: "/metrics", method: "GET", summary: "Prometheus metrics", ok: (200, "text/plain", None) },
    SystemEndpoint {
        path: "/info",
        method: "GET",
        summary: "What this server is",
        ok: (200, JSON, Some("ServerInfo")),
    },
    SystemEndpoint {
        path: "/openapi.json",
        method: "GET",
        summary: "This document",
        ok: (200, JSON, Some("OpenApiDocument")),
    },
    SystemEndpoint {
        path: "/signed/v1/jobs/{jobId}",
        method: "GET",
        summary: "A job's ticket (presigned URL)",
        ok: (200, JSON, Some("JobTicket")),
    },
    SystemEndpoint {
        path: "/signed/v1/jobs/{jobId}/result",
        method: "GET",
        summary: "A job's result (presigned URL), in the job's format",
        ok: (200, "*/*", None),
    },
    SystemEndpoint {
        path: "/signed/v1/files/{fileId}",
        method: "GET",
        summary: "Download a temporary file (presigned URL): JSON, CSV, or gzip as uploaded",
        ok: (200, "*/*", None),
    },
    SystemEndpoint {
        path: "/signed/v1/files/{fileId}",
        method: "PUT",
        summary: "Upload a temporary file, once (presigned URL)",
        ok: (200, "", None),
    },
];

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = match name {
                "format" => json!({"type": "string", "enum": Format::NAMES}),
                "datasetId" | "itemId" | "jobId" | "fileId" => schemas::r("Uuid"),
                "psk" => json!({"type": "integer"}),
                _ => json!({"type": "string", "minLength": 1}),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

/// The dialect's error envelope for every 4xx and 5xx; 429 and 503 also carry `Retry-After`.
fn error_responses(dialect: Dialect) -> Value {
    let schema = match dialect {
        Dialect::Orgvue => "OrgvueErrors",
        Dialect::Apperian => "ApperianError",
    };
    let body = json!({"application/json": {"schema": schemas::r(schema)}});
    let retry = json!({"Retry-After": {"description": "Seconds to wait before trying again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"}}});
    json!({
        "429": {"description": "Throttled (42901) or the daily quota used up (42902)", "headers": retry, "content": body},
        "503": {"description": "The database is out of reach; try again", "headers": retry, "content": body},
        "4XX": {"description": "A client fault, named in the dialect's error envelope", "content": body},
        "5XX": {"description": "A server fault", "content": body},
    })
}

fn export_content() -> Value {
    json!({
        "application/json": {"schema": {"oneOf": [schemas::r("JsonRows"), schemas::r("JsonColumns"), schemas::r("JsonObjects")]}},
        "text/csv": {"schema": {"type": "string"}},
        "text/tab-separated-values": {"schema": {"type": "string"}},
    })
}

fn operation(e: &Endpoint) -> Value {
    let dialect = e.dialect.unwrap_or(Dialect::Orgvue);
    let c = contract::of(&e.method, &e.path).unwrap_or_else(|| Contract {
        body: None,
        status: 200,
        answer: Answer::Json("Scalar"),
        query: Vec::new(),
    });
    // Both dialects take a token in either header; each dialect's own header comes first.
    let security = match (dialect, e.path.ends_with("/users/authenticate")) {
        (_, true) => json!([]),
        (Dialect::Orgvue, _) => json!([{"bearer": []}, {"xToken": []}]),
        (Dialect::Apperian, _) => json!([{"xToken": []}, {"bearer": []}]),
    };
    let mut responses = error_responses(dialect);
    responses[c.status.to_string()] = match c.answer {
        Answer::Json(name) => json!({"description": e.summary, "content": {JSON: {"schema": schemas::r(name)}}}),
        Answer::Empty => json!({"description": format!("{}: done, no body", e.summary)}),
        Answer::Export => json!({"description": "The dataset in the format of the path", "content": export_content()}),
        Answer::Trail => json!({"description": e.summary, "content": {JSON: {"schema": schemas::r("EventPage")},
            "text/csv": {"schema": {"type": "string"}}}}),
    };
    let mut op = json!({
        "operationId": operation_id(e.method.as_str(), &e.path),
        "summary": e.summary,
        "tags": [dialect.name()],
        "security": security,
        "parameters": path_parameters(&e.path).into_iter().chain(c.query).collect::<Vec<_>>(),
        "responses": responses,
    });
    if let Some(body) = c.body {
        let mut content = Map::new();
        content.insert(JSON.into(), json!({"schema": schemas::r(body.schema)}));
        if body.multipart {
            content.insert(
                "multipart/form-data".into(),
                json!({"schema": {"type": "object", "minProperties": 1, "properties": {
                    "data": {"type": "string", "description": "The settings as JSON (OrganizationSettingsChange)"},
                    "push_cert_file": {"type": "string", "contentMediaType": "application/octet-stream",
                        "description": "A PKCS#12 push certificate in DER, at most 1 MiB"},
                }}}),
            );
        }
        op["requestBody"] = json!({"required": body.required, "content": content});
    }
    op
}

fn system_operation(s: &SystemEndpoint) -> Value {
    let presigned = s.path.starts_with("/signed/");
    let mut params = path_parameters(s.path);
    if presigned {
        for q in ["expires", "signature"] {
            params.push(json!({"name": q, "in": "query", "required": true, "schema": {"type": "string"}}));
        }
    }
    let mut responses = if presigned { error_responses(Dialect::Orgvue) } else { json!({}) };
    let (status, media, schema) = s.ok;
    responses[status.to_string()] = match (media, schema) {
        ("", _) => json!({"description": s.summary}),
        (media, Some(name)) => json!({"description": s.summary, "content": {media: {"schema": schemas::r(name)}}}),
        (media, None) => json!({"description": s.summary, "content": {media: {"schema": {}}}}),
    };
    if s.path == "/readyz" {
        responses["503"] = json!({"description": "The database does not answer",
            "content": {JSON: {"schema": schemas::r("Readiness")}}});
    }
    let mut op = json!({
        "operationId": operation_id(s.method, s.path),
        "summary": s.summary,
        "tags": ["system"],
        "security": [],
        "parameters": params,
        "responses": responses,
    });
    if s.method == "PUT" {
        op["requestBody"] = json!({"required": true, "content": {"application/octet-stream": {"schema": {}}}});
    }
    op
}

/// `getApiV1TenantIdDatasets`-style ids, unique per method and path.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

/// `schema` made standalone: the document's components travel with it, so its `$ref`s resolve.
pub fn standalone(doc: &Value, schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Some(obj) = s.as_object_mut() {
        obj.insert("components".into(), doc["components"].clone());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_operation_of_the_route_table_is_documented_once_with_its_contract() {
        let doc = build("https://orgd.test");
        let table = routes::api();
        let mut ids = std::collections::HashSet::new();
        for e in table.endpoints() {
            let c = contract::of(&e.method, &e.path);
            assert!(c.is_some(), "{} {} has no contract in openapi/contract.rs", e.method, e.path);
            let c = c.unwrap();
            let op = &doc["paths"][&e.path][e.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["summary"], e.summary, "{} {}", e.method, e.path);
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "unique id for {}", e.path);
            let braces = e.path.matches('{').count();
            let in_path = op["parameters"].as_array().unwrap().iter().filter(|p| p["in"] == "path").count();
            assert_eq!(in_path, braces, "{}", e.path);
            assert!(op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].is_string());
            let ok = &op["responses"][c.status.to_string()];
            assert!(ok.is_object(), "{} {} documents its {} answer", e.method, e.path, c.status);
            if c.answer != Answer::Empty {
                assert!(ok["content"].as_object().is_some_and(|m| !m.is_empty()), "{} {}", e.method, e.path);
            }
            assert_eq!(op.get("requestBody").is_some(), c.body.is_some(), "{} {}", e.method, e.path);
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn every_reference_resolves_and_every_schema_compiles() {
        let doc = build("https://orgd.test");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 100, "the document refers to its schemas: {}", found.len());
        for r in &found {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("local ref: {r}"));
            assert!(doc["components"]["schemas"][name].is_object(), "{r} resolves");
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            let schema = standalone(&doc, &schemas::r(name));
            assert!(jsonschema::draft202012::new(&schema).is_ok(), "{name} compiles");
        }
    }

    #[test]
    fn the_organization_schemas_follow_the_cores_key_lists() {
        let doc = build("https://orgd.test");
        let keys = |name: &str| -> Vec<String> {
            doc["components"]["schemas"][name]["properties"].as_object().unwrap().keys().cloned().collect()
        };
        let rendered: Vec<String> = orgd_core::org_object::KEYS.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys("Organization"), rendered, "every key the org object renders, in its order");
        let editable = keys("OrganizationSettingsChange");
        for k in orgd_core::org_update::EDITABLE {
            assert!(editable.contains(&k.to_string()), "{k} is editable, so the change schema documents it");
        }
        let reduced: Vec<&str> =
            orgd_core::org_object::KEYS.iter().filter(|(_, public)| *public).map(|(k, _)| *k).collect();
        assert_eq!(
            doc["components"]["schemas"]["Organization"]["required"],
            json!(reduced),
            "the reduced set is required"
        );
    }

    #[test]
    fn closed_schemas_refuse_what_they_do_not_list() {
        let doc = build("https://orgd.test");
        let check = |name: &str, v: Value| {
            jsonschema::draft202012::new(&standalone(&doc, &schemas::r(name))).unwrap().is_valid(&v)
        };
        let token = json!({"token_id": "abc", "user_psk": 1, "label": "ci", "starts_at": "2026-01-01T00:00:00.000Z",
            "ends_at": null, "subnets": [], "created_at": "2026-01-01T00:00:00.000Z", "last_used_at": null,
            "last_used_ip": null});
        assert!(check("Token", token.clone()));
        let mut with_secret = token.clone();
        with_secret["secret_hash"] = json!("00");
        assert!(!check("Token", with_secret), "a key the contract does not list");
        let mut missing = token;
        missing.as_object_mut().unwrap().remove("label");
        assert!(!check("Token", missing), "a key the contract requires");
        assert!(check(
            "OrgvueErrors",
            json!({"errors": [{"name": "X", "code": "400802", "message": "m", "path": "a"}]})
        ));
        assert!(!check("OrgvueErrors", json!({"errors": [{"name": "X", "code": 400802, "message": "m"}]})));
        assert!(!check("ApperianError", json!({"errors": [{"code": 40101, "message": "m"}]})));
    }
}
