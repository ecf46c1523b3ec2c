//! Custom metadata templates and the values they govern (model §8.5).

use crate::error::FieldFault;
use serde_json::{Map, Value};

const TYPES: &[&str] = &["select", "multiselect", "text", "textarea", "checkbox", "password"];

fn fault(field: String, message: &str) -> FieldFault {
    FieldFault { field, message: message.into() }
}

fn key_ok(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && k.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validate a template object; `name` prefixes every field path.
pub fn validate_template(t: &Value, name: &str) -> Result<(), Vec<FieldFault>> {
    let Value::Object(entries) = t else {
        return Err(vec![fault(name.into(), "must be an object of field → {default, label, type[, options]}")]);
    };
    let mut faults = Vec::new();
    if entries.len() > 200 {
        faults.push(fault(name.into(), "at most 200 fields"));
    }
    for (key, entry) in entries {
        let path = format!("{name}.{key}");
        if !key_ok(key) {
            faults.push(fault(path.clone(), "field names must match ^[A-Za-z][A-Za-z0-9_]{0,63}$"));
        }
        let Value::Object(e) = entry else {
            faults.push(fault(path, "must be an object {default, label, type[, options]}"));
            continue;
        };
        let ty = e.get("type").and_then(Value::as_str).unwrap_or("");
        if !TYPES.contains(&ty) {
            faults.push(fault(
                format!("{path}.type"),
                "must be one of select, multiselect, text, textarea, checkbox, password",
            ));
            continue;
        }
        if e.get("label").is_some_and(|l| !l.is_string()) {
            faults.push(fault(format!("{path}.label"), "must be a string"));
        }
        let has_options = ty == "select" || ty == "multiselect";
        let mut values: Vec<&str> = Vec::new();
        match (e.get("options"), has_options) {
            (Some(Value::Array(opts)), true) if !opts.is_empty() => {
                for (i, o) in opts.iter().enumerate() {
                    match o.get("value").and_then(Value::as_str) {
                        Some(v) if values.contains(&v) => {
                            faults.push(fault(format!("{path}.options[{i}].value"), "repeats another option's value"))
                        }
                        Some(v) => values.push(v),
                        None => faults.push(fault(format!("{path}.options[{i}].value"), "must be a string")),
                    }
                    if o.get("label").is_some_and(|l| !l.is_string()) {
                        faults.push(fault(format!("{path}.options[{i}].label"), "must be a string"));
                    }
                }
            }
            (_, true) => {
                faults.push(fault(format!("{path}.options"), "select and multiselect need a non-empty options list"))
            }
            (Some(_), false) => {
                faults.push(fault(format!("{path}.options"), "only select and multiselect take options"))
            }
            (None, false) => {}
        }
        if let Some(d) = e.get("default") {
            if let Err(why) = check_value(ty, d, &values) {
                faults.push(fault(format!("{path}.default"), &why));
            }
        }
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(faults)
    }
}

/// Check one value against a field type and its option values.
pub fn check_value(ty: &str, v: &Value, options: &[&str]) -> Result<(), String> {
    match ty {
        "text" | "textarea" | "password" => match v.as_str() {
            Some(s) if s.chars().count() <= 65_536 => Ok(()),
            Some(_) => Err("must be at most 65536 characters".into()),
            None => Err("must be a string".into()),
        },
        "checkbox" => v.is_boolean().then_some(()).ok_or_else(|| "must be true or false".into()),
        "select" => match v.as_str() {
            Some(s) if options.contains(&s) => Ok(()),
            _ => Err(format!("must be one of the option values {options:?}")),
        },
        "multiselect" => {
            let Some(s) = v.as_str() else { return Err("must be a comma-separated string of option values".into()) };
            if s.is_empty() {
                return Ok(());
            }
            let parts: Vec<&str> = s.split(',').collect();
            for (i, p) in parts.iter().enumerate() {
                if !options.contains(p) {
                    return Err(format!("'{p}' is not one of the option values {options:?}"));
                }
                if parts[..i].contains(p) {
                    return Err(format!("'{p}' is listed twice"));
                }
            }
            Ok(())
        }
        _ => Err("has an unknown type".into()),
    }
}

fn options_of(entry: &Value) -> Vec<&str> {
    entry
        .get("options")
        .and_then(Value::as_array)
        .map(|o| o.iter().filter_map(|x| x.get("value").and_then(Value::as_str)).collect())
        .unwrap_or_default()
}

/// Merge submitted custom metadata into the saved values under a template (model §8.5): on create
/// (`saved = None`) absent template fields get their default; `null` deletes a key; only submitted keys
/// are checked; keys outside the template are kept as sent.
pub fn merge(template: &Value, saved: Option<&Value>, submitted: Option<&Value>) -> Result<Value, Vec<FieldFault>> {
    let empty = Map::new();
    let tmpl = template.as_object().unwrap_or(&empty);
    let mut out: Map<String, Value> = match saved {
        Some(Value::Object(s)) => s.clone(),
        Some(_) => Map::new(),
        None => tmpl.iter().filter_map(|(k, e)| e.get("default").map(|d| (k.clone(), d.clone()))).collect(),
    };
    let Some(sub) = submitted else { return Ok(Value::Object(out)) };
    let Value::Object(sub) = sub else {
        return Err(vec![fault("custom_metadata".into(), "must be an object")]);
    };
    let mut faults = Vec::new();
    for (k, v) in sub {
        if v.is_null() {
            out.remove(k);
            continue;
        }
        if let Some(entry) = tmpl.get(k) {
            let ty = entry.get("type").and_then(Value::as_str).unwrap_or("text");
            if let Err(why) = check_value(ty, v, &options_of(entry)) {
                faults.push(fault(format!("custom_metadata.{k}"), &why));
                continue;
            }
        }
        out.insert(k.clone(), v.clone());
    }
    if faults.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(faults)
    }
}

/// Custom metadata as a non-administrator reads it: `password`-type values masked.
pub fn masked(template: &Value, values: &Value) -> Value {
    let mut v = values.clone();
    if let (Some(t), Some(obj)) = (template.as_object(), v.as_object_mut()) {
        for (k, entry) in t {
            if entry.get("type").and_then(Value::as_str) == Some("password") && obj.contains_key(k) {
                obj.insert(k.clone(), Value::String("********".into()));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed_template() -> Value {
        json!({
            "cities_users": {"default": "1", "label": "Cities:", "type": "select",
                "options": [{"label": "Boston", "value": "0"}, {"label": "London", "value": "2"}, {"label": "Valladolid", "value": "1"}]},
            "description": {"default": "default value", "label": "Description: ", "type": "textarea"},
            "enabled": {"default": true, "label": "Enabled by default? ", "type": "checkbox"},
            "password": {"default": "default value", "label": "Password: ", "type": "password"},
            "restaurants": {"default": "0,2", "label": "Restaurants:", "type": "multiselect",
                "options": [{"label": "A", "value": "0"}, {"label": "B", "value": "1"}, {"label": "C", "value": "2"}]}
        })
    }

    #[test]
    fn the_seed_template_is_valid() {
        validate_template(&seed_template(), "t").unwrap();
    }

    #[test]
    fn template_faults_are_named() {
        let t = json!({
            "a": {"type": "select", "label": "A", "default": "9", "options": [{"label": "x", "value": "1"}]},
            "b": {"type": "colour", "label": "B"},
            "c": {"type": "text", "options": [{"label": "x", "value": "1"}]},
            "d": {"type": "multiselect", "options": []},
            "9e": {"type": "checkbox", "default": "yes"}
        });
        let f: Vec<String> = validate_template(&t, "t").unwrap_err().into_iter().map(|f| f.field).collect();
        assert_eq!(f, ["t.a.default", "t.b.type", "t.c.options", "t.d.options", "t.9e", "t.9e.default"]);
    }

    #[test]
    fn values_merge_with_defaults_and_checks() {
        let t = seed_template();
        let created = merge(&t, None, Some(&json!({"restaurants": "1,2", "extra": 5}))).unwrap();
        assert_eq!(created["cities_users"], "1");
        assert_eq!(created["restaurants"], "1,2");
        assert_eq!(created["extra"], 5);
        let updated = merge(&t, Some(&created), Some(&json!({"extra": null, "enabled": false}))).unwrap();
        assert!(updated.get("extra").is_none());
        assert_eq!(updated["enabled"], false);
        let bad = merge(&t, Some(&created), Some(&json!({"restaurants": "1,1", "cities_users": "7", "enabled": "no"})));
        assert_eq!(bad.unwrap_err().len(), 3);
        assert_eq!(masked(&t, &created)["password"], "********");
    }
}
