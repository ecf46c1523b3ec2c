//! Row → record mapping, shared by both engines.

use crate::map_err;
use orgd_core::clock::from_millis;
use orgd_core::error::StoreError;
use orgd_core::ids::{OrgId, TenantId};
use orgd_core::model::{Org, Role, TokenKind, TokenRecord, User};
use orgd_core::net::CidrList;
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

fn get<'r, T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>>(r: &'r AnyRow, col: &str) -> Result<T, StoreError> {
    r.try_get(col).map_err(map_err)
}

fn time_col(r: &AnyRow, col: &str) -> Result<OffsetDateTime, StoreError> {
    Ok(from_millis(get::<i64>(r, col)?))
}

fn opt_time(r: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(get::<Option<i64>>(r, col)?.map(from_millis))
}

fn json_col<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> Result<T, StoreError> {
    serde_json::from_str(&get::<String>(r, col)?).map_err(|e| StoreError::Other(format!("column {col}: {e}")))
}

fn cidrs(r: &AnyRow, col: &str) -> Result<CidrList, StoreError> {
    let list: Vec<String> = json_col(r, col)?;
    CidrList::parse(&list, col).map_err(|_| StoreError::Other(format!("column {col} holds an invalid CIDR")))
}

fn bad(col: &str) -> StoreError {
    StoreError::Other(format!("column {col} holds an invalid value"))
}

/// An org from a row of `orgs`.
pub fn org_from_row(r: &AnyRow) -> Result<Org, StoreError> {
    Ok(Org {
        org_id: OrgId::parse(&get::<String>(r, "org_id")?).ok_or_else(|| bad("org_id"))?,
        tenant_id: TenantId::parse(&get::<String>(r, "tenant_id")?).ok_or_else(|| bad("tenant_id"))?,
        parent_id: get::<Option<String>>(r, "parent_id")?.and_then(|p| OrgId::parse(&p)),
        name: get(r, "name")?,
        allowed_subnets: cidrs(r, "allowed_subnets")?,
        usage_plan: json_col(r, "usage_plan")?,
        settings: json_col(r, "settings")?,
        created_at: time_col(r, "created_at")?,
    })
}

/// A user from a row of `users`.
pub fn user_from_row(r: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        psk: get(r, "psk")?,
        org_id: OrgId::parse(&get::<String>(r, "org_id")?).ok_or_else(|| bad("org_id"))?,
        user_id: get(r, "user_id")?,
        email: get(r, "email")?,
        first_name: get(r, "first_name")?,
        last_name: get(r, "last_name")?,
        mobile_phone: get(r, "mobile_phone")?,
        role: Role::parse(&get::<String>(r, "role")?).ok_or_else(|| bad("role"))?,
        enabled: get::<i64>(r, "enabled")? != 0,
        expires_at: opt_time(r, "expires_at")?,
        token_access: get::<i64>(r, "token_access")? != 0,
        allowed_subnets: cidrs(r, "allowed_subnets")?,
        password_hash: get(r, "password_hash")?,
        password_changed_at: opt_time(r, "password_changed_at")?,
        password_history: json_col(r, "password_history")?,
        custom_metadata: json_col(r, "custom_metadata")?,
        failed_login_count: get::<i64>(r, "failed_login_count")? as u32,
        last_failed_login_at: opt_time(r, "last_failed_login_at")?,
        locked_until: opt_time(r, "locked_until")?,
        locked_permanently: get::<i64>(r, "locked_permanently")? != 0,
        created_at: time_col(r, "created_at")?,
        modified_at: time_col(r, "modified_at")?,
        last_login_at: opt_time(r, "last_login_at")?,
    })
}

/// A token from a row of `tokens`.
pub fn token_from_row(r: &AnyRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        token_id: get(r, "token_id")?,
        kind: match get::<String>(r, "kind")?.as_str() {
            "api" => TokenKind::Api,
            "session" => TokenKind::Session,
            _ => return Err(bad("kind")),
        },
        user_psk: get(r, "user_psk")?,
        label: get(r, "label")?,
        starts_at: time_col(r, "starts_at")?,
        ends_at: opt_time(r, "ends_at")?,
        subnets: cidrs(r, "subnets")?,
        remember_me: get::<i64>(r, "remember_me")? != 0,
        created_at: time_col(r, "created_at")?,
        last_used_at: opt_time(r, "last_used_at")?,
        last_used_ip: get(r, "last_used_ip")?,
        revoked_at: opt_time(r, "revoked_at")?,
    })
}
