//! Operations on orgs, users and tokens, with their validation rules, shared by the operator CLI, the
//! APIs and the console.

use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::ids::{OrgId, TenantId};
use crate::model::{Org, Role, TokenKind, TokenRecord, UsagePlan, User};
use crate::net::CidrList;
use crate::store::Store;
use crate::tree::OrgIndex;
use crate::{password, password_rules, settings, text, token};
use std::sync::Arc;
use time::OffsetDateTime;

/// The label of an API token created without one.
pub const DEFAULT_TOKEN_LABEL: &str = "api token";

/// The most live API tokens one user may hold.
pub const MAX_LIVE_TOKENS: usize = 50;

/// Find an org by `tenant_id` or `org_id`.
pub fn find_org<'a>(orgs: &'a OrgIndex, reference: &str) -> Option<&'a Arc<Org>> {
    TenantId::parse(reference)
        .and_then(|t| orgs.by_tenant(&t))
        .or_else(|| OrgId::parse(reference).and_then(|o| orgs.get(&o)))
}

/// Find one org by `tenant_id` or `org_id` in the store (not the whole tree), or 40401 naming the reference.
pub async fn load_org(store: &dyn Store, reference: &str) -> Result<Arc<Org>, ApiError> {
    let by_tenant = match TenantId::parse(reference) {
        Some(t) => store.get_org_by_tenant(&t).await?,
        None => None,
    };
    let found = match (by_tenant, OrgId::parse(reference)) {
        (Some(o), _) => Some(o),
        (None, Some(id)) => store.get_org(&id).await?,
        (None, None) => None,
    };
    found
        .map(Arc::new)
        .ok_or_else(|| ApiError::new(ErrorCode::TenantNotFound).with_message(format!("No org '{reference}'.")))
}

/// A new org.
#[derive(Debug, Clone, Default)]
pub struct NewOrg {
    /// Given tenant id, else derived from the name.
    pub tenant_id: Option<String>,
    /// Name, 1–255 chars, unique.
    pub name: String,
    /// Parent org (tenant id or org id); `None` = a root.
    pub parent: Option<String>,
    /// Usage plan enabled (default true).
    pub api_enabled: Option<bool>,
    /// Org allow-list.
    pub allowed_subnets: Option<CidrList>,
    /// A fixed `org_id` (seed files); `None` = a random one.
    pub org_id: Option<OrgId>,
}

/// Create an org (model §2).
pub async fn create_org(
    store: &dyn Store,
    input: NewOrg,
    default_plan: &UsagePlan,
    now: OffsetDateTime,
) -> Result<Org, ApiError> {
    let orgs = OrgIndex::new(store.list_orgs().await?);
    let mut faults = Vec::new();
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 255 {
        faults.push(fault("name", "must be 1 to 255 characters"));
    } else if let Err(f) = text::storable("name", &name) {
        faults.push(f);
    } else if orgs.all().iter().any(|o| o.name.to_lowercase() == name.to_lowercase()) {
        return Err(ApiError::new(ErrorCode::Conflict).with_message(format!("An org named '{name}' already exists.")));
    }
    let parent = match &input.parent {
        Some(p) => match find_org(&orgs, p) {
            Some(o) => Some(o.clone()),
            None => {
                faults.push(fault("parent", &format!("no org has tenant id or org id '{p}'")));
                None
            }
        },
        None => None,
    };
    let tenant_id = match &input.tenant_id {
        Some(t) => match TenantId::parse(t) {
            Some(t) if orgs.by_tenant(&t).is_some() => {
                return Err(ApiError::new(ErrorCode::Conflict).with_message(format!("Tenant id '{t}' is taken.")))
            }
            Some(t) => Some(t),
            None => {
                faults.push(fault(
                    "tenant_id",
                    "must match ^[A-Z][A-Z0-9_]{0,29}$ (upper-case letters, digits, _; starting with a letter)",
                ));
                None
            }
        },
        None => None,
    };
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    let tenant_id = tenant_id.unwrap_or_else(|| {
        TenantId::derive(&name, |t| TenantId::parse(t).is_some_and(|t| orgs.by_tenant(&t).is_some()))
    });
    let mut usage_plan = default_plan.clone();
    if let Some(e) = input.api_enabled {
        usage_plan.enabled = e;
    }
    if let Some(id) = &input.org_id {
        if orgs.get(id).is_some() {
            return Err(ApiError::new(ErrorCode::Conflict).with_message(format!("Org id '{id}' is taken.")));
        }
    }
    let org = Org {
        org_id: input.org_id.unwrap_or_else(OrgId::generate),
        tenant_id,
        parent_id: parent.as_ref().map(|p| p.org_id.clone()),
        name,
        allowed_subnets: input.allowed_subnets.unwrap_or_default(),
        usage_plan,
        settings: parent.map(|p| settings::for_child(&p.settings)).unwrap_or_else(settings::defaults),
        created_at: now,
    };
    store.insert_org(&org).await?;
    Ok(org)
}

/// An administrator's request for a child org with its first administrator (model §2, §3).
#[derive(Debug, Clone, Default)]
pub struct NewChildOrg {
    /// Name.
    pub name: String,
    /// Tenant id (derived from the name when absent).
    pub tenant_id: Option<String>,
    /// Parent org id; `None` = the acting org.
    pub parent: Option<String>,
    /// The first administrator's login name.
    pub admin_user_id: String,
    /// Its e-mail, names and optional password (role and `token_access` are fixed here).
    pub admin: UserFields,
}

fn prefixed(faults: Vec<FieldFault>, prefix: &str) -> Vec<FieldFault> {
    faults.into_iter().map(|f| FieldFault { field: format!("{prefix}{}", f.field), ..f }).collect()
}

/// Create a child org under an org `actor` may act in, with its first administrator (`token_access`
/// off). Either both exist afterwards or neither; admin faults are named `admin.<field>`.
pub async fn create_child_org(
    store: &dyn Store,
    orgs: &OrgIndex,
    actor: &User,
    acting: &Org,
    input: NewChildOrg,
    plan: &UsagePlan,
    now: OffsetDateTime,
) -> Result<(Org, User), ApiError> {
    let parent = match &input.parent {
        None => acting.org_id.clone(),
        Some(p) => match OrgId::parse(p).filter(|id| orgs.get(id).is_some() && orgs.may_act_in(actor, id)) {
            Some(id) => id,
            None => return Err(ApiError::invalid_field("parent_id", "is not an org you may act in")),
        },
    };
    if input.admin_user_id.trim().is_empty() {
        return Err(ApiError::invalid_field("admin.user_id", "is required"));
    }
    let new =
        NewOrg { tenant_id: input.tenant_id, name: input.name, parent: Some(parent.to_string()), ..NewOrg::default() };
    let org = create_org(store, new, plan, now).await?;
    let fields = UserFields { role: Some(Role::Administrator), token_access: Some(false), ..input.admin };
    match create_user(store, &org, &input.admin_user_id, fields, now).await {
        Ok(user) => Ok((org, user)),
        Err(e) => {
            store.delete_org(&org.org_id, false).await?;
            Err(ApiError { faults: prefixed(e.faults, "admin."), ..e })
        }
    }
}

/// Operator changes to an org.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    /// Usage plan enabled.
    pub api_enabled: Option<bool>,
    /// Org allow-list.
    pub allowed_subnets: Option<CidrList>,
    /// Token-bucket rate.
    pub rate_per_second: Option<u32>,
    /// Token-bucket capacity.
    pub burst: Option<u32>,
    /// Concurrency cap.
    pub max_concurrent: Option<u32>,
    /// Daily quota (`Some(None)` = unlimited).
    pub daily_quota: Option<Option<u64>>,
}

impl OrgPatch {
    /// Apply the changes to an org in memory.
    pub fn apply_to(self, org: &mut Org) {
        let p = &mut org.usage_plan;
        if let Some(v) = self.api_enabled {
            p.enabled = v;
        }
        if let Some(v) = self.rate_per_second {
            p.rate_per_second = v;
        }
        if let Some(v) = self.burst {
            p.burst = v;
        }
        if let Some(v) = self.max_concurrent {
            p.max_concurrent = v;
        }
        if let Some(v) = self.daily_quota {
            p.daily_quota = v;
        }
        if let Some(s) = self.allowed_subnets {
            org.allowed_subnets = s;
        }
    }
}

/// Apply operator changes to an org.
pub async fn update_org(store: &dyn Store, reference: &str, patch: OrgPatch) -> Result<Org, ApiError> {
    let mut org = (*load_org(store, reference).await?).clone();
    patch.apply_to(&mut org);
    store.update_org(&org).await?;
    Ok(org)
}

/// The fields of a user that the operator and administrators set.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    /// Role.
    pub role: Option<Role>,
    /// New password (checked against the org's rules).
    pub password: Option<String>,
    /// TokenAccess.
    pub token_access: Option<bool>,
    /// User allow-list.
    pub allowed_subnets: Option<CidrList>,
    /// Expiry (`Some(None)` clears it).
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// E-mail.
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Mobile phone (`Some(None)` clears it).
    pub mobile_phone: Option<Option<String>>,
    /// Custom metadata to merge (checked against the org's user template).
    pub custom_metadata: Option<serde_json::Value>,
    /// The password is set by the user itself (reset interval applies).
    pub self_service: bool,
}

fn fault(field: &str, message: &str) -> FieldFault {
    FieldFault { field: field.into(), message: message.into() }
}

/// Whether a string is a simple e-mail address (`local@domain.tld`).
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.contains(char::is_whitespace) {
        return false;
    }
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        }
        _ => false,
    }
}

/// [`apply_fields`] for the async paths: when `f` sets a password (argon2 hashes and history checks), the
/// work runs on the hashing threads instead of an async worker.
pub async fn apply_fields_off_thread(
    mut user: User,
    f: UserFields,
    org: &Org,
    now: OffsetDateTime,
) -> (User, Vec<FieldFault>) {
    if f.password.is_none() {
        let faults = apply_fields(&mut user, f, org, now);
        return (user, faults);
    }
    let org = org.clone();
    password::off_thread(move || {
        let faults = apply_fields(&mut user, f, &org, now);
        (user, faults)
    })
    .await
}

/// Apply `f` to `user` under the org's rules; the faults found (the user is then partly changed).
pub fn apply_fields(user: &mut User, f: UserFields, org: &Org, now: OffsetDateTime) -> Vec<FieldFault> {
    let mut faults = Vec::new();
    if let Some(r) = f.role {
        user.role = r;
    }
    if let Some(v) = f.token_access {
        user.token_access = v;
    }
    if let Some(v) = f.allowed_subnets {
        user.allowed_subnets = v;
    }
    if let Some(v) = f.expires_at {
        user.expires_at = v;
    }
    if let Some(v) = f.enabled {
        user.enabled = v;
    }
    for (field, value, target) in
        [("first_name", f.first_name, &mut user.first_name), ("last_name", f.last_name, &mut user.last_name)]
    {
        if let Some(v) = value {
            if v.chars().count() > 255 {
                faults.push(fault(field, "must be at most 255 characters"));
            }
            faults.extend(text::storable(field, &v).err());
            *target = v;
        }
    }
    if let Some(e) = f.email {
        if let Err(nul) = text::storable("email", &e) {
            faults.push(nul);
        } else if !e.is_empty() && !is_email(&e) {
            faults.push(fault("email", "must be an e-mail address like jane@example.com, or empty"));
        }
        user.email = e;
    }
    if let Some(cm) = f.custom_metadata {
        let template = org.settings.get("user_custom_metadata_template").cloned().unwrap_or_default();
        match crate::metadata::merge(&template, Some(&user.custom_metadata), Some(&cm)) {
            Ok(v) => user.custom_metadata = v,
            Err(f) => faults.extend(f),
        }
    }
    if user.role == Role::Administrator && user.email.is_empty() && is_email(&user.user_id) {
        user.email = user.user_id.clone();
    }
    if user.role == Role::Administrator && user.email.is_empty() {
        faults.push(fault("email", "is required for administrators"));
    }
    if let Some(p) = f.mobile_phone {
        if p.as_ref().is_some_and(|p| p.chars().count() > 64) {
            faults.push(fault("phone", "must be at most 64 characters"));
        }
        faults.extend(p.as_deref().and_then(|p| text::storable("phone", p).err()));
        user.mobile_phone = p;
    }
    if let Some(pw) = f.password {
        if let Err(broken) = set_password(user, org, &pw, f.self_service, now) {
            faults.extend(broken);
        }
    }
    user.modified_at = now;
    faults
}

/// Set a password under the org's rules (model §8.2): complexity for the user's role, history, and
/// for self-service changes the minimum interval between changes.
pub fn set_password(
    user: &mut User,
    org: &Org,
    pw: &str,
    self_service: bool,
    now: OffsetDateTime,
) -> Result<(), Vec<FieldFault>> {
    let rules = settings::password_rules_for(&org.settings, user.role == Role::Administrator);
    let mut broken = password_rules::check(pw, &rules, "password");
    let n = |k: &str| rules.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
    let history = n("password_history").max(0) as usize;
    if broken.is_empty() && history > 0 {
        let recent = user.password_hash.iter().chain(user.password_history.iter()).take(history);
        if recent.into_iter().any(|h| password::verify(pw, h)) {
            broken.push(fault("password", &format!("must differ from the last {history} password(s)")));
        }
    }
    let interval = n("password_reset_interval_time_in_minutes");
    if self_service
        && interval > 0
        && user.password_changed_at.is_some_and(|t| now - t < time::Duration::minutes(interval))
    {
        broken.push(fault("password", &format!("can be changed again {interval} minutes after the last change")));
    }
    if !broken.is_empty() {
        return Err(broken);
    }
    if let Some(old) = user.password_hash.take() {
        user.password_history.insert(0, old);
        user.password_history.truncate(24);
    }
    user.password_hash = Some(password::hash(pw));
    user.password_changed_at = Some(now);
    Ok(())
}

/// Delete an affiliated org with everything that belongs to it (users, tokens, sessions, datasets, jobs,
/// files), in one transaction; with `cascade`, the orgs below it too, else 409 while it has any. `actor` is
/// the administrator asking, who may delete orgs below its own, never its own or one above it (`None`: the
/// operator, through the CLI). Returns the orgs deleted, deepest first.
pub async fn delete_org(
    store: &dyn Store,
    orgs: &OrgIndex,
    actor: Option<&User>,
    target: &Org,
    cascade: bool,
) -> Result<Vec<OrgId>, ApiError> {
    if let Some(user) = actor.filter(|u| !orgs.is_ancestor(&u.org_id, &target.org_id)) {
        if user.org_id == target.org_id {
            return Err(ApiError::new(ErrorCode::Conflict)
                .with_message("An org cannot delete itself; an administrator of an org above it can delete it."));
        }
        return Err(ApiError::new(ErrorCode::TenantNotFound));
    }
    let below = orgs.subtree(&target.org_id).len().saturating_sub(1);
    if below > 0 && !cascade {
        return Err(ApiError::new(ErrorCode::Conflict).with_message(format!(
            "'{}' has {below} affiliated org(s) below it; delete them first, or delete them with it (cascade=true).",
            target.name
        )));
    }
    Ok(store.delete_org(&target.org_id, cascade).await?)
}

/// Create a user in `org` (model §3); a user id that is an e-mail address is the e-mail when none is given.
pub async fn create_user(
    store: &dyn Store,
    org: &Org,
    user_id: &str,
    fields: UserFields,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    let user_id = user_id.trim();
    let mut faults = Vec::new();
    if user_id.is_empty() || user_id.chars().count() > 255 {
        faults.push(fault("user_id", "must be 1 to 255 characters"));
    }
    faults.extend(text::storable("user_id", user_id).err());
    let user = User {
        psk: 0,
        org_id: org.org_id.clone(),
        user_id: user_id.to_string(),
        email: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        mobile_phone: None,
        role: Role::User,
        enabled: true,
        expires_at: None,
        token_access: false,
        allowed_subnets: CidrList::any(),
        password_hash: None,
        password_changed_at: None,
        password_history: Vec::new(),
        custom_metadata: crate::metadata::merge(
            org.settings.get("user_custom_metadata_template").unwrap_or(&serde_json::Value::Null),
            None,
            None,
        )
        .unwrap_or_default(),
        failed_login_count: 0,
        last_failed_login_at: None,
        locked_until: None,
        locked_permanently: false,
        created_at: now,
        modified_at: now,
        last_login_at: None,
    };
    let (mut user, more) = apply_fields_off_thread(user, fields, org, now).await;
    faults.extend(more);
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    if user.email.is_empty() && is_email(&user.user_id) {
        user.email = user.user_id.clone();
    }
    Ok(store.insert_user(&user).await?)
}

/// Find a user by login name in an org, or 404004.
pub async fn find_user(store: &dyn Store, org: &Org, user_id: &str) -> Result<User, ApiError> {
    text::storable("user_id", user_id).map_err(|f| ApiError::invalid_fields(vec![f]))?;
    store.find_users(user_id, Some(&org.org_id)).await?.into_iter().next().ok_or_else(|| {
        ApiError::new(ErrorCode::UserNotFound).with_message(format!("No user '{user_id}' in {}.", org.tenant_id))
    })
}

/// Change a user's fields.
pub async fn update_user(
    store: &dyn Store,
    org: &Org,
    user: User,
    fields: UserFields,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    let (user, faults) = apply_fields_off_thread(user, fields, org, now).await;
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    store.update_user(&user).await?;
    Ok(user)
}

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
pub async fn create_api_token(
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
pub async fn token_owner_for_listing(
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
pub async fn revoke_token_as(
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
    revoke_token(store, token_id, now).await
}

/// Revoke a token by id, or 404006.
pub async fn revoke_token(store: &dyn Store, token_id: &str, now: OffsetDateTime) -> Result<(), ApiError> {
    if store.revoke_token(token_id, now).await? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::TokenNotFound).with_message(format!("No live token '{token_id}'.")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn emails_have_the_simple_form() {
        assert!(super::is_email("jane@acme.test"));
        assert!(!super::is_email("jane@acme"));
        assert!(!super::is_email("jane acme@x.y"));
        assert!(!super::is_email("a@b@c.d"));
        assert!(!super::is_email("@c.d"));
    }
}
