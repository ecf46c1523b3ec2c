//! Users: create, find, change and delete, with the org's rules for their fields and passwords
//! (model §3, §8.2) and who may do what to whom ([`crate::user_rules`]).

use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::model::{Org, Role, User};
use crate::net::CidrList;
use crate::org_settings::OrgSettings;
use crate::store::Store;
use crate::user_rules::{self, Touches};
use crate::{password, password_rules, text};
use time::OffsetDateTime;

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

pub(crate) fn fault(field: &str, message: &str) -> FieldFault {
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
        let template = OrgSettings::of(&org.settings).user_custom_metadata_template;
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
    let settings = OrgSettings::of(&org.settings);
    let rules = settings.password_policy(user.role == Role::Administrator);
    let mut broken = password_rules::check(pw, rules, "password");
    let history = rules.password_history.max(0) as usize;
    if broken.is_empty() && history > 0 {
        let recent = user.password_hash.iter().chain(user.password_history.iter()).take(history);
        if recent.into_iter().any(|h| password::verify(pw, h)) {
            broken.push(fault("password", &format!("must differ from the last {history} password(s)")));
        }
    }
    let interval = rules.password_reset_interval_time_in_minutes;
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

/// Create a user in `org` (model §3); a user id that is an e-mail address is the e-mail when none is given.
pub async fn create(
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
            &OrgSettings::of(&org.settings).user_custom_metadata_template,
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
pub async fn find(store: &dyn Store, org: &Org, user_id: &str) -> Result<User, ApiError> {
    text::storable("user_id", user_id).map_err(|f| ApiError::invalid_fields(vec![f]))?;
    store.find_users(user_id, Some(&org.org_id)).await?.into_iter().next().ok_or_else(|| {
        ApiError::new(ErrorCode::UserNotFound).with_message(format!("No user '{user_id}' in {}.", org.tenant_id))
    })
}

/// Change a user's fields under the org's rules, with no check of who asks (the operator's CLI and seed
/// files; the doors of users use [`update`]).
pub async fn save(
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

/// Who asks for a change of a user: the acting user and the session or token its request carries (kept
/// when a change of its own password ends its other sessions).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The acting user.
    pub user: &'a User,
    /// The token or session of the request, if any.
    pub token_id: Option<&'a str>,
}

/// A change of a user asked for by another user (or by itself), through the API or the console.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// New values; `None` leaves a field as it is.
    pub fields: UserFields,
    /// End a lockout (`locked: false`).
    pub unlock: bool,
    /// The current password, which a user needs to change its own.
    pub current_password: Option<String>,
}

/// The user `psk` of `org`, or 404004 (also for a user of another org: existence does not leak).
pub async fn get_in(store: &dyn Store, org: &Org, psk: i64) -> Result<User, ApiError> {
    match store.get_user(psk).await? {
        Some(u) if u.org_id == org.org_id => Ok(u),
        _ => Err(ApiError::new(ErrorCode::UserNotFound)),
    }
}

/// What `fields` and `unlock` would change in `target`: a field counts only when its new value differs
/// from the stored one, so the same input is judged the same in every door, whether the door sends every
/// field (the console's form) or only those the caller named (the API).
pub fn touches(target: &User, fields: &UserFields, unlock: bool, now: OffsetDateTime) -> Touches {
    let differs = |new: Option<bool>, old: bool| new.is_some_and(|v| v != old);
    Touches {
        role: fields.role.filter(|r| *r != target.role),
        account_state: differs(fields.enabled, target.enabled)
            || fields.expires_at.is_some_and(|e| e != target.expires_at),
        admin_only: differs(fields.token_access, target.token_access)
            || fields.allowed_subnets.as_ref().is_some_and(|s| *s != target.allowed_subnets),
        unlock: unlock && (target.is_locked(now) || target.failed_login_count > 0),
    }
}

/// Enabled administrators of `target`'s org when `target` is one (else 0: no rule needs the count).
async fn admins_beside(store: &dyn Store, target: &User) -> Result<usize, ApiError> {
    if target.role != Role::Administrator || !target.enabled {
        return Ok(0);
    }
    Ok(user_rules::enabled_admins(&store.list_users(&target.org_id).await?))
}

/// Create a user in `org` as `actor` asks (model §3): who may create which role, and who may set
/// `token_access` and `allowed_subnets` (set to anything but their defaults).
pub async fn create_as(
    store: &dyn Store,
    org: &Org,
    actor: &User,
    user_id: &str,
    fields: UserFields,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    let role = fields.role.unwrap_or(Role::User);
    let admin_only =
        fields.token_access == Some(true) || fields.allowed_subnets.as_ref().is_some_and(|s| *s != CidrList::any());
    user_rules::check_create(actor, role, admin_only)?;
    create(store, org, user_id, UserFields { role: Some(role), ..fields }, now).await
}

/// Change `target`, a user of `org`, as `actor` asks (model §3, §8.2): who may change what
/// ([`user_rules::check_update`] on what the change [`touches`]), the current password for one's own, the
/// org's rules for every field, an unlock, and the end of the user's other sessions when its password
/// changes. Returns the user as stored.
pub async fn update(
    store: &dyn Store,
    org: &Org,
    actor: Actor<'_>,
    mut target: User,
    change: UserChange,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    let UserChange { mut fields, unlock, current_password } = change;
    let t = touches(&target, &fields, unlock, now);
    user_rules::check_update(actor.user, &target, &t, admins_beside(store, &target).await?)?;
    let own = actor.user.psk == target.psk;
    if own && fields.password.is_some() {
        let ok = match (current_password, &target.password_hash) {
            (Some(cur), Some(hash)) => password::verify_off_thread(&cur, hash).await,
            (Some(_), None) => false,
            (None, _) => {
                return Err(ApiError::invalid_field("current_password", "is required to change your own password"))
            }
        };
        if !ok {
            return Err(ApiError::invalid_field("current_password", "is not your current password"));
        }
        fields.self_service = true;
    }
    if t.unlock {
        target.locked_until = None;
        target.locked_permanently = false;
        target.failed_login_count = 0;
    }
    let password_changed = fields.password.is_some();
    let user = save(store, org, target, fields, now).await?;
    if password_changed {
        let keep = if own { actor.token_id } else { None };
        store.revoke_sessions(user.psk, keep, now).await?;
    }
    Ok(user)
}

/// Delete `target` as `actor` asks (model §3): nobody deletes itself, user managers only users and user
/// managers, and every org keeps an enabled administrator. Its tokens and sessions go with it.
pub async fn delete(store: &dyn Store, actor: &User, target: &User) -> Result<(), ApiError> {
    user_rules::check_delete(actor, target, admins_beside(store, target).await?)?;
    store.delete_user(target.psk).await?;
    Ok(())
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
