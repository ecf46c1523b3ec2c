//! Password rules (model §8.2), checked whenever a password is set.

use crate::error::FieldFault;
use serde_json::Value;

/// A rule key, the characters it counts, and how a message names them.
type CharRule = (&'static str, fn(&char) -> bool, &'static str);

/// The fixed maximum length of a password.
pub const MAX_LENGTH: usize = 1024;

/// Every rule `password` breaks under `rules` (a `password_complexity_for_*` set); `field` names it.
pub fn check(password: &str, rules: &Value, field: &str) -> Vec<FieldFault> {
    let n = |k: &str| rules.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
    let count = |f: fn(&char) -> bool| password.chars().filter(f).count();
    let mut broken = Vec::new();
    let len = password.chars().count();
    if len < n("min_length").max(1) {
        broken.push(format!("must be at least {} characters long", n("min_length").max(1)));
    }
    if len > MAX_LENGTH {
        broken.push(format!("must be at most {MAX_LENGTH} characters long"));
    }
    if password.chars().any(char::is_whitespace) {
        broken.push("must not contain whitespace".to_string());
    }
    let rules_by_class: [CharRule; 4] = [
        ("min_lowercase", |c| c.is_lowercase(), "lower-case letters"),
        ("min_uppercase", |c| c.is_uppercase(), "upper-case letters"),
        ("min_number", |c| c.is_ascii_digit(), "digits"),
        ("min_symbol", |c| !c.is_alphanumeric() && !c.is_whitespace(), "symbols"),
    ];
    for (key, class, what) in rules_by_class {
        if count(class) < n(key) {
            broken.push(format!("must contain at least {} {what}", n(key)));
        }
    }
    broken.into_iter().map(|message| FieldFault { field: field.to_string(), message }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_broken_rule_is_one_fault() {
        let rules = json!({"min_length": 8, "min_uppercase": 1, "min_number": 2, "min_symbol": 1});
        assert!(check("Abcdef12!", &rules, "password").is_empty());
        let faults = check("abc d", &rules, "password");
        assert_eq!(faults.len(), 5, "{faults:?}");
        assert!(faults.iter().all(|f| f.field == "password"));
        assert!(check("x", &json!({"min_length": 0}), "p").is_empty());
        assert_eq!(check("", &json!({"min_length": 0}), "p").len(), 1);
    }
}
