//! Webhooks (orgd extension): an org's subscriptions of an HTTPS endpoint to kinds of change (and, if it
//! says so, the changes of the orgs below it), the deliveries the store queues in the transaction of each
//! event, how a delivery is signed, and when a failed one is tried again.
//!
//! Signing follows the Standard Webhooks scheme (<https://www.standardwebhooks.com>): headers
//! `webhook-id` (the event id, the same on every attempt), `webhook-timestamp` (Unix seconds of the
//! attempt) and `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, where the
//! key is the base64 text after `whsec_` in the subscription's secret. The secret is never stored: it is
//! derived from the server's key and the subscription's id, and shown once, when the subscription is made.

use crate::events::Event;
use crate::ids::{OrgId, WebhookId};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// Every kind of event there is; a subscription names kinds, `<object>.*` or `*`.
pub const KINDS: &[&str] = &[
    "org.created",
    "org.updated",
    "org.deleted",
    "user.created",
    "user.updated",
    "user.deleted",
    "user.signed_in",
    "user.sign_in_failed",
    "user.locked",
    "token.created",
    "token.first_used",
    "token.revoked",
    "token.deleted",
    "dataset.created",
    "dataset.updated",
    "dataset.schema_changed",
    "dataset.deleted",
    "view.created",
    "items.imported",
    "draft.created",
    "draft.staged",
    "draft.cleared",
    "draft.deleted",
    "draft.applied",
    "job.queued",
    "job.completed",
    "job.failed",
    "webhook.created",
    "webhook.deleted",
    "webhook.redelivered",
];

/// Whether `pattern` names some kind: a kind, `<object>.*` of a known object, or `*`.
pub fn pattern_is_known(pattern: &str) -> bool {
    if pattern == "*" || KINDS.contains(&pattern) {
        return true;
    }
    pattern.strip_suffix(".*").is_some_and(|object| KINDS.iter().any(|k| k.split('.').next() == Some(object)))
}

/// What outbound calls may reach: plain http and internal addresses only when the operator allows them
/// (`--outbound-allow-http`, `--outbound-allow-internal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundRules {
    /// `http://` URLs are allowed.
    pub allow_http: bool,
    /// Loopback, private and link-local targets are allowed.
    pub allow_internal: bool,
}

/// The most characters a subscription URL may have.
pub const MAX_URL: usize = 2048;

/// Check a subscription's URL: absolute https (http when allowed), no credentials in it, and not a
/// loopback, private or link-local address (by its literal address or a `localhost` name; names are
/// checked again when they resolve, at each delivery).
pub fn check_target(text: &str, rules: OutboundRules) -> Result<url::Url, String> {
    if text.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let u = url::Url::parse(text).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match u.scheme() {
        "https" => {}
        "http" if rules.allow_http => {}
        _ => return Err("must be an https URL (http only when the server runs with --outbound-allow-http)".into()),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not carry a user name or password; verify deliveries by their signature".into());
    }
    let internal = match u.host() {
        None => return Err("has no host".into()),
        Some(url::Host::Ipv4(a)) => crate::net::is_internal(a.into()),
        Some(url::Host::Ipv6(a)) => crate::net::is_internal(a.into()),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
    };
    if internal && !rules.allow_internal {
        return Err("points at a loopback, private or link-local address, which deliveries may not reach (unless \
                    the server runs with --outbound-allow-internal)"
            .into());
    }
    Ok(u)
}

/// A subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Its id.
    pub id: WebhookId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// Where deliveries go.
    pub url: String,
    /// The kinds it wants (kinds, `<object>.*` or `*`).
    pub kinds: Vec<String>,
    /// Whether the changes of the orgs below its org are delivered too.
    pub include_descendants: bool,
    /// What it is for.
    pub description: String,
    /// When it was made (ms).
    pub created_at: i64,
    /// Who made it (the actor's id).
    pub created_by: String,
    /// Failed attempts since its last successful delivery.
    pub consecutive_failures: i64,
    /// The last attempt (ms), if any.
    pub last_attempt_at: Option<i64>,
}

impl Subscription {
    /// `active`, or `failing` while its last attempt failed.
    pub fn status(&self) -> &'static str {
        if self.consecutive_failures > 0 {
            "failing"
        } else {
            "active"
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet; tried at `next_at`.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// Given up: still failing a day after its event.
    Failed,
}

impl DeliveryState {
    /// Its name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One event to send to one subscription, and how its attempts went.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Its id (a position: later deliveries have larger ids).
    pub id: i64,
    /// The subscription.
    pub webhook_id: WebhookId,
    /// The event.
    pub event_id: String,
    /// The event's kind.
    pub kind: String,
    /// The event's object (deliveries of one object go in order).
    pub object_id: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// When it is tried next (pending only), ms.
    pub next_at: i64,
    /// When it was queued (or queued again by a redelivery), ms.
    pub created_at: i64,
    /// The HTTP status of the last attempt, if it got one.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt was made, ms.
    pub last_attempt_at: Option<i64>,
    /// When it was delivered, ms.
    pub delivered_at: Option<i64>,
}

/// A delivery a node took to send now: where to, and the event, or why it cannot be sent (no longer
/// kept, or its stored text does not read).
#[derive(Debug, Clone)]
pub struct Due {
    /// The delivery.
    pub delivery: Delivery,
    /// The subscription's URL.
    pub url: String,
    /// The event, or why there is none to send.
    pub event: Result<Event, String>,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// When, ms.
    pub at: i64,
    /// The answer's status, when there was one.
    pub status: Option<i64>,
    /// Why it failed; `None` = delivered.
    pub error: Option<String>,
    /// After a failure: when to try again, or `None` to give up.
    pub retry_at: Option<i64>,
}

/// How long a delivery is retried after it was queued: a day.
pub const RETRY_WINDOW_MS: i64 = 86_400_000;
/// How long a node holds a delivery it took before another node may take it.
pub const CLAIM_MS: i64 = 60_000;

/// The wait after the `attempts`-th failed attempt: 30 s, doubling, at most an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = (attempts.max(1) - 1).min(7) as u32;
    (30_000i64 << doublings).min(3_600_000)
}

/// The outcome of a failed attempt made at `now` of a delivery queued at `created_at` and tried
/// `attempts` times with this one.
pub fn failed(now: i64, created_at: i64, attempts: i64, status: Option<i64>, error: String) -> Attempt {
    let next = now + backoff_ms(attempts);
    let retry_at = (next <= created_at + RETRY_WINDOW_MS).then_some(next);
    Attempt { at: now, status, error: Some(error), retry_at }
}

/// The secret of subscription `id` under the server's `key`: `whsec_` and 32 bytes in base64.
pub fn secret(key: &[u8], id: &WebhookId) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"orgd webhook secret\0");
    mac.update(id.as_str().as_bytes());
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header of `body` sent as message `msg_id` at `timestamp` (Unix seconds);
/// `None` when `secret` is not `whsec_` and base64 (no key is guessed for it).
pub fn signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}

/// Whether `header` (one or more space-separated `v1,<sig>`) signs `body` as a receiver checks it, in
/// constant time.
pub fn verify(secret: &str, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(want) = signature(secret, msg_id, timestamp, body) else { return false };
    header.split(' ').any(|s| bool::from(s.as_bytes().ct_eq(want.as_bytes())))
}

/// The JSON body of a delivery: `{"type", "timestamp", "data"}`, `data` being the event as the audit
/// trail shows it.
pub fn payload(event: &Event) -> Value {
    let data = crate::cases::events::to_json(event);
    json!({"type": event.kind, "timestamp": data["time"].clone(), "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_kinds_objects_or_everything() {
        assert!(pattern_is_known("user.created"));
        assert!(pattern_is_known("user.*"));
        assert!(pattern_is_known("*"));
        assert!(!pattern_is_known("user.eaten"));
        assert!(!pattern_is_known("cat.*"));
        assert!(!pattern_is_known("user"));
    }

    #[test]
    fn targets_must_be_public_https() {
        let strict = OutboundRules::default();
        assert!(check_target("https://hooks.example.com/orgd", strict).is_ok());
        assert!(check_target("http://hooks.example.com/orgd", strict).unwrap_err().contains("https"));
        assert!(check_target("https://127.0.0.1:9/x", strict).unwrap_err().contains("loopback"));
        assert!(check_target("https://[::1]/x", strict).is_err());
        assert!(check_target("https://10.0.0.7/x", strict).is_err());
        assert!(check_target("https://localhost/x", strict).is_err());
        assert!(check_target("https://u:p@hooks.example.com/", strict).unwrap_err().contains("password"));
        assert!(check_target("hooks.example.com", strict).is_err());
        let loose = OutboundRules { allow_http: true, allow_internal: true };
        assert!(check_target("http://127.0.0.1:9/x", loose).is_ok());
    }

    #[test]
    fn retries_back_off_for_a_day_then_give_up() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(8), 3_600_000);
        assert_eq!(backoff_ms(50), 3_600_000);
        let a = failed(1_000, 0, 1, Some(500), "answered 500".into());
        assert_eq!(a.retry_at, Some(31_000));
        let late = failed(RETRY_WINDOW_MS - 1_000, 0, 30, None, "timed out".into());
        assert_eq!(late.retry_at, None);
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(signature("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, body), None, "no whsec_ prefix");
        assert_eq!(signature("whsec_not base64!", "m", 1, body), None);
        assert!(!verify("whsec_not base64!", "m", 1, body, "v1,"));
        assert!(verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, &format!("v1,x {sig}")));
        assert!(!verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, &sig));
    }

    #[test]
    fn secrets_differ_by_subscription_and_key() {
        let (a, b) = (WebhookId::generate(), WebhookId::generate());
        assert!(secret(b"k", &a).starts_with("whsec_"));
        assert_ne!(secret(b"k", &a), secret(b"k", &b));
        assert_ne!(secret(b"k", &a), secret(b"j", &a));
        assert_eq!(secret(b"k", &a), secret(b"k", &a));
    }
}
