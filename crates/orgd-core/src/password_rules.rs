//! Password rules (model §8.2), checked whenever a password is set.

use crate::error::FieldFault;
use crate::org_settings::PasswordPolicy;

/// A rule's minimum, the characters it counts, and how a message names them.
type CharRule = (i64, fn(&char) -> bool, &'static str);

/// The fixed maximum length of a password.
pub const MAX_LENGTH: usize = 1024;

/// Every rule `password` breaks under `rules` (a `password_complexity_for_*` set); `field` names it.
pub fn check(password: &str, rules: &PasswordPolicy, field: &str) -> Vec<FieldFault> {
    let count = |f: fn(&char) -> bool| password.chars().filter(f).count() as i64;
    let mut broken = Vec::new();
    let len = password.chars().count();
    let min_length = rules.min_length.max(1);
    if (len as i64) < min_length {
        broken.push(format!("must be at least {min_length} characters long"));
    }
    if len > MAX_LENGTH {
        broken.push(format!("must be at most {MAX_LENGTH} characters long"));
    }
    if password.chars().any(char::is_whitespace) {
        broken.push("must not contain whitespace".to_string());
    }
    let rules_by_class: [CharRule; 4] = [
        (rules.min_lowercase, |c| c.is_lowercase(), "lower-case letters"),
        (rules.min_uppercase, |c| c.is_uppercase(), "upper-case letters"),
        (rules.min_number, |c| c.is_ascii_digit(), "digits"),
        (rules.min_symbol, |c| !c.is_alphanumeric() && !c.is_whitespace(), "symbols"),
    ];
    for (min, class, what) in rules_by_class {
        if count(class) < min {
            broken.push(format!("must contain at least {min} {what}"));
        }
    }
    broken.into_iter().map(|message| FieldFault { field: field.to_string(), message }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_broken_rule_is_one_fault() {
        let rules = PasswordPolicy {
            min_length: 8,
            min_uppercase: 1,
            min_number: 2,
            min_symbol: 1,
            ..PasswordPolicy::default()
        };
        assert!(check("Abcdef12!", &rules, "password").is_empty());
        let faults = check("abc d", &rules, "password");
        assert_eq!(faults.len(), 5, "{faults:?}");
        assert!(faults.iter().all(|f| f.field == "password"));
        assert!(check("x", &PasswordPolicy::default(), "p").is_empty());
        assert_eq!(check("", &PasswordPolicy::default(), "p").len(), 1);
    }
}
