//! API tokens: create, list whose, and revoke, with their rules (model §4).

use super::users::fault;
use crate::error::{ApiError, ErrorCode};
use crate::ids::OrgId;
use crate::model::{Org, Role, TokenKind, TokenRecord, User};
use crate::net::CidrList;
use crate::store::Store;
use crate::tree::OrgIndex;
use crate::{text, token};
use time::OffsetDateTime;

/// The label of an API token created without one.
pub const DEFAULT_TOKEN_LABEL: &str = "api token";

/// The most live API tokens one user may hold.
pub const MAX_LIVE_TOKENS: usize = 50;

/// A new API token.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Label, ≤ 100 chars (default [`DEFAULT_TOKEN_LABEL`]).
    pub label: Option<String>,
    /// Valid from (default now).
    pub starts_at: Option<OffsetDateTime>,
    /// Valid until (default: no end).
    pub ends_at: Option<OffsetDateTime>,
    /// Token allow-list.
    pub subnets: CidrList,
    /// A fixed secret (seed files); `None` = a fresh random one.
    pub fixed: Option<token::MintedToken>,
}

/// Create an API token for `user` (model §4): the secret (shown once) and the stored record.
pub async fn create_api(
    store: &dyn Store,
    user: &User,
    input: NewToken,
    now: OffsetDateTime,
) -> Result<(String, TokenRecord), ApiError> {
    if !user.token_access {
        return Err(ApiError::new(ErrorCode::TokenAccessDisabled).with_message(format!(
            "Token access is disabled for {}; an administrator of the org must switch TokenAccess on first.",
            user.user_id
        )));
    }
    let mut faults = Vec::new();
    let label = input.label.unwrap_or_else(|| DEFAULT_TOKEN_LABEL.to_string());
    if label.trim().is_empty() || label.chars().count() > 100 {
        faults.push(fault("label", "must be 1 to 100 characters"));
    }
    faults.extend(text::storable("label", &label).err());
    let starts_at = input.starts_at.unwrap_or(now);
    if input.ends_at.is_some_and(|e| e <= starts_at) {
        faults.push(fault("ends_at", "must be later than starts_at"));
    }
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    let org = user.org_id.clone();
    let live = store
        .list_tokens(&org, Some(user.psk))
        .await?
        .iter()
        .filter(|t| t.kind == TokenKind::Api && t.revoked_at.is_none() && t.ends_at.is_none_or(|e| e > now))
        .count();
    if live >= MAX_LIVE_TOKENS {
        return Err(ApiError::new(ErrorCode::Conflict)
            .with_message(format!("At most {MAX_LIVE_TOKENS} live API tokens per user; revoke one first.")));
    }
    let minted = input.fixed.unwrap_or_else(token::mint);
    let record = TokenRecord {
        token_id: minted.token_id.clone(),
        kind: TokenKind::Api,
        user_psk: user.psk,
        label,
        starts_at,
        ends_at: input.ends_at,
        subnets: input.subnets,
        remember_me: false,
        created_at: now,
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
    };
    store.insert_token(&record, &minted.hash).await?;
    Ok((minted.secret, record))
}

/// Whose API tokens `actor` may list in `acting_org` (model §3): its own, or, for administrators, those
/// of any user of the acting org (`requested`); 40331 for other roles, 404004 for users elsewhere.
pub async fn owner_for_listing(
    store: &dyn Store,
    actor: &User,
    acting_org: &OrgId,
    requested: Option<i64>,
) -> Result<User, ApiError> {
    let Some(psk) = requested.filter(|p| *p != actor.psk) else { return Ok(actor.clone()) };
    if actor.role != Role::Administrator {
        return Err(ApiError::new(ErrorCode::InsufficientRole));
    }
    match store.get_user(psk).await? {
        Some(u) if &u.org_id == acting_org => Ok(u),
        _ => Err(ApiError::new(ErrorCode::UserNotFound)),
    }
}

/// Revoke a live token as `actor`: its owner, or an administrator who may act in the owner's org.
/// Anything else (unknown, revoked, out of reach) is 404006, so existence does not leak.
pub async fn revoke_as(
    store: &dyn Store,
    orgs: &OrgIndex,
    actor: &User,
    token_id: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let not_found = || ApiError::new(ErrorCode::TokenNotFound);
    let (token, _) = store.get_token(token_id).await?.ok_or_else(not_found)?;
    let owner = store.get_user(token.user_psk).await?.ok_or_else(not_found)?;
    let allowed =
        owner.psk == actor.psk || (actor.role == Role::Administrator && orgs.may_act_in(actor, &owner.org_id));
    if !allowed || token.revoked_at.is_some() {
        return Err(not_found());
    }
    revoke(store, token_id, now).await
}

/// Revoke a token by id, or 404006.
pub async fn revoke(store: &dyn Store, token_id: &str, now: OffsetDateTime) -> Result<(), ApiError> {
    if store.revoke_token(token_id, now).await? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::TokenNotFound).with_message(format!("No live token '{token_id}'.")))
    }
}

/// Slide a session's end to the home org's session timeout from `now` (model §8.3); the new lifetime in
/// minutes, or `None` for an API token, whose window is fixed.
pub async fn extend_session(
    store: &dyn Store,
    token: &TokenRecord,
    home: &Org,
    now: OffsetDateTime,
) -> Result<Option<i64>, ApiError> {
    if token.kind == TokenKind::Api {
        return Ok(None);
    }
    let minutes = crate::org_settings::OrgSettings::of(&home.settings).session_minutes(token.remember_me);
    store.set_token_end(&token.token_id, Some(now + time::Duration::minutes(minutes))).await?;
    Ok(Some(minutes))
}
