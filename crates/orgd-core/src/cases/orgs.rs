//! Orgs: find, create (roots by the operator, affiliated orgs with their first administrator), change
//! and delete, with their rules (model §2).

use super::users::{self, UserFields};
use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::ids::{OrgId, TenantId};
use crate::model::{Org, Role, UsagePlan, User};
use crate::net::CidrList;
use crate::store::Store;
use crate::tree::OrgIndex;
use crate::{org_settings, text};
use std::sync::Arc;
use time::OffsetDateTime;

/// Find an org by `tenant_id` or `org_id`.
pub fn find<'a>(orgs: &'a OrgIndex, reference: &str) -> Option<&'a Arc<Org>> {
    TenantId::parse(reference)
        .and_then(|t| orgs.by_tenant(&t))
        .or_else(|| OrgId::parse(reference).and_then(|o| orgs.get(&o)))
}

/// Find one org by `tenant_id` or `org_id` in the store (not the whole tree), or 40401 naming the reference.
pub async fn load(store: &dyn Store, reference: &str) -> Result<Arc<Org>, ApiError> {
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
pub async fn create(
    store: &dyn Store,
    input: NewOrg,
    default_plan: &UsagePlan,
    now: OffsetDateTime,
) -> Result<Org, ApiError> {
    let orgs = OrgIndex::new(store.list_orgs().await?);
    let mut faults = Vec::new();
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 255 {
        faults.push(users::fault("name", "must be 1 to 255 characters"));
    } else if let Err(f) = text::storable("name", &name) {
        faults.push(f);
    } else if orgs.all().iter().any(|o| o.name.to_lowercase() == name.to_lowercase()) {
        return Err(ApiError::new(ErrorCode::Conflict).with_message(format!("An org named '{name}' already exists.")));
    }
    let parent = match &input.parent {
        Some(p) => match find(&orgs, p) {
            Some(o) => Some(o.clone()),
            None => {
                faults.push(users::fault("parent", &format!("no org has tenant id or org id '{p}'")));
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
                faults.push(users::fault(
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
        settings: parent.map(|p| org_settings::for_child(&p.settings)).unwrap_or_else(org_settings::defaults),
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
pub async fn create_child(
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
    let org = create(store, new, plan, now).await?;
    let fields = UserFields { role: Some(Role::Administrator), token_access: Some(false), ..input.admin };
    match users::create(store, &org, &input.admin_user_id, fields, now).await {
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
pub async fn update(store: &dyn Store, reference: &str, patch: OrgPatch) -> Result<Org, ApiError> {
    let mut org = (*load(store, reference).await?).clone();
    patch.apply_to(&mut org);
    store.update_org(&org).await?;
    Ok(org)
}

/// Delete an affiliated org with everything that belongs to it (users, tokens, sessions, datasets, jobs,
/// files), in one transaction; with `cascade`, the orgs below it too, else 409 while it has any. `actor` is
/// the administrator asking, who may delete orgs below its own, never its own or one above it (`None`: the
/// operator, through the CLI). Returns the orgs deleted, deepest first.
pub async fn delete(
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

/// An org the caller may act in, with its parent (`None` for a root).
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The org.
    pub org: Arc<Org>,
    /// Its parent.
    pub parent: Option<Arc<Org>>,
}

/// Every org `user` may act in (model §2): an administrator's org and all below it, other roles their
/// own org only; pre-order, siblings by name.
pub fn tenants(orgs: &OrgIndex, user: &User) -> Vec<Tenant> {
    orgs.actable(user)
        .into_iter()
        .map(|o| Tenant { org: o.clone(), parent: o.parent_id.as_ref().and_then(|p| orgs.get(p)).cloned() })
        .collect()
}

/// What of the org tree `user` sees from `target` (the Apperian org listing).
#[derive(Debug, Clone)]
pub enum TreeView {
    /// Users and user managers: the acting org alone, without its children.
    Alone,
    /// Administrators: the acting org's subtree, under the acting org's parent (shown without its other
    /// children) when it has one.
    Subtree {
        /// The acting org's parent.
        parent: Option<Arc<Org>>,
    },
}

/// See [`TreeView`].
pub fn tree_view(orgs: &OrgIndex, user: &User, target: &Org) -> TreeView {
    if user.role != Role::Administrator {
        return TreeView::Alone;
    }
    TreeView::Subtree { parent: target.parent_id.as_ref().and_then(|p| orgs.get(p)).cloned() }
}
