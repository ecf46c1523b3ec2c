//! The organization settings object (apperian-dialect §4.5): its defaults, the part a child org inherits
//! from its parent (model §2), and the typed view the rules read ([`OrgSettings`], [`PasswordPolicy`]):
//! the stored object stays JSON (the wire shows all of it), and no rule reads it by key.

use serde::Deserialize;
use serde_json::{json, Value};

/// A `password_complexity_for_admins` / `_for_users` rule set (model §8.2, §8.3). A key the stored set
/// lacks counts as 0 (no rule).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Failed sign-ins in a row that lock the account (0: never).
    pub account_lockout_threshold: i64,
    /// Minutes after which the count of failed sign-ins starts again (0: never).
    pub account_lockout_reset_timer_in_minutes: i64,
    /// A lockout lasts until an administrator ends it.
    pub account_lockout_permanent_lockout: bool,
    /// Minutes a lockout lasts.
    pub account_lockout_duration_in_minutes: i64,
    /// Shortest password (at least 1 in any case).
    pub min_length: i64,
    /// Lower-case letters needed.
    pub min_lowercase: i64,
    /// Digits needed.
    pub min_number: i64,
    /// Symbols needed.
    pub min_symbol: i64,
    /// Upper-case letters needed.
    pub min_uppercase: i64,
    /// Minutes a password lasts (0: for ever).
    pub password_expiration_in_minutes: i64,
    /// Recent passwords a new one must differ from.
    pub password_history: i64,
    /// Minutes before a user may change its own password again.
    pub password_reset_interval_time_in_minutes: i64,
}

/// The settings the rules read, typed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct OrgSettings {
    /// Minutes a session lasts.
    pub session_timeout_in_minutes: i64,
    /// Minutes a remember-me session lasts.
    pub remember_me_timeout_in_minutes: i64,
    /// The origins browsers may call the API from.
    pub cors_domain_whitelist: Vec<String>,
    /// Password rules by role.
    pub password_complexity: PasswordComplexity,
    /// The custom metadata every user of the org carries (keys and default values).
    pub user_custom_metadata_template: Value,
    /// Days the org's change history is kept (orgd extension).
    pub events_retention_days: i64,
    /// Whether each item change is kept as a version (orgd extension).
    pub item_history: bool,
    /// When item history was last switched on (ms).
    pub item_history_since: Option<i64>,
}

/// Days a new org keeps its change history.
pub const DEFAULT_EVENTS_RETENTION_DAYS: i64 = 365;

/// The two password rule sets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct PasswordComplexity {
    /// For administrators.
    pub password_complexity_for_admins: PasswordPolicy,
    /// For everyone else.
    pub password_complexity_for_users: PasswordPolicy,
}

impl Default for PasswordComplexity {
    fn default() -> Self {
        let p = PasswordPolicy::standard();
        PasswordComplexity { password_complexity_for_admins: p.clone(), password_complexity_for_users: p }
    }
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            session_timeout_in_minutes: 10,
            remember_me_timeout_in_minutes: 10080,
            cors_domain_whitelist: Vec::new(),
            password_complexity: PasswordComplexity::default(),
            user_custom_metadata_template: json!({}),
            events_retention_days: DEFAULT_EVENTS_RETENTION_DAYS,
            item_history: false,
            item_history_since: None,
        }
    }
}

impl PasswordPolicy {
    /// The rule set of a new org ([`default_password_rules`]).
    pub fn standard() -> PasswordPolicy {
        PasswordPolicy::deserialize(&default_password_rules()).expect("the default rules are well-formed")
    }
}

impl OrgSettings {
    /// The typed view of a stored settings object. Stored settings were checked when they were set; a
    /// value of the wrong type (a database edited by hand) falls back to its own default, with a warning,
    /// and never takes the other settings with it.
    pub fn of(settings: &Value) -> OrgSettings {
        fn field<T: for<'de> Deserialize<'de>>(settings: &Value, key: &str, default: T) -> T {
            match settings.get(key) {
                None => default,
                Some(v) => T::deserialize(v).unwrap_or_else(|e| {
                    tracing::warn!(setting = key, error = %e, "a stored org setting does not read; its default applies");
                    default
                }),
            }
        }
        let d = OrgSettings::default();
        OrgSettings {
            session_timeout_in_minutes: field(settings, "session_timeout_in_minutes", d.session_timeout_in_minutes),
            remember_me_timeout_in_minutes: field(
                settings,
                "remember_me_timeout_in_minutes",
                d.remember_me_timeout_in_minutes,
            ),
            cors_domain_whitelist: field(settings, "cors_domain_whitelist", d.cors_domain_whitelist),
            password_complexity: field(settings, "password_complexity", d.password_complexity),
            user_custom_metadata_template: field(
                settings,
                "user_custom_metadata_template",
                d.user_custom_metadata_template,
            ),
            events_retention_days: field(settings, "events_retention_days", d.events_retention_days),
            item_history: field(settings, "item_history", d.item_history),
            item_history_since: field(settings, "item_history_since", d.item_history_since),
        }
    }

    /// The password rules for a role (administrators or everyone else).
    pub fn password_policy(&self, administrator: bool) -> &PasswordPolicy {
        let pc = &self.password_complexity;
        if administrator {
            &pc.password_complexity_for_admins
        } else {
            &pc.password_complexity_for_users
        }
    }

    /// Minutes a session lasts (model §8.1): the remember-me timeout or the session timeout.
    pub fn session_minutes(&self, remember_me: bool) -> i64 {
        if remember_me {
            self.remember_me_timeout_in_minutes
        } else {
            self.session_timeout_in_minutes
        }
    }
}

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
        "catalog_affiliated_org_access_enabled": false,
        "events_retention_days": DEFAULT_EVENTS_RETENTION_DAYS,
        "item_history": false
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_view_reads_the_stored_object() {
        let s = OrgSettings::of(&defaults());
        assert_eq!(s, OrgSettings::default(), "the defaults read as the typed defaults");
        assert_eq!(s.password_policy(true).min_length, 5);
        let mut stored = defaults();
        stored["session_timeout_in_minutes"] = json!(30);
        stored["password_complexity"]["password_complexity_for_admins"] = json!({"min_length": 12});
        let s = OrgSettings::of(&stored);
        assert_eq!((s.session_minutes(false), s.session_minutes(true)), (30, 10080));
        assert_eq!(s.password_policy(true).min_length, 12);
        assert_eq!(s.password_policy(true).password_history, 0, "a key the set lacks is no rule");
        assert_eq!(s.password_policy(false).password_history, 1);
        assert_eq!(OrgSettings::of(&json!({"session_timeout_in_minutes": "ten"})), OrgSettings::default());
        let s =
            OrgSettings::of(&json!({"session_timeout_in_minutes": "ten", "cors_domain_whitelist": ["https://a.test"]}));
        assert_eq!(s.session_minutes(false), 10, "a setting that does not read takes its default");
        assert_eq!(s.cors_domain_whitelist, ["https://a.test"], "and no other setting with it");
    }
}
