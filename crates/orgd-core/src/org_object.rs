//! The organization object of the Apperian dialect (apperian-dialect §4.5): rendering in the documented
//! key order, for administrators (every field, secrets replaced by flags) or for other roles (the reduced
//! set).

use crate::clock::iso_millis;
use crate::model::Org;
use serde_json::{json, Map, Value};

/// The settings key under which the push certificate (base64 DER) is kept; never rendered.
pub const PUSH_CERT_KEY: &str = "push_cert_p12";

/// Output keys in order, with whether non-administrators see them.
pub const KEYS: &[(&str, bool)] = &[
    ("id", true),
    ("parent_id", true),
    ("admin_branded", false),
    ("app_installation_path", false),
    ("apple_push_cert", false),
    ("auth_type", false),
    ("banner_image_enabled", false),
    ("email_from_address", false),
    ("email_from_name", false),
    ("email_reply_to_address", false),
    ("invite_subject_for_affiliated", false),
    ("invite_subject_for_user", false),
    ("invite_template_for_affiliated", false),
    ("invite_template_for_user", false),
    ("javascript_protection_policy_enabled", false),
    ("kryptowire_settings", false),
    ("name", true),
    ("no_auth_app_delivery_enabled", false),
    ("no_auth_policies_enabled", false),
    ("policies_frequency_evaluation_in_hours", false),
    ("remember_me_timeout_in_minutes", true),
    ("reviews_default_value", false),
    ("session_timeout_in_minutes", true),
    ("support_email", true),
    ("vanity_subdomain", false),
    ("winphone_cert", false),
    ("cors_domain_whitelist", false),
    ("auth_settings", false),
    ("password_complexity", true),
    ("user_custom_metadata_template", true),
    ("application_custom_metadata_template", false),
    ("notify_on_device_registration", false),
    ("catalog_affiliated_org_access_enabled", false),
    ("tenant_id", true),
    ("created_at", false),
    ("allowed_subnets", false),
    ("api_usage_plan", false),
    ("events_retention_days", false),
    ("item_history", false),
    ("item_history_since", false),
];

/// The value of one output key.
pub fn value(org: &Org, key: &str) -> Value {
    let s = &org.settings;
    match key {
        "id" => json!(org.org_id.as_str()),
        "parent_id" => json!(org.parent_id.as_ref().map(|p| p.as_str())),
        "name" => json!(org.name),
        "tenant_id" => json!(org.tenant_id.as_str()),
        "created_at" => json!(iso_millis(org.created_at)),
        "allowed_subnets" => json!(org.allowed_subnets.to_strings()),
        "api_usage_plan" => serde_json::to_value(&org.usage_plan).unwrap_or(Value::Null),
        "item_history_since" => match s.get(crate::org_update::HISTORY_SINCE).and_then(Value::as_i64) {
            Some(ms) => json!(iso_millis(crate::clock::from_millis(ms))),
            None => Value::Null,
        },
        "apple_push_cert" => json!(s.get(PUSH_CERT_KEY).is_some_and(|c| c.is_string())),
        "kryptowire_settings" => match s.get("kryptowire_settings") {
            Some(Value::Object(k)) if k.contains_key("api_key") => json!({"api_key_set": true}),
            _ => Value::Null,
        },
        other => s.get(other).cloned().unwrap_or_else(|| crate::org_settings::defaults()[other].clone()),
    }
}

/// The organization object: every field for administrators, the reduced set for other roles.
pub fn render(org: &Org, administrator: bool) -> Value {
    let mut out = Map::new();
    for (key, public) in KEYS {
        if administrator || *public {
            let mut v = value(org, key);
            if *key == "password_complexity" && !administrator {
                v = json!({"password_complexity_for_users": v.get("password_complexity_for_users").cloned()
                    .unwrap_or_else(crate::org_settings::default_password_rules)});
            }
            out.insert(key.to_string(), v);
        }
    }
    Value::Object(out)
}
