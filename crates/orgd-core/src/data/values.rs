//! Typed values (orgvue-dialect §6.3 coercion, §4.1 output): what a sent value becomes for a property
//! type, how values compare, and how they print in CSV.

use super::row::Val;
use super::PropertyType;
use crate::clock::{from_millis, iso_millis};
use serde_json::Value;
use std::cmp::Ordering;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time};

/// The `dateFormat` of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateFormat {
    /// `YYYY-MM-DD` (default).
    #[default]
    Iso,
    /// `DD/MM/YYYY`.
    DayFirst,
    /// `MM/DD/YYYY`.
    MonthFirst,
}

impl DateFormat {
    /// Parse the query value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "YYYY-MM-DD" => Self::Iso,
            "DD/MM/YYYY" => Self::DayFirst,
            "MM/DD/YYYY" => Self::MonthFirst,
            _ => return None,
        })
    }

    fn date(self, s: &str) -> Option<Date> {
        let (y, m, d) = match self {
            Self::Iso => {
                let mut p = s.split('-');
                let (a, b, c) = (p.next()?, p.next()?, p.next()?);
                (p.next().is_none() && a.len() == 4 && b.len() == 2 && c.len() == 2).then_some(())?;
                (a, b, c)
            }
            Self::DayFirst | Self::MonthFirst => {
                let mut p = s.split('/');
                let (a, b, c) = (p.next()?, p.next()?, p.next()?);
                (p.next().is_none() && c.len() == 4 && a.len() == 2 && b.len() == 2).then_some(())?;
                if self == Self::DayFirst {
                    (c, b, a)
                } else {
                    (c, a, b)
                }
            }
        };
        let num = |x: &str| x.bytes().all(|b| b.is_ascii_digit()).then(|| x.parse::<u32>().ok()).flatten();
        let month = Month::try_from(num(m)? as u8).ok()?;
        Date::from_calendar_date(num(y)? as i32, month, num(d)? as u8).ok()
    }
}

/// Parse a date as an import sends it: the `dateFormat` form (midnight UTC) or an RFC 3339 date-time.
pub fn parse_date(s: &str, fmt: DateFormat) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Some(d) = fmt.date(s) {
        return Some(d.with_time(Time::MIDNIGHT).assume_utc());
    }
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// Coerce a sent value to a property type, in its JSON form (never `null`; the caller handles clearing).
pub fn coerce(ty: PropertyType, v: &Value, fmt: DateFormat) -> Result<Value, String> {
    coerce_raw(ty, Raw::Json(v), fmt).map(|v| v.to_json())
}

/// A value as an action carries it: a JSON value, or the text of a CSV cell (coerced like a JSON string).
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    /// From JSON.
    Json(&'a Value),
    /// From a CSV cell.
    Str(&'a str),
}

impl Raw<'_> {
    /// JSON `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Raw::Json(Value::Null))
    }

    /// The text, when the value is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Raw::Json(Value::String(s)) => Some(s),
            Raw::Json(_) => None,
            Raw::Str(s) => Some(s),
        }
    }
}

/// Coerce a sent value to a property type, as a typed value (never `null`; the caller handles clearing).
pub fn coerce_raw(ty: PropertyType, v: Raw, fmt: DateFormat) -> Result<Val, String> {
    let text = |s: &str| {
        if s.contains('\0') {
            Err(crate::text::NUL_REFUSED.to_string())
        } else {
            Ok(Val::Text(s.to_string()))
        }
    };
    match (ty, v) {
        (PropertyType::Text, Raw::Str(s)) => text(s),
        (PropertyType::Text, Raw::Json(Value::String(s))) => text(s),
        (PropertyType::Text, Raw::Json(v @ (Value::Number(_) | Value::Bool(_)))) => Ok(Val::Text(v.to_string())),
        (PropertyType::Text, _) => Err("expected text".into()),
        (PropertyType::Number, Raw::Json(Value::Number(n))) => Ok(Val::Number(n.as_f64().unwrap_or(0.0))),
        (PropertyType::Number, v) => match v.as_str() {
            Some(s) => parse_number(s).map(Val::Number).ok_or_else(|| format!("'{s}' is not a number")),
            None => Err("expected a number".into()),
        },
        (PropertyType::Date, v) => match v.as_str() {
            Some(s) => parse_date(s, fmt)
                .map(|t| Val::Text(iso_millis(t)))
                .ok_or_else(|| format!("'{s}' is not a date in the dateFormat or an ISO 8601 date-time")),
            None => Err("expected a date string".into()),
        },
        (PropertyType::Boolean, Raw::Json(Value::Bool(b))) => Ok(Val::Bool(*b)),
        (PropertyType::Boolean, v) => match v.as_str() {
            Some(s) if s.eq_ignore_ascii_case("true") => Ok(Val::Bool(true)),
            Some(s) if s.eq_ignore_ascii_case("false") => Ok(Val::Bool(false)),
            _ => Err("expected true or false".into()),
        },
    }
}

/// A decimal number in text form (digits, sign, point, exponent), finite.
fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let ok = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    t.parse::<f64>().ok().filter(|f| ok && f.is_finite()).map(|f| if f == 0.0 { 0.0 } else { f })
}

/// A filter operand coerced to a property type (orgvue-dialect §5.1): dates accept any ISO date or
/// date-time.
pub fn coerce_operand(ty: PropertyType, v: &Value) -> Result<Value, String> {
    match (ty, v) {
        (_, Value::Null) => Ok(Value::Null),
        (PropertyType::Text, Value::String(s)) if s.contains('\0') => Err(crate::text::NUL_REFUSED.into()),
        (PropertyType::Text, Value::String(_)) => Ok(v.clone()),
        (PropertyType::Text, _) => Err("expected a string".into()),
        (PropertyType::Date, Value::String(_)) => coerce(ty, v, DateFormat::Iso),
        (PropertyType::Date, _) => Err("expected an ISO 8601 date or date-time string".into()),
        _ => coerce(ty, v, DateFormat::Iso),
    }
}

/// Order two normalized values of one type (text by code point, numbers numerically, dates as instants).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// A value as a CSV/TSV cell (no quoting).
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A timestamp (ms) as the contract prints it.
pub fn timestamp(ms: i64) -> Value {
    Value::String(iso_millis(from_millis(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_coerce_per_type() {
        let f = DateFormat::Iso;
        assert_eq!(coerce(PropertyType::Number, &json!("1001"), f).unwrap(), json!(1001));
        assert_eq!(coerce(PropertyType::Number, &json!(2.5), f).unwrap(), json!(2.5));
        assert!(coerce(PropertyType::Number, &json!("12abc"), f).is_err());
        assert!(coerce(PropertyType::Number, &json!("NaN"), f).is_err());
        assert_eq!(coerce(PropertyType::Text, &json!(12), f).unwrap(), json!("12"));
        assert_eq!(coerce(PropertyType::Boolean, &json!("TRUE"), f).unwrap(), json!(true));
        assert!(coerce(PropertyType::Boolean, &json!("yes"), f).is_err());
        assert_eq!(coerce(PropertyType::Date, &json!("2020-03-01"), f).unwrap(), json!("2020-03-01T00:00:00.000Z"));
        assert_eq!(
            coerce(PropertyType::Date, &json!("01/03/2020"), DateFormat::DayFirst).unwrap(),
            json!("2020-03-01T00:00:00.000Z")
        );
        assert_eq!(
            coerce(PropertyType::Date, &json!("03/01/2020"), DateFormat::MonthFirst).unwrap(),
            json!("2020-03-01T00:00:00.000Z")
        );
        assert!(coerce(PropertyType::Date, &json!("01/03/2020"), f).is_err());
        assert!(coerce(PropertyType::Date, &json!("2020-02-30"), f).is_err());
        assert_eq!(
            coerce(PropertyType::Date, &json!("2020-03-01T10:00:00+02:00"), f).unwrap(),
            json!("2020-03-01T08:00:00.000Z")
        );
    }

    #[test]
    fn values_compare_within_a_type() {
        assert_eq!(compare(&json!(10), &json!(9.5)), Some(Ordering::Greater));
        assert_eq!(compare(&json!("B"), &json!("a")), Some(Ordering::Less));
        assert_eq!(compare(&json!(1), &json!("1")), None);
    }
}
