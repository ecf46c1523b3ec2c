//! Organizations: the tree (`GET /v1/organizations/`), child-org creation (`POST /v1/organizations/`),
//! the organization object (`GET|PUT /v3/organizations/{org_id}`) and the deletion of affiliated orgs
//! (`DELETE /organizations/{org_id}`, below `/v1` and `/v3` too).

use super::wire::{user_json, Fields};
use crate::extract::RawBody;
use crate::extract::{AllowMultipart, Guarded, QueryList};
use crate::policy::{Administer, Read};
use crate::render::Failure;
use crate::route_table::Table;
use crate::state::AppState;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::Method;
use axum::routing::get;
use axum::{Extension, Json};
use base64::Engine;
use orgd_core::cases;
use orgd_core::cases::orgs::{NewChildOrg, TreeView};
use orgd_core::cases::users::UserFields;
use orgd_core::clock::Clock;
use orgd_core::error::{ApiError, ErrorCode, FieldFault};
use orgd_core::ids::OrgId;
use orgd_core::model::Role;
use orgd_core::org_object;
use orgd_core::org_update::{self, CertChange, Warning};
use orgd_core::tree::OrgIndex;
use serde_json::{json, Map, Value};

/// Largest accepted push certificate.
pub const PUSH_CERT_LIMIT: usize = 1024 * 1024;

/// `/v1/organizations`.
pub fn v1_routes() -> Table {
    Table::new().route(
        "/organizations",
        &[(Method::GET, "The org tree the caller may see"), (Method::POST, "Create an affiliated (child) org")],
        get(tree).post(create_child),
    )
}

/// `/v3/organizations/{org_id}`.
pub fn v3_routes() -> Table {
    Table::new().route(
        "/organizations/{org_id}",
        &[
            (Method::GET, "Read an org with its settings"),
            (Method::PUT, "Change an org's settings (JSON or multipart)"),
            (Method::DELETE, DELETE_ORG),
        ],
        get(read).put(update).delete(remove).route_layer(Extension(AllowMultipart)),
    )
}

/// `DELETE /organizations/{org_id}`, mounted below `/v1` and unversioned, as the Apperian scripts call it.
pub fn deletion_routes() -> Table {
    Table::new().route("/organizations/{org_id}", &[(Method::DELETE, DELETE_ORG)], axum::routing::delete(remove))
}

const DELETE_ORG: &str =
    "Delete an affiliated org with its users, tokens and data (cascade=true: and the orgs below it)";

/// An administrator deletes an org below its own with everything in it; `cascade=true` takes the orgs
/// below it too (else 409 while it has any). Answers `{"deleted_organization": true, "deleted_org_ids"}`.
async fn remove(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    q: QueryList,
) -> Result<Json<Value>, Failure> {
    let cascade = q.flag("cascade")?;
    let orgs = state.gate.cache.orgs().await?;
    let gone = cases::orgs::delete(state.store.as_ref(), &orgs, Some(&acting.user), &acting.target, cascade).await?;
    let ids: Vec<&str> = gone.iter().map(OrgId::as_str).collect();
    Ok(Json(json!({ "deleted_organization": true, "deleted_org_ids": ids })))
}

fn node(idx: &OrgIndex, id: &OrgId, nested: bool) -> Value {
    let o = idx.get(id).expect("ids come from the index");
    let subs: Vec<Value> = idx.children(id).iter().map(|c| node(idx, c, true)).collect();
    let mut m = Map::new();
    if nested {
        m.insert("sub_orgs".into(), Value::Array(subs.clone()));
    }
    m.insert("parent_id".into(), json!(o.parent_id.as_ref().map(|p| p.as_str())));
    m.insert("name".into(), json!(o.name));
    m.insert("id".into(), json!(o.org_id.as_str()));
    if !nested {
        m.insert("sub_orgs".into(), Value::Array(subs));
    }
    Value::Object(m)
}

fn leaf(o: &orgd_core::model::Org, nested: bool) -> Value {
    let mut m = Map::new();
    if nested {
        m.insert("sub_orgs".into(), json!([]));
    }
    m.insert("parent_id".into(), json!(o.parent_id.as_ref().map(|p| p.as_str())));
    m.insert("name".into(), json!(o.name));
    m.insert("id".into(), json!(o.org_id.as_str()));
    if !nested {
        m.insert("sub_orgs".into(), json!([]));
    }
    Value::Object(m)
}

/// `GET /v1/organizations/`: administrators see the acting org's parent (if any) as the root, holding
/// only the acting org's subtree; other roles see the acting org alone.
async fn tree(State(state): State<AppState>, acting: Guarded<Read>) -> Result<Json<Value>, Failure> {
    let idx = state.gate.cache.orgs().await?;
    let target = &acting.target;
    let parent = match cases::orgs::tree_view(&idx, &acting.user, target) {
        TreeView::Alone => return Ok(Json(leaf(target, false))),
        TreeView::Subtree { parent } => parent,
    };
    let subtree = node(&idx, &target.org_id, true);
    let out = match parent {
        Some(parent) => {
            let mut m = Map::new();
            m.insert("parent_id".into(), json!(parent.parent_id.as_ref().map(|p| p.as_str())));
            m.insert("name".into(), json!(parent.name));
            m.insert("id".into(), json!(parent.org_id.as_str()));
            m.insert("sub_orgs".into(), json!([subtree]));
            Value::Object(m)
        }
        None => node(&idx, &target.org_id, false),
    };
    Ok(Json(out))
}

/// `POST /v1/organizations/`: a child org with its first administrator.
async fn create_child(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, Failure> {
    let v = crate::extract::parse_json(&body)?;
    let Some(map) = v.as_object() else {
        return Err(ApiError::invalid_field("body", "must be a JSON object").into());
    };
    let mut f = Fields::new(map);
    f.refuse_unknown(&["name", "parent_id", "tenant_id", "admin"]);
    let name = f.string("name");
    let parent = f.string("parent_id");
    let tenant_id = f.string("tenant_id");
    let admin = f.value("admin");
    let mut faults = std::mem::take(&mut f.faults);
    if name.is_none() && !map.contains_key("name") {
        faults.push(FieldFault { field: "name".into(), message: "is required".into() });
    }
    let admin_map = match &admin {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => {
            faults.push(FieldFault {
                field: "admin".into(),
                message: "is required: {\"user_id\", \"email\", \"first_name\", \"last_name\", \"password\"?}".into(),
            });
            None
        }
    };
    let mut admin_fields = UserFields::default();
    let mut admin_user_id = String::new();
    if let Some(m) = &admin_map {
        let mut a = Fields::new(m);
        a.refuse_unknown(&["user_id", "email", "first_name", "last_name", "password"]);
        admin_user_id = a.string("user_id").unwrap_or_default();
        admin_fields.email = a.string("email");
        admin_fields.first_name = a.string("first_name");
        admin_fields.last_name = a.string("last_name");
        admin_fields.password = a.string("password");
        faults.extend(a.faults.into_iter().map(|x| FieldFault { field: format!("admin.{}", x.field), ..x }));
    }
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults).into());
    }
    let now = state.clock.now();
    let input = NewChildOrg { name: name.unwrap_or_default(), tenant_id, parent, admin_user_id, admin: admin_fields };
    let orgs = state.gate.cache.orgs().await?;
    let plan = &state.config.default_usage_plan;
    let (org, user) =
        cases::orgs::create_child(state.store.as_ref(), &orgs, &acting.user, &acting.target, input, plan, now).await?;
    Ok(Json(json!({
        "organization": org_object::render(&org, true),
        "admin": user_json(&user, &org, true, now),
    })))
}

/// `GET /v3/organizations/{org_id}`.
async fn read(State(state): State<AppState>, acting: Guarded<Read>) -> impl axum::response::IntoResponse {
    let admin = acting.user.role == Role::Administrator;
    let body = state.rendered_orgs.get_or_render(&acting.target, admin, |org| {
        serde_json::to_vec(&json!({ "organization": org_object::render(org, admin) })).unwrap_or_default()
    });
    ([(axum::http::header::CONTENT_TYPE, "application/json; charset=UTF-8")], body)
}

/// `PUT /v3/organizations/{org_id}`: JSON, or multipart with `data` and `push_cert_file`.
async fn update(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    req: Request,
) -> Result<Json<Value>, Failure> {
    let is_multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut warnings: Vec<Warning> = Vec::new();
    let (request, cert) = if is_multipart {
        read_multipart(req, &state, &mut warnings).await?
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), crate::intake::APPERIAN_BODY_LIMIT)
            .await
            .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge))?;
        (crate::extract::parse_json(&bytes)?, CertChange::None)
    };
    let (next, mut w) =
        org_update::apply(&acting.target, &request, cert, state.clock.now()).map_err(ApiError::invalid_fields)?;
    warnings.append(&mut w);
    if next != *acting.target {
        state.store.update_org(&next).await?;
    }
    let warnings: Vec<Value> = warnings.iter().map(Warning::to_json).collect();
    Ok(Json(json!({ "warnings": warnings, "organization": org_object::render(&next, true) })))
}

async fn read_multipart(
    req: Request,
    state: &AppState,
    warnings: &mut Vec<Warning>,
) -> Result<(Value, CertChange), Failure> {
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::invalid_field("body", format!("is not a valid multipart form: {e}")))?;
    let mut data: Option<Value> = None;
    let mut cert = CertChange::None;
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge)
        } else {
            ApiError::invalid_field("body", format!("is not a valid multipart form: {}", e.body_text()))
        }
    };
    while let Some(field) = mp.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "data" => {
                let text = field.bytes().await.map_err(malformed)?;
                let v: Value = serde_json::from_slice(&text).map_err(|_| {
                    ApiError::new(ErrorCode::RequestBodyNotJson).with_message("The data part is not valid JSON.")
                })?;
                data = Some(v);
            }
            "push_cert_file" => {
                let bytes = field.bytes().await.map_err(malformed)?;
                if bytes.len() > PUSH_CERT_LIMIT {
                    return Err(ApiError::new(ErrorCode::PayloadTooLarge)
                        .with_message(format!("push_cert_file exceeds {PUSH_CERT_LIMIT} bytes."))
                        .into());
                }
                if !org_update::is_der_sequence(&bytes) {
                    return Err(ApiError::invalid_field(
                        "push_cert_file",
                        "is not a PKCS#12 file (expected one DER SEQUENCE, as .p12 files are)",
                    )
                    .into());
                }
                cert = CertChange::Upload(base64::engine::general_purpose::STANDARD.encode(&bytes));
            }
            other => warnings.push(Warning { field: other.to_string(), message: "unknown part; ignored".into() }),
        }
    }
    if data.is_none() && matches!(cert, CertChange::None) {
        return Err(ApiError::invalid_field(
            "data",
            "is required: send a data part with the JSON object, or a push_cert_file",
        )
        .into());
    }
    Ok((data.unwrap_or_else(|| json!({})), cert))
}
