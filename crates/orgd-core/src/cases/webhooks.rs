//! The webhooks' use cases (orgd extension), for administrators of the org or an org above it (the doors
//! check the role; the target org is the one the caller acts in): subscribe, list, read, unsubscribe, read
//! a subscription's deliveries and deliver one again. Both dialects, the console and the stand-in's seeds
//! go through these.

use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::ids::{OrgId, WebhookId};
use crate::query::one;
use crate::store::Store;
use crate::webhooks::{self, check_target, Delivery, DeliveryState, OutboundRules, Subscription};
use serde_json::{json, Map, Value};

/// The most kind patterns one subscription names.
pub const MAX_KINDS: usize = 64;
/// The most characters of a description.
pub const MAX_DESCRIPTION: usize = 500;
/// The most subscriptions one org holds.
pub const MAX_PER_ORG: usize = 50;

/// A subscription to make, as parsed from `{"url", "events", "includeDescendants", "description"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    /// Where deliveries go.
    pub url: String,
    /// Kinds, `<object>.*` or `*`.
    pub kinds: Vec<String>,
    /// Whether the orgs below are included.
    pub include_descendants: bool,
    /// What it is for.
    pub description: String,
}

fn fault(field: &str, message: impl Into<String>) -> FieldFault {
    FieldFault { field: field.into(), message: message.into() }
}

/// Parse a subscription's JSON body; every fault names its field.
pub fn parse_new(body: &Value, rules: OutboundRules) -> Result<NewWebhook, ApiError> {
    let Some(o) = body.as_object() else {
        return Err(ApiError::invalid_fields(vec![fault("", "must be a JSON object")]));
    };
    let mut faults = Vec::new();
    for k in o.keys().filter(|k| !["url", "events", "includeDescendants", "description"].contains(&k.as_str())) {
        faults.push(fault(k, "unknown field; expected url, events, includeDescendants, description"));
    }
    let url = match o.get("url") {
        Some(Value::String(u)) => match check_target(u.trim(), rules) {
            Ok(_) => u.trim().to_string(),
            Err(why) => {
                faults.push(fault("url", why));
                String::new()
            }
        },
        Some(_) => {
            faults.push(fault("url", "must be a string"));
            String::new()
        }
        None => {
            faults.push(fault("url", "is required"));
            String::new()
        }
    };
    let mut kinds = Vec::new();
    match o.get("events") {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= MAX_KINDS => {
            for (i, k) in list.iter().enumerate() {
                match k.as_str() {
                    Some(k) if webhooks::pattern_is_known(k) => {
                        if !kinds.iter().any(|x: &String| x == k) {
                            kinds.push(k.to_string());
                        }
                    }
                    Some(k) => faults.push(fault(
                        &format!("events[{i}]"),
                        format!("'{k}' is not a kind of event; name a kind (user.created), an object (user.*) or *"),
                    )),
                    None => faults.push(fault(&format!("events[{i}]"), "must be a string")),
                }
            }
        }
        Some(Value::Array(list)) if list.is_empty() => faults.push(fault("events", "must name at least one kind")),
        Some(Value::Array(_)) => faults.push(fault("events", format!("must name at most {MAX_KINDS} kinds"))),
        Some(_) => faults.push(fault("events", "must be an array of kinds")),
        None => faults.push(fault("events", "is required (e.g. [\"user.*\"], or [\"*\"] for every change)")),
    }
    let include_descendants = match o.get("includeDescendants") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            faults.push(fault("includeDescendants", "must be true or false"));
            false
        }
    };
    let description = match o.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(d)) if d.chars().count() <= MAX_DESCRIPTION && !d.contains('\0') => d.clone(),
        Some(Value::String(_)) => {
            faults.push(fault("description", format!("must be at most {MAX_DESCRIPTION} characters, without NUL")));
            String::new()
        }
        Some(_) => {
            faults.push(fault("description", "must be a string"));
            String::new()
        }
    };
    if !faults.is_empty() {
        return Err(ApiError::invalid_fields(faults));
    }
    Ok(NewWebhook { url, kinds, include_descendants, description })
}

/// Subscribe `org` with `new` at `now` (ms) on behalf of `actor`; the subscription and its secret
/// (derived from the server's `key`; shown now and never again).
pub async fn create(
    store: &dyn Store,
    org: &OrgId,
    new: NewWebhook,
    actor: &str,
    now: i64,
    key: &[u8],
) -> Result<(Subscription, String), ApiError> {
    let sub = insert(store, org, new, WebhookId::generate(), actor, now).await?;
    let secret = webhooks::secret(key, &sub.id);
    Ok((sub, secret))
}

/// Save subscription `id` of `org` (a seed gives its own ids), within the most an org may have.
pub async fn insert(
    store: &dyn Store,
    org: &OrgId,
    new: NewWebhook,
    id: WebhookId,
    actor: &str,
    now: i64,
) -> Result<Subscription, ApiError> {
    if store.list_webhooks(Some(org)).await?.len() >= MAX_PER_ORG {
        return Err(ApiError::new(ErrorCode::Conflict)
            .with_message(format!("The org has {MAX_PER_ORG} webhooks, the most it may have; delete one first.")));
    }
    let sub = Subscription {
        id,
        org_id: org.clone(),
        url: new.url,
        kinds: new.kinds,
        include_descendants: new.include_descendants,
        description: new.description,
        created_at: now,
        created_by: actor.to_string(),
        consecutive_failures: 0,
        last_attempt_at: None,
    };
    store.insert_webhook(&sub).await?;
    Ok(sub)
}

/// The subscription `id` of `org`; 404 for another org's, as for an unknown one.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<Subscription, ApiError> {
    let not_found = || ApiError::new(ErrorCode::WebhookNotFound);
    let id = WebhookId::parse(id).ok_or_else(not_found)?;
    store.get_webhook(&id).await?.filter(|s| &s.org_id == org).ok_or_else(not_found)
}

/// Unsubscribe: the subscription and its deliveries go.
pub async fn delete(store: &dyn Store, org: &OrgId, id: &str) -> Result<(), ApiError> {
    let sub = get(store, org, id).await?;
    if !store.delete_webhook(&sub.id).await? {
        return Err(ApiError::new(ErrorCode::WebhookNotFound));
    }
    Ok(())
}

/// Deliveries per page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most deliveries one page holds.
pub const MAX_LIMIT: i64 = 1000;

/// A page of a subscription's deliveries, newest first, filtered by `state` and paged by `cursor` and
/// `limit` from the query string.
pub async fn deliveries(
    store: &dyn Store,
    sub: &Subscription,
    params: &[(String, String)],
) -> Result<(Vec<Delivery>, Option<String>), ApiError> {
    let state = one(params, "state")?
        .map(|s| {
            DeliveryState::parse(s)
                .ok_or_else(|| ApiError::invalid_query("state", "must be pending, delivered or failed"))
        })
        .transpose()?;
    let before = one(params, "cursor")?
        .map(|c| {
            crate::cases::events::decode_cursor_of("deliveries", c).ok_or_else(|| {
                ApiError::invalid_query("cursor", "is not a cursor this server gave; start again without it")
            })
        })
        .transpose()?;
    let limit = crate::query::limit(params, DEFAULT_LIMIT, MAX_LIMIT)?;
    let mut rows = store.list_deliveries(&sub.id, state, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next =
        if more { rows.last().map(|d| crate::cases::events::encode_cursor_of("deliveries", d.id)) } else { None };
    Ok((rows, next))
}

/// Queue delivery `delivery_id` of a subscription again, now; the delivery as it stands then.
pub async fn redeliver(
    store: &dyn Store,
    sub: &Subscription,
    delivery_id: &str,
    now: i64,
) -> Result<Delivery, ApiError> {
    let not_found = || ApiError::new(ErrorCode::DeliveryNotFound);
    let id = delivery_id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(not_found)?;
    if !store.redeliver(&sub.id, id, now).await? {
        return Err(not_found());
    }
    store.get_delivery(&sub.id, id).await?.ok_or_else(not_found)
}

fn time(ms: i64) -> Value {
    json!(crate::clock::iso_millis(crate::clock::from_millis(ms)))
}

/// A subscription as both dialects show it (never its secret).
pub fn to_json(s: &Subscription) -> Value {
    json!({
        "webhookId": s.id,
        "url": s.url,
        "events": s.kinds,
        "includeDescendants": s.include_descendants,
        "description": s.description,
        "status": s.status(),
        "consecutiveFailures": s.consecutive_failures,
        "lastAttemptAt": s.last_attempt_at.map(time),
        "createdAt": time(s.created_at),
        "createdBy": s.created_by,
    })
}

/// A new subscription with its secret, once.
pub fn created_json(s: &Subscription, secret: &str) -> Value {
    let mut v = to_json(s);
    if let Value::Object(m) = &mut v {
        m.insert("secret".into(), json!(secret));
    }
    v
}

/// A delivery as both dialects show it.
pub fn delivery_json(d: &Delivery) -> Value {
    let mut m = Map::new();
    m.insert("deliveryId".into(), json!(d.id.to_string()));
    m.insert("webhookId".into(), json!(d.webhook_id));
    m.insert("eventId".into(), json!(d.event_id));
    m.insert("kind".into(), json!(d.kind));
    m.insert("objectId".into(), json!(d.object_id));
    m.insert("state".into(), json!(d.state.as_str()));
    m.insert("attempts".into(), json!(d.attempts));
    m.insert("nextAttemptAt".into(), if d.state == DeliveryState::Pending { time(d.next_at) } else { Value::Null });
    m.insert("queuedAt".into(), time(d.created_at));
    m.insert("lastStatus".into(), json!(d.last_status));
    m.insert("lastError".into(), json!(d.last_error));
    m.insert("lastAttemptAt".into(), d.last_attempt_at.map(time).unwrap_or(Value::Null));
    m.insert("deliveredAt".into(), d.delivered_at.map(time).unwrap_or(Value::Null));
    Value::Object(m)
}
