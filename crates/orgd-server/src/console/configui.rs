//! `/app/configui`: the Settings app for administrators — the Users list (add, edit, TokenAccess), the
//! Datasets list and each dataset's metadata page, and the Organization settings form with the affiliated
//! orgs. `?tenant=` picks any org the administrator may act in; others answer 404.

use super::{day, html, when, Chrome, FormData, Signed};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orgd_core::access::{Caller, Operation, Target};
use orgd_core::cases::users::{self, Actor, UserChange, UserFields};
use orgd_core::clock::{parse_date_or_datetime, Clock};
use orgd_core::error::ApiError;
use orgd_core::error::ErrorCode;
use orgd_core::ids::TenantId;
use orgd_core::model::{Org, Role, User};
use orgd_core::net::CidrList;
use orgd_core::org_update::{self, CertChange, EDITABLE};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Q = Query<HashMap<String, String>>;

/// The acting org of a Settings page: the `tenant` parameter (a tenant id or an org id) or the home org,
/// for administrators only, reached through the same rules as the API ([`Gate::reach`]: the caller's reach,
/// the orgs' subnets and API switches). An org out of reach is 404, as in the API.
///
/// [`Gate::reach`]: orgd_core::access::Gate::reach
pub(super) async fn acting(state: &AppState, s: &Signed, q: &HashMap<String, String>) -> Result<Arc<Org>, Response> {
    if !Operation::Administer.allows(s.user.role) {
        return Err(super::message(
            StatusCode::FORBIDDEN,
            Some(s.me()),
            "Administrators only",
            "The Settings app is for administrators of the org; ask one to change users, datasets or settings.",
        ));
    }
    let target = match q.get("tenant") {
        None => Target::Home,
        Some(t) if TenantId::parse(t).is_some() => Target::Tenant(t),
        Some(t) => Target::Org(t),
    };
    let caller = Caller { user: s.user.clone(), token: s.token.clone() };
    match state.gate.reach(&caller, target, s.ip).await {
        Ok((_, org)) => Ok(org),
        Err(e) if e.code == ErrorCode::TenantNotFound => {
            Err(super::message(StatusCode::NOT_FOUND, Some(s.me()), "Not found", "No such tenant."))
        }
        Err(e) if e.code.status() < 500 => {
            Err(super::message(StatusCode::FORBIDDEN, Some(s.me()), "Access refused", e.orgvue_message()))
        }
        Err(e) => Err(super::failure(Some(s.me()), e.orgvue_message())),
    }
}

pub(super) fn faults_of(e: &ApiError) -> Vec<String> {
    if e.faults.is_empty() {
        vec![e.orgvue_message()]
    } else {
        e.faults.iter().map(|f| format!("{}: {}", f.field, f.message)).collect()
    }
}

pub struct UserRow {
    psk: i64,
    user_id: String,
    email: String,
    role: &'static str,
    status: String,
    expires: String,
    token_access: &'static str,
    subnets: String,
}

pub struct DatasetRow {
    id: String,
    name: String,
    ty: &'static str,
    items: i64,
    modified: String,
}

#[derive(Template)]
#[template(path = "console/configui.html")]
struct Overview {
    chrome: Chrome,
    org_name: String,
    tenant: String,
    users: Vec<UserRow>,
    datasets: Vec<DatasetRow>,
}

/// `GET /app/configui`.
pub async fn overview(State(state): State<AppState>, s: Signed, Query(q): Q) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let now = state.clock.now();
    let (mut users, mut datasets) =
        match (state.store.list_users(&org.org_id).await, state.store.list_datasets(&org.org_id).await) {
            (Ok(u), Ok(d)) => (u, d),
            (Err(e), _) | (_, Err(e)) => return super::failure(Some(s.me()), e),
        };
    users.sort_by_key(|u| u.user_id.to_lowercase());
    datasets.sort_by_key(|d| d.name.to_lowercase());
    let users = users
        .iter()
        .map(|u| UserRow {
            psk: u.psk,
            user_id: u.user_id.clone(),
            email: u.email.clone(),
            role: u.role.as_str(),
            status: orgd_core::model::AccountState::of(u, now).as_str().into(),
            expires: u.expires_at.map(when).unwrap_or_else(|| "never".into()),
            token_access: if u.token_access { "on" } else { "off" },
            subnets: if u.allowed_subnets.is_empty() {
                "any".into()
            } else {
                u.allowed_subnets.to_strings().join(", ")
            },
        })
        .collect();
    let datasets = datasets
        .iter()
        .map(|d| DatasetRow {
            id: d.id.to_string(),
            name: d.name.clone(),
            ty: d.ty.as_str(),
            items: d.item_count,
            modified: when(orgd_core::clock::from_millis(d.modified_at)),
        })
        .collect();
    let notice = q.get("saved").map(|u| format!("Saved {u}."));
    let chrome = Chrome { title: "Settings".into(), me: Some(s.me()), notice };
    html(
        StatusCode::OK,
        &Overview { chrome, org_name: org.name.clone(), tenant: org.tenant_id.to_string(), users, datasets },
    )
}

#[derive(Default)]
pub struct UserForm {
    user_id: String,
    email: String,
    first_name: String,
    last_name: String,
    role: String,
    enabled: bool,
    expires_at: String,
    token_access: bool,
    subnets: String,
}

#[derive(Template)]
#[template(path = "console/user_form.html")]
struct UserPage {
    chrome: Chrome,
    csrf: String,
    tenant: String,
    action: String,
    creating: bool,
    errors: Vec<String>,
    roles: Vec<&'static str>,
    form: UserForm,
}

fn user_page(s: &Signed, org: &Org, action: String, creating: bool, form: UserForm, errors: Vec<String>) -> Response {
    let title = if creating { "Add a user".to_string() } else { format!("Edit {}", form.user_id) };
    let page = UserPage {
        chrome: Chrome { title, me: Some(s.me()), notice: None },
        csrf: s.csrf.clone(),
        tenant: org.tenant_id.to_string(),
        action,
        creating,
        errors,
        roles: vec!["user", "user_manager", "administrator"],
        form,
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    html(status, &page)
}

fn form_of(u: &User) -> UserForm {
    UserForm {
        user_id: u.user_id.clone(),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        role: u.role.as_str().into(),
        enabled: u.enabled,
        expires_at: u.expires_at.map(day).unwrap_or_default(),
        token_access: u.token_access,
        subnets: u.allowed_subnets.to_strings().join(", "),
    }
}

/// The form as the core's user fields, or the faults of its own parsing.
fn fields_of(f: &FormData, form: &UserForm) -> Result<UserFields, Vec<String>> {
    let mut errors = Vec::new();
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.push("role: must be administrator, user_manager or user".to_string());
    }
    let expires_at = if form.expires_at.is_empty() {
        Some(None)
    } else {
        match parse_date_or_datetime(&form.expires_at) {
            Some(t) => Some(Some(t)),
            None => {
                errors.push("expires_at: must be a date (YYYY-MM-DD)".into());
                None
            }
        }
    };
    let subnets = match CidrList::parse_comma(&form.subnets, "subnets") {
        Ok(l) => Some(l),
        Err(faults) => {
            errors.extend(faults.iter().map(|f| format!("subnets: {}", f.message)));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let password = Some(f.get("password").unwrap_or_default().to_string()).filter(|p| !p.is_empty());
    let fields = UserFields {
        role,
        password,
        token_access: Some(form.token_access),
        allowed_subnets: subnets,
        expires_at,
        enabled: Some(form.enabled),
        email: Some(form.email.clone()),
        first_name: Some(form.first_name.clone()),
        last_name: Some(form.last_name.clone()),
        ..UserFields::default()
    };
    Ok(fields)
}

fn read_form(f: &FormData) -> UserForm {
    UserForm {
        user_id: f.text("user_id"),
        email: f.text("email"),
        first_name: f.text("first_name"),
        last_name: f.text("last_name"),
        role: f.text("role"),
        enabled: f.checked("enabled"),
        expires_at: f.text("expires_at"),
        token_access: f.checked("token_access"),
        subnets: f.text("subnets"),
    }
}

/// `GET /app/configui/users/new`.
pub async fn new_user(State(state): State<AppState>, s: Signed, Query(q): Q) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let form = UserForm { role: "user".into(), enabled: true, ..UserForm::default() };
    user_page(&s, &org, format!("/app/configui/users/new?tenant={}", org.tenant_id), true, form, vec![])
}

/// `POST /app/configui/users/new`.
pub async fn create_user(State(state): State<AppState>, s: Signed, Query(q): Q, body: Bytes) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let f = match s.form(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let form = read_form(&f);
    let action = format!("/app/configui/users/new?tenant={}", org.tenant_id);
    let fields = match fields_of(&f, &form) {
        Ok(x) => x,
        Err(errors) => return user_page(&s, &org, action, true, form, errors),
    };
    match users::create_as(state.store.as_ref(), &org, &s.user, &form.user_id, fields, state.clock.now()).await {
        Ok(u) => Redirect::to(&format!("/app/configui?tenant={}&saved={}#users", org.tenant_id, enc(&u.user_id)))
            .into_response(),
        Err(e) => user_page(&s, &org, action, true, form, faults_of(&e)),
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn target(state: &AppState, s: &Signed, org: &Org, psk: &str) -> Result<User, Response> {
    let not_found = || super::message(StatusCode::NOT_FOUND, Some(s.me()), "Not found", "No such user in this org.");
    let psk: i64 = psk.parse().map_err(|_| not_found())?;
    match users::get_in(state.store.as_ref(), org, psk).await {
        Ok(u) => Ok(u),
        Err(e) if e.code == orgd_core::error::ErrorCode::UserNotFound => Err(not_found()),
        Err(e) => Err(super::failure(Some(s.me()), e.orgvue_message())),
    }
}

/// `GET /app/configui/users/{psk}`.
pub async fn edit_user(State(state): State<AppState>, s: Signed, Path(psk): Path<String>, Query(q): Q) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let user = match target(&state, &s, &org, &psk).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let action = format!("/app/configui/users/{}?tenant={}", user.psk, org.tenant_id);
    user_page(&s, &org, action, false, form_of(&user), vec![])
}

/// `POST /app/configui/users/{psk}`.
pub async fn update_user(
    State(state): State<AppState>,
    s: Signed,
    Path(psk): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let user = match target(&state, &s, &org, &psk).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let f = match s.form(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut form = read_form(&f);
    form.user_id = user.user_id.clone();
    let action = format!("/app/configui/users/{}?tenant={}", user.psk, org.tenant_id);
    let fields = match fields_of(&f, &form) {
        Ok(x) => UserFields { password: None, ..x },
        Err(errors) => return user_page(&s, &org, action, false, form, errors),
    };
    let actor = Actor { user: &s.user, token_id: Some(&s.token.token_id) };
    let change = UserChange { fields, ..UserChange::default() };
    match users::update(state.store.as_ref(), &org, actor, user, change, state.clock.now()).await {
        Ok(u) => Redirect::to(&format!("/app/configui?tenant={}&saved={}#users", org.tenant_id, enc(&u.user_id)))
            .into_response(),
        Err(e) => user_page(&s, &org, action, false, form, faults_of(&e)),
    }
}

pub struct PropertyRow {
    key: String,
    name: String,
    ty: &'static str,
    required: &'static str,
    removable: bool,
}

#[derive(Template)]
#[template(path = "console/dataset.html")]
struct DatasetPage {
    chrome: Chrome,
    tenant: String,
    id: String,
    name: String,
    ty: &'static str,
    items: i64,
    auto_id: String,
    label_id: String,
    hierarchy: String,
    tags: String,
    modified: String,
    properties: Vec<PropertyRow>,
    hierarchical: bool,
    drafts: Vec<DraftRow>,
    csrf: String,
    levels: Vec<&'static str>,
    grants: GrantsForm,
    property_errors: Vec<String>,
    types: [&'static str; 4],
}

pub struct DraftRow {
    id: String,
    name: String,
    added: i64,
    updated: i64,
    removed: i64,
    by: String,
    modified: String,
}

/// The permissions form of a dataset page, as shown or as sent back with its faults.
pub struct GrantsForm {
    user_manager: String,
    user: String,
    users: String,
    /// Row rules, one per line: `who = {filter}`.
    rows: String,
    errors: Vec<String>,
}

impl GrantsForm {
    fn of(shown: &Value) -> GrantsForm {
        let level = |r: &str| shown["roles"][r].as_str().unwrap_or("read").to_string();
        let users = shown["users"]
            .as_object()
            .map(|m| m.iter().map(|(u, l)| format!("{u} = {}\n", l.as_str().unwrap_or_default())).collect())
            .unwrap_or_default();
        let mut rows = String::new();
        for kind in ["roles", "users"] {
            for (who, rule) in shown["rows"][kind].as_object().into_iter().flatten() {
                rows.push_str(&format!("{who} = {rule}\n"));
            }
        }
        GrantsForm { user_manager: level("user_manager"), user: level("user"), users, rows, errors: Vec::new() }
    }

    /// The body of `PUT …/permissions` this form stands for; a line that is not `user = level` is named.
    fn body(&self) -> Result<Value, Vec<String>> {
        let mut users = Map::new();
        let mut errors = Vec::new();
        for (n, line) in self.users.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match line.rsplit_once('=') {
                Some((u, l)) if !u.trim().is_empty() => {
                    users.insert(u.trim().to_string(), Value::String(l.trim().to_string()));
                }
                _ => errors.push(format!("users, line {}: write user_id = level", n + 1)),
            }
        }
        let (mut role_rules, mut user_rules) = (Map::new(), Map::new());
        for (n, line) in self.rows.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let parsed =
                line.split_once('=').and_then(|(w, r)| Some((w.trim(), serde_json::from_str::<Value>(r).ok()?)));
            match parsed {
                Some((who, rule)) if !who.is_empty() => {
                    let into = if Role::parse(who).is_some() { &mut role_rules } else { &mut user_rules };
                    into.insert(who.to_string(), rule);
                }
                _ => errors.push(format!("row rules, line {}: write role_or_user_id = {{JSON filter}}", n + 1)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(serde_json::json!({"roles": {"user_manager": self.user_manager, "user": self.user}, "users": users,
            "rows": {"roles": role_rules, "users": user_rules}}))
    }
}

/// The dataset of a Settings page path, for a caller who may `need` it (else the 404 page).
async fn dataset_at(
    state: &AppState,
    s: &Signed,
    org: &Org,
    id: &str,
    need: orgd_core::data::grants::Level,
) -> Result<orgd_core::data::Dataset, Response> {
    let found = match orgd_core::ids::DatasetId::parse(id) {
        Some(id) => orgd_core::data::grants::open(state.store.as_ref(), &org.org_id, &s.user, &id, need).await.ok(),
        None => None,
    };
    found
        .map(|(ds, _)| ds)
        .ok_or_else(|| super::message(StatusCode::NOT_FOUND, Some(s.me()), "Not found", "No such dataset in this org."))
}

/// `GET /app/configui/datasets/{dataset_id}`: the metadata page with the Dataset ID and its permissions.
pub async fn dataset(State(state): State<AppState>, s: Signed, Path(id): Path<String>, Query(q): Q) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let ds = match dataset_at(&state, &s, &org, &id, orgd_core::data::grants::Level::Read).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let form = match orgd_core::data::grants::show(state.store.as_ref(), &ds).await {
        Ok(shown) => GrantsForm::of(&shown),
        Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
    };
    let notice = match q.get("saved").map(String::as_str) {
        Some("properties") => Some("Properties saved.".to_string()),
        Some(_) => Some("Permissions saved.".to_string()),
        None => None,
    };
    dataset_page(&state, &s, &org, &ds, form, Vec::new(), notice).await
}

/// A form posted to a page of a dataset the caller manages: the acting org, the dataset, the checked form.
async fn managed_form(
    state: &AppState,
    s: &Signed,
    q: &HashMap<String, String>,
    id: &str,
    body: &[u8],
) -> Result<(Arc<Org>, orgd_core::data::Dataset, super::FormData), Response> {
    let org = acting(state, s, q).await?;
    let ds = dataset_at(state, s, &org, id, orgd_core::data::grants::Level::Manage).await?;
    let f = s.form(body)?;
    Ok((org, ds, f))
}

/// `POST /app/configui/datasets/{dataset_id}/properties`: add a property (`key`, `type`, `name`), or with
/// `remove=KEY` remove one.
pub async fn change_dataset_properties(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let (org, ds, f) = match managed_form(&state, &s, &q, &id, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (store, now) = (state.store.as_ref(), orgd_core::clock::to_millis(state.clock.now()));
    let done = match f.get("remove") {
        Some(key) => orgd_core::data::evolve::remove(store, &ds, key, now).await,
        None => {
            let name = Some(f.text("name")).filter(|n| !n.is_empty());
            let body = serde_json::json!({"key": f.text("key"), "type": f.text("type"), "name": name});
            orgd_core::data::evolve::add(store, &ds, &body, now).await
        }
    };
    match done {
        Ok(_) => Redirect::to(&format!("/app/configui/datasets/{}?tenant={}&saved=properties", ds.id, org.tenant_id))
            .into_response(),
        Err(e) => {
            let form = match orgd_core::data::grants::show(store, &ds).await {
                Ok(shown) => GrantsForm::of(&shown),
                Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
            };
            dataset_page(&state, &s, &org, &ds, form, faults_of(&e), None).await
        }
    }
}

/// `POST /app/configui/datasets/{dataset_id}/permissions`: replace the dataset's grants.
pub async fn save_dataset_permissions(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let (org, ds, f) = match managed_form(&state, &s, &q, &id, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut form = GrantsForm {
        user_manager: f.text("user_manager"),
        user: f.text("user"),
        users: f.text("users"),
        rows: f.text("rows"),
        errors: vec![],
    };
    let now = orgd_core::clock::to_millis(state.clock.now());
    let store = state.store.as_ref();
    let saved = match form.body() {
        // The form sets levels; restricted properties (API, CLI, seed files) stay as they are.
        Ok(mut body) => match orgd_core::data::grants::show(store, &ds).await {
            Ok(shown) => {
                body["properties"] = shown["properties"].clone();
                orgd_core::data::grants::replace(store, &ds, &body, now).await.map_err(|e| faults_of(&e))
            }
            Err(e) => Err(faults_of(&e)),
        },
        Err(errors) => Err(errors),
    };
    match saved {
        Ok(_) => {
            Redirect::to(&format!("/app/configui/datasets/{}?tenant={}&saved=1#permissions", ds.id, org.tenant_id))
                .into_response()
        }
        Err(errors) => {
            form.errors = errors;
            dataset_page(&state, &s, &org, &ds, form, Vec::new(), None).await
        }
    }
}

async fn dataset_page(
    state: &AppState,
    s: &Signed,
    org: &Org,
    ds: &orgd_core::data::Dataset,
    grants: GrantsForm,
    property_errors: Vec<String>,
    notice: Option<String>,
) -> Response {
    let drafts = match orgd_core::data::drafts::list(state.store.as_ref(), &org.org_id, &s.user, Some(&ds.id)).await {
        Ok(d) => d,
        Err(e) => return super::failure(Some(s.me()), e.orgvue_message()),
    };
    let none = || "—".to_string();
    let ok = grants.errors.is_empty() && property_errors.is_empty();
    let status = if ok { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let page = DatasetPage {
        hierarchical: ds.is_hierarchical(),
        csrf: s.csrf.clone(),
        levels: orgd_core::data::grants::Level::ALL.iter().map(|l| l.as_str()).collect(),
        grants,
        property_errors,
        types: ["text", "number", "date", "boolean"],
        drafts: drafts
            .iter()
            .map(|d| DraftRow {
                id: d.id.to_string(),
                name: d.name.clone(),
                added: d.added,
                updated: d.updated,
                removed: d.removed,
                by: d.created_by.clone(),
                modified: when(orgd_core::clock::from_millis(d.modified_at)),
            })
            .collect(),
        chrome: Chrome { title: format!("Dataset {}", ds.name), me: Some(s.me()), notice },
        tenant: org.tenant_id.to_string(),
        hierarchy: match (&ds.tree_id, &ds.tree_parent_id) {
            (Some(t), Some(p)) => format!("{t} → parent {p}"),
            _ => none(),
        },
        id: ds.id.to_string(),
        name: ds.name.clone(),
        ty: ds.ty.as_str(),
        items: ds.item_count,
        auto_id: ds.auto_id.clone().unwrap_or_else(none),
        label_id: ds.label_id.clone().unwrap_or_else(none),
        tags: if ds.tags.is_empty() { none() } else { ds.tags.join(", ") },
        modified: when(orgd_core::clock::from_millis(ds.modified_at)),
        properties: ds
            .properties
            .iter()
            .map(|p| PropertyRow {
                key: p.key.clone(),
                name: p.name.clone(),
                ty: p.ty.as_str(),
                required: if p.required { "yes" } else { "no" },
                removable: !ds.is_core(&p.key) && !p.read_only,
            })
            .collect(),
    };
    html(status, &page)
}

pub struct Field {
    key: &'static str,
    kind: &'static str,
    value: String,
    error: Option<String>,
}

pub struct ChildRow {
    tenant_id: String,
    name: String,
    org_id: String,
}

#[derive(Template)]
#[template(path = "console/organization.html")]
struct OrgPage {
    chrome: Chrome,
    csrf: String,
    org_name: String,
    tenant: String,
    errors: Vec<String>,
    warnings: Vec<String>,
    fields: Vec<Field>,
    children: Vec<ChildRow>,
}

fn kind(v: Option<&Value>) -> &'static str {
    match v {
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(_)) => "number",
        Some(Value::Object(_)) | Some(Value::Array(_)) => "json",
        _ => "text",
    }
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Object(_) | Value::Array(_))) => serde_json::to_string_pretty(v).unwrap_or_default(),
        Some(v) => v.to_string(),
    }
}

fn org_page(
    s: &Signed,
    org: &Org,
    values: Option<&FormData>,
    errors: Vec<(String, String)>,
    warnings: Vec<String>,
    saved: bool,
) -> Response {
    let fields = EDITABLE
        .iter()
        .map(|key| {
            let current = org.settings.get(*key);
            let error = errors.iter().find(|(f, _)| f == key || f.starts_with(&format!("{key}."))).map(|(f, m)| {
                if f == key {
                    m.clone()
                } else {
                    format!("{f}: {m}")
                }
            });
            let value = match values.and_then(|v| v.get(key)) {
                Some(v) if kind(current) == "bool" => if v == "on" { "true" } else { "false" }.to_string(),
                Some(v) => v.to_string(),
                None => shown(current),
            };
            Field { key, kind: kind(current), value, error }
        })
        .collect();
    let children = s
        .orgs
        .children(&org.org_id)
        .iter()
        .filter_map(|id| s.orgs.get(id))
        .map(|c| ChildRow { tenant_id: c.tenant_id.to_string(), name: c.name.clone(), org_id: c.org_id.to_string() })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let notice = saved.then(|| "Saved.".to_string());
    let page = OrgPage {
        chrome: Chrome { title: format!("Organization {}", org.name), me: Some(s.me()), notice },
        csrf: s.csrf.clone(),
        org_name: org.name.clone(),
        tenant: org.tenant_id.to_string(),
        errors: errors.iter().map(|(f, m)| format!("{f}: {m}")).collect(),
        warnings,
        fields,
        children,
    };
    html(status, &page)
}

/// `GET /app/configui/organization`.
pub async fn organization(State(state): State<AppState>, s: Signed, Query(q): Q) -> Response {
    match acting(&state, &s, &q).await {
        Ok(org) => org_page(&s, &org, None, vec![], vec![], false),
        Err(r) => r,
    }
}

/// `POST /app/configui/organization`: the same validation and warnings as `PUT /v3/organizations/{id}`.
pub async fn save_organization(State(state): State<AppState>, s: Signed, Query(q): Q, body: Bytes) -> Response {
    let org = match acting(&state, &s, &q).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let f = match s.form(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut request = Map::new();
    let mut errors = Vec::new();
    for key in EDITABLE {
        let Some(text) = f.get(key) else { continue };
        let current = org.settings.get(*key);
        let value = match kind(current) {
            "bool" => Value::Bool(text == "on"),
            "number" => {
                text.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(text.trim().into()))
            }
            "json" => match serde_json::from_str::<Value>(text) {
                Ok(v) => v,
                Err(e) => {
                    errors.push((key.to_string(), format!("is not valid JSON: {e}")));
                    continue;
                }
            },
            _ if text.trim().is_empty() && current.is_none_or(Value::is_null) => Value::Null,
            _ => Value::String(text.to_string()),
        };
        if current != Some(&value) {
            request.insert(key.to_string(), value);
        }
    }
    if !errors.is_empty() {
        return org_page(&s, &org, Some(&f), errors, vec![], false);
    }
    match org_update::apply(&org, &Value::Object(request), CertChange::None, state.clock.now()) {
        Err(faults) => {
            let errors = faults.into_iter().map(|f| (f.field, f.message)).collect();
            org_page(&s, &org, Some(&f), errors, vec![], false)
        }
        Ok((next, warnings)) => {
            if next != *org {
                if let Err(e) = state.store.update_org(&next).await {
                    return super::failure(Some(s.me()), e);
                }
            }
            let warnings = warnings.iter().map(|w| format!("{}: {}", w.field, w.message)).collect();
            org_page(&s, &next, None, vec![], warnings, true)
        }
    }
}
