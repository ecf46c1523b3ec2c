//! Who may do what with a dataset: grants by role and by user (orgvue-dialect §10, an orgd extension),
//! and the one decision every door asks ([`authorize`], [`open`]).
//!
//! Levels are cumulative: `read` (metadata, items, exports, drafts' contents), `update` (change values of
//! existing items), `modify` (also create and delete items, full refreshes), `manage` (also drafts,
//! permissions and deleting the dataset). Administrators of the org or of an ancestor hold `manage`
//! always. A dataset without stored grants keeps the first release's rule: every role reads,
//! administrators do the rest. A caller below `read` is told the dataset does not exist.

use super::filter::Filter;
use super::{ops, Dataset};
use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::ids::{DatasetId, OrgId};
use crate::model::{Role, User};
use crate::store::Store;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What a caller may do with a dataset; each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Nothing: the dataset is not shown.
    None,
    /// Metadata, items, exports, drafts' contents.
    Read,
    /// Change values of existing items.
    Update,
    /// Create and delete items, full refreshes (`implicitDelete`).
    Modify,
    /// Drafts, permissions, deleting the dataset.
    Manage,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [Level::None, Level::Read, Level::Update, Level::Modify, Level::Manage];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Read => "read",
            Level::Update => "update",
            Level::Modify => "modify",
            Level::Manage => "manage",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// Who besides administrators reads a restricted property.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readers {
    /// Roles whose every user reads it.
    pub roles: Vec<Role>,
    /// Single users (by `psk`).
    pub users: Vec<i64>,
}

/// The grants of a dataset. Administrators are not in it: they hold [`Level::Manage`] and read every
/// property always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// The `user_manager` role's level.
    pub user_manager: Level,
    /// The `user` role's level.
    pub user: Level,
    /// Levels of single users (by `psk`), on top of their role's.
    pub users: BTreeMap<i64, Level>,
    /// Restricted properties (by key) and who reads them; every other property is read by whoever reads
    /// the dataset.
    pub restricted: BTreeMap<String, Readers>,
    /// Row rules: the items a role or a user below `manage` may see and act on.
    pub rows: RowRules,
}

/// Row rules, each a filter (orgvue-dialect §5.1) whose string operands may name a value of the user it
/// applies to: `$user.user_id`, `$user.email`, `$user.custom_metadata.<field>`. A user's own rule replaces
/// its role's. Holders of `manage` see every item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowRules {
    /// The `user_manager` role's rule.
    pub user_manager: Option<Value>,
    /// The `user` role's rule.
    pub user: Option<Value>,
    /// Rules of single users (by `psk`).
    pub users: BTreeMap<i64, Value>,
}

impl RowRules {
    fn is_empty(&self) -> bool {
        self.user_manager.is_none() && self.user.is_none() && self.users.is_empty()
    }

    /// The rule that binds `user`, if any.
    fn of(&self, user: &User) -> Option<&Value> {
        self.users.get(&user.psk).or(match user.role {
            Role::Administrator => None,
            Role::UserManager => self.user_manager.as_ref(),
            Role::User => self.user.as_ref(),
        })
    }
}

/// A rule's placeholders replaced by `user`'s values (`None` when one names a value it does not have), or,
/// without a user, by `null` (to check a rule's shape and keys when it is granted).
fn bind(rule: &Value, user: Option<&User>) -> Option<Value> {
    Some(match rule {
        Value::String(s) if s.starts_with("$user.") => {
            let Some(u) = user else { return Some(Value::Null) };
            let v = match &s["$user.".len()..] {
                "user_id" => json!(u.user_id),
                "email" => json!(u.email),
                f => u.custom_metadata.get(f.strip_prefix("custom_metadata.")?)?.clone(),
            };
            match v {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => v,
                _ => return None,
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| bind(x, user)).collect::<Option<_>>()?),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| Some((k.clone(), bind(x, user)?))).collect::<Option<_>>()?)
        }
        v => v.clone(),
    })
}

/// The items `user` may see and act on in `ds` (`None`: all of them). A rule that cannot be bound to the
/// user (a value it does not have, or one that does not fit the property's type) lets no item through.
pub fn rows_of(ds: &Dataset, user: &User) -> Option<Filter> {
    if ds.grants.level_of(user) >= Level::Manage {
        return None;
    }
    let rule = ds.grants.rows.of(user)?;
    let types = |k: &str| ds.property(k).map(|p| p.ty);
    Some(bind(rule, Some(user)).and_then(|r| Filter::parse(&r, &types, "rows").ok()).unwrap_or_else(Filter::nothing))
}

impl Default for Grants {
    /// The first release's rule: every role reads, every property.
    fn default() -> Self {
        Grants {
            user_manager: Level::Read,
            user: Level::Read,
            users: BTreeMap::new(),
            restricted: BTreeMap::new(),
            rows: RowRules::default(),
        }
    }
}

impl Grants {
    /// The level `user` holds: its role's, raised by a grant of its own.
    pub fn level_of(&self, user: &User) -> Level {
        let role = match user.role {
            Role::Administrator => return Level::Manage,
            Role::UserManager => self.user_manager,
            Role::User => self.user,
        };
        role.max(self.users.get(&user.psk).copied().unwrap_or(Level::None))
    }

    /// Whether `user` reads property `key` (administrators read every one).
    pub fn reads_property(&self, key: &str, user: &User) -> bool {
        match self.restricted.get(key) {
            None => true,
            Some(_) if user.role == Role::Administrator => true,
            Some(r) => r.roles.contains(&user.role) || r.users.contains(&user.psk),
        }
    }

    /// Whether every user of the org reads the dataset (so a list of datasets is the same for all).
    pub fn all_read(&self) -> bool {
        self.user_manager >= Level::Read && self.user >= Level::Read
    }

    /// The stored form (inside the dataset's definition); `None` for the default.
    pub fn stored(&self) -> Option<Value> {
        if *self == Grants::default() {
            return None;
        }
        let users: Map<String, Value> = self.users.iter().map(|(p, l)| (p.to_string(), json!(l.as_str()))).collect();
        let restricted: Map<String, Value> = self
            .restricted
            .iter()
            .map(|(k, r)| {
                let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
                (k.clone(), json!({"roles": roles, "users": r.users}))
            })
            .collect();
        let mut stored = json!({"roles": {"user_manager": self.user_manager.as_str(), "user": self.user.as_str()},
            "users": users, "properties": restricted});
        if !self.rows.is_empty() {
            let by_user: Map<String, Value> = self.rows.users.iter().map(|(p, r)| (p.to_string(), r.clone())).collect();
            stored["rows"] = json!({"roles": {"user_manager": self.rows.user_manager, "user": self.rows.user},
                "users": by_user});
        }
        Some(stored)
    }

    /// Read the stored form; what it does not say keeps the default.
    pub fn from_stored(v: Option<&Value>) -> Grants {
        let mut g = Grants::default();
        let Some(v) = v else { return g };
        let role = |k: &str, d: Level| v["roles"][k].as_str().and_then(Level::parse).unwrap_or(d);
        g.user_manager = role("user_manager", g.user_manager);
        g.user = role("user", g.user);
        if let Some(users) = v["users"].as_object() {
            for (psk, l) in users {
                if let (Ok(psk), Some(l)) = (psk.parse(), l.as_str().and_then(Level::parse)) {
                    g.users.insert(psk, l);
                }
            }
        }
        if let Some(props) = v["properties"].as_object() {
            for (key, r) in props {
                let roles =
                    r["roles"].as_array().into_iter().flatten().filter_map(|x| x.as_str().and_then(Role::parse));
                let users = r["users"].as_array().into_iter().flatten().filter_map(Value::as_i64);
                g.restricted.insert(key.clone(), Readers { roles: roles.collect(), users: users.collect() });
            }
        }
        let rows = &v["rows"];
        let rule = |r: &Value| Some(r.clone()).filter(|r| r.is_object());
        g.rows.user_manager = rule(&rows["roles"]["user_manager"]);
        g.rows.user = rule(&rows["roles"]["user"]);
        if let Some(users) = rows["users"].as_object() {
            for (psk, r) in users {
                if let (Ok(psk), Some(r)) = (psk.parse(), rule(r)) {
                    g.rows.users.insert(psk, r);
                }
            }
        }
        g
    }

    /// The wire form: `{"roles": {role: level}, "users": {userId: level}}`, users named through `who`.
    pub fn to_json(&self, who: &BTreeMap<i64, String>) -> Value {
        let users: Map<String, Value> =
            self.users.iter().filter_map(|(p, l)| who.get(p).map(|id| (id.clone(), json!(l.as_str())))).collect();
        let restricted: Map<String, Value> = self
            .restricted
            .iter()
            .map(|(k, r)| {
                let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
                let users: Vec<&String> = r.users.iter().filter_map(|p| who.get(p)).collect();
                (k.clone(), json!({"roles": roles, "users": users}))
            })
            .collect();
        let mut wire = json!({
            "roles": {"administrator": "manage", "user_manager": self.user_manager.as_str(), "user": self.user.as_str()},
            "users": users,
            "properties": restricted,
        });
        if !self.rows.is_empty() {
            let mut roles = Map::new();
            for (role, r) in [("user_manager", &self.rows.user_manager), ("user", &self.rows.user)] {
                if let Some(r) = r {
                    roles.insert(role.into(), r.clone());
                }
            }
            let by_user: Map<String, Value> =
                self.rows.users.iter().filter_map(|(p, r)| who.get(p).map(|id| (id.clone(), r.clone()))).collect();
            wire["rows"] = json!({"roles": roles, "users": by_user});
        }
        wire
    }

    /// Parse a `PUT …/permissions` body against the users who may be granted (`user_id` → `psk`) and the
    /// dataset it is for. It replaces the grants: a role it does not name reads, a user it does not name
    /// holds its role's level, a property it does not name is read by whoever reads the dataset.
    pub fn parse(body: &Value, users: &BTreeMap<String, i64>, ds: &Dataset) -> Result<Grants, Vec<FieldFault>> {
        let fault = |f: String, m: &str| FieldFault { field: f, message: m.into() };
        let Some(b) = body.as_object() else { return Err(vec![fault("body".into(), "must be a JSON object")]) };
        let mut faults = Vec::new();
        let mut g = Grants::default();
        let levels = "must be one of none, read, update, modify, manage";
        for (k, v) in b {
            match (k.as_str(), v) {
                ("roles", Value::Object(roles)) => {
                    for (r, l) in roles {
                        let field = format!("roles.{r}");
                        let level = l.as_str().and_then(Level::parse);
                        match (Role::parse(r), level) {
                            (None, _) => faults.push(fault(field, "is not a role (administrator, user_manager, user)")),
                            (Some(_), None) => faults.push(fault(field, levels)),
                            (Some(Role::Administrator), Some(Level::Manage)) => {}
                            (Some(Role::Administrator), Some(_)) => {
                                faults.push(fault(field, "administrators hold manage always"))
                            }
                            (Some(Role::UserManager), Some(l)) => g.user_manager = l,
                            (Some(Role::User), Some(l)) => g.user = l,
                        }
                    }
                }
                ("users", Value::Object(named)) => {
                    for (id, l) in named {
                        let field = format!("users.{id}");
                        match (users.get(id), l.as_str().and_then(Level::parse)) {
                            (None, _) => faults.push(fault(field, "is not a user of this tenant")),
                            (Some(_), None) => faults.push(fault(field, levels)),
                            (Some(psk), Some(l)) => {
                                g.users.insert(*psk, l);
                            }
                        }
                    }
                }
                ("properties", Value::Object(props)) => {
                    for (key, r) in props {
                        let field = format!("properties.{key}");
                        if ds.property(key).is_none() {
                            faults.push(fault(field, "is not a property of the dataset"));
                            continue;
                        }
                        if ds.is_core(key) || ds.tree_parent_id.as_deref() == Some(key.as_str()) {
                            faults.push(fault(
                                field,
                                "identifies, labels or places items: whoever reads the dataset reads it",
                            ));
                            continue;
                        }
                        let Some(r) = r.as_object() else {
                            faults.push(fault(field, "must be {\"roles\": [role…], \"users\": [userId…]}"));
                            continue;
                        };
                        let mut readers = Readers::default();
                        for (k, list) in r {
                            let Some(list) = list.as_array().filter(|_| k == "roles" || k == "users") else {
                                faults.push(fault(
                                    format!("{field}.{k}"),
                                    "must be a list (the fields are roles and users)",
                                ));
                                continue;
                            };
                            for (i, x) in list.iter().enumerate() {
                                let at = format!("{field}.{k}[{i}]");
                                match (k.as_str(), x.as_str()) {
                                    ("roles", Some(r)) => match Role::parse(r) {
                                        Some(role) => readers.roles.push(role),
                                        None => {
                                            faults.push(fault(at, "is not a role (administrator, user_manager, user)"))
                                        }
                                    },
                                    (_, Some(u)) => match users.get(u) {
                                        Some(psk) => readers.users.push(*psk),
                                        None => faults.push(fault(at, "is not a user of this tenant")),
                                    },
                                    _ => faults.push(fault(at, "must be a string")),
                                }
                            }
                        }
                        g.restricted.insert(key.clone(), readers);
                    }
                }
                ("rows", Value::Object(rows)) => parse_rows(rows, users, ds, &mut g, &mut faults),
                ("roles" | "users" | "properties" | "rows", _) => faults.push(fault(k.clone(), "must be an object")),
                _ => faults.push(fault(
                    k.clone(),
                    "unknown field; the body is {\"roles\": {…}, \"users\": {…}, \"properties\": {…}, \"rows\": {…}}",
                )),
            }
        }
        for key in g.rows_keys(ds) {
            if g.restricted.contains_key(&key) {
                faults.push(fault(
                    "rows".into(),
                    &format!("a row rule reads {key}, a restricted property: rules read what every reader sees"),
                ));
            }
        }
        if faults.is_empty() {
            Ok(g)
        } else {
            Err(faults)
        }
    }
}

impl Grants {
    /// The keys the row rules read, each once.
    fn rows_keys(&self, ds: &Dataset) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let rules = self.rows.user_manager.iter().chain(self.rows.user.iter()).chain(self.rows.users.values());
        for r in rules {
            if let Some(m) = r.as_object() {
                for k in m.keys().filter(|k| ds.property(k).is_some()) {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
        }
        keys
    }
}

/// Parse `rows` of a `PUT …/permissions` body: `{"roles": {role: rule}, "users": {userId: rule}}`, each rule
/// a filter over the dataset's properties with `$user.…` placeholders.
fn parse_rows(
    rows: &Map<String, Value>,
    users: &BTreeMap<String, i64>,
    ds: &Dataset,
    g: &mut Grants,
    faults: &mut Vec<FieldFault>,
) {
    let fault = |f: String, m: &str| FieldFault { field: f, message: m.into() };
    let types = |k: &str| ds.property(k).map(|p| p.ty);
    let check = |field: &str, rule: &Value, faults: &mut Vec<FieldFault>| -> bool {
        if let Value::Object(m) = rule {
            for (k, v) in m {
                if let Some(bad) = placeholder_fault(v) {
                    faults.push(fault(format!("{field}.{k}"), &bad));
                    return false;
                }
            }
        }
        match bind(rule, None).map(|r| Filter::parse(&r, &types, field)) {
            Some(Ok(_)) => true,
            Some(Err(e)) => {
                faults.extend(e);
                false
            }
            None => false,
        }
    };
    for (k, v) in rows {
        match (k.as_str(), v) {
            ("roles", Value::Object(roles)) => {
                for (r, rule) in roles {
                    let field = format!("rows.roles.{r}");
                    match Role::parse(r) {
                        Some(Role::Administrator) => faults.push(fault(field, "administrators see every item")),
                        None => faults.push(fault(field, "is not a role (user_manager, user)")),
                        Some(role) if check(&field, rule, faults) => match role {
                            Role::UserManager => g.rows.user_manager = Some(rule.clone()),
                            _ => g.rows.user = Some(rule.clone()),
                        },
                        Some(_) => {}
                    }
                }
            }
            ("users", Value::Object(named)) => {
                for (id, rule) in named {
                    let field = format!("rows.users.{id}");
                    match users.get(id) {
                        None => faults.push(fault(field, "is not a user of this tenant")),
                        Some(psk) if check(&field, rule, faults) => {
                            g.rows.users.insert(*psk, rule.clone());
                        }
                        Some(_) => {}
                    }
                }
            }
            ("roles" | "users", _) => faults.push(fault(format!("rows.{k}"), "must be an object")),
            _ => faults.push(fault(format!("rows.{k}"), "unknown field; rows are {\"roles\": {…}, \"users\": {…}}")),
        }
    }
}

/// Why a `$user.…` operand is not one a rule may use.
fn placeholder_fault(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.starts_with("$user.") => {
            let f = &s["$user.".len()..];
            let known =
                f == "user_id" || f == "email" || f.strip_prefix("custom_metadata.").is_some_and(|x| !x.is_empty());
            (!known).then(|| format!("{s} is not $user.user_id, $user.email or $user.custom_metadata.<field>"))
        }
        Value::Array(a) => a.iter().find_map(placeholder_fault),
        Value::Object(m) => m.values().find_map(placeholder_fault),
        _ => None,
    }
}

/// The decision: `user` may do what `need` names with `ds`. Below `read` the dataset does not exist for
/// the caller (404001, never telling it apart from a missing one); otherwise 40332 names the level needed.
pub fn authorize(ds: &Dataset, user: &User, need: Level) -> Result<Level, ApiError> {
    let has = ds.grants.level_of(user);
    if has < Level::Read {
        return Err(ApiError::new(ErrorCode::DatasetNotFound));
    }
    if need == Level::Update || need == Level::Modify {
        ds.writable()?;
    }
    if has < need {
        return Err(ApiError::new(ErrorCode::DatasetPermissionDenied).with_message(format!(
            "This needs the {} permission on the dataset; you hold {}. Ask someone who manages it.",
            need.as_str(),
            has.as_str()
        )));
    }
    Ok(has)
}

/// The dataset `id` of `org` for a caller who needs `need`, with the level it holds.
pub async fn open(
    store: &dyn Store,
    org: &OrgId,
    user: &User,
    id: &DatasetId,
    need: Level,
) -> Result<(Dataset, Level), ApiError> {
    let ds = ops::find(store, org, id).await?;
    let level = authorize(&ds, user, need)?;
    Ok((ds, level))
}

/// The user who queued `job`, as it is now: a job runs with its creator's permissions at the time it
/// runs, not as they were when it was queued (a creator who is gone may do nothing: 404001).
pub async fn job_user(store: &dyn Store, job: &super::jobs::Job) -> Result<User, ApiError> {
    store.get_user(job.created_by_psk).await?.ok_or_else(|| ApiError::new(ErrorCode::DatasetNotFound))
}

/// Fit an import's options to the level its caller holds (at least `update`): below `modify` no action
/// may create or delete an item, and a full refresh (`implicitDelete=true`) is refused outright.
fn limit_import(level: Level, opts: &mut super::actions::Options) -> Result<(), ApiError> {
    if level >= Level::Modify {
        return Ok(());
    }
    if opts.implicit_delete {
        return Err(ApiError::new(ErrorCode::DatasetPermissionDenied)
            .with_context("queryParameter", "implicitDelete")
            .with_message("implicitDelete=true deletes items: it needs the modify permission on the dataset."));
    }
    opts.items_fixed = true;
    Ok(())
}

/// Uploading a file for an async import needs `update` on some dataset of the org (administrators may
/// always); others get 40332.
pub async fn may_upload(store: &dyn Store, org: &OrgId, user: &User) -> Result<(), ApiError> {
    if user.role == Role::Administrator
        || store
            .list_datasets(org)
            .await?
            .iter()
            .any(|ds| ds.view.is_none() && ds.grants.level_of(user) >= Level::Update)
    {
        return Ok(());
    }
    Err(ApiError::new(ErrorCode::DatasetPermissionDenied)
        .with_message("Uploading import files needs the update permission on a dataset of the tenant."))
}

/// `ds` as `user` sees it: without the properties it may not read, which then do not exist for it in
/// metadata, items, exports, filters, projections and imports alike. Each property keeps its storage
/// column, so reads and writes through the view touch only what it shows.
pub fn view(ds: &Dataset, user: &User) -> Dataset {
    let mut v = ds.clone();
    if user.role == Role::Administrator {
        return v;
    }
    v.properties.retain(|p| ds.grants.reads_property(&p.key, user));
    v.rows = match (&ds.rows, rows_of(ds, user)) {
        (Some(view), Some(rule)) => Some(view.clone().and(&rule)),
        (view, rule) => rule.or_else(|| view.clone()),
    };
    v
}

/// The options of an import into `whole` by a caller who sees it as `view` and holds `level`: the query
/// parameters read ([`ops::import_options`]), then fitted to what the caller may do. A caller limited by
/// a row rule may not refresh the dataset in full (it would delete items it cannot see).
pub fn import_options(
    whole: &Dataset,
    view: &Dataset,
    level: Level,
    params: &[(String, String)],
) -> Result<super::actions::Options, ApiError> {
    let mut opts = ops::import_options(view, params)?;
    limit_import(level, &mut opts)?;
    let hidden = whole.properties.iter().filter(|p| view.property(&p.key).is_none());
    for p in hidden {
        opts.denied.properties.push(p.key.clone());
        if p.required && !p.read_only {
            opts.denied.required.push(p.key.clone());
        }
    }
    opts.denied.rows = view.rows.clone();
    if opts.denied.rows.is_some() && opts.implicit_delete {
        return Err(ApiError::new(ErrorCode::DatasetPermissionDenied)
            .with_context("queryParameter", "implicitDelete")
            .with_message("A row rule limits the items you may act on; implicitDelete=true would delete others."));
    }
    Ok(opts)
}

/// Whether `user` sees `ds` at all.
pub fn visible(ds: &Dataset, user: &User) -> bool {
    ds.grants.level_of(user) >= Level::Read
}

/// The users who may be granted on a dataset of `org` (its own), `user_id` → `psk` and back.
pub async fn grantable(
    store: &dyn Store,
    org: &OrgId,
) -> Result<(BTreeMap<String, i64>, BTreeMap<i64, String>), ApiError> {
    let users = store.list_users(org).await?;
    let by_id = users.iter().map(|u| (u.user_id.clone(), u.psk)).collect();
    let by_psk = users.into_iter().map(|u| (u.psk, u.user_id)).collect();
    Ok((by_id, by_psk))
}

/// `GET …/permissions`: the dataset's grants on the wire.
pub async fn show(store: &dyn Store, ds: &Dataset) -> Result<Value, ApiError> {
    let (_, who) = grantable(store, &ds.org_id).await?;
    Ok(ds.grants.to_json(&who))
}

/// `PUT …/permissions`: replace the dataset's grants (nothing is written when they are the same); answers
/// the new ones.
pub async fn replace(store: &dyn Store, ds: &Dataset, body: &Value, now_ms: i64) -> Result<Value, ApiError> {
    let (ids, who) = grantable(store, &ds.org_id).await?;
    let grants = Grants::parse(body, &ids, ds).map_err(ApiError::invalid_fields)?;
    if grants == ds.grants {
        return Ok(grants.to_json(&who));
    }
    let changed = Dataset { grants, modified_at: now_ms, ..ds.clone() };
    if !store.update_dataset_definition(&changed).await? {
        return Err(ApiError::new(ErrorCode::DatasetNotFound));
    }
    Ok(changed.grants.to_json(&who))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::tests::{org_for_tests, user};

    #[test]
    fn levels_add_up_and_administrators_manage_always() {
        let org = org_for_tests();
        let (admin, manager, mut plain) =
            (user(&org, Role::Administrator), user(&org, Role::UserManager), user(&org, Role::User));
        plain.psk = 42;
        let mut g = Grants::default();
        assert_eq!(
            (g.level_of(&admin), g.level_of(&manager), g.level_of(&plain)),
            (Level::Manage, Level::Read, Level::Read)
        );
        g.user = Level::None;
        g.user_manager = Level::None;
        assert_eq!(g.level_of(&admin), Level::Manage, "no grant lowers an administrator");
        assert_eq!(g.level_of(&plain), Level::None);
        g.users.insert(42, Level::Update);
        assert_eq!(g.level_of(&plain), Level::Update, "a user's own grant raises its role's");
        g.user = Level::Modify;
        assert_eq!(g.level_of(&plain), Level::Modify, "…and never lowers it");
        assert!(Level::Read < Level::Update && Level::Update < Level::Modify && Level::Modify < Level::Manage);
    }

    #[test]
    fn the_stored_form_reads_back_and_the_default_is_not_stored() {
        assert_eq!(Grants::default().stored(), None);
        assert_eq!(Grants::from_stored(None), Grants::default());
        let mut g = Grants { user_manager: Level::Update, user: Level::None, ..Grants::default() };
        g.users.insert(7, Level::Manage);
        assert_eq!(Grants::from_stored(g.stored().as_ref()), g);
    }

    fn ds() -> Dataset {
        let def = json!({"name": "P", "type": "PEOPLE", "autoId": "id", "labelId": "id",
            "properties": [{"key": "id", "type": "number", "isRequired": true}, {"key": "salary", "type": "number"}]});
        let n = super::super::schema::parse_new(&def).unwrap();
        Dataset {
            id: crate::ids::DatasetId::generate(),
            org_id: crate::ids::OrgId::generate(),
            name: n.name,
            ty: n.ty,
            auto_id: n.auto_id,
            label_id: n.label_id,
            tree_id: None,
            tree_parent_id: None,
            tags: vec![],
            properties: n.properties,
            from_dataset: None,
            to_dataset: None,
            cache_key: String::new(),
            item_count: 0,
            created_at: 0,
            modified_at: 0,
            grants: Grants::default(),
            rows: None,
            view: None,
        }
    }

    #[test]
    fn restricted_properties_vanish_from_the_view_of_who_may_not_read_them() {
        let org = org_for_tests();
        let (admin, mut alice, bob) = (user(&org, Role::Administrator), user(&org, Role::User), user(&org, Role::User));
        alice.psk = 3;
        let users = BTreeMap::from([("alice".to_string(), 3)]);
        let mut d = ds();
        d.grants = Grants::parse(&json!({"properties": {"salary": {"users": ["alice"]}}}), &users, &d).unwrap();
        let keys = |v: Dataset| v.properties.into_iter().map(|p| p.key).collect::<Vec<_>>();
        assert_eq!(keys(view(&d, &admin)), ["id", "salary"]);
        assert_eq!(keys(view(&d, &alice)), ["id", "salary"]);
        assert_eq!(keys(view(&d, &bob)), ["id"]);
        assert_eq!(view(&d, &bob).properties[0].column, 0, "columns stay");
        assert_eq!(Grants::from_stored(d.grants.stored().as_ref()), d.grants, "stored and read back");
        let bad = json!({"properties": {"id": {"roles": []}, "nope": {}, "salary": {"roles": ["boss"], "users": ["zed"], "x": []}}});
        let fields: Vec<String> = Grants::parse(&bad, &users, &d).unwrap_err().into_iter().map(|f| f.field).collect();
        for f in [
            "properties.id",
            "properties.nope",
            "properties.salary.roles[0]",
            "properties.salary.users[0]",
            "properties.salary.x",
        ] {
            assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
        }
    }

    #[test]
    fn a_bad_body_names_every_field_at_fault() {
        let users = BTreeMap::from([("alice".to_string(), 3)]);
        let ok =
            Grants::parse(&json!({"roles": {"user": "none"}, "users": {"alice": "modify"}}), &users, &ds()).unwrap();
        assert_eq!((ok.user, ok.user_manager, ok.users.get(&3)), (Level::None, Level::Read, Some(&Level::Modify)));
        let bad = json!({"roles": {"owner": "read", "user": "write", "administrator": "read"},
                         "users": {"bob": "read", "alice": 3}, "extra": 1});
        let fields: Vec<String> =
            Grants::parse(&bad, &users, &ds()).unwrap_err().into_iter().map(|f| f.field).collect();
        for f in ["roles.owner", "roles.user", "roles.administrator", "users.bob", "users.alice", "extra"] {
            assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
        }
        assert_eq!(Grants::parse(&json!([]), &users, &ds()).unwrap_err()[0].field, "body");
    }
}
