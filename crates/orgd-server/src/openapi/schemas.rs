//! The named JSON Schemas of the OpenAPI document (`components.schemas`): every request body and every
//! response body of both dialects, as the wire contracts describe them (`docs/contract/`). Objects the
//! server writes list every key it may write and no other (`additionalProperties: false`), so a key
//! added to a response without its schema fails the contract run; request bodies refuse unknown keys
//! where the server does.

use orgd_core::org_object;
use orgd_core::org_update::RULE_KEYS;
use serde_json::{json, Map, Value};

/// A reference to a named schema.
pub fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn integer() -> Value {
    json!({"type": "integer"})
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// A closed object: exactly these properties may appear, `required` must.
fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties, "additionalProperties": false})
}

/// `schema` with extra rules that must hold too (`allOf`).
fn with_rules(mut schema: Value, rules: Value) -> Value {
    schema["allOf"] = rules;
    schema
}

/// The keys of a webhook subscription on the wire.
const WEBHOOK_KEYS: [&str; 10] = [
    "webhookId",
    "url",
    "events",
    "includeDescendants",
    "description",
    "status",
    "consecutiveFailures",
    "lastAttemptAt",
    "createdAt",
    "createdBy",
];

fn webhook_properties(with_secret: bool) -> Value {
    let mut p = json!({"webhookId": string(), "url": string(), "events": strings(), "includeDescendants": boolean(),
        "description": string(), "status": {"type": "string", "enum": ["active", "failing"]},
        "consecutiveFailures": integer(), "lastAttemptAt": nullable(r("Timestamp")), "createdAt": r("Timestamp"),
        "createdBy": string()});
    if with_secret {
        p["secret"] = json!({"type": "string", "description": "whsec_…: the signing secret, shown only here"});
    }
    p
}

/// Every component schema, by name.
pub fn components() -> Value {
    let mut all = Map::new();
    for (name, schema) in common().into_iter().chain(orgvue()).chain(apperian()).chain(system()) {
        assert!(all.insert(name.to_string(), schema).is_none(), "schema {name} is defined twice");
    }
    Value::Object(all)
}

fn common() -> Vec<(&'static str, Value)> {
    vec![
        ("Timestamp", json!({"type": "string", "format": "date-time", "description": "RFC 3339, UTC, milliseconds"})),
        (
            "Uuid",
            json!({"type": "string", "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
                "description": "8-4-4-4-12 hex; emitted upper-case, accepted in any case"}),
        ),
        ("Scalar", json!({"type": ["string", "number", "boolean", "null"]})),
        (
            "Cidr",
            json!({"description": "An IPv4 or IPv6 address or CIDR range, e.g. 203.0.113.0/24", "anyOf": [
                {"type": "string", "format": "ipv4"},
                {"type": "string", "format": "ipv6"},
                {"type": "string", "pattern": "^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])/(3[0-2]|[12]?[0-9])$"},
                {"type": "string", "pattern": "^[0-9A-Fa-f:.]+/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$"},
            ]}),
        ),
        (
            "DateInput",
            json!({"description": "YYYY-MM-DD (midnight UTC) or an RFC 3339 date-time", "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ]}),
        ),
    ]
}

fn orgvue() -> Vec<(&'static str, Value)> {
    let link = |method: &str| {
        object(
            &["url", "method", "type"],
            json!({"url": {"type": "string", "format": "uri"}, "method": {"const": method},
                "type": {"const": "application/json; charset=UTF-8"}}),
        )
    };
    let download_link = object(
        &["url", "contentType", "type"],
        json!({"url": {"type": "string", "format": "uri"}, "contentType": string(), "type": {"const": "downloadLink"}}),
    );
    let header = object(
        &["key", "name", "type"],
        json!({"key": string(), "name": string(), "type": {"enum": ["text", "number", "date", "boolean"]}}),
    );
    let location = |methods: &[&str]| {
        let url = json!({"type": "string", "format": "uri", "pattern": "^https?://[^/?#\\s]+",
            "description": "An https URL (http only with --outbound-allow-http)"});
        object(&["method", "url"], json!({"method": {"enum": methods}, "url": url}))
    };
    let operand = json!({"oneOf": [
        r("Scalar"),
        {"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
            "$gt": r("Scalar"), "$gte": r("Scalar"), "$lt": r("Scalar"), "$lte": r("Scalar"), "$ne": r("Scalar"),
            "$in": {"type": "array", "maxItems": 10000, "items": r("Scalar")},
            "$nin": {"type": "array", "maxItems": 10000, "items": r("Scalar")},
        }},
    ]});
    vec![
        ("DatasetType", json!({"enum": ["PEOPLE", "POSITIONS", "ROLES", "ACTIVITIES", "LOOKUP", "LINKS"]})),
        ("PropertyType", json!({"enum": ["text", "number", "date", "boolean"]})),
        ("OrgvueError", error_item()),
        (
            "OrgvueErrors",
            object(&["errors"], json!({"errors": {"type": "array", "minItems": 1, "items": r("OrgvueError")}})),
        ),
        (
            "Tenant",
            object(
                &["tenantId", "name", "orgId", "parentTenantId"],
                json!({"tenantId": string(), "name": string(), "orgId": string(), "parentTenantId": nullable(string())}),
            ),
        ),
        ("TenantList", json!({"type": "array", "items": r("Tenant")})),
        (
            "DatasetLinks",
            object(
                &["dataset:retrieve", "dataset:export"],
                json!({"dataset:retrieve": link("GET"), "dataset:export": link("POST")}),
            ),
        ),
        (
            "DatasetSummary",
            object(
                &["isPermissionedView", "datasetId", "name", "type", "_links"],
                json!({"isPermissionedView": boolean(), "datasetId": r("Uuid"), "name": string(),
                    "type": r("DatasetType"), "_links": r("DatasetLinks")}),
            ),
        ),
        ("DatasetList", json!({"type": "array", "items": r("DatasetSummary")})),
        (
            "PropertyDefinition",
            object(
                &["key", "type"],
                json!({"key": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^_]"},
                    "type": r("PropertyType"), "name": {"type": "string", "maxLength": 255}, "isRequired": boolean()}),
            ),
        ),
        (
            "DatasetDefinition",
            with_rules(
                object(
                    &["name", "type", "properties"],
                    json!({
                        "name": {"type": "string", "minLength": 1, "maxLength": 255},
                        "type": r("DatasetType"),
                        "autoId": string(), "labelId": string(), "treeId": string(), "treeParentId": string(),
                        "tags": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 100}},
                        "properties": {"type": "array", "maxItems": 1000, "items": r("PropertyDefinition")},
                        "fromDatasetId": r("Uuid"), "toDatasetId": r("Uuid"),
                    }),
                ),
                json!([{
                    "if": {"properties": {"type": {"const": "LINKS"}}},
                    "then": {"required": ["fromDatasetId", "toDatasetId"],
                        "not": {"anyOf": [{"required": ["autoId"]}, {"required": ["labelId"]}, {"required": ["treeId"]}]}},
                    "else": {"required": ["autoId", "labelId"]},
                }]),
            ),
        ),
        (
            "PropertyMetadata",
            object(
                &["key", "type", "name", "isRequired"],
                json!({"key": string(), "type": r("PropertyType"), "name": string(), "isRequired": boolean(),
                    "isAutoId": {"const": true}, "isLabelId": {"const": true}, "isTreeId": {"const": true},
                    "isTreeParentId": {"const": true}, "isCore": {"const": true}, "isReadOnly": {"const": true}}),
            ),
        ),
        (
            "DatasetMetadata",
            object(
                &[
                    "datasetId",
                    "name",
                    "type",
                    "tags",
                    "isPermissionedView",
                    "properties",
                    "cacheKey",
                    "itemCount",
                    "createdAt",
                    "modifiedAt",
                    "_links",
                ],
                json!({
                    "datasetId": r("Uuid"), "name": string(), "type": r("DatasetType"),
                    "autoId": string(), "labelId": string(), "treeId": string(), "treeParentId": string(),
                    "fromDatasetId": r("Uuid"), "toDatasetId": r("Uuid"),
                    "tags": strings(), "isPermissionedView": boolean(),
                    "view": object(&["datasetId", "projection", "filter"], json!({"datasetId": r("Uuid"),
                        "projection": strings(), "filter": r("Filter")})),
                    "properties": {"type": "array", "items": r("PropertyMetadata")},
                    "cacheKey": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                    "itemCount": {"type": "integer", "minimum": 0},
                    "createdAt": r("Timestamp"), "modifiedAt": r("Timestamp"), "_links": r("DatasetLinks"),
                }),
            ),
        ),
        (
            "RawItem",
            json!({"type": "object", "required": ["_id"], "properties": {"_id": r("Uuid")},
                "additionalProperties": r("Scalar"),
                "description": "The item's saved values: `_id` and every property that holds a value"}),
        ),
        ("RawItemList", json!({"type": "array", "items": r("RawItem")})),
        (
            "Filter",
            json!({"type": "object", "additionalProperties": operand,
                "description": "A MongoDB subset: key: scalar (equality) or key: {$gt|$gte|$lt|$lte|$ne: scalar, $in|$nin: [scalar]}"}),
        ),
        ("ItemsQuery", object(&[], json!({"filter": nullable(r("Filter"))}))),
        (
            "ItemAction",
            json!({"type": "object", "required": ["_action"],
                "properties": {
                    "_action": {"enum": ["create", "update", "replace", "delete", "noop", "createOrUpdate", "createOrReplace"]},
                    "_id": r("Uuid"),
                },
                "additionalProperties": r("Scalar"),
                "description": "The action and the item's property values, identified by `_id`, the autoId value or the idKey values"}),
        ),
        ("ItemActions", json!({"type": "array", "items": r("ItemAction")})),
        (
            "ActionResult",
            object(
                &["_action", "_status"],
                json!({"_id": r("Uuid"), "_action": string(), "_status": {"enum": ["success", "failed", "skipped"]},
                    "errors": {"type": "array", "items": r("OrgvueError")}, "_implicit": {"const": true},
                    "_skippedProperties": strings()}),
            ),
        ),
        ("ActionResults", json!({"type": "array", "items": r("ActionResult")})),
        (
            "SyncExportQuery",
            object(
                &[],
                json!({"query": nullable(object(&[], json!({"output": nullable(object(&[], json!({
                    "filter": nullable(r("Filter")),
                    "projection": nullable(json!({"type": "object", "additionalProperties": {"const": 1}})),
                })))})))}),
            ),
        ),
        (
            "AsyncExportRequest",
            object(
                &[],
                json!({
                    "query": nullable(object(&[], json!({"output": nullable(object(&[], json!({
                        "filter": nullable(r("Filter")),
                        "projection": nullable(json!({"type": "object",
                            "additionalProperties": {"type": "integer", "minimum": 0}})),
                        "projectionMode": {"enum": ["add", "replace", null], "description": "null or absent: add"},
                    })))}))),
                    "linkingRelationships": nullable(json!({"type": "array", "items": r("Uuid")})),
                    "exportLocation": location(&["PUT", "POST"]),
                    "callback": r("Callback"),
                }),
            ),
        ),
        (
            "Callback",
            object(
                &["method", "urlTemplate"],
                json!({"method": {"enum": ["GET", "POST"]}, "urlTemplate": {"type": "string", "pattern": "^https?://[^/?#\\s]+",
                    "description": "An https URL (http only with --outbound-allow-http); {{jobStatus}}, {{traceId}}, {{tenantId}} and {{jobId}} are replaced"}}),
            ),
        ),
        (
            "AsyncImportRequest",
            object(
                &["importLocation"],
                json!({"importLocation": location(&["GET"]), "resultLocation": location(&["PUT", "POST"]),
                    "callback": r("Callback")}),
            ),
        ),
        (
            "FileRequest",
            object(
                &["targetType", "targetEncoding"],
                json!({"targetType": {"enum": ["json", "csv"]}, "targetEncoding": {"enum": ["identity", "gzip"]}}),
            ),
        ),
        (
            "FileTicket",
            object(
                &["fileId", "targetType", "targetEncoding", "expiresAt", "_links"],
                json!({"fileId": r("Uuid"), "targetType": {"enum": ["json", "csv"]},
                "targetEncoding": {"enum": ["identity", "gzip"]}, "expiresAt": r("Timestamp"),
                "_links": object(&["put", "get"], json!({
                    "put": object(&["url", "method"], json!({"url": {"type": "string", "format": "uri"}, "method": {"const": "PUT"}})),
                    "get": object(&["url", "method"], json!({"url": {"type": "string", "format": "uri"}, "method": {"const": "GET"}})),
                }))}),
            ),
        ),
        (
            "JobTicket",
            object(
                &["jobId", "jobStatus", "_createdAt", "_modifiedAt", "_createdBy", "X-Amzn-Trace-Id", "_links"],
                json!({"jobId": r("Uuid"), "jobStatus": {"enum": ["created", "running", "completed", "failed"]},
                    "_createdAt": r("Timestamp"), "_modifiedAt": r("Timestamp"), "_createdBy": string(),
                    "X-Amzn-Trace-Id": string(),
                    "errors": {"type": "array", "maxItems": 1000, "items": r("OrgvueError")},
                    "errorCount": {"type": "integer", "minimum": 0},
                    "_links": object(&["self"], json!({"self": download_link, "result": download_link}))}),
            ),
        ),
        (
            "DatasetPermissions",
            object(
                &["roles", "users", "properties"],
                json!({"roles": object(&["administrator", "user_manager", "user"], json!({
                        "administrator": {"const": "manage"}, "user_manager": r("DatasetLevel"), "user": r("DatasetLevel")})),
                    "users": {"type": "object", "additionalProperties": r("DatasetLevel")},
                    "properties": {"type": "object", "additionalProperties": r("PropertyReaders")},
                    "rows": r("RowRules")}),
            ),
        ),
        (
            "DatasetPermissionsChange",
            object(
                &[],
                json!({"roles": object(&[], json!({
                        "administrator": {"const": "manage"}, "user_manager": r("DatasetLevel"), "user": r("DatasetLevel")})),
                    "users": {"type": "object", "additionalProperties": r("DatasetLevel")},
                    "properties": {"type": "object", "additionalProperties": r("PropertyReaders")},
                    "rows": r("RowRules")}),
            ),
        ),
        (
            "NewView",
            object(
                &["name"],
                json!({"name": {"type": "string", "minLength": 1, "maxLength": 255},
                    "projection": {"type": "array", "items": string(), "uniqueItems": true},
                    "filter": r("Filter"), "permissions": r("DatasetPermissionsChange")}),
            ),
        ),
        ("RowRules", {
            let mut rules = object(
                &[],
                json!({"roles": object(&[], json!({"user_manager": r("Filter"), "user": r("Filter")})),
                        "users": {"type": "object", "additionalProperties": r("Filter")}}),
            );
            rules["description"] = json!(
                "Per role or user below manage: the items it may see and act on, a filter \
                    whose string operands may be $user.user_id, $user.email or $user.custom_metadata.<field>"
            );
            rules
        }),
        (
            "PropertyReaders",
            object(
                &[],
                json!({"roles": {"type": "array", "items": {"enum": ["administrator", "user_manager", "user"]}},
                    "users": strings()}),
            ),
        ),
        (
            "NewProperty",
            object(
                &["key", "type"],
                json!({"key": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^_]"},
                    "type": {"enum": ["text", "number", "date", "boolean"]},
                    "name": {"type": "string", "maxLength": 255}, "isRequired": boolean()}),
            ),
        ),
        (
            "PropertyChange",
            object(
                &[],
                json!({"name": {"type": "string", "minLength": 1, "maxLength": 255}, "isRequired": boolean(),
                    "type": {"enum": ["text", "number", "date", "boolean"]}}),
            ),
        ),
        (
            "PropertyChanged",
            json!({"anyOf": [r("DatasetMetadata"), object(&["property"], json!({"property": string(),
                "metadata": r("DatasetMetadata"), "from": string(), "to": string(),
                "unconvertible": {"type": "integer", "minimum": 0}, "listed": {"type": "integer", "minimum": 0},
                "items": {"type": "array", "items": {"type": "object"}}}))]}),
        ),
        ("DatasetLevel", json!({"enum": ["none", "read", "update", "modify", "manage"]})),
        (
            "NewDraft",
            object(
                &["name", "datasetId"],
                json!({"name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
                    "datasetId": r("Uuid")}),
            ),
        ),
        (
            "Draft",
            object(
                &["draftId", "name", "datasetId", "layers", "counts", "_createdBy", "_createdAt", "_modifiedAt"],
                json!({"draftId": r("Uuid"), "name": string(), "datasetId": r("Uuid"),
                    "layers": {"type": "array", "items": object(&["layerKey"], json!({"layerKey": {"const": "default"}}))},
                    "counts": object(&["added", "updated", "removed"], json!({
                        "added": {"type": "integer", "minimum": 0}, "updated": {"type": "integer", "minimum": 0},
                        "removed": {"type": "integer", "minimum": 0}})),
                    "_createdBy": string(), "_createdAt": r("Timestamp"), "_modifiedAt": r("Timestamp")}),
            ),
        ),
        ("DraftList", json!({"type": "array", "items": r("Draft")})),
        (
            "DraftChange",
            object(
                &["_id", "change", "key", "label", "properties"],
                json!({"_id": r("Uuid"), "change": {"enum": ["added", "updated", "removed"]},
                    "key": nullable(json!({"type": "object", "additionalProperties": nullable(r("Scalar"))})),
                    "label": nullable(r("Scalar")), "baselineMissing": {"const": true},
                    "properties": {"type": "array", "items": object(&["key", "baseline", "draft"], json!({
                        "key": string(), "baseline": nullable(r("Scalar")), "draft": nullable(r("Scalar"))}))}}),
            ),
        ),
        (
            "DraftDiff",
            object(
                &["draftId", "datasetId", "counts", "changes"],
                json!({"draftId": r("Uuid"), "datasetId": r("Uuid"),
                    "counts": object(&["added", "updated", "removed"], json!({
                        "added": {"type": "integer"}, "updated": {"type": "integer"}, "removed": {"type": "integer"}})),
                    "changes": {"type": "array", "items": r("DraftChange")}}),
            ),
        ),
        ("DraftLayer", object(&["draftId"], json!({"draftId": r("Uuid"), "layerKey": {"const": "default"}}))),
        (
            "DraftActionsRequest",
            object(
                &["layers"],
                json!({"layers": {"type": "array", "minItems": 1, "uniqueItems": true, "items": r("DraftLayer")},
                    "resultLocation": location(&["PUT", "POST"]), "callback": r("Callback")}),
            ),
        ),
        (
            "DraftApplyRequest",
            object(
                &["layers"],
                json!({"layers": {"type": "array", "minItems": 1, "maxItems": 1, "items": r("DraftLayer")},
                    "foldScheme": {"enum": ["distinct", null]}, "force": nullable(boolean()),
                    "resultLocation": location(&["PUT", "POST"]), "callback": r("Callback")}),
            ),
        ),
        ("ExportHeader", header),
        (
            "JsonRows",
            object(
                &["headers", "rows"],
                json!({"headers": {"type": "array", "items": r("ExportHeader")},
                    "rows": {"type": "array", "items": {"type": "array", "items": r("Scalar")}}}),
            ),
        ),
        (
            "JsonColumns",
            object(
                &["headers", "columns"],
                json!({"headers": {"type": "array", "items": r("ExportHeader")},
                    "columns": {"type": "array", "items": {"type": "array", "items": r("Scalar")}}}),
            ),
        ),
        ("JsonObjects", json!({"type": "array", "items": {"type": "object", "additionalProperties": r("Scalar")}})),
    ]
}

/// One Orgvue error object: `name`, `code`, `message` and its context fields.
fn error_item() -> Value {
    json!({
        "type": "object",
        "required": ["name", "code", "message"],
        "properties": {
            "name": string(),
            "code": {"type": "string", "pattern": "^[0-9]{5,6}$"},
            "message": string(),
            "pathParameter": string(), "queryParameter": string(), "path": string(),
            "actionIndex": {"type": "integer", "minimum": 0}, "reason": string(), "traceId": string(), "url": string(),
        },
        "additionalProperties": true,
    })
}

fn apperian() -> Vec<(&'static str, Value)> {
    let mut rules = Map::new();
    for k in RULE_KEYS {
        let schema = match *k {
            "account_lockout_permanent_lockout" => boolean(),
            _ => json!({"type": "integer", "minimum": 0, "maximum": 2147483647}),
        };
        rules.insert(k.to_string(), schema);
    }
    let email = json!({"type": "string", "maxLength": 254, "description": "\"\" or local@domain.tld"});
    let minutes = json!({"type": "integer", "minimum": 1, "maximum": 525600});
    let user_props = json!({
        "psk": integer(), "id": string(), "user_id": string(), "org_id": string(),
        "first_name": string(), "last_name": string(), "email": string(), "mobile_phone": nullable(string()),
        "role": r("Role"), "disabled": boolean(), "until_date": nullable(r("Timestamp")), "token_access": boolean(),
        "allowed_subnets": strings(), "locked": boolean(), "custom_metadata": {"type": "object"},
        "created_date": r("Timestamp"), "modified_date": r("Timestamp"), "last_login_date": nullable(r("Timestamp")),
        "deleted": boolean(), "disabled_reason": nullable(string()), "last_login_from_catalog": {"type": "null"},
    });
    let user_keys: Vec<String> = user_props.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let user_keys: Vec<&str> = user_keys.iter().map(String::as_str).collect();
    let writable = json!({
        "user_id": {"type": "string", "minLength": 1}, "password": string(), "first_name": string(),
        "last_name": string(), "email": string(), "role": r("Role"), "phone": nullable(string()), "disabled": boolean(),
        "until_date": nullable(r("DateInput")), "token_access": boolean(),
        "allowed_subnets": {"type": "array", "items": r("Cidr")}, "custom_metadata": {"type": "object"},
        "send_invite": boolean(),
    });
    // Every role sees the reduced set of the org object, so those keys are always there.
    let reduced_org_keys: Vec<&str> = org_object::KEYS.iter().filter(|(_, public)| *public).map(|(k, _)| *k).collect();
    let mut change = writable.as_object().cloned().unwrap_or_default();
    change.remove("user_id");
    change.insert("current_password".into(), string());
    change.insert("locked".into(), json!({"const": false, "description": "false unlocks; nothing else is accepted"}));
    vec![
        ("Role", json!({"enum": ["administrator", "user_manager", "user"]})),
        (
            "ApperianError",
            object(
                &["error"],
                json!({"error": object(&["code", "message"], json!({
                    "code": {"type": "integer"},
                    "message": string(),
                    "details": {"type": "array", "items": r("FieldMessage")},
                }))}),
            ),
        ),
        ("FieldMessage", object(&["field", "message"], json!({"field": string(), "message": string()}))),
        ("PasswordRules", object(RULE_KEYS, Value::Object(rules.clone()))),
        ("PasswordRulesChange", json!({"type": "object", "properties": rules, "additionalProperties": true})),
        (
            "MetadataTemplate",
            json!({"type": "object", "maxProperties": 200,
            "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
            "additionalProperties": {"type": "object", "required": ["type"], "properties": {
                "default": {"type": ["string", "boolean"], "description": "fits the type: a checkbox takes true or false"},
                "label": string(),
                "type": {"enum": ["select", "multiselect", "text", "textarea", "checkbox", "password"]},
                "options": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["value"],
                    "properties": {"label": string(), "value": string()}}},
            }}}),
        ),
        (
            "UsagePlan",
            object(
                &["enabled", "rate_per_second", "burst", "max_concurrent", "daily_quota"],
                json!({"enabled": boolean(), "rate_per_second": {"type": "integer", "minimum": 0},
                    "burst": {"type": "integer", "minimum": 0}, "max_concurrent": {"type": "integer", "minimum": 0},
                    "daily_quota": nullable(json!({"type": "integer", "minimum": 0}))}),
            ),
        ),
        (
            "Organization",
            object(
                &reduced_org_keys,
                json!({
                    "id": string(), "parent_id": nullable(string()), "admin_branded": boolean(),
                    "app_installation_path": string(), "apple_push_cert": boolean(), "auth_type": integer(),
                    "banner_image_enabled": boolean(), "email_from_address": string(), "email_from_name": string(),
                    "email_reply_to_address": string(), "invite_subject_for_affiliated": string(),
                    "invite_subject_for_user": string(), "invite_template_for_affiliated": string(),
                    "invite_template_for_user": string(), "javascript_protection_policy_enabled": boolean(),
                    "kryptowire_settings": nullable(object(&["api_key_set"], json!({"api_key_set": {"const": true}}))),
                    "name": string(), "no_auth_app_delivery_enabled": boolean(), "no_auth_policies_enabled": boolean(),
                    "policies_frequency_evaluation_in_hours": integer(), "remember_me_timeout_in_minutes": integer(),
                    "reviews_default_value": boolean(), "session_timeout_in_minutes": integer(),
                    "support_email": string(), "vanity_subdomain": nullable(string()), "winphone_cert": boolean(),
                    "cors_domain_whitelist": strings(),
                    "auth_settings": {"type": "object"},
                    "password_complexity": object(&["password_complexity_for_users"], json!({
                        "password_complexity_for_admins": r("PasswordRules"),
                        "password_complexity_for_users": r("PasswordRules"),
                    })),
                    "user_custom_metadata_template": r("MetadataTemplate"),
                    "application_custom_metadata_template": r("MetadataTemplate"),
                    "notify_on_device_registration": boolean(), "catalog_affiliated_org_access_enabled": boolean(),
                    "tenant_id": string(), "created_at": r("Timestamp"), "allowed_subnets": strings(),
                    "api_usage_plan": r("UsagePlan"),
                    "events_retention_days": integer(),
                    "item_history": boolean(), "item_history_since": nullable(r("Timestamp")),
                }),
            ),
        ),
        (
            "OrganizationSettingsChange",
            json!({
                "type": "object",
                "description": "Any of the 25 editable keys; other keys are ignored with a warning each",
                "properties": {
                    "support_email": email, "email_from_address": email, "email_reply_to_address": email,
                    "email_from_name": {"type": "string", "maxLength": 255},
                    "invite_subject_for_user": {"type": "string", "maxLength": 255},
                    "invite_subject_for_affiliated": {"type": "string", "maxLength": 255},
                    "invite_template_for_user": {"type": "string", "maxLength": 65536},
                    "invite_template_for_affiliated": {"type": "string", "maxLength": 65536},
                    "session_timeout_in_minutes": minutes, "remember_me_timeout_in_minutes": minutes,
                    "policies_frequency_evaluation_in_hours": {"type": "integer", "minimum": 0, "maximum": 8760},
                    "events_retention_days": {"type": "integer", "minimum": 1, "maximum": 36500,
                        "description": "days the change history is kept (orgd extension)"},
                    "item_history": {"type": "boolean",
                        "description": "keep every item change as a version: item history and asOf exports (orgd extension)"},
                    "admin_branded": boolean(), "banner_image_enabled": boolean(),
                    "no_auth_app_delivery_enabled": boolean(), "no_auth_policies_enabled": boolean(),
                    "reviews_default_value": boolean(), "notify_on_device_registration": boolean(),
                    "catalog_affiliated_org_access_enabled": boolean(),
                    "apple_push_cert": {"const": false, "description": "false removes the saved certificate"},
                    "cors_domain_whitelist": {"type": "array", "maxItems": 100,
                        "items": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9+.-]*://[^/*\\s]+$"}},
                    "password_complexity": {"type": "object", "properties": {
                        "password_complexity_for_admins": r("PasswordRulesChange"),
                        "password_complexity_for_users": r("PasswordRulesChange"),
                    }},
                    "user_custom_metadata_template": r("MetadataTemplate"),
                    "application_custom_metadata_template": r("MetadataTemplate"),
                    "kryptowire_settings": {"oneOf": [
                        {"type": "null"},
                        object(&["api_key"], json!({"api_key": {"type": "string", "minLength": 1, "maxLength": 255}})),
                        object(&["api_key_set"], json!({"api_key_set": {"const": true}})),
                    ]},
                },
                "additionalProperties": true,
            }),
        ),
        ("OrganizationEnvelope", object(&["organization"], json!({"organization": r("Organization")}))),
        (
            "OrganizationUpdated",
            object(
                &["warnings", "organization"],
                json!({"warnings": {"type": "array", "items": r("FieldMessage")}, "organization": r("Organization")}),
            ),
        ),
        (
            "OrgTreeNode",
            object(
                &["parent_id", "name", "id", "sub_orgs"],
                json!({"parent_id": nullable(string()), "name": string(), "id": string(),
                    "sub_orgs": {"type": "array", "items": r("OrgTreeNode")}}),
            ),
        ),
        (
            "NewChildOrg",
            object(
                &["name", "admin"],
                json!({"name": {"type": "string", "minLength": 1}, "parent_id": string(), "tenant_id": string(),
                "admin": object(&["user_id", "email", "first_name", "last_name"], json!({
                    "user_id": {"type": "string", "minLength": 1}, "email": string(), "first_name": string(),
                    "last_name": string(), "password": string(),
                }))}),
            ),
        ),
        (
            "ChildOrgCreated",
            object(&["organization", "admin"], json!({"organization": r("Organization"), "admin": r("User")})),
        ),
        ("User", object(&user_keys, user_props)),
        ("UserList", object(&["users"], json!({"users": {"type": "array", "items": r("User")}}))),
        ("NewUser", object(&["user_id"], writable)),
        ("UserChange", object(&[], Value::Object(change))),
        ("UserCreated", object(&["user_psk", "user"], json!({"user_psk": integer(), "user": r("User")}))),
        ("UserEnvelope", object(&["user"], json!({"user": r("User")}))),
        (
            "UserUpdated",
            object(
                &["update_user_success", "user"],
                json!({"update_user_success": {"const": true}, "user": r("User")}),
            ),
        ),
        ("UserDeleted", object(&["delete_user_response"], json!({"delete_user_response": {"const": true}}))),
        (
            "OrgDeleted",
            object(
                &["deleted_organization", "deleted_org_ids"],
                json!({"deleted_organization": {"const": true}, "deleted_org_ids": strings()}),
            ),
        ),
        (
            "Token",
            object(
                &[
                    "token_id",
                    "user_psk",
                    "label",
                    "starts_at",
                    "ends_at",
                    "subnets",
                    "created_at",
                    "last_used_at",
                    "last_used_ip",
                ],
                json!({"token_id": string(), "user_psk": integer(), "label": string(), "starts_at": r("Timestamp"),
                    "ends_at": nullable(r("Timestamp")), "subnets": strings(), "created_at": r("Timestamp"),
                    "last_used_at": nullable(r("Timestamp")), "last_used_ip": nullable(string())}),
            ),
        ),
        ("TokenList", object(&["tokens"], json!({"tokens": {"type": "array", "items": r("Token")}}))),
        (
            "EventPage",
            object(
                &["events", "nextCursor"],
                json!({"events": {"type": "array", "items": r("Event")},
                    "nextCursor": nullable(json!({"type": "string", "description": "pass as cursor for older events"}))}),
            ),
        ),
        (
            "Event",
            object(
                &[
                    "id",
                    "at",
                    "time",
                    "orgId",
                    "actor",
                    "ip",
                    "traceId",
                    "objectType",
                    "objectId",
                    "kind",
                    "changes",
                    "detail",
                ],
                json!({"id": string(), "at": integer(), "time": string(), "orgId": string(),
                    "actor": object(&["kind", "id"], json!({"kind": {"type": "string", "enum": ["user", "admin", "system"]},
                        "id": string(), "orgId": string(), "tokenId": string()})),
                    "ip": nullable(string()), "traceId": nullable(string()), "objectType": string(), "objectId": string(),
                    "kind": string(),
                    "changes": {"type": "array", "items": object(&["field", "before", "after"],
                        json!({"field": string(), "before": {}, "after": {}}))},
                    "detail": {}}),
            ),
        ),
        (
            "ItemHistory",
            object(
                &["itemId", "versions"],
                json!({"itemId": string(), "versions": {"type": "array", "items": object(
                    &["time", "eventId", "actor", "change", "item"],
                    json!({"time": r("Timestamp"), "eventId": string(), "actor": string(),
                        "change": {"type": "string", "enum": ["created", "updated", "deleted"]},
                        "item": {"anyOf": [{"type": "object"}, {"type": "null"}],
                            "description": "the item after the change, as GET …/items/{itemId} shows it; null once deleted"}}))}}),
            ),
        ),
        (
            "NewWebhook",
            object(
                &["url", "events"],
                json!({"url": {"type": "string", "format": "uri", "maxLength": 2048,
                        "description": "https (http only with --outbound-allow-http); not a loopback, private or link-local address unless --outbound-allow-internal"},
                    "events": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "string",
                        "description": "a kind (user.created), every kind of an object (user.*), or *"}},
                    "includeDescendants": boolean(),
                    "description": {"type": "string", "maxLength": 500}}),
            ),
        ),
        ("Webhook", object(&WEBHOOK_KEYS, webhook_properties(false))),
        (
            "WebhookCreated",
            object(
                &["webhook"],
                json!({"webhook": object(&[&WEBHOOK_KEYS[..], &["secret"]].concat(), webhook_properties(true))}),
            ),
        ),
        ("WebhookEnvelope", object(&["webhook"], json!({"webhook": r("Webhook")}))),
        ("WebhookList", object(&["webhooks"], json!({"webhooks": {"type": "array", "items": r("Webhook")}}))),
        (
            "Delivery",
            object(
                &[
                    "deliveryId",
                    "webhookId",
                    "eventId",
                    "kind",
                    "objectId",
                    "state",
                    "attempts",
                    "nextAttemptAt",
                    "queuedAt",
                    "lastStatus",
                    "lastError",
                    "lastAttemptAt",
                    "deliveredAt",
                ],
                json!({"deliveryId": string(), "webhookId": string(), "eventId": string(), "kind": string(),
                    "objectId": string(), "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                    "attempts": integer(), "nextAttemptAt": nullable(r("Timestamp")), "queuedAt": r("Timestamp"),
                    "lastStatus": nullable(integer()), "lastError": nullable(string()),
                    "lastAttemptAt": nullable(r("Timestamp")), "deliveredAt": nullable(r("Timestamp"))}),
            ),
        ),
        ("DeliveryEnvelope", object(&["delivery"], json!({"delivery": r("Delivery")}))),
        (
            "DeliveryPage",
            object(
                &["deliveries", "nextCursor"],
                json!({"deliveries": {"type": "array", "items": r("Delivery")},
                    "nextCursor": nullable(json!({"type": "string", "description": "pass as cursor for older deliveries"}))}),
            ),
        ),
        (
            "NewToken",
            object(
                &[],
                json!({"label": nullable(json!({"type": "string", "minLength": 1, "maxLength": 100,
                        "description": "null or absent: \"api token\""})),
                    "starts_at": nullable(r("DateInput")), "ends_at": nullable(r("DateInput")),
                    "subnets": {"type": "array", "items": r("Cidr")}}),
            ),
        ),
        (
            "TokenCreated",
            object(
                &["token", "api_token"],
                json!({"token": {"type": "string", "description": "the secret, shown only here"}, "api_token": r("Token")}),
            ),
        ),
        ("TokenRevoked", object(&["token_revoked"], json!({"token_revoked": {"const": true}}))),
        (
            "Session",
            object(
                &["expires_at", "ttl_in_seconds", "token_kind"],
                json!({"expires_at": nullable(r("Timestamp")), "ttl_in_seconds": nullable(json!({"type": "integer", "minimum": 0})),
                    "token_kind": {"enum": ["session", "api"]}}),
            ),
        ),
        (
            "SessionExtended",
            object(&["ttl_in_seconds"], json!({"ttl_in_seconds": nullable(json!({"type": "integer", "minimum": 0}))})),
        ),
        (
            "SignIn",
            json!({"type": "object", "required": ["user_id", "password"], "properties": {
                "user_id": string(), "password": string(), "remember_me": boolean(), "org_id": string(),
                "new_password": string(),
            }}),
        ),
        (
            "SignedIn",
            object(
                &["token", "expires_at", "ttl_in_seconds", "user", "organization"],
                json!({"token": string(), "expires_at": nullable(r("Timestamp")),
                "ttl_in_seconds": nullable(json!({"type": "integer", "minimum": 0})), "user": r("User"),
                "organization": object(&["id", "name", "parent_id", "tenant_id"], json!({
                    "id": string(), "name": string(), "parent_id": nullable(string()), "tenant_id": string(),
                }))}),
            ),
        ),
    ]
}

fn system() -> Vec<(&'static str, Value)> {
    vec![
        ("Health", object(&["status"], json!({"status": {"const": "ok"}}))),
        ("Readiness", object(&["status"], json!({"status": {"enum": ["ready", "unavailable"]}, "reason": string()}))),
        (
            "ServerInfo",
            object(
                &["name", "version", "region", "publicUrl", "dialects"],
                json!({"name": {"const": "orgd"}, "version": string(), "region": string(),
                    "publicUrl": {"type": "string", "format": "uri"},
                    "dialects": object(&["orgvue", "apperian"], json!({"orgvue": string(), "apperian": string()}))}),
            ),
        ),
    ]
}
