//! Wire shapes of the Apperian dialect: the user object and small field readers for request bodies.

use orgd_core::clock::{iso_millis, parse_date_or_datetime};
use orgd_core::error::FieldFault;
use orgd_core::metadata;
use orgd_core::model::AccountState;
use orgd_core::model::{Org, User};
use orgd_core::org_settings::OrgSettings;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// The user object (apperian-dialect §5.1); `password`-type metadata masked unless `admin_view`. orgd
/// deletes users for good, so `deleted` is always false, and it has no app catalog, so
/// `last_login_from_catalog` is always null.
pub fn user_json(u: &User, org: &Org, admin_view: bool, now: OffsetDateTime) -> Value {
    let cm = if admin_view {
        u.custom_metadata.clone()
    } else {
        let template = OrgSettings::of(&org.settings).user_custom_metadata_template;
        metadata::masked(&template, &u.custom_metadata)
    };
    json!({
        "psk": u.psk,
        "id": u.user_id,
        "user_id": u.user_id,
        "org_id": u.org_id.as_str(),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "email": u.email,
        "mobile_phone": u.mobile_phone,
        "role": u.role.as_str(),
        "disabled": !u.enabled,
        "disabled_reason": AccountState::of(u, now).reason(),
        "deleted": false,
        "until_date": u.expires_at.map(iso_millis),
        "token_access": u.token_access,
        "allowed_subnets": u.allowed_subnets.to_strings(),
        "locked": u.is_locked(now),
        "custom_metadata": cm,
        "created_date": iso_millis(u.created_at),
        "modified_date": iso_millis(u.modified_at),
        "last_login_date": u.last_login_at.map(iso_millis),
        "last_login_from_catalog": null,
    })
}

/// Reads typed fields out of a JSON object, collecting one fault per bad field.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// Faults so far.
    pub faults: Vec<FieldFault>,
}

impl<'a> Fields<'a> {
    /// Wrap an object.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Fields { map, faults: Vec::new() }
    }

    fn bad(&mut self, key: &str, message: &str) {
        self.faults.push(FieldFault { field: key.into(), message: message.into() });
    }

    /// Whether the key is present.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A string (absent → `None`).
    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.map.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.bad(key, "must be a string");
                None
            }
        }
    }

    /// A string or null (absent → `None`, null → `Some(None)`).
    pub fn nullable_string(&mut self, key: &str) -> Option<Option<String>> {
        match self.map.get(key) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.bad(key, "must be a string or null");
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.bad(key, "must be true or false");
                None
            }
        }
    }

    /// A date or null.
    pub fn date(&mut self, key: &str) -> Option<Option<OffsetDateTime>> {
        match self.nullable_string(key)? {
            None => Some(None),
            Some(s) => match parse_date_or_datetime(&s) {
                Some(t) => Some(Some(t)),
                None => {
                    self.bad(key, "must be YYYY-MM-DD or an RFC 3339 date-time");
                    None
                }
            },
        }
    }

    /// A list of strings.
    pub fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        match self.map.get(key) {
            None => None,
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
                Some(a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            }
            Some(_) => {
                self.bad(key, "must be a list of strings");
                None
            }
        }
    }

    /// Any JSON value.
    pub fn value(&self, key: &str) -> Option<Value> {
        self.map.get(key).cloned()
    }

    /// Fault every key not in `known`.
    pub fn refuse_unknown(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self.map.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();
        for k in unknown {
            self.bad(&k, "unknown field");
        }
    }
}
