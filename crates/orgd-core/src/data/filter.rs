//! Filters (orgvue-dialect §5.1): a MongoDB subset with implicit AND, operands typed per property.

use super::values::{coerce_operand, compare};
use super::PropertyType;
use crate::error::FieldFault;
use serde_json::Value;
use std::cmp::Ordering;

/// Largest `$in`/`$nin` list.
pub const MAX_LIST: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Eq(Value),
    Ne(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
}

/// A parsed filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    clauses: Vec<(String, Vec<Cond>)>,
    /// Matches no item at all (a row rule that cannot be bound to its user).
    never: bool,
}

fn fault(field: String, message: &str) -> FieldFault {
    FieldFault { field, message: message.into() }
}

impl Filter {
    /// Parse a filter; `type_of` tells the type of every key usable here (`None` = not usable); `path`
    /// prefixes fault paths (`query.output.filter`).
    pub fn parse(
        v: &Value,
        type_of: &dyn Fn(&str) -> Option<PropertyType>,
        path: &str,
    ) -> Result<Filter, Vec<FieldFault>> {
        let Value::Object(m) = v else { return Err(vec![fault(path.into(), "must be an object")]) };
        let mut faults = Vec::new();
        let mut clauses = Vec::new();
        for (key, cond) in m {
            let kp = format!("{path}.{key}");
            let Some(ty) = type_of(key) else {
                faults.push(fault(kp, &format!("'{key}' is not a key that can be filtered on here")));
                continue;
            };
            let mut conds = Vec::new();
            match cond {
                Value::Object(ops) => {
                    if ops.is_empty() {
                        faults.push(fault(kp.clone(), "needs at least one operator"));
                    }
                    for (op, operand) in ops {
                        let op_path = format!("{kp}.{op}");
                        let one = |faults: &mut Vec<FieldFault>| match operand {
                            Value::Array(_) | Value::Object(_) => {
                                faults.push(fault(op_path.clone(), "takes a single value"));
                                None
                            }
                            v => coerce_operand(ty, v).map_err(|why| faults.push(fault(op_path.clone(), &why))).ok(),
                        };
                        let list = |faults: &mut Vec<FieldFault>| match operand {
                            Value::Array(a) if a.len() <= MAX_LIST => {
                                let mut out = Vec::new();
                                for (i, x) in a.iter().enumerate() {
                                    match x {
                                        Value::Array(_) | Value::Object(_) => {
                                            faults.push(fault(format!("{op_path}[{i}]"), "must be a single value"))
                                        }
                                        x => match coerce_operand(ty, x) {
                                            Ok(c) => out.push(c),
                                            Err(why) => faults.push(fault(format!("{op_path}[{i}]"), &why)),
                                        },
                                    }
                                }
                                Some(out)
                            }
                            Value::Array(_) => {
                                faults.push(fault(op_path.clone(), &format!("takes at most {MAX_LIST} values")));
                                None
                            }
                            _ => {
                                faults.push(fault(op_path.clone(), "takes a list of values"));
                                None
                            }
                        };
                        let c = match op.as_str() {
                            "$gt" => one(&mut faults).map(Cond::Gt),
                            "$gte" => one(&mut faults).map(Cond::Gte),
                            "$lt" => one(&mut faults).map(Cond::Lt),
                            "$lte" => one(&mut faults).map(Cond::Lte),
                            "$ne" => one(&mut faults).map(Cond::Ne),
                            "$in" => list(&mut faults).map(Cond::In),
                            "$nin" => list(&mut faults).map(Cond::Nin),
                            _ => {
                                faults.push(fault(
                                    op_path,
                                    "is not a supported operator ($gt $gte $lt $lte $ne $in $nin)",
                                ));
                                None
                            }
                        };
                        conds.extend(c);
                    }
                }
                Value::Array(_) => faults.push(fault(kp, "must be a value or an object of operators")),
                v => match coerce_operand(ty, v) {
                    Ok(c) => conds.push(Cond::Eq(c)),
                    Err(why) => faults.push(fault(kp, &why)),
                },
            }
            clauses.push((key.clone(), conds));
        }
        if faults.is_empty() {
            Ok(Filter { clauses, never: false })
        } else {
            Err(faults)
        }
    }

    /// The keys the filter reads.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().map(|(k, _)| k.as_str())
    }

    /// True when the filter lets every item through.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty() && !self.never
    }

    /// The filter no item matches.
    pub fn nothing() -> Filter {
        Filter { clauses: Vec::new(), never: true }
    }

    /// Both filters: an item matches when it matches each.
    pub fn and(mut self, other: &Filter) -> Filter {
        self.clauses.extend(other.clauses.iter().cloned());
        self.never |= other.never;
        self
    }

    /// Whether a stored row matches: `at` tells which of its `cells` holds a key's value.
    pub fn matches_cells(&self, at: impl Fn(&str) -> Option<usize>, cells: &[Option<super::row::Val>]) -> bool {
        self.matches(|k| cells.get(at(k)?)?.as_ref().map(super::row::Val::to_json))
    }

    /// Whether an item matches; `get` returns a key's value (`None` = no value).
    pub fn matches(&self, get: impl Fn(&str) -> Option<Value>) -> bool {
        !self.never
            && self.clauses.iter().all(|(k, conds)| {
                let v = get(k);
                conds.iter().all(|c| holds(c, v.as_ref()))
            })
    }
}

fn eq(v: Option<&Value>, x: &Value) -> bool {
    match (v, x) {
        (None, Value::Null) => true,
        (None, _) | (Some(_), Value::Null) => false,
        (Some(a), b) => compare(a, b) == Some(Ordering::Equal),
    }
}

fn ord(v: Option<&Value>, x: &Value, ok: fn(Ordering) -> bool) -> bool {
    match v {
        Some(a) => compare(a, x).is_some_and(ok),
        None => false,
    }
}

fn holds(c: &Cond, v: Option<&Value>) -> bool {
    match c {
        Cond::Eq(x) => eq(v, x),
        Cond::Ne(x) => !eq(v, x),
        Cond::Gt(x) => ord(v, x, |o| o == Ordering::Greater),
        Cond::Gte(x) => ord(v, x, |o| o != Ordering::Less),
        Cond::Lt(x) => ord(v, x, |o| o == Ordering::Less),
        Cond::Lte(x) => ord(v, x, |o| o != Ordering::Greater),
        Cond::In(list) => list.iter().any(|x| eq(v, x)),
        Cond::Nin(list) => !list.iter().any(|x| eq(v, x)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types(k: &str) -> Option<PropertyType> {
        match k {
            "grade" => Some(PropertyType::Number),
            "name" => Some(PropertyType::Text),
            "start" => Some(PropertyType::Date),
            "active" => Some(PropertyType::Boolean),
            _ => None,
        }
    }

    fn item(v: Value) -> impl Fn(&str) -> Option<Value> {
        move |k| v.get(k).cloned()
    }

    #[test]
    fn operators_and_typing() {
        let f = Filter::parse(
            &json!({"grade": {"$gte": "3", "$lt": 7}, "name": {"$in": ["Ana", "Bob"]}, "active": "true"}),
            &types,
            "f",
        )
        .unwrap();
        assert!(f.matches(item(json!({"grade": 3, "name": "Ana", "active": true}))));
        assert!(!f.matches(item(json!({"grade": 7, "name": "Ana", "active": true}))));
        assert!(!f.matches(item(json!({"grade": 4, "name": "ana", "active": true}))));
        let f = Filter::parse(&json!({"start": {"$gt": "2020-01-01"}}), &types, "f").unwrap();
        assert!(f.matches(item(json!({"start": "2020-01-01T00:00:00.001Z"}))));
        assert!(!f.matches(item(json!({}))));
    }

    #[test]
    fn missing_values_follow_the_null_rules() {
        let none = item(json!({}));
        let f = |v: Value| Filter::parse(&v, &types, "f").unwrap();
        assert!(f(json!({"name": null})).matches(&none));
        assert!(!f(json!({"name": {"$ne": null}})).matches(&none));
        assert!(f(json!({"name": {"$ne": "x"}})).matches(&none));
        assert!(f(json!({"name": {"$nin": ["x"]}})).matches(&none));
        assert!(!f(json!({"name": {"$nin": ["x", null]}})).matches(&none));
        assert!(!f(json!({"grade": {"$lt": 100}})).matches(&none));
    }

    #[test]
    fn bad_filters_name_their_path() {
        let e = Filter::parse(
            &json!({"grade": {"$exists": true}, "nope": 1, "name": {"$regex": "a"}, "start": "yesterday"}),
            &types,
            "query.output.filter",
        )
        .unwrap_err();
        let paths: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            paths,
            [
                "query.output.filter.grade.$exists",
                "query.output.filter.nope",
                "query.output.filter.name.$regex",
                "query.output.filter.start"
            ]
        );
        assert!(Filter::parse(&json!({"$or": []}), &types, "f").is_err());
    }
}
