//! `PUT /v3/organizations/{org_id}` rules (apperian-dialect §4.4, §4.6): which keys change, how each value
//! is validated, and the warnings for the rest. Pure: takes the org and the request object, returns the
//! changed org and its warnings, or every fault.

use crate::cases::users::is_email;
use crate::error::FieldFault;
use crate::metadata;
use crate::model::Org;
use crate::org_object::{self, PUSH_CERT_KEY};
use serde_json::{json, Map, Value};

/// A warning about an ignored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The key, dotted for nested ones.
    pub field: String,
    /// Why it was ignored.
    pub message: String,
}

impl Warning {
    /// The wire form.
    pub fn to_json(&self) -> Value {
        json!({"field": self.field, "message": self.message})
    }
}

/// The 25 editable keys (`events_retention_days` and `item_history` are orgd's).
pub const EDITABLE: &[&str] = &[
    "support_email",
    "email_from_name",
    "email_from_address",
    "email_reply_to_address",
    "invite_template_for_user",
    "invite_subject_for_user",
    "invite_template_for_affiliated",
    "invite_subject_for_affiliated",
    "session_timeout_in_minutes",
    "remember_me_timeout_in_minutes",
    "no_auth_app_delivery_enabled",
    "password_complexity",
    "application_custom_metadata_template",
    "user_custom_metadata_template",
    "banner_image_enabled",
    "no_auth_policies_enabled",
    "cors_domain_whitelist",
    "reviews_default_value",
    "kryptowire_settings",
    "admin_branded",
    "notify_on_device_registration",
    "policies_frequency_evaluation_in_hours",
    "catalog_affiliated_org_access_enabled",
    "events_retention_days",
    "item_history",
];

/// The 12 keys of a password rule set (`password_complexity_for_admins` / `_for_users`).
pub const RULE_KEYS: &[&str] = &[
    "account_lockout_threshold",
    "account_lockout_reset_timer_in_minutes",
    "account_lockout_permanent_lockout",
    "account_lockout_duration_in_minutes",
    "min_length",
    "min_lowercase",
    "min_number",
    "min_symbol",
    "min_uppercase",
    "password_expiration_in_minutes",
    "password_history",
    "password_reset_interval_time_in_minutes",
];

/// A push certificate upload that came with the request (multipart `push_cert_file`).
pub enum CertChange {
    /// No file was sent.
    None,
    /// A file was sent (already checked).
    Upload(String),
}

/// Apply a request object to an org: the new org and warnings, or every fault (nothing changes then).
/// Apply a settings change made at `now`; switching `item_history` on notes when
/// (`item_history_since`), switching it off forgets it.
pub fn apply(
    org: &Org,
    request: &Value,
    cert: CertChange,
    now: time::OffsetDateTime,
) -> Result<(Org, Vec<Warning>), Vec<FieldFault>> {
    let Value::Object(req) = request else {
        return Err(vec![fault("body", "must be a JSON object")]);
    };
    let mut next = org.clone();
    let settings = next.settings.as_object_mut().expect("settings are an object");
    let mut faults = Vec::new();
    let mut warnings = Vec::new();
    for (key, v) in req {
        if EDITABLE.contains(&key.as_str()) {
            match validate(key, v, settings, &mut warnings) {
                Ok(new) => {
                    settings.insert(key.clone(), new);
                }
                Err(mut f) => faults.append(&mut f),
            }
        } else if key == "apple_push_cert" {
            match v {
                Value::Bool(false) => {
                    settings.remove(PUSH_CERT_KEY);
                }
                Value::Bool(true) => {
                    if !settings.contains_key(PUSH_CERT_KEY) && matches!(cert, CertChange::None) {
                        warnings.push(warn(key, "no push certificate is saved; send push_cert_file to add one"));
                    }
                }
                _ => faults.push(fault(key, "must be true or false")),
            }
        } else if org_object::KEYS.iter().any(|(k, _)| k == key) {
            if org_object::value(org, key) != *v {
                warnings.push(warn(key, &format!("{key} is not editable; the value was ignored")));
            }
        } else {
            warnings.push(warn(key, "unknown field; ignored"));
        }
    }
    let was = org.settings.get("item_history") == Some(&Value::Bool(true));
    match (was, settings.get("item_history") == Some(&Value::Bool(true))) {
        (false, true) => {
            settings.insert(HISTORY_SINCE.into(), Value::from(crate::clock::to_millis(now)));
        }
        (true, false) => {
            settings.remove(HISTORY_SINCE);
        }
        _ => {}
    }
    if let CertChange::Upload(b64) = cert {
        if req.get("apple_push_cert") != Some(&Value::Bool(false)) {
            settings.insert(PUSH_CERT_KEY.into(), Value::String(b64));
        }
    }
    if faults.is_empty() {
        Ok((next, warnings))
    } else {
        Err(faults)
    }
}

/// The settings key of when item history was last switched on (ms; read-only, set by [`apply`]).
pub const HISTORY_SINCE: &str = "item_history_since";

fn fault(field: &str, message: &str) -> FieldFault {
    FieldFault { field: field.into(), message: message.into() }
}

fn warn(field: &str, message: &str) -> Warning {
    Warning { field: field.into(), message: message.into() }
}

fn int_in(key: &str, v: &Value, lo: i64, hi: i64) -> Result<Value, Vec<FieldFault>> {
    match v.as_i64() {
        Some(n) if v.is_i64() || v.is_u64() => {
            if (lo..=hi).contains(&n) {
                Ok(json!(n))
            } else {
                Err(vec![fault(key, &format!("must be an integer from {lo} to {hi}"))])
            }
        }
        _ => Err(vec![fault(key, &format!("must be an integer from {lo} to {hi}"))]),
    }
}

fn string_max(key: &str, v: &Value, max: usize) -> Result<Value, Vec<FieldFault>> {
    match v.as_str() {
        Some(s) if s.chars().count() <= max => Ok(v.clone()),
        Some(_) => Err(vec![fault(key, &format!("must be at most {max} characters"))]),
        None => Err(vec![fault(key, "must be a string")]),
    }
}

fn validate(
    key: &str,
    v: &Value,
    current: &Map<String, Value>,
    warnings: &mut Vec<Warning>,
) -> Result<Value, Vec<FieldFault>> {
    match key {
        "support_email" | "email_from_address" | "email_reply_to_address" => match v.as_str() {
            Some(s) if s.is_empty() || is_email(s) => Ok(v.clone()),
            Some(_) => Err(vec![fault(key, "must be an e-mail address like help@example.com, or \"\"")]),
            None => Err(vec![fault(key, "must be a string")]),
        },
        "email_from_name" | "invite_subject_for_user" | "invite_subject_for_affiliated" => string_max(key, v, 255),
        "invite_template_for_user" | "invite_template_for_affiliated" => string_max(key, v, 65_536),
        "session_timeout_in_minutes" | "remember_me_timeout_in_minutes" => int_in(key, v, 1, 525_600),
        "policies_frequency_evaluation_in_hours" => int_in(key, v, 0, 8760),
        "events_retention_days" => int_in(key, v, 1, 36_500),
        "password_complexity" => password_complexity(v, current.get(key), warnings),
        "user_custom_metadata_template" | "application_custom_metadata_template" => {
            metadata::validate_template(v, key).map(|_| v.clone())
        }
        "cors_domain_whitelist" => cors_list(v),
        "kryptowire_settings" => kryptowire(v, current.get(key)),
        _ => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => Err(vec![fault(key, "must be true or false")]),
        },
    }
}

fn password_complexity(
    v: &Value,
    current: Option<&Value>,
    warnings: &mut Vec<Warning>,
) -> Result<Value, Vec<FieldFault>> {
    let Value::Object(sets) = v else {
        return Err(vec![fault("password_complexity", "must be an object")]);
    };
    let mut merged = current.cloned().unwrap_or_else(|| crate::org_settings::defaults()["password_complexity"].clone());
    let mut faults = Vec::new();
    for (set_name, set) in sets {
        let path = format!("password_complexity.{set_name}");
        if set_name != "password_complexity_for_admins" && set_name != "password_complexity_for_users" {
            warnings.push(warn(&path, "unknown field; ignored"));
            continue;
        }
        let Value::Object(rules) = set else {
            faults.push(fault(&path, "must be an object"));
            continue;
        };
        for (rule, value) in rules {
            let field = format!("{path}.{rule}");
            if !RULE_KEYS.contains(&rule.as_str()) {
                warnings.push(warn(&field, "unknown field; ignored"));
                continue;
            }
            let checked = if rule == "account_lockout_permanent_lockout" {
                if value.is_boolean() {
                    Ok(value.clone())
                } else {
                    Err(vec![fault(&field, "must be true or false")])
                }
            } else {
                int_in(&field, value, 0, i32::MAX as i64)
            };
            match checked {
                Ok(ok) => merged[set_name.as_str()][rule.as_str()] = ok,
                Err(mut f) => faults.append(&mut f),
            }
        }
    }
    if faults.is_empty() {
        Ok(merged)
    } else {
        Err(faults)
    }
}

fn cors_list(v: &Value) -> Result<Value, Vec<FieldFault>> {
    let Value::Array(items) = v else {
        return Err(vec![fault("cors_domain_whitelist", "must be a list of origins like https://app.example.com")]);
    };
    let mut faults = Vec::new();
    if items.len() > 100 {
        faults.push(fault("cors_domain_whitelist", "at most 100 origins"));
    }
    for (i, item) in items.iter().enumerate() {
        let field = format!("cors_domain_whitelist[{i}]");
        match item.as_str() {
            Some(s) => {
                if let Err(why) = crate::cors::parse_origin(s) {
                    faults.push(fault(&field, &why));
                }
            }
            None => faults.push(fault(&field, "must be a string")),
        }
    }
    if faults.is_empty() {
        Ok(v.clone())
    } else {
        Err(faults)
    }
}

fn kryptowire(v: &Value, current: Option<&Value>) -> Result<Value, Vec<FieldFault>> {
    let key = "kryptowire_settings";
    match v {
        Value::Null => Ok(Value::Null),
        Value::Object(o) if o.get("api_key_set") == Some(&Value::Bool(true)) && o.len() == 1 => {
            Ok(current.cloned().unwrap_or(Value::Null))
        }
        Value::Object(o) if o.len() == 1 => match o.get("api_key").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && k.chars().count() <= 255 => Ok(json!({"api_key": k})),
            _ => Err(vec![fault(&format!("{key}.api_key"), "must be a string of 1 to 255 characters")]),
        },
        _ => Err(vec![fault(key, "must be null, {\"api_key\": \"…\"} or {\"api_key_set\": true}")]),
    }
}

/// Whether bytes are one well-formed DER SEQUENCE ending exactly at the end (the shape of PKCS#12).
pub fn is_der_sequence(b: &[u8]) -> bool {
    if b.len() < 2 || b[0] != 0x30 {
        return false;
    }
    let (len, header) = match b[1] {
        n if n < 0x80 => (n as usize, 2),
        0x80 => return false,
        n => {
            let count = (n & 0x7f) as usize;
            if count > 4 || b.len() < 2 + count {
                return false;
            }
            let len = b[2..2 + count].iter().fold(0usize, |acc, x| (acc << 8) | *x as usize);
            (len, 2 + count)
        }
    };
    header + len == b.len()
}

#[cfg(test)]
mod tests {
    const EPOCH: time::OffsetDateTime = time::OffsetDateTime::UNIX_EPOCH;
    use super::*;
    use crate::ids::{OrgId, TenantId};
    use crate::model::UsagePlan;
    use crate::net::CidrList;

    fn org() -> Org {
        Org {
            org_id: OrgId::generate(),
            tenant_id: TenantId::parse("ACME").unwrap(),
            parent_id: None,
            name: "Acme".into(),
            allowed_subnets: CidrList::any(),
            usage_plan: UsagePlan::default(),
            settings: crate::org_settings::defaults(),
            created_at: EPOCH,
        }
    }

    #[test]
    fn editable_keys_change_others_warn() {
        let o = org();
        let req = json!({"support_email": "help@acme.test", "name": "Other", "colour": "red", "auth_type": 0});
        let (n, w) = apply(&o, &req, CertChange::None, EPOCH).unwrap();
        assert_eq!(n.settings["support_email"], "help@acme.test");
        assert_eq!(n.name, "Acme");
        assert_eq!(
            w,
            vec![warn("name", "name is not editable; the value was ignored"), warn("colour", "unknown field; ignored")]
        );
    }

    #[test]
    fn every_fault_is_listed_and_nothing_changes() {
        let o = org();
        let req = json!({
            "support_email": "not an email", "session_timeout_in_minutes": 0, "remember_me_timeout_in_minutes": 525601,
            "admin_branded": "yes", "cors_domain_whitelist": ["https://*.acme.test", "https://acme.test/path"],
            "password_complexity": {"password_complexity_for_users": {"min_length": -1, "min_foo": 3}}
        });
        let faults = apply(&o, &req, CertChange::None, EPOCH).unwrap_err();
        let fields: Vec<&str> = faults.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "support_email",
                "session_timeout_in_minutes",
                "remember_me_timeout_in_minutes",
                "admin_branded",
                "cors_domain_whitelist[0]",
                "cors_domain_whitelist[1]",
                "password_complexity.password_complexity_for_users.min_length"
            ]
        );
    }

    #[test]
    fn password_rules_merge_key_by_key() {
        let o = org();
        let req = json!({"password_complexity": {"password_complexity_for_admins": {"min_length": 12, "min_foo": 1}}});
        let (n, w) = apply(&o, &req, CertChange::None, EPOCH).unwrap();
        let pc = &n.settings["password_complexity"];
        assert_eq!(pc["password_complexity_for_admins"]["min_length"], 12);
        assert_eq!(pc["password_complexity_for_admins"]["password_history"], 1);
        assert_eq!(pc["password_complexity_for_users"]["min_length"], 5);
        assert_eq!(w[0].field, "password_complexity.password_complexity_for_admins.min_foo");
    }

    #[test]
    fn push_certificates_and_kryptowire_keys_stay_secret() {
        let o = org();
        let (n, _) =
            apply(&o, &json!({"kryptowire_settings": {"api_key": "k"}}), CertChange::Upload("MAA=".into()), EPOCH)
                .unwrap();
        let out = org_object::render(&n, true);
        assert_eq!(out["apple_push_cert"], true);
        assert_eq!(out["kryptowire_settings"], json!({"api_key_set": true}));
        assert!(!out.to_string().contains("MAA="));
        let (n2, w) = apply(
            &n,
            &json!({"apple_push_cert": false, "kryptowire_settings": {"api_key_set": true}}),
            CertChange::None,
            EPOCH,
        )
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(org_object::render(&n2, true)["apple_push_cert"], false);
        assert_eq!(n2.settings["kryptowire_settings"], json!({"api_key": "k"}));
        let (_, w) = apply(&n2, &json!({"apple_push_cert": true}), CertChange::None, EPOCH).unwrap();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn der_sequences_are_recognized() {
        assert!(is_der_sequence(&[0x30, 0x00]));
        assert!(is_der_sequence(&[0x30, 0x02, 0x05, 0x00]));
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend(vec![0u8; 256]);
        assert!(is_der_sequence(&long));
        assert!(!is_der_sequence(&long[..200]));
        assert!(!is_der_sequence(b"-----BEGIN CERTIFICATE-----"));
        assert!(!is_der_sequence(&[0x30, 0x80, 0x00, 0x00]));
        assert!(!is_der_sequence(&[0x30, 0x01]));
    }
}
