//! The org tree (model §2): lookups by either key, descendants, and the "may act in" rule.

use crate::ids::{OrgId, TenantId};
use crate::model::{Org, Role, User};
use std::collections::HashMap;
use std::sync::Arc;

/// An immutable snapshot of every org, indexed for the access pipeline.
#[derive(Debug, Default)]
pub struct OrgIndex {
    by_id: HashMap<OrgId, Arc<Org>>,
    by_tenant: HashMap<TenantId, OrgId>,
    children: HashMap<OrgId, Vec<OrgId>>,
    roots: Vec<OrgId>,
}

impl OrgIndex {
    /// Build the index; children are kept sorted by name (case-insensitive), then id.
    pub fn new(orgs: Vec<Org>) -> Self {
        let mut idx = OrgIndex::default();
        for org in orgs {
            idx.by_tenant.insert(org.tenant_id.clone(), org.org_id.clone());
            match &org.parent_id {
                Some(p) => idx.children.entry(p.clone()).or_default().push(org.org_id.clone()),
                None => idx.roots.push(org.org_id.clone()),
            }
            idx.by_id.insert(org.org_id.clone(), Arc::new(org));
        }
        let by_id = &idx.by_id;
        let key = |id: &OrgId| (by_id[id].name.to_lowercase(), id.clone());
        for list in idx.children.values_mut() {
            list.sort_by_key(key);
        }
        idx.roots.sort_by_key(key);
        idx
    }

    /// The org with this `org_id`.
    pub fn get(&self, id: &OrgId) -> Option<&Arc<Org>> {
        self.by_id.get(id)
    }

    /// The org with this `tenant_id`.
    pub fn by_tenant(&self, tenant: &TenantId) -> Option<&Arc<Org>> {
        self.by_tenant.get(tenant).and_then(|id| self.by_id.get(id))
    }

    /// Every org, pre-order from the roots.
    pub fn all(&self) -> Vec<&Arc<Org>> {
        let mut out = Vec::with_capacity(self.by_id.len());
        for r in &self.roots {
            self.preorder(r, &mut out);
        }
        out
    }

    /// Direct children of an org, sorted.
    pub fn children(&self, id: &OrgId) -> &[OrgId] {
        self.children.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `org` and all its descendants, pre-order.
    pub fn subtree(&self, id: &OrgId) -> Vec<&Arc<Org>> {
        let mut out = Vec::new();
        if self.by_id.contains_key(id) {
            self.preorder(id, &mut out);
        }
        out
    }

    fn preorder<'a>(&'a self, id: &OrgId, out: &mut Vec<&'a Arc<Org>>) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            if let Some(o) = self.by_id.get(id) {
                out.push(o);
                stack.extend(self.children(id).iter().rev());
            }
        }
    }

    /// True when `ancestor` is a proper ancestor of `id`.
    pub fn is_ancestor(&self, ancestor: &OrgId, id: &OrgId) -> bool {
        let mut cur = self.by_id.get(id).and_then(|o| o.parent_id.as_ref());
        let mut steps = 0;
        while let Some(p) = cur {
            if p == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.by_id.len() {
                return false;
            }
            cur = self.by_id.get(p).and_then(|o| o.parent_id.as_ref());
        }
        false
    }

    /// Model §2 "may act in": the user's own org, or, for administrators, any descendant.
    pub fn may_act_in(&self, user: &User, target: &OrgId) -> bool {
        &user.org_id == target || (user.role == Role::Administrator && self.is_ancestor(&user.org_id, target))
    }

    /// Every org the user may act in, pre-order, siblings by name.
    pub fn actable(&self, user: &User) -> Vec<&Arc<Org>> {
        if user.role == Role::Administrator {
            self.subtree(&user.org_id)
        } else {
            self.by_id.get(&user.org_id).into_iter().collect()
        }
    }

    /// Number of orgs.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when there is no org.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::UsagePlan;
    use crate::net::CidrList;

    fn org(name: &str, parent: Option<&Org>) -> Org {
        Org {
            org_id: OrgId::generate(),
            tenant_id: TenantId::parse(&name.to_uppercase()).unwrap(),
            parent_id: parent.map(|p| p.org_id.clone()),
            name: name.into(),
            allowed_subnets: CidrList::any(),
            usage_plan: UsagePlan::default(),
            settings: serde_json::json!({}),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    pub(crate) fn org_for_tests() -> Org {
        org("ROOT", None)
    }

    pub(crate) fn user(org: &Org, role: Role) -> User {
        let t = time::OffsetDateTime::UNIX_EPOCH;
        User {
            psk: 1,
            org_id: org.org_id.clone(),
            user_id: "u".into(),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            mobile_phone: None,
            role,
            enabled: true,
            expires_at: None,
            token_access: true,
            allowed_subnets: CidrList::any(),
            password_hash: None,
            password_changed_at: None,
            password_history: vec![],
            custom_metadata: serde_json::json!({}),
            failed_login_count: 0,
            last_failed_login_at: None,
            locked_until: None,
            locked_permanently: false,
            created_at: t,
            modified_at: t,
            last_login_at: None,
        }
    }

    #[test]
    fn administrators_act_in_descendants_only() {
        let root = org("ROOT", None);
        let a = org("A", Some(&root));
        let b = org("B", Some(&root));
        let a1 = org("AONE", Some(&a));
        let idx = OrgIndex::new(vec![a1.clone(), b.clone(), root.clone(), a.clone()]);
        let admin_root = user(&root, Role::Administrator);
        let admin_a = user(&a, Role::Administrator);
        let user_a = user(&a, Role::User);
        assert!(idx.may_act_in(&admin_root, &a1.org_id));
        assert!(idx.may_act_in(&admin_a, &a1.org_id));
        assert!(!idx.may_act_in(&admin_a, &root.org_id));
        assert!(!idx.may_act_in(&admin_a, &b.org_id));
        assert!(!idx.may_act_in(&user_a, &a1.org_id));
        assert!(idx.may_act_in(&user_a, &a.org_id));
        let names: Vec<_> = idx.actable(&admin_root).iter().map(|o| o.name.clone()).collect();
        assert_eq!(names, ["ROOT", "A", "AONE", "B"]);
        assert_eq!(idx.actable(&user_a).len(), 1);
    }
}
