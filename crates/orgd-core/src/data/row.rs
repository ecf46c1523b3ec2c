//! Typed item values as the data layer holds them: one [`Val`] per property that has a value, in a
//! [`Row`] laid out like the dataset's properties (the store keeps each property in a typed column).
//! Values are written straight into export and result text, without a JSON tree in between.

use super::{Dataset, Item, PropertyType};
use serde_json::Value;
use std::hash::{Hash, Hasher};

/// A stored value: text and dates (ISO 8601 text, UTC, milliseconds) as text, numbers, booleans.
#[derive(Debug, Clone)]
pub enum Val {
    /// Text, or a date as `2020-03-01T00:00:00.000Z`.
    Text(String),
    /// A finite number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl Val {
    /// `-0.0` and `0.0` are one number, as in the JSON form.
    fn number_bits(f: f64) -> u64 {
        if f == 0.0 {
            0
        } else {
            f.to_bits()
        }
    }

    /// The JSON form (integers without `.0`).
    pub fn to_json(&self) -> Value {
        match self {
            Val::Text(s) => Value::String(s.clone()),
            Val::Number(f) => number(*f),
            Val::Bool(b) => Value::Bool(*b),
        }
    }

    /// A normalized JSON value (as coercion produces) of a property type; `None` for null or a value the
    /// type cannot hold.
    pub fn from_json(ty: PropertyType, v: &Value) -> Option<Val> {
        match (ty, v) {
            (PropertyType::Text | PropertyType::Date, Value::String(s)) => Some(Val::Text(s.clone())),
            (PropertyType::Number, Value::Number(n)) => n.as_f64().map(Val::Number),
            (PropertyType::Boolean, Value::Bool(b)) => Some(Val::Bool(*b)),
            _ => None,
        }
    }

    /// Append the JSON text of the value.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Val::Text(s) => write_json_string(s, out),
            Val::Number(f) => write_number(*f, out),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }

    /// Append the value as a CSV/TSV cell's text (unquoted).
    pub fn write_plain(&self, out: &mut String) {
        match self {
            Val::Text(s) => out.push_str(s),
            Val::Number(f) => write_number(*f, out),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }

    /// The text, when the value is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl PartialEq for Val {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Val::Text(a), Val::Text(b)) => a == b,
            (Val::Number(a), Val::Number(b)) => Val::number_bits(*a) == Val::number_bits(*b),
            (Val::Bool(a), Val::Bool(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Val {}

impl Hash for Val {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Val::Text(s) => {
                0u8.hash(state);
                s.hash(state);
            }
            Val::Number(f) => {
                1u8.hash(state);
                Val::number_bits(*f).hash(state);
            }
            Val::Bool(b) => {
                2u8.hash(state);
                b.hash(state);
            }
        }
    }
}

/// A number as JSON: integers without `.0`.
pub fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// Append a number as the contract prints it: integers without `.0`, others in the shortest form.
pub fn write_number(f: f64, out: &mut String) {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        out.push_str(itoa::Buffer::new().format(f as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(f));
    }
}

/// Append `s` as a JSON string (quotes and escapes).
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// One item: its id, creation order, timestamps (ms) and one cell per property, in the dataset's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `_id`, upper-case UUID text.
    pub id: String,
    /// Creation order within the dataset.
    pub seq: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub modified_at: i64,
    /// The value of each property, `None` where it has none.
    pub cells: Vec<Option<Val>>,
}

impl Row {
    /// The item as the API shows it (properties with a value, by key).
    pub fn to_item(&self, ds: &Dataset) -> Item {
        let values = ds
            .properties
            .iter()
            .zip(&self.cells)
            .filter_map(|(p, c)| c.as_ref().map(|v| (p.key.clone(), v.to_json())))
            .collect();
        Item { id: self.id.clone(), seq: self.seq, created_at: self.created_at, modified_at: self.modified_at, values }
    }

    /// A row from an item's normalized values (values a property type cannot hold are dropped).
    pub fn from_item(ds: &Dataset, item: &Item) -> Row {
        let cells =
            ds.properties.iter().map(|p| item.values.get(&p.key).and_then(|v| Val::from_json(p.ty, v))).collect();
        Row { id: item.id.clone(), seq: item.seq, created_at: item.created_at, modified_at: item.modified_at, cells }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(v: &Val) -> String {
        let mut s = String::new();
        v.write_json(&mut s);
        s
    }

    #[test]
    fn values_print_as_their_json_form() {
        for (v, want) in [
            (Val::Number(1001.0), json!(1001)),
            (Val::Number(2.5), json!(2.5)),
            (Val::Number(-0.0), json!(0)),
            (Val::Number(1e20), json!(1e20)),
            (Val::Number(1.0 / 3.0), json!(1.0 / 3.0)),
            (Val::Bool(true), json!(true)),
            (Val::Text("a \"quoted\"\\ line\nand\u{1} tab\t é".into()), json!("a \"quoted\"\\ line\nand\u{1} tab\t é")),
        ] {
            let text = json_of(&v);
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), want, "{text}");
            assert_eq!(v.to_json(), want);
        }
        assert_eq!(json_of(&Val::Number(1001.0)), "1001");
    }

    #[test]
    fn equal_values_hash_alike() {
        use std::collections::HashSet;
        let set: HashSet<Val> = [Val::Number(0.0), Val::Number(-0.0), Val::Text("0".into())].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert_ne!(Val::Text("1".into()), Val::Number(1.0));
    }
}
