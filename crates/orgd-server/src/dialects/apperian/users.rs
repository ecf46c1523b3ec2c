//! Users of the acting org: `/v1/users`, `/v1/users/{psk}`, `/v2/users/info` and the unversioned aliases.

use super::wire::{user_json, Fields};
use crate::extract::RawBody;
use crate::extract::{Acting, Guarded, PathParams};
use crate::policy::{ManageUsers, Read};
use crate::render::Failure;
use crate::route_table::Table;
use crate::state::AppState;
use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use axum::Json;
use orgd_core::cases::users::{self, Actor, UserChange, UserFields};
use orgd_core::clock::Clock;
use orgd_core::error::{ApiError, ErrorCode, FieldFault};
use orgd_core::model::{Role, User};
use orgd_core::net::CidrList;
use serde_json::{json, Value};

fn user_routes() -> Table {
    Table::new()
        .route("/users", &[(Method::GET, "List users"), (Method::POST, "Add a user")], get(list).post(create))
        .route(
            "/users/{psk}",
            &[(Method::GET, "Read a user"), (Method::PUT, "Change a user"), (Method::DELETE, "Delete a user")],
            get(read).put(update).delete(remove),
        )
}

/// `/v1/users…`.
pub fn v1_routes() -> Table {
    user_routes()
}

/// `/v2/users/info`.
pub fn v2_routes() -> Table {
    Table::new().route("/users/info", &[(Method::GET, "Read the signed-in user")], get(info))
}

/// The unversioned `/users` and `/users/{psk}`.
pub fn alias_routes() -> Table {
    user_routes()
}

const USER_OBJECT_KEYS: &[&str] = &[
    "psk",
    "id",
    "org_id",
    "mobile_phone",
    "locked",
    "created_date",
    "modified_date",
    "last_login_date",
    "deleted",
    "disabled_reason",
    "last_login_from_catalog",
];
const WRITABLE: &[&str] = &[
    "user_id",
    "password",
    "first_name",
    "last_name",
    "email",
    "role",
    "phone",
    "disabled",
    "until_date",
    "token_access",
    "allowed_subnets",
    "custom_metadata",
    "send_invite",
    "current_password",
    "locked",
];

async fn list(State(state): State<AppState>, acting: Guarded<ManageUsers>) -> Result<Json<Value>, Failure> {
    let now = state.clock.now();
    let admin = acting.user.role == Role::Administrator;
    let users = state.store.list_users(&acting.target.org_id).await?;
    let list: Vec<Value> = users.iter().map(|u| user_json(u, &acting.target, admin, now)).collect();
    Ok(Json(json!({ "users": list })))
}

/// The user named by `{psk}` in the acting org, or 404004.
async fn target_user(state: &AppState, acting: &Acting, params: &PathParams) -> Result<User, ApiError> {
    let psk: i64 =
        params.get("psk").and_then(|p| p.parse().ok()).ok_or_else(|| ApiError::new(ErrorCode::UserNotFound))?;
    users::get_in(state.store.as_ref(), &acting.target, psk).await
}

struct Parsed {
    user_id: Option<String>,
    change: UserChange,
}

fn parse_body(body: &[u8]) -> Result<Parsed, ApiError> {
    let v = crate::extract::parse_json(body)?;
    let Some(map) = v.as_object() else {
        return Err(ApiError::invalid_field("body", "must be a JSON object"));
    };
    let mut f = Fields::new(map);
    let known: Vec<&str> = WRITABLE.iter().chain(USER_OBJECT_KEYS).copied().collect();
    f.refuse_unknown(&known);
    let user_id = f.string("user_id");
    let role = f.string("role").and_then(|r| {
        Role::parse(&r).or_else(|| {
            f.faults.push(FieldFault {
                field: "role".into(),
                message: "must be administrator, user_manager or user".into(),
            });
            None
        })
    });
    let subnets = f.strings("allowed_subnets").and_then(|s| match CidrList::parse(&s, "allowed_subnets") {
        Ok(l) => Some(l),
        Err(faults) => {
            f.faults.extend(faults);
            None
        }
    });
    let disabled = f.boolean("disabled");
    let until = f.date("until_date");
    let locked = f.boolean("locked");
    if locked == Some(true) {
        f.faults.push(FieldFault { field: "locked".into(), message: "only false (unlock) is accepted".into() });
    }
    let _ = f.boolean("send_invite");
    let fields = UserFields {
        role,
        password: f.string("password"),
        token_access: f.boolean("token_access"),
        allowed_subnets: subnets,
        expires_at: until,
        enabled: disabled.map(|d| !d),
        email: f.string("email"),
        first_name: f.string("first_name"),
        last_name: f.string("last_name"),
        mobile_phone: f.nullable_string("phone"),
        custom_metadata: f.value("custom_metadata"),
        self_service: false,
    };
    let current_password = f.string("current_password");
    if !f.faults.is_empty() {
        return Err(ApiError::invalid_fields(f.faults));
    }
    Ok(Parsed { user_id, change: UserChange { fields, unlock: locked == Some(false), current_password } })
}

async fn create(
    State(state): State<AppState>,
    acting: Guarded<ManageUsers>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, Failure> {
    let p = parse_body(&body)?;
    let Some(user_id) = p.user_id else {
        return Err(ApiError::invalid_field("user_id", "is required").into());
    };
    let now = state.clock.now();
    let user =
        users::create_as(state.store.as_ref(), &acting.target, &acting.user, &user_id, p.change.fields, now).await?;
    let admin = acting.user.role == Role::Administrator;
    Ok(Json(json!({ "user_psk": user.psk, "user": user_json(&user, &acting.target, admin, now) })))
}

async fn read(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let target = target_user(&state, &acting, &params).await?;
    orgd_core::user_rules::check_read(&acting.user, &target)?;
    let admin = acting.user.role == Role::Administrator;
    Ok(Json(json!({ "user": user_json(&target, &acting.target, admin, state.clock.now()) })))
}

async fn update(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
    RawBody(body): RawBody,
) -> Result<Json<Value>, Failure> {
    let target = target_user(&state, &acting, &params).await?;
    let p = parse_body(&body)?;
    if p.user_id.as_deref().is_some_and(|u| u != target.user_id) {
        return Err(ApiError::invalid_field("user_id", "cannot be changed").into());
    }
    let now = state.clock.now();
    let actor = Actor { user: &acting.user, token_id: Some(&acting.token.token_id) };
    let user = users::update(state.store.as_ref(), &acting.target, actor, target, p.change, now).await?;
    let admin = acting.user.role == Role::Administrator;
    Ok(Json(json!({ "update_user_success": true, "user": user_json(&user, &acting.target, admin, now) })))
}

async fn remove(
    State(state): State<AppState>,
    acting: Guarded<Read>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let target = target_user(&state, &acting, &params).await?;
    users::delete(state.store.as_ref(), &acting.user, &target).await?;
    Ok(Json(json!({ "delete_user_response": true })))
}

async fn info(State(state): State<AppState>, acting: Guarded<Read>) -> Json<Value> {
    let admin = acting.user.role == Role::Administrator;
    let home = &acting.home;
    Json(json!({ "user": user_json(&acting.user, home, admin, state.clock.now()) }))
}
