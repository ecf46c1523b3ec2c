//! Response bodies rendered once per cached org: an org's object only changes when the auth cache loads a
//! new version of the org (a new `Arc`), so the bytes made from one version are reused until then.

use bytes::Bytes;
use orgd_core::ids::OrgId;
use orgd_core::model::Org;
use orgd_core::store::Store;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

type Slot = Option<(Arc<Org>, Bytes)>;

/// Rendered bodies per org, one for administrators and one for other users.
#[derive(Default)]
pub struct RenderedOrgs(Mutex<HashMap<OrgId, [Slot; 2]>>);

impl RenderedOrgs {
    /// The body for this version of `org`, rendering it with `render` the first time.
    pub fn get_or_render(&self, org: &Arc<Org>, admin: bool, render: impl FnOnce(&Org) -> Vec<u8>) -> Bytes {
        let i = usize::from(admin);
        if let Some(Some((seen, body))) = self.0.lock().get(&org.org_id).map(|s| &s[i]) {
            if Arc::ptr_eq(seen, org) {
                return body.clone();
            }
        }
        let body = Bytes::from(render(org));
        self.0.lock().entry(org.org_id.clone()).or_default()[i] = Some((org.clone(), body.clone()));
        body
    }
}

/// Rendered dataset lists per org, valid for one [`ListKey`]: the store's data epoch (its count of dataset
/// creations, deletions and definition changes such as grants, polled with the auth epoch) and this
/// process's own count of them, so a dataset made, deleted or regranted here is listed (or not) by the
/// very next request without anyone refreshing anything.
pub struct RenderedLists {
    epoch: std::sync::atomic::AtomicI64,
    lists: Mutex<HashMap<OrgId, (ListKey, Bytes, bool)>>,
}

/// What a rendered list was made at; see [`RenderedLists`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListKey {
    epoch: i64,
    local: u64,
}

impl Default for RenderedLists {
    fn default() -> Self {
        RenderedLists { epoch: std::sync::atomic::AtomicI64::new(i64::MIN), lists: Mutex::default() }
    }
}

impl RenderedLists {
    /// The key a list read now is made at (`None` before the data epoch was first read: nothing is cached).
    pub fn key(&self, store: &dyn Store) -> Option<ListKey> {
        let epoch = self.epoch.load(std::sync::atomic::Ordering::Acquire);
        (epoch != i64::MIN).then(|| ListKey { epoch, local: store.local_changes().data })
    }

    /// Record the store's data epoch; entries of other epochs stop being served.
    pub fn set_epoch(&self, epoch: i64) {
        if self.epoch.swap(epoch, std::sync::atomic::Ordering::AcqRel) != epoch {
            self.lists.lock().retain(|_, (k, _, _)| k.epoch == epoch);
        }
    }

    /// The whole list of `org` rendered at `key`, if any, and whether every user of the org reads every
    /// dataset in it (else a caller who is not an administrator gets a list of its own).
    pub fn get(&self, org: &OrgId, key: Option<ListKey>) -> Option<(Bytes, bool)> {
        let key = key?;
        self.lists.lock().get(org).filter(|(k, _, _)| *k == key).map(|(_, b, open)| (b.clone(), *open))
    }

    /// Keep a whole list rendered from a read made after `key` was current.
    pub fn put(&self, org: &OrgId, key: Option<ListKey>, body: Bytes, open: bool) {
        if let Some(key) = key {
            self.lists.lock().insert(org.clone(), (key, body, open));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_version_of_the_org_is_rendered_again() {
        let org = Arc::new(Org {
            org_id: OrgId::generate(),
            tenant_id: orgd_core::ids::TenantId::parse("ACME").unwrap(),
            parent_id: None,
            name: "Acme".into(),
            allowed_subnets: Default::default(),
            usage_plan: Default::default(),
            settings: serde_json::json!({}),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        });
        let cache = RenderedOrgs::default();
        let mut calls = 0;
        let mut render = |o: &Org| {
            calls += 1;
            o.name.clone().into_bytes()
        };
        assert_eq!(cache.get_or_render(&org, true, &mut render), "Acme");
        assert_eq!(cache.get_or_render(&org, true, &mut render), "Acme");
        assert_eq!(cache.get_or_render(&org, false, &mut render), "Acme");
        let renamed = Arc::new(Org { name: "Acme 2".into(), ..(*org).clone() });
        assert_eq!(cache.get_or_render(&renamed, true, &mut render), "Acme 2");
        assert_eq!(calls, 3, "one render per version and audience");
    }

    #[test]
    fn lists_are_served_for_their_key_only() {
        let lists = RenderedLists::default();
        let org = OrgId::generate();
        let at = |epoch, local| Some(ListKey { epoch, local });
        lists.put(&org, None, Bytes::from("[]"), true);
        assert!(lists.get(&org, None).is_none(), "nothing is cached before the epoch is known");
        lists.set_epoch(7);
        lists.put(&org, at(7, 0), Bytes::from("[1]"), false);
        assert_eq!(lists.get(&org, at(7, 0)).unwrap(), (Bytes::from("[1]"), false));
        assert!(lists.get(&org, at(7, 1)).is_none(), "a dataset made or deleted here since");
        lists.set_epoch(8);
        assert!(lists.get(&org, at(8, 0)).is_none() && lists.get(&org, at(7, 0)).is_none());
    }
}
