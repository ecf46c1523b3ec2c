//! What each operation of the route table takes and answers: its request body, its success status and
//! body, and its query parameters. Keyed by method and *resource path* (the path below its dialect's
//! version and affiliated-org prefix), so `/v1/users`, `/v1/org/{org_id}/users` and `/users` share one
//! contract. A route without a contract here fails `openapi::tests`, so none can go undocumented.

use axum::http::Method;
use serde_json::{json, Value};

/// The success body of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A JSON body of this named schema.
    Json(&'static str),
    /// No body.
    Empty,
    /// A streamed export: JSON (`jsonRows`, `jsonColumns`, `jsonObjects`), CSV or TSV.
    Export,
    /// A page of the change history: JSON (`EventPage`) or, with `format=csv`, CSV.
    Trail,
}

/// The request body of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    /// The named schema of the JSON body.
    pub schema: &'static str,
    /// Whether the body must be sent.
    pub required: bool,
    /// Whether a `multipart/form-data` form (`data` + `push_cert_file`) is accepted too.
    pub multipart: bool,
}

/// What one operation takes and answers.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The request body, if the operation reads one.
    pub body: Option<Body>,
    /// The success status.
    pub status: u16,
    /// The success body.
    pub answer: Answer,
    /// The query parameters it reads (OpenAPI parameter objects).
    pub query: Vec<Value>,
}

/// The path of an operation below its dialect's prefix: `/api/v1`, `/v1/org/{org_id}`,
/// `/v2/org/{org_id}`, `/v1`, `/v2`, `/v3` (the unversioned aliases have none).
pub fn resource(path: &str) -> &str {
    for prefix in ["/api/v1", "/v1/org/{org_id}", "/v2/org/{org_id}", "/v1", "/v2", "/v3"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.starts_with('/') {
                return rest;
            }
        }
    }
    path
}

fn json(schema: &'static str, required: bool) -> Option<Body> {
    Some(Body { schema, required, multipart: false })
}

fn answer(status: u16, answer: Answer) -> Contract {
    Contract { body: None, status, answer, query: Vec::new() }
}

impl Contract {
    fn with_body(mut self, body: Option<Body>) -> Self {
        self.body = body;
        self
    }

    fn with_query(mut self, query: Vec<Value>) -> Self {
        self.query = query;
        self
    }
}

/// The contract of `method` on the route `path`, or `None` for an operation nobody has described.
pub fn of(method: &Method, path: &str) -> Option<Contract> {
    use Answer::{Empty, Export, Json, Trail};
    let m = method.as_str();
    let c = match (m, resource(path)) {
        // Orgvue dataset API.
        ("GET", "/tenants") => answer(200, Json("TenantList")),
        ("GET", "/{tenantId}/events") | ("GET", "/events") => answer(200, Trail).with_query(trail_parameters()),
        ("GET", "/{tenantId}/webhooks") | ("GET", "/webhooks") => answer(200, Json("WebhookList")),
        ("POST", "/{tenantId}/webhooks") | ("POST", "/webhooks") => {
            answer(201, Json("WebhookCreated")).with_body(json("NewWebhook", true))
        }
        ("GET", "/{tenantId}/webhooks/{webhookId}") | ("GET", "/webhooks/{webhookId}") => {
            answer(200, Json("WebhookEnvelope"))
        }
        ("DELETE", "/{tenantId}/webhooks/{webhookId}") | ("DELETE", "/webhooks/{webhookId}") => answer(204, Empty),
        ("GET", "/{tenantId}/webhooks/{webhookId}/deliveries") | ("GET", "/webhooks/{webhookId}/deliveries") => {
            answer(200, Json("DeliveryPage")).with_query(vec![
                query(
                    "state",
                    false,
                    json!({"type": "string", "enum": ["pending", "delivered", "failed"]}),
                    "only deliveries in this state",
                ),
                query("cursor", false, json!({"type": "string"}), "the nextCursor of the page before"),
                query(
                    "limit",
                    false,
                    json!({"type": "integer", "minimum": 1, "maximum": 1000}),
                    "deliveries per page (100)",
                ),
            ])
        }
        ("POST", "/{tenantId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver")
        | ("POST", "/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver") => answer(202, Json("DeliveryEnvelope")),
        ("GET", "/{tenantId}/datasets") => answer(200, Json("DatasetList")),
        ("POST", "/{tenantId}/datasets") => {
            answer(201, Json("DatasetMetadata")).with_body(json("DatasetDefinition", true))
        }
        ("GET", "/{tenantId}/datasets/{datasetId}") => answer(200, Json("DatasetMetadata")),
        ("DELETE", "/{tenantId}/datasets/{datasetId}") => answer(204, Empty),
        ("GET", "/{tenantId}/datasets/{datasetId}/permissions") => answer(200, Json("DatasetPermissions")),
        ("POST", "/{tenantId}/datasets/{datasetId}/views") => {
            answer(201, Json("DatasetMetadata")).with_body(json("NewView", true))
        }
        ("POST", "/{tenantId}/datasets/{datasetId}/properties") => {
            answer(201, Json("DatasetMetadata")).with_body(json("NewProperty", true))
        }
        ("PATCH", "/{tenantId}/datasets/{datasetId}/properties/{key}") => {
            answer(200, Json("PropertyChanged")).with_body(json("PropertyChange", true)).with_query(vec![
                query("dryRun", false, flag(), "check and report what a type change would do; change nothing"),
                query("force", false, flag(), "clear the values a type change cannot convert instead of refusing"),
            ])
        }
        ("DELETE", "/{tenantId}/datasets/{datasetId}/properties/{key}") => answer(200, Json("DatasetMetadata")),
        ("PUT", "/{tenantId}/datasets/{datasetId}/permissions") => {
            answer(200, Json("DatasetPermissions")).with_body(json("DatasetPermissionsChange", true))
        }
        ("GET", "/{tenantId}/datasets/{datasetId}/items") => answer(200, Json("RawItemList")),
        ("POST", "/{tenantId}/datasets/{datasetId}/items") => {
            answer(200, Json("RawItemList")).with_body(json("ItemsQuery", false))
        }
        ("PUT", "/{tenantId}/datasets/{datasetId}/items") => {
            answer(200, Json("ActionResults")).with_body(json("ItemActions", true)).with_query(import_parameters())
        }
        ("GET", "/{tenantId}/datasets/{datasetId}/items/{itemId}") => answer(200, Json("RawItem")),
        ("GET", "/{tenantId}/datasets/{datasetId}/items/{itemId}/history") => answer(200, Json("ItemHistory")),
        ("PUT", "/{tenantId}/datasets/{datasetId}/items/import") => {
            answer(202, Json("JobTicket")).with_body(json("AsyncImportRequest", true)).with_query(import_parameters())
        }
        ("POST", "/{tenantId}/datasets/{datasetId}/export") => answer(202, Json("JobTicket"))
            .with_body(json("AsyncExportRequest", false))
            .with_query(async_export_parameters()),
        ("POST", "/{tenantId}/files/generate") => answer(200, Json("FileTicket")).with_body(json("FileRequest", true)),
        ("GET", "/{tenantId}/jobs/{jobId}") => answer(200, Json("JobTicket")),
        ("GET", "/{tenantId}/datasets/{datasetId}/export/{format}") => {
            answer(200, Export).with_query(export_parameters())
        }
        ("POST", "/{tenantId}/datasets/{datasetId}/export/{format}") => {
            answer(200, Export).with_body(json("SyncExportQuery", false)).with_query(export_parameters())
        }
        ("GET", "/{tenantId}/drafts") => answer(200, Json("DraftList")).with_query(vec![query(
            "datasetId",
            false,
            json!({"type": "string", "format": "uuid"}),
            "only the drafts of this dataset",
        )]),
        ("POST", "/{tenantId}/drafts") => answer(201, Json("Draft")).with_body(json("NewDraft", true)),
        ("POST", "/{tenantId}/drafts/actions") => {
            answer(202, Json("JobTicket")).with_body(json("DraftActionsRequest", true))
        }
        ("GET", "/{tenantId}/drafts/{draftId}") => answer(200, Json("Draft")),
        ("DELETE", "/{tenantId}/drafts/{draftId}") => answer(204, Empty),
        ("PUT", "/{tenantId}/drafts/{draftId}/items") => {
            answer(200, Json("ActionResults")).with_body(json("ItemActions", true)).with_query(stage_parameters())
        }
        ("DELETE", "/{tenantId}/drafts/{draftId}/items") => answer(200, Json("Draft")),
        ("GET", "/{tenantId}/drafts/{draftId}/diff") => answer(200, Json("DraftDiff")),
        ("POST", "/{tenantId}/datasets/{datasetId}/drafts/apply") => {
            answer(202, Json("JobTicket")).with_body(json("DraftApplyRequest", true))
        }
        // Apperian organizations API.
        ("GET", "/tokens") => answer(200, Json("TokenList")).with_query(vec![query(
            "user_psk",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}),
            "another user's tokens (administrators)",
        )]),
        ("POST", "/tokens") => answer(200, Json("TokenCreated")).with_body(json("NewToken", true)),
        ("DELETE", "/tokens/{token_id}") => answer(200, Json("TokenRevoked")),
        ("GET", "/session") => answer(200, Json("Session")),
        ("PUT", "/session") => answer(200, Json("SessionExtended")),
        ("DELETE", "/session") => answer(200, Json("TokenRevoked")),
        ("GET", "/organizations") => answer(200, Json("OrgTreeNode")),
        ("POST", "/organizations") => answer(200, Json("ChildOrgCreated")).with_body(json("NewChildOrg", true)),
        ("GET", "/organizations/{org_id}") => answer(200, Json("OrganizationEnvelope")),
        ("DELETE", "/organizations/{org_id}") => answer(200, Json("OrgDeleted")).with_query(vec![query(
            "cascade",
            false,
            flag(),
            "delete the orgs below it too (else 409 while it has any)",
        )]),
        ("PUT", "/organizations/{org_id}") => answer(200, Json("OrganizationUpdated")).with_body(Some(Body {
            schema: "OrganizationSettingsChange",
            required: true,
            multipart: true,
        })),
        ("GET", "/users") => answer(200, Json("UserList")),
        ("POST", "/users") => answer(200, Json("UserCreated")).with_body(json("NewUser", true)),
        ("GET", "/users/{psk}") => answer(200, Json("UserEnvelope")),
        ("PUT", "/users/{psk}") => answer(200, Json("UserUpdated")).with_body(json("UserChange", true)),
        ("DELETE", "/users/{psk}") => answer(200, Json("UserDeleted")),
        ("GET", "/users/info") => answer(200, Json("UserEnvelope")),
        ("POST", "/users/authenticate") => answer(200, Json("SignedIn")).with_body(json("SignIn", true)),
        _ => return None,
    };
    Some(c)
}

fn query(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

/// The filters, cursor and format of the change history.
fn trail_parameters() -> Vec<Value> {
    let text = json!({"type": "string", "minLength": 1});
    let time = json!({"type": "string", "description": "YYYY-MM-DD or an RFC 3339 time"});
    vec![
        query("from", false, time.clone(), "events at or after this time"),
        query("to", false, time, "events before this time (later than from)"),
        query("actor", false, text.clone(), "events of this actor (user id, or the OS user of orgd admin)"),
        query("object", false, text.clone(), "events of this object (org, user, token or dataset id)"),
        query("kind", false, text.clone(), "events of this kind (user.updated), or of every kind of an object (user)"),
        query("traceId", false, text, "events of the request with this trace id (its x-amzn-trace-id)"),
        query("cursor", false, json!({"type": "string"}), "the nextCursor of the page before"),
        query("limit", false, json!({"type": "integer", "minimum": 1, "maximum": 1000}), "events per page (100)"),
        query("format", false, json!({"type": "string", "enum": ["json", "csv"]}), "json (default) or csv"),
    ]
}

fn flag() -> Value {
    json!({"type": "string", "enum": ["true", "false"]})
}

fn fail_or_skip() -> Value {
    json!({"type": "string", "enum": ["fail", "skip"]})
}

/// `lineEndings`, `safeCsv` and `generated`, read by every export.
fn output_parameters() -> Vec<Value> {
    vec![
        query("lineEndings", false, json!({"type": "string", "enum": ["windows", "unix"]}), "CRLF (default) or LF"),
        query("safeCsv", false, flag(), "CSV/TSV: a leading ' on text cells starting with = + - @ tab or CR"),
        query("generated", false, flag(), "add the generated hierarchy values"),
    ]
}

/// The output parameters, `draftId` and `asOf`, read by every export.
fn export_parameters() -> Vec<Value> {
    let mut v = output_parameters();
    v.push(query(
        "draftId",
        false,
        json!({"type": "string", "format": "uuid"}),
        "read the dataset as this draft of it would make it (orgd)",
    ));
    v.push(query(
        "asOf",
        false,
        json!({"type": "string", "description": "YYYY-MM-DD or an RFC 3339 time"}),
        "read the dataset as it was at this time, from its item history (orgd; not with draftId)",
    ));
    v
}

fn async_export_parameters() -> Vec<Value> {
    let formats = json!({"type": "string", "enum": orgd_core::data::export::Format::NAMES});
    let mut v = vec![query("exportFormat", true, formats, "the result's format")];
    v.extend(export_parameters());
    v
}

/// The options of a draft's staging: an import's, without `implicitDelete`.
fn stage_parameters() -> Vec<Value> {
    import_parameters().into_iter().filter(|q| q["name"] != "implicitDelete").collect()
}

/// The options of a sync or async import (repeated parameters are lists, never comma-split).
fn import_parameters() -> Vec<Value> {
    let text = || json!({"type": "string"});
    vec![
        query("autoId", false, flag(), "identify items by the dataset's autoId property"),
        query("idKey", false, json!({"type": "array", "items": {"type": "string"}}), "identify items by these keys"),
        query(
            "dateFormat",
            false,
            json!({"type": "string", "enum": ["YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY"]}),
            "the format of date values (ISO 8601 date-times are always accepted)",
        ),
        query("onActionValidationFailure", false, fail_or_skip(), "fail: all or nothing; skip: apply the rest"),
        query("onPropertyAccessDenied", false, fail_or_skip(), "a value of a property the caller may not read: fail the action (fail) or ignore the value and report it in _skippedProperties (skip)"),
        query("onItemAccessDenied", false, fail_or_skip(), "an action on an item the caller may not act on: fail (fail) or leave it out with _status skipped, not failing the import (skip)"),
        query("implicitDelete", false, flag(), "delete the items no action names"),
        query("noopToken", false, text(), "a value meaning 'leave unchanged'"),
        query("clearToken", false, text(), "a value meaning 'clear'"),
    ]
}
