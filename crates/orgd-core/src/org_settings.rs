//! The organization settings object (apperian-dialect §4.5): its defaults, and the part a child org
//! inherits from its parent (model §2).

use serde_json::{json, Value};

/// The default rule set of `password_complexity_for_admins` / `_for_users`.
pub fn default_password_rules() -> Value {
    json!({
        "account_lockout_threshold": 0,
        "account_lockout_reset_timer_in_minutes": 0,
        "account_lockout_permanent_lockout": false,
        "account_lockout_duration_in_minutes": 0,
        "min_length": 5,
        "min_lowercase": 0,
        "min_number": 0,
        "min_symbol": 0,
        "min_uppercase": 0,
        "password_expiration_in_minutes": 0,
        "password_history": 1,
        "password_reset_interval_time_in_minutes": 0
    })
}

/// Every stored setting with its default value.
pub fn defaults() -> Value {
    json!({
        "admin_branded": false,
        "app_installation_path": "Enterprise Apps",
        "apple_push_cert": false,
        "auth_type": 0,
        "banner_image_enabled": false,
        "email_from_address": "",
        "email_from_name": "",
        "email_reply_to_address": "",
        "invite_subject_for_affiliated": "",
        "invite_subject_for_user": "",
        "invite_template_for_affiliated": "",
        "invite_template_for_user": "",
        "javascript_protection_policy_enabled": false,
        "kryptowire_settings": null,
        "no_auth_app_delivery_enabled": false,
        "no_auth_policies_enabled": false,
        "policies_frequency_evaluation_in_hours": 0,
        "remember_me_timeout_in_minutes": 10080,
        "reviews_default_value": true,
        "session_timeout_in_minutes": 10,
        "support_email": "",
        "vanity_subdomain": null,
        "winphone_cert": false,
        "cors_domain_whitelist": [],
        "auth_settings": {"touch_id_auth": {"enable_touch_id": false}},
        "password_complexity": {
            "password_complexity_for_admins": default_password_rules(),
            "password_complexity_for_users": default_password_rules()
        },
        "user_custom_metadata_template": {},
        "application_custom_metadata_template": {},
        "notify_on_device_registration": false,
        "catalog_affiliated_org_access_enabled": false
    })
}

/// The settings of a new child org: defaults, with the parent's password rules and session timeouts.
pub fn for_child(parent: &Value) -> Value {
    let mut s = defaults();
    for key in ["password_complexity", "session_timeout_in_minutes", "remember_me_timeout_in_minutes"] {
        if let Some(v) = parent.get(key) {
            s[key] = v.clone();
        }
    }
    s
}

/// The password rule set that applies to a role (admins vs. everyone else).
pub fn password_rules_for(settings: &Value, administrator: bool) -> Value {
    let key = if administrator { "password_complexity_for_admins" } else { "password_complexity_for_users" };
    settings.get("password_complexity").and_then(|p| p.get(key)).cloned().unwrap_or_else(default_password_rules)
}

/// Minutes a session lasts in an org (model §8.1): the remember-me timeout or the session timeout.
pub fn session_minutes(settings: &Value, remember_me: bool) -> i64 {
    let key = if remember_me { "remember_me_timeout_in_minutes" } else { "session_timeout_in_minutes" };
    settings.get(key).and_then(Value::as_i64).unwrap_or(if remember_me { 10080 } else { 10 })
}
