//! Fault injection for the stand-in (`PUT /_orgd/faults`): rules that match requests by dialect, route,
//! path, tenant and method and answer them with a documented error, add latency, or both — always, with a
//! probability, or a limited number of times.

use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::ids::TenantId;
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The longest latency a rule may add.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// The most rules at once.
pub const MAX_RULES: usize = 100;

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// `orgvue` or `apperian`.
    pub dialect: Option<String>,
    /// HTTP method, upper-case.
    pub method: Option<String>,
    /// The route template as the journal shows it (`/api/v1/{tenant_id}/datasets`).
    pub route: Option<String>,
    /// The request path; `*` matches any run of characters, and a trailing `/` is optional.
    pub path: Option<String>,
    /// The acting tenant (known once the caller's token is checked).
    pub tenant: Option<TenantId>,
    /// The error to answer with.
    pub error: Option<ErrorCode>,
    /// Its message (default: the code's).
    pub message: Option<String>,
    /// `Retry-After` seconds (429 codes; default 1).
    pub retry_after: Option<u64>,
    /// Latency to add before answering.
    pub latency_ms: u64,
    /// Chance of firing on a matching request (default 1).
    pub probability: f64,
    /// Fire at most this many times.
    pub count: Option<u64>,
}

/// What the request looks like, for matching.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// `orgvue` or `apperian`.
    pub dialect: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// The matched route template, if any.
    pub route: Option<&'a str>,
    /// The path.
    pub path: &'a str,
    /// The acting tenant, once known.
    pub tenant: Option<&'a str>,
    /// The client address as text (for the subnet codes' messages).
    pub client_ip: &'a str,
}

/// A fault that fired.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Latency to add.
    pub latency: Duration,
    /// The error to answer with, if any.
    pub error: Option<ApiError>,
}

#[derive(Debug, Default)]
struct Armed {
    rule: Option<FaultRule>,
    fired: u64,
}

/// The rules in force on this node.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<Armed>>,
}

impl Faults {
    /// Replace every rule.
    pub fn set(&self, rules: Vec<FaultRule>) {
        *self.rules.lock() = rules.into_iter().map(|r| Armed { rule: Some(r), fired: 0 }).collect();
    }

    /// Remove every rule.
    pub fn clear(&self) {
        self.rules.lock().clear();
    }

    /// Whether any rule is in force (a cheap check for the request path).
    pub fn is_empty(&self) -> bool {
        self.rules.lock().is_empty()
    }

    /// The first rule that matches and fires. Rules naming a tenant are only tried when `facts.tenant`
    /// is known (`with_tenant`), the others only before it is (`!with_tenant`), so a request meets each
    /// rule once.
    pub fn pick(&self, facts: &RequestFacts<'_>, with_tenant: bool) -> Option<Fault> {
        let mut rules = self.rules.lock();
        for armed in rules.iter_mut() {
            let Some(rule) = &armed.rule else { continue };
            if rule.tenant.is_some() != with_tenant || !rule.matches(facts) {
                continue;
            }
            if rule.count.is_some_and(|c| armed.fired >= c) {
                continue;
            }
            if rule.probability < 1.0 && !rand::thread_rng().gen_bool(rule.probability.max(0.0)) {
                continue;
            }
            armed.fired += 1;
            return Some(rule.fault(facts));
        }
        None
    }

    /// The rules with how often each fired, as the control API shows them.
    pub fn to_json(&self) -> Value {
        let rules = self.rules.lock();
        Value::Array(
            rules
                .iter()
                .filter_map(|a| {
                    let mut v = a.rule.as_ref()?.to_json();
                    v["fired"] = json!(a.fired);
                    if let Some(c) = a.rule.as_ref()?.count {
                        v["remaining"] = json!(c.saturating_sub(a.fired));
                    }
                    Some(v)
                })
                .collect(),
        )
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl FaultRule {
    fn matches(&self, f: &RequestFacts<'_>) -> bool {
        self.dialect.as_deref().is_none_or(|d| d == f.dialect)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(f.method))
            && self.route.as_deref().is_none_or(|r| Some(r) == f.route)
            && self
                .path
                .as_deref()
                .is_none_or(|p| glob(p, f.path) || (!f.path.ends_with('/') && glob(p, &format!("{}/", f.path))))
            && self.tenant.as_ref().is_none_or(|t| Some(t.as_str()) == f.tenant)
    }

    fn fault(&self, facts: &RequestFacts<'_>) -> Fault {
        let error = self.error.map(|code| {
            let mut e = if code.orgvue_message().contains("{ip}") {
                ApiError::ip_refusal(code, facts.client_ip)
            } else {
                ApiError::new(code)
            };
            if let Some(m) = &self.message {
                e = e.with_message(m.clone());
            }
            if code.status() == 429 {
                e.retry_after = Some(self.retry_after.unwrap_or(1));
            }
            e
        });
        Fault { latency: Duration::from_millis(self.latency_ms), error }
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("dialect", self.dialect.clone().map(Value::from));
        put("method", self.method.clone().map(Value::from));
        put("route", self.route.clone().map(Value::from));
        put("path", self.path.clone().map(Value::from));
        put("tenant", self.tenant.as_ref().map(|t| Value::from(t.as_str())));
        put("error", self.error.map(|c| json!(c.code())));
        put("message", self.message.clone().map(Value::from));
        put("retryAfter", self.retry_after.map(Value::from));
        put("latencyMs", (self.latency_ms > 0).then(|| json!(self.latency_ms)));
        put("probability", Some(json!(self.probability)));
        put("count", self.count.map(Value::from));
        Value::Object(m)
    }
}

/// Parse `{"rules": [...]}`; every fault is named (`rules[2].error`).
pub fn parse_rules(body: &Value) -> Result<Vec<FaultRule>, Vec<FieldFault>> {
    let mut faults = Vec::new();
    let mut fault = |field: String, message: &str| faults.push(FieldFault { field, message: message.into() });
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldFault { field: "rules".into(), message: "send {\"rules\": [ … ]}".into() }]);
    };
    if let Some(k) = obj.keys().find(|k| *k != "rules") {
        fault(k.clone(), "is not a known key; send {\"rules\": [ … ]}");
    }
    let Some(list) = obj.get("rules").and_then(Value::as_array) else {
        fault("rules".into(), "is required: a list of rules (an empty list removes every rule)");
        return Err(faults);
    };
    if list.len() > MAX_RULES {
        fault("rules".into(), &format!("at most {MAX_RULES} rules"));
    }
    let mut rules = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let at = |k: &str| format!("rules[{i}].{k}");
        let Some(r) = r.as_object() else {
            fault(format!("rules[{i}]"), "must be an object");
            continue;
        };
        const KEYS: &[&str] = &[
            "dialect",
            "method",
            "route",
            "path",
            "tenant",
            "error",
            "message",
            "retryAfter",
            "latencyMs",
            "probability",
            "count",
        ];
        for k in r.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            fault(at(k), &format!("is not a known key (known: {})", KEYS.join(", ")));
        }
        let text = |k: &str, faults: &mut dyn FnMut(String, &str)| match r.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                faults(at(k), "must be a non-empty string");
                None
            }
        };
        let dialect = text("dialect", &mut fault);
        if dialect.as_deref().is_some_and(|d| d != "orgvue" && d != "apperian") {
            fault(at("dialect"), "must be orgvue or apperian");
        }
        let method = text("method", &mut fault).map(|m| m.to_ascii_uppercase());
        if method.as_deref().is_some_and(|m| !m.bytes().all(|b| b.is_ascii_uppercase())) {
            fault(at("method"), "must be an HTTP method such as GET or POST");
        }
        let route = text("route", &mut fault);
        let path = text("path", &mut fault);
        let tenant = text("tenant", &mut fault).and_then(|t| {
            let p = TenantId::parse(&t);
            if p.is_none() {
                fault(at("tenant"), "must be a tenant id (^[A-Z][A-Z0-9_]{0,29}$)");
            }
            p
        });
        let message = text("message", &mut fault);
        let number = |k: &str, max: u64, faults: &mut dyn FnMut(String, &str)| match r.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Some(n),
                _ => {
                    faults(at(k), &format!("must be a whole number from 0 to {max}"));
                    None
                }
            },
        };
        let error = number("error", u64::from(u32::MAX), &mut fault).and_then(|n| {
            let code = ErrorCode::ALL.iter().copied().find(|c| u64::from(c.code()) == n);
            if code.is_none() {
                fault(at("error"), "must be a documented error code such as 42901, 40345 or 500001");
            }
            code
        });
        let retry_after = number("retryAfter", 86_400, &mut fault);
        let latency_ms = number("latencyMs", MAX_LATENCY_MS, &mut fault).unwrap_or(0);
        let count = number("count", u64::MAX, &mut fault);
        if count == Some(0) {
            fault(at("count"), "must be at least 1 (leave it out for no limit)");
        }
        let probability = match r.get("probability") {
            None | Some(Value::Null) => 1.0,
            Some(v) => match v.as_f64() {
                Some(p) if (0.0..=1.0).contains(&p) => p,
                _ => {
                    fault(at("probability"), "must be a number from 0 to 1");
                    1.0
                }
            },
        };
        if error.is_none() && latency_ms == 0 && !r.contains_key("error") && !r.contains_key("latencyMs") {
            fault(format!("rules[{i}]"), "needs error (a code to answer with) or latencyMs, or both");
        }
        rules.push(FaultRule {
            dialect,
            method,
            route,
            path,
            tenant,
            error,
            message,
            retry_after,
            latency_ms,
            probability,
            count,
        });
    }
    if faults.is_empty() {
        Ok(rules)
    } else {
        Err(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(path: &'a str, tenant: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            dialect: "orgvue",
            method: "GET",
            route: Some("/api/v1/{tenant_id}/datasets"),
            path,
            tenant,
            client_ip: "127.0.0.1",
        }
    }

    #[test]
    fn rules_match_fire_and_count_down() {
        let f = Faults::default();
        let rules = parse_rules(&json!({"rules": [
            {"tenant": "ACME", "error": 42901, "retryAfter": 7, "count": 2},
            {"path": "/api/v1/*/datasets", "method": "get", "latencyMs": 5},
        ]}))
        .unwrap();
        f.set(rules);
        let first = f.pick(&facts("/api/v1/ACME/datasets", Some("ACME")), true).unwrap();
        let e = first.error.unwrap();
        assert_eq!((e.code, e.retry_after), (ErrorCode::Throttled, Some(7)));
        assert!(f.pick(&facts("/api/v1/OTHER/datasets", Some("OTHER")), true).is_none());
        assert!(f.pick(&facts("/api/v1/ACME/datasets", Some("ACME")), true).is_some());
        assert!(f.pick(&facts("/api/v1/ACME/datasets", Some("ACME")), true).is_none(), "count 2 is used up");
        let slow = f.pick(&facts("/api/v1/ACME/datasets", None), false).unwrap();
        assert_eq!((slow.latency, slow.error.is_none()), (Duration::from_millis(5), true));
        assert!(f.pick(&facts("/api/v1/ACME/datasets/x", None), false).is_none());
        let shown = f.to_json();
        assert_eq!(shown[0]["fired"], 2);
        assert_eq!(shown[0]["remaining"], 0);
        assert_eq!(shown[1]["method"], "GET");
    }

    #[test]
    fn a_probability_of_zero_never_fires() {
        let f = Faults::default();
        f.set(parse_rules(&json!({"rules": [{"error": 500001, "probability": 0}]})).unwrap());
        assert!((0..100).all(|_| f.pick(&facts("/x", None), false).is_none()));
    }

    #[test]
    fn bad_rules_are_named() {
        let e = parse_rules(&json!({"rules": [
            {"error": 12345, "dialect": "soap", "probability": 2, "count": 0, "colour": "red"},
            {"method": "GET"},
        ]}))
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rules[0].colour",
                "rules[0].dialect",
                "rules[0].error",
                "rules[0].count",
                "rules[0].probability",
                "rules[1]"
            ]
        );
        assert!(parse_rules(&json!([])).is_err());
        assert!(parse_rules(&json!({"rules": []})).unwrap().is_empty());
    }

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob("/api/v1/*/datasets", "/api/v1/ACME/datasets"));
        assert!(glob("*", "/anything"));
        assert!(glob("/v1/*", "/v1/organizations/"));
        assert!(!glob("/v1/*/x", "/v1/y"));
        assert!(glob("/exact", "/exact"));
        assert!(!glob("/exact", "/exact/"));
    }
}
