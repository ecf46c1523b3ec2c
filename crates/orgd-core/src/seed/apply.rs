//! Applying a seed: create what is missing, change what differs, leave what matches — through the same
//! operations (and rules) as the APIs and the operator CLI.

use super::{Seed, SeedDataset, SeedError, SeedOrg, SeedUser};
use crate::cases;
use crate::cases::orgs::NewOrg;
use crate::cases::tokens::NewToken;
use crate::clock::to_millis;
use crate::data::actions::Options;
use crate::data::drafts;
use crate::data::ops::{self as data, Stamp};
use crate::data::{derived_id, Dataset, DatasetType};
use crate::error::ApiError;
use crate::ids::{DatasetId, DraftId};
use crate::model::{Org, TokenKind, UsagePlan, User};
use crate::org_update::{self, CertChange};
use crate::store::Store;
use crate::tree::OrgIndex;
use crate::{password, token};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use time::OffsetDateTime;

/// What an application did, by entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Entities created.
    pub created: usize,
    /// Entities changed to match the seed.
    pub updated: usize,
    /// Entities that already matched.
    pub unchanged: usize,
}

/// What a first application leaves for fast resets: its instant and the password hashes it made (so a
/// reset does not hash every password again).
#[derive(Debug, Clone)]
pub struct Memo {
    /// The instant the seed was first applied; resets apply it at the same instant.
    pub seeded_at: OffsetDateTime,
    passwords: HashMap<String, String>,
}

impl Memo {
    /// A memo for a first application at `seeded_at`.
    pub fn new(seeded_at: OffsetDateTime) -> Self {
        Memo { seeded_at, passwords: HashMap::new() }
    }
}

struct Run<'a> {
    store: &'a dyn Store,
    seed: &'a Seed,
    plan: &'a UsagePlan,
    now: OffsetDateTime,
    memo: &'a mut Memo,
    report: Report,
}

type Faults = Vec<SeedError>;

/// Apply `seed` at `memo.seeded_at` with `plan` as the default usage plan. On an empty store with a memo
/// from an earlier application, the result is the same state that application made.
pub async fn apply(store: &dyn Store, seed: &Seed, plan: &UsagePlan, memo: &mut Memo) -> Result<Report, Faults> {
    let now = memo.seeded_at;
    let mut run = Run { store, seed, plan, now, memo, report: Report::default() };
    let mut pending: Vec<&SeedOrg> = seed.orgs.iter().collect();
    while !pending.is_empty() {
        let orgs = OrgIndex::new(store.list_orgs().await.map_err(|e| run.api("", e.into()))?);
        let in_file_pending = |p: &str| pending.iter().any(|o| o.tenant_id.as_str() == p || o.org_id.as_str() == p);
        let (ready, waiting): (Vec<&SeedOrg>, Vec<&SeedOrg>) = pending.iter().partition(|o| {
            o.parent.as_deref().is_none_or(|p| cases::orgs::find(&orgs, p).is_some() || !in_file_pending(p))
        });
        if ready.is_empty() {
            let o = waiting[0];
            return Err(vec![seed.error(&format!("{}.parent", o.path), "the parents of these orgs form a cycle")]);
        }
        for o in ready {
            run.org(o, &orgs).await?;
        }
        pending = waiting;
    }
    Ok(run.report)
}

impl Run<'_> {
    fn api(&self, path: &str, e: ApiError) -> Faults {
        let join = |field: &str| if path.is_empty() { field.to_string() } else { format!("{path}.{field}") };
        if !e.faults.is_empty() {
            return e.faults.iter().map(|f| self.seed.error(&join(&f.field), f.message.clone())).collect();
        }
        vec![self.seed.error(path, e.orgvue_message())]
    }

    fn count(&mut self, created: bool, changed: bool) {
        match (created, changed) {
            (true, _) => self.report.created += 1,
            (false, true) => self.report.updated += 1,
            (false, false) => self.report.unchanged += 1,
        }
    }

    async fn org(&mut self, o: &SeedOrg, orgs: &OrgIndex) -> Result<(), Faults> {
        let existing = orgs.by_tenant(&o.tenant_id).map(|a| (**a).clone());
        let created = existing.is_none();
        let current = match existing {
            Some(cur) => {
                if cur.org_id != o.org_id {
                    let msg = format!("tenant {} already exists with org_id {}", o.tenant_id, cur.org_id);
                    return Err(vec![self.seed.error(&format!("{}.org_id", o.path), msg)]);
                }
                let parent = o.parent.as_deref().and_then(|p| cases::orgs::find(orgs, p)).map(|p| p.org_id.clone());
                if parent != cur.parent_id {
                    let msg = "does not match the existing org's parent (the parent is fixed at creation)";
                    return Err(vec![self.seed.error(&format!("{}.parent", o.path), msg)]);
                }
                cur
            }
            None => {
                let new = NewOrg {
                    tenant_id: Some(o.tenant_id.to_string()),
                    name: o.name.clone(),
                    parent: o.parent.clone(),
                    api_enabled: None,
                    allowed_subnets: None,
                    org_id: Some(o.org_id.clone()),
                };
                cases::orgs::create(self.store, new, self.plan, self.now).await.map_err(|e| self.api(&o.path, e))?
            }
        };
        let mut next = current.clone();
        next.name = o.name.trim().to_string();
        if let Some(s) = &o.subnets {
            next.allowed_subnets = s.clone();
        }
        if let Some(p) = &o.plan {
            p.clone().apply_to(&mut next);
        }
        if let Some(e) = o.api_enabled {
            next.usage_plan.enabled = e;
        }
        if let Some(settings) = &o.settings {
            next = self.settings(o, &next, settings)?;
        }
        let changed = next != current;
        if changed {
            self.store.update_org(&next).await.map_err(|e| self.api(&o.path, e.into()))?;
        }
        self.count(created, changed);
        for u in &o.users {
            self.user(&next, u).await?;
        }
        let (plain, links): (Vec<_>, Vec<_>) = o.datasets.iter().partition(|d| !is_links(d));
        for d in plain.into_iter().chain(links) {
            self.dataset(&next, d).await?;
        }
        for w in &o.webhooks {
            self.webhook(&next, w).await?;
        }
        Ok(())
    }

    /// Make the org's seeded webhook subscription again where the store holds it otherwise.
    async fn webhook(&mut self, org: &Org, w: &super::SeedWebhook) -> Result<(), Faults> {
        let existing = self.store.get_webhook(&w.id).await.map_err(|e| self.api(&w.path, e.into()))?;
        let same = existing.as_ref().is_some_and(|s| {
            s.org_id == org.org_id
                && s.url == w.new.url
                && s.kinds == w.new.kinds
                && s.include_descendants == w.new.include_descendants
                && s.description == w.new.description
        });
        if !same {
            if existing.is_some() {
                self.store.delete_webhook(&w.id).await.map_err(|e| self.api(&w.path, e.into()))?;
            }
            let now = to_millis(self.now);
            cases::webhooks::insert(self.store, &org.org_id, w.new.clone(), w.id.clone(), "orgd seed", now)
                .await
                .map_err(|e| self.api(&w.path, e))?;
        }
        self.count(existing.is_none(), !same);
        Ok(())
    }

    fn settings(&self, o: &SeedOrg, org: &Org, settings: &Value) -> Result<Org, Faults> {
        let path = format!("{}.settings", o.path);
        let (next, warnings) = org_update::apply(org, settings, CertChange::None, self.now).map_err(|faults| {
            faults.iter().map(|f| self.seed.error(&format!("{path}.{}", f.field), &f.message)).collect::<Faults>()
        })?;
        if !warnings.is_empty() {
            return Err(warnings.iter().map(|w| self.seed.error(&format!("{path}.{}", w.field), &w.message)).collect());
        }
        Ok(next)
    }

    async fn user(&mut self, org: &Org, u: &SeedUser) -> Result<(), Faults> {
        let found =
            self.store.find_users(&u.user_id, Some(&org.org_id)).await.map_err(|e| self.api(&u.path, e.into()))?;
        let mut fields = u.fields.clone();
        let remembered = self.memo.passwords.get(&u.path).cloned();
        let user = match found.into_iter().next() {
            None => {
                if remembered.is_some() {
                    fields.password = None;
                }
                let mut user = cases::users::create(self.store, org, &u.user_id, fields, self.now)
                    .await
                    .map_err(|e| self.api(&u.path, e))?;
                if let Some(hash) = remembered {
                    user.password_hash = Some(hash);
                    user.password_changed_at = Some(self.now);
                    self.store.update_user(&user).await.map_err(|e| self.api(&u.path, e.into()))?;
                }
                self.count(true, true);
                user
            }
            Some(current) => {
                let same_password = |pw: &str, user: &User| {
                    user.password_hash
                        .as_deref()
                        .is_some_and(|h| remembered.as_deref() == Some(h) || password::verify(pw, h))
                };
                if fields.password.as_deref().is_some_and(|pw| same_password(pw, &current)) {
                    fields.password = None;
                }
                let mut next = current.clone();
                let faults = cases::users::apply_fields(&mut next, fields, org, self.now);
                if !faults.is_empty() {
                    return Err(self.api(&u.path, ApiError::invalid_fields(faults)));
                }
                next.modified_at = current.modified_at;
                let changed = next != current;
                if changed {
                    next.modified_at = self.now;
                    self.store.update_user(&next).await.map_err(|e| self.api(&u.path, e.into()))?;
                }
                self.count(false, changed);
                next
            }
        };
        if let Some(hash) = &user.password_hash {
            if u.fields.password.is_some() {
                self.memo.passwords.insert(u.path.clone(), hash.clone());
            }
        }
        for t in &u.tokens {
            self.token(&user, t).await?;
        }
        Ok(())
    }

    async fn token(&mut self, user: &User, t: &super::SeedToken) -> Result<(), Faults> {
        let id = &t.minted.token_id;
        let existing = self.store.get_token(id).await.map_err(|e| self.api(&t.path, e.into()))?;
        if let Some((rec, hash)) = &existing {
            if !token::verify(&t.minted.secret, hash) {
                let msg = "another token already has this id (the 16 characters after orgd_); change the secret";
                return Err(vec![self.seed.error(&format!("{}.secret", t.path), msg)]);
            }
            let same = rec.kind == TokenKind::Api
                && rec.user_psk == user.psk
                && rec.label == t.label.as_deref().unwrap_or(cases::tokens::DEFAULT_TOKEN_LABEL)
                && t.starts_at.is_none_or(|s| s == rec.starts_at)
                && rec.ends_at == t.ends_at
                && rec.subnets == t.subnets
                && rec.revoked_at.is_none();
            if same {
                self.count(false, false);
                return Ok(());
            }
            self.store.delete_token(id).await.map_err(|e| self.api(&t.path, e.into()))?;
        }
        let input = NewToken {
            label: t.label.clone(),
            starts_at: t.starts_at,
            ends_at: t.ends_at,
            subnets: t.subnets.clone(),
            fixed: Some(t.minted.clone()),
        };
        cases::tokens::create_api(self.store, user, input, self.now).await.map_err(|e| self.api(&t.path, e))?;
        self.count(existing.is_none(), true);
        Ok(())
    }

    async fn dataset(&mut self, org: &Org, d: &SeedDataset) -> Result<(), Faults> {
        let mut definition = d.definition.clone();
        let name = definition.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let id = d.id.clone().unwrap_or_else(|| {
            DatasetId::parse(&derived_id(&format!("orgd-seed-dataset/{}/{name}", org.tenant_id)))
                .expect("derived ids are UUID text")
        });
        let siblings = self.store.list_datasets(&org.org_id).await.map_err(|e| self.api(&d.path, e.into()))?;
        for end in ["fromDatasetId", "toDatasetId"] {
            if let Some(Value::String(reference)) = definition.get(end) {
                if let Some(s) = siblings.iter().find(|s| s.id.as_str() != reference && s.name == *reference) {
                    definition.insert(end.into(), Value::String(s.id.to_string()));
                }
            }
        }
        let fingerprint = {
            let mut h = Sha256::new();
            h.update(serde_json::to_vec(&definition).unwrap_or_default());
            h.update(serde_json::to_vec(&d.actions).unwrap_or_default());
            h.update(format!("{:?}", d.date_format));
            hex::encode(&h.finalize()[..16])
        };
        if let Some(other) = siblings.iter().find(|s| s.id != id && s.name.to_lowercase() == name.to_lowercase()) {
            let msg = format!("a dataset named {name} already exists in {} with id {}", org.tenant_id, other.id);
            return Err(vec![self.seed.error(&format!("{}.name", d.path), msg)]);
        }
        let existing = siblings.iter().find(|s| s.id == id);
        if let Some(e) = existing.filter(|e| e.cache_key == fingerprint && e.item_count == d.actions.len() as i64) {
            self.count(false, false);
            self.permissions(e, d).await?;
            return self.drafts(org, e, d).await;
        }
        if existing.is_some() {
            self.store.delete_dataset(&id).await.map_err(|e| self.api(&d.path, e.into()))?;
        }
        let now_ms = to_millis(self.now);
        let stamp = Stamp { id: id.clone(), cache_key: fingerprint.clone() };
        let ds = data::create_as(self.store, &org.org_id, &Value::Object(definition), now_ms, stamp)
            .await
            .map_err(|e| self.api(&d.path, e))?;
        if !d.actions.is_empty() {
            let opts = Options {
                identify: d.identify.clone(),
                date_format: d.date_format,
                derived_ids: Some(id.to_string()),
                ..Options::default()
            };
            if let Err(e) = data::import_as(self.store, &ds, d.actions.clone(), &opts, now_ms, fingerprint).await {
                let _ = self.store.delete_dataset(&id).await;
                return Err(self.action_faults(&d.items_path, e));
            }
        }
        self.count(existing.is_none(), true);
        self.permissions(&ds, d).await?;
        self.drafts(org, &ds, d).await
    }

    /// Give the dataset its seeded grants (a seed that names none leaves them as they are).
    async fn permissions(&mut self, ds: &Dataset, d: &SeedDataset) -> Result<(), Faults> {
        let Some(p) = &d.permissions else { return Ok(()) };
        crate::data::grants::replace(self.store, ds, p, to_millis(self.now))
            .await
            .map(|_| ())
            .map_err(|e| self.api(&format!("{}.permissions", d.path), e))
    }

    /// Make the dataset's seeded drafts again, each with its staged actions (ids derived from the tenant,
    /// the dataset and the draft's name, so they are the same on every run).
    async fn drafts(&mut self, org: &Org, ds: &Dataset, d: &SeedDataset) -> Result<(), Faults> {
        let now_ms = to_millis(self.now);
        for sd in &d.drafts {
            let seed_id = derived_id(&format!("orgd-seed-draft/{}/{}/{}", org.tenant_id, ds.name, sd.name));
            let id = DraftId::parse(&seed_id).expect("derived ids are UUID text");
            self.store.delete_draft(&id).await.map_err(|e| self.api(&sd.path, e.into()))?;
            let draft = drafts::insert(self.store, ds, id.clone(), sd.name.clone(), "orgd seed", now_ms)
                .await
                .map_err(|e| self.api(&sd.path, e))?;
            let opts = Options {
                identify: d.identify.clone(),
                date_format: d.date_format,
                derived_ids: Some(id.to_string()),
                ..Options::default()
            };
            let actions = format!("{}.actions", sd.path);
            if let Err(e) = drafts::stage::stage(self.store, &draft, ds, sd.actions.clone(), &opts, now_ms).await {
                let _ = self.store.delete_draft(&id).await;
                return Err(self.action_faults(&actions, e));
            }
        }
        Ok(())
    }

    /// The faults of a failed import or staging of the actions at `path`: one per failing action, named
    /// by its place below `path`.
    fn action_faults(&self, path: &str, e: ApiError) -> Faults {
        if e.listed.is_empty() {
            return self.api(path, e);
        }
        e.listed
            .iter()
            .map(|l| {
                let at = l["path"].as_str().unwrap_or_default();
                let msg = l["message"].as_str().unwrap_or_default();
                self.seed.error(&format!("{path}{at}"), msg)
            })
            .collect()
    }
}

fn is_links(d: &SeedDataset) -> bool {
    d.definition.get("type").and_then(Value::as_str).and_then(DatasetType::parse) == Some(DatasetType::Links)
}
