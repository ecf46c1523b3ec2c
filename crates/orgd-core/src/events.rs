//! The change history: one [`Event`] per change, written by the store in the transaction of the change
//! itself, so that no use case can change state without leaving one and a change that rolls back leaves
//! none. Who made the change comes from the [`Context`] a door opens around its work ([`scope`]): the
//! request layer (trace id, client address, then the caller once its token is checked), the CLI (`orgd
//! admin` and the OS user), a job worker (the job's creator). What changed is decided here, once:
//! [`user_changes`] and [`org_changes`] name the fields, and secrets never appear (a password change reads
//! `"password": "[redacted]"` on both sides).

use crate::clock::{to_millis, Clock};
use crate::ids::OrgId;
use crate::model::{Org, User};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// What stands in for a secret's value in an event.
pub const REDACTED: &str = "[redacted]";

/// What kind of actor made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A user, with a token or signing in.
    User,
    /// An operator with the `orgd admin` CLI.
    Admin,
    /// orgd itself: seeds, housekeeping.
    System,
}

impl ActorKind {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Admin => "admin",
            ActorKind::System => "system",
        }
    }
}

impl std::fmt::Display for ActorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// A user, `orgd admin`, or orgd itself.
    pub kind: ActorKind,
    /// The user's `user_id`, the OS user of `orgd admin`, or `orgd`.
    pub id: String,
    /// The user's home org (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The token the change was made with (its public lookup id; never the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

impl Actor {
    /// A user acting with a token (`None` for a sign-in, which has none yet).
    pub fn user(user: &User, token_id: Option<&str>) -> Actor {
        Actor {
            kind: ActorKind::User,
            id: user.user_id.clone(),
            org_id: Some(user.org_id.as_str().to_string()),
            token_id: token_id.map(str::to_string),
        }
    }

    /// The `orgd admin` CLI run by `os_user`.
    pub fn admin(os_user: &str) -> Actor {
        Actor { kind: ActorKind::Admin, id: os_user.to_string(), org_id: None, token_id: None }
    }

    /// orgd itself.
    pub fn system() -> Actor {
        Actor { kind: ActorKind::System, id: "orgd".into(), org_id: None, token_id: None }
    }
}

/// What a door knows of the work it runs: the actor, the client address and the trace id, and the clock
/// the change's time is read from.
#[derive(Clone)]
pub struct Context {
    /// Who acts (`system` until a door says otherwise).
    pub actor: Actor,
    /// The client address.
    pub ip: Option<String>,
    /// The request's trace id.
    pub trace_id: Option<String>,
    /// The clock of the server (the stand-in's can be moved).
    pub clock: Option<Arc<dyn Clock>>,
}

impl Default for Context {
    fn default() -> Context {
        Context { actor: Actor::system(), ip: None, trace_id: None, clock: None }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("actor", &self.actor)
            .field("ip", &self.ip)
            .field("trace_id", &self.trace_id)
            .finish()
    }
}

tokio::task_local! {
    static CONTEXT: Arc<parking_lot::Mutex<Context>>;
}

/// Run `work` with `context` as the context of the changes it makes.
pub async fn scope<F: std::future::Future>(context: Context, work: F) -> F::Output {
    CONTEXT.scope(Arc::new(parking_lot::Mutex::new(context)), work).await
}

/// The actor of the work in progress, once the door knows it (the request layer learns it after the work
/// started). Outside a [`scope`] it does nothing.
pub fn set_actor(actor: Actor) {
    let _ = CONTEXT.try_with(|c| c.lock().actor = actor);
}

/// The context of the work in progress (the default, `system`, outside a [`scope`]).
pub fn current() -> Context {
    CONTEXT.try_with(|c| c.lock().clone()).unwrap_or_default()
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The field (a setting reads `settings.<key>`).
    pub field: String,
    /// Its value before (`null` when it had none).
    pub before: Value,
    /// Its value after.
    pub after: Value,
}

/// One recorded change, as stored and as the audit trail shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event's id.
    pub id: String,
    /// When (ms since the epoch).
    pub at: i64,
    /// The org the change belongs to (for an org made or deleted below another, the org above).
    pub org_id: String,
    /// Who.
    pub actor: Actor,
    /// From where.
    pub ip: Option<String>,
    /// The trace id of the request.
    pub trace_id: Option<String>,
    /// What kind of object: `org`, `user`, `token`, `dataset`.
    pub object_type: String,
    /// Its id (org id, user id, token id, dataset id).
    pub object_id: String,
    /// The kind of change, `<object>.<verb>`: `user.updated`, `items.imported`, …
    pub kind: String,
    /// The fields that changed, with before and after (secrets redacted).
    pub changes: Vec<Change>,
    /// Further facts (counts of an import, the new object's name, …).
    pub detail: Value,
}

impl Event {
    /// An event of the work in progress (its [`Context`] gives actor, address, trace id and time).
    pub fn new(org_id: &OrgId, object_type: &str, object_id: &str, kind: &str) -> Event {
        let c = current();
        let at = match &c.clock {
            Some(clock) => to_millis(clock.now()),
            None => to_millis(time::OffsetDateTime::now_utc()),
        };
        Event {
            id: crate::ids::new_id(),
            at,
            org_id: org_id.as_str().to_string(),
            actor: c.actor,
            ip: c.ip,
            trace_id: c.trace_id,
            object_type: object_type.into(),
            object_id: object_id.into(),
            kind: kind.into(),
            changes: Vec::new(),
            detail: Value::Null,
        }
    }

    /// With these field changes.
    pub fn changes(mut self, changes: Vec<Change>) -> Event {
        self.changes = changes;
        self
    }

    /// With these facts.
    pub fn detail(mut self, detail: Value) -> Event {
        self.detail = detail;
        self
    }
}

fn push(out: &mut Vec<Change>, field: &str, before: Value, after: Value) {
    if before != after {
        out.push(Change { field: field.into(), before, after });
    }
}

/// What an update of a user changed, in the fields people manage (sign-in bookkeeping is its own event,
/// [`login_kind`]; the password shows only that it changed).
pub fn user_changes(before: &User, after: &User) -> Vec<Change> {
    let mut out = Vec::new();
    push(&mut out, "email", json!(before.email), json!(after.email));
    push(&mut out, "first_name", json!(before.first_name), json!(after.first_name));
    push(&mut out, "last_name", json!(before.last_name), json!(after.last_name));
    push(&mut out, "mobile_phone", json!(before.mobile_phone), json!(after.mobile_phone));
    push(&mut out, "role", json!(before.role.as_str()), json!(after.role.as_str()));
    push(&mut out, "enabled", json!(before.enabled), json!(after.enabled));
    push(&mut out, "expires_at", json!(before.expires_at.map(to_millis)), json!(after.expires_at.map(to_millis)));
    push(&mut out, "token_access", json!(before.token_access), json!(after.token_access));
    push(
        &mut out,
        "allowed_subnets",
        json!(before.allowed_subnets.to_strings()),
        json!(after.allowed_subnets.to_strings()),
    );
    push(&mut out, "custom_metadata", json!(before.custom_metadata), json!(after.custom_metadata));
    if before.password_hash != after.password_hash {
        out.push(Change { field: "password".into(), before: json!(REDACTED), after: json!(REDACTED) });
    }
    let unlocked = |u: &User| u.locked_until.is_none() && !u.locked_permanently;
    push(&mut out, "unlocked", json!(unlocked(before)), json!(unlocked(after)));
    out
}

/// The kind of a sign-in's bookkeeping change, if it is one worth an event: a sign-in, a failed one, or a
/// lockout.
pub fn login_kind(before: &User, after: &User) -> Option<&'static str> {
    let locked = |u: &User| u.locked_until.is_some() || u.locked_permanently;
    if locked(after) && (!locked(before) || after.locked_until != before.locked_until) {
        Some("user.locked")
    } else if after.last_login_at != before.last_login_at && after.last_login_at.is_some() {
        Some("user.signed_in")
    } else if after.failed_login_count > before.failed_login_count {
        Some("user.sign_in_failed")
    } else {
        None
    }
}

/// What an update of an org changed: its name, subnets, usage plan and each setting by key.
pub fn org_changes(before: &Org, after: &Org) -> Vec<Change> {
    let mut out = Vec::new();
    push(&mut out, "name", json!(before.name), json!(after.name));
    push(
        &mut out,
        "allowed_subnets",
        json!(before.allowed_subnets.to_strings()),
        json!(after.allowed_subnets.to_strings()),
    );
    push(&mut out, "usage_plan", json!(before.usage_plan), json!(after.usage_plan));
    let empty = serde_json::Map::new();
    let b = before.settings.as_object().unwrap_or(&empty);
    let a = after.settings.as_object().unwrap_or(&empty);
    for k in keys_of(b, a) {
        let (before, after) = (b.get(k), a.get(k));
        if before != after {
            let (before, after) = (secret_free(k, before), secret_free(k, after));
            out.push(Change { field: format!("settings.{k}"), before, after });
        }
    }
    out
}

/// A setting's value as an event may show it: a push certificate only as there or not, a Kryptowire API
/// key as `[redacted]`.
fn secret_free(key: &str, v: Option<&Value>) -> Value {
    match (key, v) {
        (_, None) => Value::Null,
        (crate::org_object::PUSH_CERT_KEY, Some(_)) => json!(REDACTED),
        ("kryptowire_settings", Some(Value::Object(m))) => {
            let mut m = m.clone();
            if let Some(k) = m.get_mut("api_key") {
                *k = json!(REDACTED);
            }
            Value::Object(m)
        }
        (_, Some(v)) => v.clone(),
    }
}

/// What a change of a dataset's definition changed, by top-level key (properties, grants, name, …).
pub fn definition_changes(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    for k in keys_of(b, a) {
        let before = b.get(k).cloned().unwrap_or(Value::Null);
        let after = a.get(k).cloned().unwrap_or(Value::Null);
        push(&mut out, k, before, after);
    }
    out
}

/// The keys of either object, sorted, once each.
fn keys_of<'a>(b: &'a serde_json::Map<String, Value>, a: &'a serde_json::Map<String, Value>) -> Vec<&'a String> {
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A page of the audit trail: newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// The org.
    pub org_id: Option<OrgId>,
    /// From (inclusive, ms).
    pub from: Option<i64>,
    /// To (exclusive, ms).
    pub to: Option<i64>,
    /// Actor id.
    pub actor: Option<String>,
    /// Object id.
    pub object: Option<String>,
    /// Kind (`user.updated`) or a kind's object part (`user`).
    pub kind: Option<String>,
    /// The trace id of the request that made the change.
    pub trace_id: Option<String>,
    /// Only events older than this position (a cursor).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_gives_its_actor_and_nothing_leaks_outside_it() {
        assert_eq!(current().actor, Actor::system());
        let ctx = Context { ip: Some("192.0.2.1".into()), trace_id: Some("t".into()), ..Context::default() };
        scope(ctx, async {
            set_actor(Actor::admin("root"));
            let e = Event::new(&OrgId::generate(), "org", "x", "org.updated");
            assert_eq!(e.actor, Actor::admin("root"));
            assert_eq!(e.ip.as_deref(), Some("192.0.2.1"));
        })
        .await;
        assert_eq!(current().actor, Actor::system());
    }

    #[test]
    fn org_settings_changes_never_carry_a_secret() {
        let org = |settings: Value| Org {
            org_id: OrgId::generate(),
            tenant_id: crate::ids::TenantId::parse("SEC").unwrap(),
            parent_id: None,
            name: "Sec".into(),
            allowed_subnets: Default::default(),
            usage_plan: Default::default(),
            settings,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let before = org(json!({"kryptowire_settings": {"api_key": "k-old"}}));
        let after =
            org(json!({crate::org_object::PUSH_CERT_KEY: "MIIcert", "kryptowire_settings": {"api_key": "k-new"}}));
        let changes = org_changes(&before, &after);
        assert_eq!(changes.len(), 2, "both changed: {changes:?}");
        let text = serde_json::to_string(&changes).unwrap();
        assert!(!text.contains("MIIcert") && !text.contains("k-old") && !text.contains("k-new"), "{text}");
    }

    #[test]
    fn definition_changes_name_each_changed_key_and_nothing_else() {
        let b = json!({"name": "A", "properties": [1], "grants": null});
        let a = json!({"name": "A", "properties": [1, 2], "grants": {"roles": {}}});
        let c = definition_changes(&b, &a);
        let fields: Vec<&str> = c.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["grants", "properties"]);
    }
}
