//! Export columns and encoders (orgvue-dialect §4, §5.2): which columns an export has, and the bytes of
//! each format, produced row by row so that a response can stream.

use super::hierarchy::Generated;
use super::values::{cell, timestamp};
use super::{Dataset, Item};
use crate::error::FieldFault;
use serde_json::{json, Map, Value};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"headers":[…],"rows":[[…]…]}`.
    JsonRows,
    /// `{"headers":[…],"columns":[[…]…]}`.
    JsonColumns,
    /// `[{…}…]`.
    JsonObjects,
    /// RFC 4180 CSV.
    Csv,
    /// Tab-separated.
    Tsv,
}

impl Format {
    /// The names of every format, as paths and queries spell them.
    pub const NAMES: [&'static str; 5] = ["jsonRows", "jsonColumns", "jsonObjects", "csv", "tsv"];

    /// Parse the path or query value.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "jsonRows" => Format::JsonRows,
            "jsonColumns" => Format::JsonColumns,
            "jsonObjects" => Format::JsonObjects,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            _ => return None,
        })
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=UTF-8",
            Format::Tsv => "text/tab-separated-values; charset=UTF-8",
            _ => "application/json; charset=UTF-8",
        }
    }
}

/// One exported column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Type name (`text`, `number`, `date`, `boolean`).
    pub ty: &'static str,
}

/// System keys every dataset has, with their types.
pub const SYSTEM: &[(&str, &str)] =
    &[("_id", "text"), ("_createdAt", "date"), ("_modifiedAt", "date"), ("_change", "text")];
/// Generated keys of hierarchical datasets.
pub const GENERATED: &[(&str, &str)] = &[
    ("_depth", "number"),
    ("_is_leaf", "boolean"),
    ("_is_orphan", "boolean"),
    ("_children", "number"),
    ("_descendants", "number"),
];

/// The column of a key in a dataset, if the key exists there.
pub fn column(ds: &Dataset, key: &str) -> Option<Column> {
    if let Some(p) = ds.property(key) {
        return Some(Column { key: p.key.clone(), name: p.name.clone(), ty: p.ty.as_str() });
    }
    let generated = if ds.is_hierarchical() { GENERATED } else { &[] };
    SYSTEM.iter().chain(generated).find(|(k, _)| *k == key).map(|(k, t)| Column {
        key: k.to_string(),
        name: k.to_string(),
        ty: t,
    })
}

/// The default columns: properties in order, plus generated ones when asked.
pub fn default_columns(ds: &Dataset, generated: bool) -> Vec<Column> {
    let mut cols: Vec<Column> = ds.properties.iter().filter_map(|p| column(ds, &p.key)).collect();
    if generated {
        if ds.is_hierarchical() {
            cols.extend(GENERATED.iter().filter_map(|(k, _)| column(ds, k)));
        }
        cols.extend(column(ds, "_change"));
    }
    cols
}

fn fault(field: String, message: &str) -> FieldFault {
    FieldFault { field, message: message.into() }
}

/// The `output` object of an export body, `{"query": {"output": {…}}}`, sync or async alike: absent or
/// null at either level is none; faults name `query`, each unknown `query.<key>`, or `query.output`.
pub fn query_output(body: &Value) -> Result<Option<&Map<String, Value>>, Vec<FieldFault>> {
    let query = match body.get("query") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(q)) => q,
        Some(_) => return Err(vec![fault("query".into(), "must be an object")]),
    };
    let mut faults: Vec<FieldFault> =
        query.keys().filter(|k| *k != "output").map(|k| fault(format!("query.{k}"), "unknown field")).collect();
    let output = match query.get("output") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o),
        Some(_) => {
            faults.push(fault("query.output".into(), "must be an object"));
            None
        }
    };
    if faults.is_empty() {
        Ok(output)
    } else {
        Err(faults)
    }
}

/// Columns of an export with a projection (§5.2). `sync` = every value must be 1 and exactly the listed
/// keys go out in listed order; else `replace` or add-mode with the numeric ordering rule.
pub fn project(
    ds: &Dataset,
    projection: &Value,
    path: &str,
    sync: bool,
    replace: bool,
    generated: bool,
) -> Result<Vec<Column>, Vec<FieldFault>> {
    let Value::Object(m) = projection else {
        return Err(vec![fault(path.into(), "must be an object of key → number")]);
    };
    let mut faults = Vec::new();
    let mut listed: Vec<(String, u64)> = Vec::new();
    for (k, v) in m {
        let p = format!("{path}.{k}");
        let Some(n) = v.as_u64() else {
            faults.push(fault(p, "must be a non-negative integer"));
            continue;
        };
        if sync && n != 1 {
            faults.push(fault(p, "must be 1 on a synchronous export"));
            continue;
        }
        if column(ds, k).is_none() {
            faults.push(fault(p, &format!("'{k}' is not a key of this dataset")));
            continue;
        }
        listed.push((k.clone(), n));
    }
    if !faults.is_empty() {
        return Err(faults);
    }
    if sync {
        return Ok(listed.iter().filter_map(|(k, _)| column(ds, k)).collect());
    }
    let base: Vec<Column> = if replace { Vec::new() } else { default_columns(ds, generated) };
    let mut chosen: Vec<(Column, Option<u64>, usize)> = Vec::new();
    for (i, c) in base.into_iter().enumerate() {
        match listed.iter().find(|(k, _)| *k == c.key) {
            Some((_, 0)) => {}
            Some((_, n)) => chosen.push((c, Some(*n), 0)),
            None => chosen.push((c, None, 1_000_000 + i)),
        }
    }
    for (pos, (k, n)) in listed.iter().enumerate() {
        if *n > 0 && !chosen.iter().any(|(c, _, _)| &c.key == k) {
            chosen.push((column(ds, k).expect("checked"), Some(*n), pos));
        }
    }
    for (c, n, tie) in chosen.iter_mut() {
        if n.is_some() {
            *tie = listed.iter().position(|(k, _)| *k == c.key).unwrap_or(0);
        }
    }
    chosen.sort_by_key(|(_, n, tie)| (n.map(|x| (0, x)).unwrap_or((1, 0)), *tie));
    Ok(chosen.into_iter().map(|(c, _, _)| c).collect())
}

/// The value of a column for an item.
pub fn value(col: &Column, item: &Item, generated: Option<&Generated>) -> Value {
    key_value(&col.key, item, generated)
}

/// A key's value for a filter: `None` when the item has no value there.
pub fn lookup(key: &str, item: &Item, generated: Option<&Generated>) -> Option<Value> {
    match key_value(key, item, generated) {
        Value::Null => None,
        v => Some(v),
    }
}

/// The value of a property, system or generated key for an item (`null` when it has none).
pub fn key_value(key: &str, item: &Item, generated: Option<&Generated>) -> Value {
    match key {
        "_id" => Value::String(item.id.clone()),
        "_createdAt" => timestamp(item.created_at),
        "_modifiedAt" => timestamp(item.modified_at),
        "_change" => json!("none"),
        "_depth" => json!(generated.map(|g| g.depth)),
        "_is_leaf" => json!(generated.map(|g| g.is_leaf)),
        "_is_orphan" => json!(generated.map(|g| g.is_orphan)),
        "_children" => json!(generated.map(|g| g.children)),
        "_descendants" => json!(generated.map(|g| g.descendants)),
        k => item.values.get(k).cloned().unwrap_or(Value::Null),
    }
}

/// Streams one export: `head`, then `row` per item (or the column methods for `jsonColumns`), then `tail`.
pub struct Encoder {
    format: Format,
    columns: Vec<Column>,
    eol: &'static str,
    first: bool,
}

impl Encoder {
    /// An encoder; `unix` = LF line endings for CSV/TSV (else CRLF).
    pub fn new(format: Format, columns: Vec<Column>, unix: bool) -> Self {
        Encoder { format, columns, eol: if unix { "\n" } else { "\r\n" }, first: true }
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn headers_json(&self) -> String {
        let h: Vec<Value> = self.columns.iter().map(|c| json!({"key": c.key, "name": c.name, "type": c.ty})).collect();
        Value::Array(h).to_string()
    }

    fn sep(&self) -> char {
        if self.format == Format::Tsv {
            '\t'
        } else {
            ','
        }
    }

    fn quote(&self, s: &str, out: &mut String) {
        let sep = self.sep();
        if s.contains([sep, '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(s);
        }
    }

    /// The opening bytes.
    pub fn head(&mut self, out: &mut String) {
        match self.format {
            Format::JsonRows => out.push_str(&format!("{{\"headers\":{},\"rows\":[", self.headers_json())),
            Format::JsonColumns => out.push_str(&format!("{{\"headers\":{},\"columns\":[", self.headers_json())),
            Format::JsonObjects => out.push('['),
            Format::Csv | Format::Tsv => {
                let sep = self.sep().to_string();
                for (i, c) in self.columns.clone().iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    self.quote(&c.key, out);
                }
                out.push_str(self.eol);
            }
        }
    }

    /// One row (every format but `jsonColumns`).
    pub fn row(&mut self, values: &[Value], out: &mut String) {
        match self.format {
            Format::JsonRows => {
                if !self.first {
                    out.push(',');
                }
                out.push_str(&Value::Array(values.to_vec()).to_string());
            }
            Format::JsonObjects => {
                if !self.first {
                    out.push(',');
                }
                let mut m = serde_json::Map::new();
                for (c, v) in self.columns.iter().zip(values) {
                    m.insert(c.key.clone(), v.clone());
                }
                out.push_str(&Value::Object(m).to_string());
            }
            Format::Csv | Format::Tsv => {
                let sep = self.sep().to_string();
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    self.quote(&cell(v), out);
                }
                out.push_str(self.eol);
            }
            Format::JsonColumns => unreachable!("jsonColumns is written column by column"),
        }
        self.first = false;
    }

    /// `jsonColumns`: open column `i`.
    pub fn column_start(&mut self, i: usize, out: &mut String) {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        self.first = true;
    }

    /// `jsonColumns`: one value of the open column.
    pub fn column_value(&mut self, v: &Value, out: &mut String) {
        if !self.first {
            out.push(',');
        }
        out.push_str(&v.to_string());
        self.first = false;
    }

    /// `jsonColumns`: close the open column.
    pub fn column_end(&mut self, out: &mut String) {
        out.push(']');
    }

    /// The closing bytes.
    pub fn tail(&mut self, out: &mut String) {
        match self.format {
            Format::JsonRows | Format::JsonColumns => out.push_str("]}"),
            Format::JsonObjects => out.push(']'),
            Format::Csv | Format::Tsv => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column { key: "id".into(), name: "Id".into(), ty: "text" },
            Column { key: "name".into(), name: "Name".into(), ty: "text" },
            Column { key: "parent_id".into(), name: "Parent Id".into(), ty: "text" },
        ]
    }

    fn run(format: Format, unix: bool) -> String {
        let rows = [vec![json!("a"), json!("Ana"), Value::Null], vec![json!("b"), json!("Bob, \"B\""), json!("a")]];
        let mut e = Encoder::new(format, cols(), unix);
        let mut out = String::new();
        e.head(&mut out);
        if format == Format::JsonColumns {
            for i in 0..3 {
                e.column_start(i, &mut out);
                for r in &rows {
                    e.column_value(&r[i], &mut out);
                }
                e.column_end(&mut out);
            }
        } else {
            for r in &rows {
                e.row(r, &mut out);
            }
        }
        e.tail(&mut out);
        out
    }

    #[test]
    fn every_format_has_its_shape() {
        let rows: Value = serde_json::from_str(&run(Format::JsonRows, false)).unwrap();
        assert_eq!(rows["rows"], json!([["a", "Ana", null], ["b", "Bob, \"B\"", "a"]]));
        assert_eq!(rows["headers"][2], json!({"key": "parent_id", "name": "Parent Id", "type": "text"}));
        let cols: Value = serde_json::from_str(&run(Format::JsonColumns, false)).unwrap();
        assert_eq!(cols["columns"], json!([["a", "b"], ["Ana", "Bob, \"B\""], [null, "a"]]));
        let objs: Value = serde_json::from_str(&run(Format::JsonObjects, false)).unwrap();
        assert_eq!(objs[0], json!({"id": "a", "name": "Ana", "parent_id": null}));
        assert_eq!(run(Format::Csv, false), "id,name,parent_id\r\na,Ana,\r\nb,\"Bob, \"\"B\"\"\",a\r\n");
        assert_eq!(run(Format::Tsv, true), "id\tname\tparent_id\na\tAna\t\nb\t\"Bob, \"\"B\"\"\"\ta\n");
    }
}
