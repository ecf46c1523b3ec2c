//! The seed file as written: YAML (or JSON, which is YAML too) read with serde, then checked into a
//! [`Seed`] whose every fault names the file, the line and the field.

use super::{Seed, SeedDataset, SeedDraft, SeedError, SeedOrg, SeedToken, SeedUser, SeedWebhook};
use crate::cases::orgs::OrgPatch;
use crate::cases::users::UserFields;
use crate::clock::parse_date_or_datetime;
use crate::data::actions::Identify;
use crate::data::values::DateFormat;
use crate::ids::{OrgId, TenantId};
use crate::model::Role;
use crate::net::CidrList;
use crate::token;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    #[serde(default)]
    orgs: Vec<RawOrg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    tenant_id: String,
    name: String,
    org_id: Option<String>,
    parent: Option<String>,
    api_enabled: Option<bool>,
    subnets: Option<Vec<String>>,
    usage_plan: Option<RawPlan>,
    settings: Option<Value>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    datasets: Vec<RawDataset>,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    id: Option<String>,
    url: Value,
    events: Value,
    include_descendants: Option<Value>,
    description: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    enabled: Option<bool>,
    rate_per_second: Option<u32>,
    burst: Option<u32>,
    max_concurrent: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    daily_quota: Option<Option<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    user_id: String,
    password: Option<String>,
    role: Option<String>,
    token_access: Option<bool>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    subnets: Option<Vec<String>>,
    enabled: Option<bool>,
    expires_at: Option<String>,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    secret: String,
    label: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    subnets: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDraft {
    name: String,
    actions: Vec<Value>,
}

#[derive(Deserialize)]
struct RawDataset {
    id: Option<String>,
    items: Option<Vec<Value>>,
    items_file: Option<String>,
    date_format: Option<String>,
    drafts: Option<Vec<RawDraft>>,
    permissions: Option<Value>,
    #[serde(flatten)]
    definition: Map<String, Value>,
}

/// `Some(value)` for a key that is present (even `null`), so `daily_quota: null` means "unlimited".
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// The org id a seed gives a tenant that names none: the same on every run.
pub fn derived_org_id(tenant: &TenantId) -> OrgId {
    use base64::Engine;
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("orgd-seed-org/{tenant}").as_bytes());
    OrgId::parse(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&h[..16])).expect("22 base64url characters")
}

/// Read and check a seed file (and the item files it names, relative to it).
pub fn load(path: &Path) -> Result<Seed, Vec<SeedError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![SeedError { file: path.display().to_string(), line: None, field: String::new(), message: e.to_string() }]
    })?;
    parse(path, &text)
}

/// Check a seed file's text; `path` names it in errors and anchors relative item files.
pub fn parse(path: &Path, text: &str) -> Result<Seed, Vec<SeedError>> {
    let file = path.display().to_string();
    let raw: RawSeed = serde_norway::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        let message = e.to_string();
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        vec![SeedError { file: file.clone(), line, field: String::new(), message }]
    })?;
    let mut c = Checker { faults: Vec::new(), base: path.parent().map(Path::to_path_buf).unwrap_or_default() };
    let orgs: Vec<SeedOrg> =
        raw.orgs.into_iter().enumerate().filter_map(|(i, o)| c.org(&format!("orgs[{i}]"), o)).collect();
    let mut tenants = std::collections::HashSet::new();
    for o in &orgs {
        if !tenants.insert(o.tenant_id.clone()) {
            c.fault(&format!("{}.tenant_id", o.path), &format!("{} appears twice in the file", o.tenant_id));
        }
    }
    let seed = Seed { file: file.clone(), text: text.to_string(), orgs };
    if c.faults.is_empty() {
        Ok(seed)
    } else {
        Err(c.faults.into_iter().map(|(field, message)| seed.error(&field, message)).collect())
    }
}

struct Checker {
    faults: Vec<(String, String)>,
    base: PathBuf,
}

impl Checker {
    fn fault(&mut self, field: &str, message: &str) {
        self.faults.push((field.to_string(), message.to_string()));
    }

    fn cidrs(&mut self, field: &str, v: Option<Vec<String>>) -> Option<CidrList> {
        let v = v?;
        match CidrList::parse(&v, field) {
            Ok(l) => Some(l),
            Err(faults) => {
                for f in faults {
                    self.fault(&f.field, &f.message);
                }
                None
            }
        }
    }

    fn instant(&mut self, field: &str, v: Option<String>) -> Option<time::OffsetDateTime> {
        let v = v?;
        let t = parse_date_or_datetime(&v);
        if t.is_none() {
            self.fault(field, "must be a date (YYYY-MM-DD) or an RFC 3339 date-time");
        }
        t
    }

    fn org(&mut self, path: &str, o: RawOrg) -> Option<SeedOrg> {
        let tenant_id = TenantId::parse(&o.tenant_id);
        if tenant_id.is_none() {
            self.fault(&format!("{path}.tenant_id"), "must match ^[A-Z][A-Z0-9_]{0,29}$");
        }
        let org_id = match &o.org_id {
            Some(id) => {
                let parsed = OrgId::parse(id);
                if parsed.is_none() {
                    self.fault(&format!("{path}.org_id"), "must be 22 characters of A-Z a-z 0-9 _ -");
                }
                parsed
            }
            None => tenant_id.as_ref().map(derived_org_id),
        };
        let subnets = self.cidrs(&format!("{path}.subnets"), o.subnets);
        let plan = o.usage_plan.map(|p| OrgPatch {
            api_enabled: p.enabled,
            rate_per_second: p.rate_per_second,
            burst: p.burst,
            max_concurrent: p.max_concurrent,
            daily_quota: p.daily_quota,
            allowed_subnets: None,
        });
        if o.settings.as_ref().is_some_and(|s| !s.is_object()) {
            self.fault(&format!("{path}.settings"), "must be a mapping of organization settings");
        }
        let users = o.users.into_iter().enumerate().filter_map(|(i, u)| self.user(&format!("{path}.users[{i}]"), u));
        let users: Vec<SeedUser> = users.collect();
        let datasets: Vec<SeedDataset> = o
            .datasets
            .into_iter()
            .enumerate()
            .filter_map(|(i, d)| self.dataset(&format!("{path}.datasets[{i}]"), d))
            .collect();
        let mut webhooks = Vec::new();
        for (i, w) in o.webhooks.into_iter().enumerate() {
            let at = format!("{path}.webhooks[{i}]");
            let id = match &w.id {
                Some(id) => {
                    let parsed = crate::ids::WebhookId::parse(id);
                    if parsed.is_none() {
                        self.fault(&format!("{at}.id"), "must be a UUID");
                    }
                    parsed
                }
                None => tenant_id.as_ref().map(|t| {
                    let text = crate::ids::derived_id(&format!("orgd-seed-webhook/{t}/{i}"));
                    crate::ids::WebhookId::parse(&text).expect("derived ids are UUID text")
                }),
            };
            let mut body = serde_json::json!({"url": w.url, "events": w.events});
            if let Some(d) = w.include_descendants {
                body["includeDescendants"] = d;
            }
            if let Some(d) = w.description {
                body["description"] = d;
            }
            // Only the form is checked here; each delivery applies the server's outbound rules.
            let form = crate::webhooks::OutboundRules { allow_http: true, allow_internal: true };
            match crate::cases::webhooks::parse_new(&body, form) {
                Ok(new) => webhooks.extend(id.map(|id| SeedWebhook { path: at, id, new })),
                Err(e) => {
                    for f in e.faults {
                        let field = if f.field == "includeDescendants" { "include_descendants" } else { &f.field };
                        self.fault(&format!("{at}.{field}"), &f.message);
                    }
                }
            }
        }
        Some(SeedOrg {
            path: path.to_string(),
            tenant_id: tenant_id?,
            org_id: org_id?,
            name: o.name,
            parent: o.parent,
            api_enabled: o.api_enabled,
            subnets,
            plan,
            settings: o.settings,
            users,
            datasets,
            webhooks,
        })
    }

    fn user(&mut self, path: &str, u: RawUser) -> Option<SeedUser> {
        let role = u.role.as_deref().and_then(|r| {
            let role = Role::parse(r);
            if role.is_none() {
                self.fault(&format!("{path}.role"), "must be administrator, user_manager or user");
            }
            role
        });
        let allowed_subnets = self.cidrs(&format!("{path}.subnets"), u.subnets);
        let expires_at = self.instant(&format!("{path}.expires_at"), u.expires_at);
        let tokens: Vec<SeedToken> = u
            .tokens
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| self.token(&format!("{path}.tokens[{i}]"), t))
            .collect();
        let fields = UserFields {
            role,
            password: u.password,
            token_access: u.token_access,
            allowed_subnets,
            expires_at: expires_at.map(Some),
            enabled: u.enabled,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            ..UserFields::default()
        };
        Some(SeedUser { path: path.to_string(), user_id: u.user_id, fields, tokens })
    }

    fn token(&mut self, path: &str, t: RawToken) -> Option<SeedToken> {
        let minted = token::from_fixed(&t.secret);
        if minted.is_none() {
            self.fault(
                &format!("{path}.secret"),
                "must have the form orgd_<16 characters a-z 2-7>_<43 characters A-Z a-z 0-9 - _>",
            );
        }
        let starts_at = self.instant(&format!("{path}.starts_at"), t.starts_at);
        let ends_at = self.instant(&format!("{path}.ends_at"), t.ends_at);
        let subnets = self.cidrs(&format!("{path}.subnets"), t.subnets).unwrap_or_default();
        Some(SeedToken { path: path.to_string(), minted: minted?, label: t.label, starts_at, ends_at, subnets })
    }

    fn dataset(&mut self, path: &str, d: RawDataset) -> Option<SeedDataset> {
        let id = match &d.id {
            Some(id) => {
                let parsed = crate::ids::DatasetId::parse(id);
                if parsed.is_none() {
                    self.fault(&format!("{path}.id"), "must be a UUID (8-4-4-4-12 hexadecimal digits)");
                }
                parsed
            }
            None => None,
        };
        let date_format = match d.date_format.as_deref() {
            None => DateFormat::default(),
            Some(f) => match DateFormat::parse(f) {
                Some(f) => f,
                None => {
                    self.fault(&format!("{path}.date_format"), "must be YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY");
                    DateFormat::default()
                }
            },
        };
        let (items, items_path) = match (d.items, d.items_file) {
            (Some(_), Some(_)) => {
                self.fault(&format!("{path}.items_file"), "give either items or items_file, not both");
                return None;
            }
            (Some(items), None) => (items, format!("{path}.items")),
            (None, Some(f)) => {
                (self.items_file(&format!("{path}.items_file"), &f)?, format!("{path}.items_file ({f})"))
            }
            (None, None) => (Vec::new(), format!("{path}.items")),
        };
        let mut actions = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::Object(mut m) => {
                    if m.get("_action").is_some_and(|a| a != "create") {
                        self.fault(&format!("{items_path}[{i}]._action"), "seed items are created; leave _action out");
                    }
                    m.insert("_action".into(), Value::String("create".into()));
                    actions.push(Value::Object(m));
                }
                _ => self.fault(&format!("{items_path}[{i}]"), "must be a mapping of property keys to values"),
            }
        }
        let auto_id = d.definition.get("autoId").is_some_and(|a| a.is_string());
        let mut drafts: Vec<SeedDraft> = Vec::new();
        for (i, raw) in d.drafts.unwrap_or_default().into_iter().enumerate() {
            let at = format!("{path}.drafts[{i}]");
            let name = raw.name.trim().to_string();
            if name.is_empty() || name.chars().count() > 200 {
                self.fault(&format!("{at}.name"), "must be text of 1 to 200 characters");
            } else if drafts.iter().any(|o| o.name.to_lowercase() == name.to_lowercase()) {
                self.fault(&format!("{at}.name"), "another draft of this dataset has this name");
            }
            drafts.push(SeedDraft { path: at, name, actions: raw.actions });
        }
        Some(SeedDataset {
            path: path.to_string(),
            id,
            definition: d.definition,
            actions,
            items_path,
            date_format,
            identify: auto_id.then_some(Identify::AutoId),
            drafts,
            permissions: d.permissions,
        })
    }

    fn items_file(&mut self, field: &str, name: &str) -> Option<Vec<Value>> {
        let path = self.base.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.fault(field, &format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            match crate::data::csv_actions::parse_with_default(&text, Some("create")) {
                Ok(rows) => Some(rows),
                Err(e) => {
                    let at = e.faults.first().map(|f| format!("{}: {}", f.field, f.message)).unwrap_or_default();
                    self.fault(field, &format!("{name} {at}"));
                    None
                }
            }
        } else if lower.ends_with(".json") {
            match serde_json::from_str::<Vec<Value>>(&text) {
                Ok(rows) => Some(rows),
                Err(e) => {
                    self.fault(field, &format!("{name} line {}: {e} (expected a JSON array of items)", e.line()));
                    None
                }
            }
        } else {
            self.fault(field, "must name a .csv or .json file");
            None
        }
    }
}

/// The line of the deepest node on `field`'s path (`orgs[1].users[0].role`) in a YAML or JSON text.
pub fn line_of(text: &str, field: &str) -> Option<usize> {
    let root = marked_yaml::parse_yaml(0, text).ok()?;
    let mut node = &root;
    let mut line = node.span().start().map(|m| m.line());
    for part in field.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            match node.as_mapping().and_then(|m| m.get_node(key)) {
                Some(n) => node = n,
                None => return line,
            }
            line = node.span().start().map(|m| m.line()).or(line);
        }
        for idx in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            let Ok(i) = idx.parse::<usize>() else { return line };
            match node.as_sequence().and_then(|s| s.get_node(i)) {
                Some(n) => node = n,
                None => return line,
            }
            line = node.span().start().map(|m| m.line()).or(line);
        }
    }
    line
}
