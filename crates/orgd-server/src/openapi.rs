//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the route table, and the `/docs` page
//! that renders it with a bundled script (no CDN). Every operation carries its dialect's credential,
//! its path parameters, its request body types and the dialect's error envelope for every 4xx and 5xx.

use crate::render::Dialect;
use crate::routes::{self, Endpoint};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

/// `/openapi.json`, `/docs` and its script.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(document))
        .route("/docs", get(|| async { Html(include_str!("../assets/docs.html")) }))
        .route(
            "/docs/docs.js",
            get(|| async {
                let headers = [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")];
                (headers, include_str!("../assets/docs.js")).into_response()
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
        let item = paths.entry(openapi_path(&e.path)).or_insert_with(|| json!({}));
        item[e.method.as_str().to_ascii_lowercase()] = operation(e);
    }
    for (path, method, summary) in SYSTEM {
        let item = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        item[method.to_ascii_lowercase()] = system_operation(path, method, summary);
    }
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
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (Orgvue dialect)."},
                "xToken": {"type": "apiKey", "in": "header", "name": "X-TOKEN",
                    "description": "An API or session token (Apperian dialect)."},
            },
            "schemas": {
                "OrgvueErrors": {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {"errors": {"type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "required": ["name", "code", "message"],
                        "properties": {
                            "name": {"type": "string"},
                            "code": {"type": "string", "pattern": "^[0-9]{5,6}$"},
                            "message": {"type": "string"},
                        },
                    }}},
                },
                "ApperianError": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
                    }},
                },
            },
        },
    })
}

/// Endpoints outside both dialects (not token-authenticated).
const SYSTEM: &[(&str, &str, &str)] = &[
    ("/healthz", "GET", "The process answers"),
    ("/readyz", "GET", "The database answers"),
    ("/metrics", "GET", "Prometheus metrics"),
    ("/info", "GET", "What this server is"),
    ("/openapi.json", "GET", "This document"),
    ("/signed/v1/jobs/{jobId}", "GET", "A job's ticket (presigned URL)"),
    ("/signed/v1/jobs/{jobId}/result", "GET", "A job's result (presigned URL)"),
    ("/signed/v1/files/{fileId}", "GET", "Download a temporary file (presigned URL)"),
    ("/signed/v1/files/{fileId}", "PUT", "Upload a temporary file, once (presigned URL)"),
];

/// axum's `{name}` templates are OpenAPI's too; kept as a function so a change of syntax has one home.
fn openapi_path(path: &str) -> String {
    path.to_string()
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = match name {
                "format" => json!({"type": "string", "enum": ["json", "jsonRows", "csv"]}),
                _ => json!({"type": "string", "minLength": 1}),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

fn error_responses(dialect: Dialect) -> Value {
    let schema = match dialect {
        Dialect::Orgvue => "#/components/schemas/OrgvueErrors",
        Dialect::Apperian => "#/components/schemas/ApperianError",
    };
    let body = json!({"application/json": {"schema": {"$ref": schema}}});
    json!({
        "4XX": {"description": "A client fault, named in the dialect's error envelope", "content": body},
        "5XX": {"description": "A server fault or an outage (503 with Retry-After)", "content": body},
    })
}

fn operation(e: &Endpoint) -> Value {
    let dialect = Dialect::of_path(&e.path);
    let sign_in = e.path.ends_with("/users/authenticate");
    let security = match (dialect, sign_in) {
        (_, true) => json!([]),
        (Dialect::Orgvue, _) => json!([{"bearer": []}]),
        (Dialect::Apperian, _) => json!([{"xToken": []}]),
    };
    let mut responses = error_responses(dialect);
    if e.method == Method::DELETE && dialect == Dialect::Orgvue {
        responses["204"] = json!({"description": "Deleted; no body"});
    } else {
        responses["2XX"] = json!({"description": "Success", "content": success_content(e)});
    }
    let mut op = json!({
        "operationId": operation_id(e.method.as_str(), &e.path),
        "summary": e.summary,
        "tags": [dialect.name()],
        "security": security,
        "parameters": path_parameters(&e.path).into_iter().chain(query_parameters(e)).collect::<Vec<_>>(),
        "responses": responses,
    });
    if e.method == Method::POST || e.method == Method::PUT {
        op["requestBody"] = request_body(e);
    }
    op
}

/// The query parameters an operation reads (repeated parameters are lists, never comma-split).
fn query_parameters(e: &Endpoint) -> Vec<Value> {
    let q = |name: &str, required: bool, schema: Value, description: &str| json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description});
    let flag = || json!({"type": "string", "enum": ["true", "false"]});
    let text = || json!({"type": "string"});
    let output = || {
        vec![
            q("lineEndings", false, json!({"type": "string", "enum": ["windows", "unix"]}), "CRLF (default) or LF"),
            q("generated", false, flag(), "add the generated hierarchy values"),
        ]
    };
    let p = e.path.as_str();
    if e.method == Method::PUT && (p.ends_with("/items") || p.ends_with("/items/import")) {
        return vec![
            q("autoId", false, flag(), "identify items by the dataset's autoId property"),
            q("idKey", false, text(), "identify items by these keys (repeat the parameter)"),
            q("dateFormat", false, text(), "the format of date values (default ISO 8601)"),
            q(
                "onActionValidationFailure",
                false,
                json!({"type": "string", "enum": ["fail", "skip"]}),
                "fail: all or nothing",
            ),
            q("implicitDelete", false, flag(), "delete the items no action names"),
            q("noopToken", false, text(), "a value meaning 'leave unchanged'"),
            q("clearToken", false, text(), "a value meaning 'clear'"),
        ];
    }
    if p.ends_with("/export/{format}") {
        return output();
    }
    if p.ends_with("/export") {
        let formats = json!({"type": "string", "enum": ["jsonRows", "jsonColumns", "jsonObjects", "csv", "tsv"]});
        let mut v = vec![q("exportFormat", true, formats, "the result's format")];
        v.extend(output());
        return v;
    }
    if e.method == Method::GET && p.ends_with("/tokens") {
        return vec![q("user_psk", false, text(), "another user's tokens (administrators)")];
    }
    Vec::new()
}

fn success_content(e: &Endpoint) -> Value {
    if e.path.ends_with("/export/{format}") {
        return json!({
            "application/json": {"schema": {}},
            "text/csv": {"schema": {"type": "string"}},
        });
    }
    json!({"application/json": {"schema": {}}})
}

fn request_body(e: &Endpoint) -> Value {
    let json_body = json!({"schema": {"type": ["object", "array"]}});
    let mut content = Map::new();
    content.insert("application/json".into(), json_body);
    if e.path.starts_with("/v3/organizations/") && e.method == Method::PUT {
        content.insert(
            "multipart/form-data".into(),
            json!({"schema": {"type": "object", "properties": {
                "data": {"type": "string", "description": "The settings as JSON"},
                "push_cert_file": {"type": "string", "contentMediaType": "application/octet-stream"},
            }}}),
        );
    }
    let required = !e.path.ends_with("/items") || e.method == Method::PUT;
    json!({"required": required, "content": content})
}

fn system_operation(path: &str, method: &str, summary: &str) -> Value {
    let presigned = path.starts_with("/signed/");
    let mut params = path_parameters(path);
    if presigned {
        for q in ["expires", "signature"] {
            params.push(json!({"name": q, "in": "query", "required": true, "schema": {"type": "string"}}));
        }
    }
    let mut responses = if presigned { error_responses(Dialect::Orgvue) } else { json!({}) };
    responses["2XX"] = json!({"description": "Success"});
    let mut op = json!({
        "operationId": operation_id(method, path),
        "summary": summary,
        "tags": ["system"],
        "security": [],
        "parameters": params,
        "responses": responses,
    });
    if method == "PUT" {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_route_table_is_documented_once_with_its_parameters() {
        let doc = build("https://orgd.test");
        let table = routes::api();
        let mut ids = std::collections::HashSet::new();
        for e in table.endpoints() {
            let op = &doc["paths"][&e.path][e.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["summary"], e.summary, "{} {}", e.method, e.path);
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "unique id for {}", e.path);
            let braces = e.path.matches('{').count();
            let in_path = op["parameters"].as_array().unwrap().iter().filter(|p| p["in"] == "path").count();
            assert_eq!(in_path, braces, "{}", e.path);
            assert!(op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].is_string());
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
