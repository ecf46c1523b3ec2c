//! Export columns and encoders (orgvue-dialect §4, §5.2): which columns an export has, and the bytes of
//! each format, produced row by row so that a response can stream.

use super::drafts::Change;
use super::hierarchy::Generated;
use super::row::{write_json_string, Row, Val};
use super::values::timestamp;
use super::Dataset;
use crate::clock::{from_millis, iso_millis};
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

/// Where a column's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A property, by its index in the dataset.
    Property(usize),
    /// `_id`.
    Id,
    /// `_createdAt`.
    CreatedAt,
    /// `_modifiedAt`.
    ModifiedAt,
    /// `_change`: `none` outside a draft; what the draft did to the item in its to-be view.
    Change,
    /// A generated hierarchy value (§4.2).
    Generated(GeneratedKey),
}

/// The generated hierarchy keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratedKey {
    /// `_depth`.
    Depth,
    /// `_is_leaf`.
    IsLeaf,
    /// `_is_orphan`.
    IsOrphan,
    /// `_children`.
    Children,
    /// `_descendants`.
    Descendants,
}

/// Where the values of `key` come from in `ds`.
pub fn source(ds: &Dataset, key: &str) -> Option<Source> {
    if let Some(i) = ds.properties.iter().position(|p| p.key == key) {
        return Some(Source::Property(i));
    }
    Some(match key {
        "_id" => Source::Id,
        "_createdAt" => Source::CreatedAt,
        "_modifiedAt" => Source::ModifiedAt,
        "_change" => Source::Change,
        "_depth" => Source::Generated(GeneratedKey::Depth),
        "_is_leaf" => Source::Generated(GeneratedKey::IsLeaf),
        "_is_orphan" => Source::Generated(GeneratedKey::IsOrphan),
        "_children" => Source::Generated(GeneratedKey::Children),
        "_descendants" => Source::Generated(GeneratedKey::Descendants),
        _ => return None,
    })
}

/// One value on its way out.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// No value.
    Null,
    /// A stored value.
    Val(&'a Val),
    /// Text (`_id`, `_change`).
    Str(&'a str),
    /// A timestamp in ms, printed as ISO 8601.
    Millis(i64),
    /// A whole number.
    Int(u32),
    /// A boolean.
    Bool(bool),
}

impl Cell<'_> {
    /// The JSON form (for filters).
    pub fn to_json(self) -> Option<Value> {
        match self {
            Cell::Null => None,
            Cell::Val(v) => Some(v.to_json()),
            Cell::Str(s) => Some(Value::String(s.to_string())),
            Cell::Millis(ms) => Some(timestamp(ms)),
            Cell::Int(n) => Some(json!(n)),
            Cell::Bool(b) => Some(Value::Bool(b)),
        }
    }

    fn write_json(self, out: &mut String) {
        match self {
            Cell::Null => out.push_str("null"),
            Cell::Val(v) => v.write_json(out),
            Cell::Str(s) => write_json_string(s, out),
            Cell::Millis(ms) => {
                out.push('"');
                out.push_str(&iso_millis(from_millis(ms)));
                out.push('"');
            }
            Cell::Int(n) => out.push_str(itoa::Buffer::new().format(n)),
            Cell::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        }
    }
}

/// The value of a column's source for a row (`g` = its generated values, when computed; `change` = what a
/// draft did to it).
pub fn cell<'a>(
    source: Source,
    row: &'a Row,
    cells: &'a [Option<Val>],
    slot: Option<usize>,
    g: Option<&Generated>,
    change: Change,
) -> Cell<'a> {
    match source {
        Source::Property(_) => slot.and_then(|s| cells[s].as_ref()).map_or(Cell::Null, Cell::Val),
        Source::Id => Cell::Str(&row.id),
        Source::CreatedAt => Cell::Millis(row.created_at),
        Source::ModifiedAt => Cell::Millis(row.modified_at),
        Source::Change => Cell::Str(change.as_str()),
        Source::Generated(k) => match g {
            None => Cell::Null,
            Some(g) => match k {
                GeneratedKey::Depth => Cell::Int(g.depth),
                GeneratedKey::IsLeaf => Cell::Bool(g.is_leaf),
                GeneratedKey::IsOrphan => Cell::Bool(g.is_orphan),
                GeneratedKey::Children => Cell::Int(g.children),
                GeneratedKey::Descendants => Cell::Int(g.descendants),
            },
        },
    }
}

/// How CSV and TSV text is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// LF line endings instead of CRLF (`lineEndings=unix`).
    pub unix: bool,
    /// Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
    /// carriage return) get a leading `'` (`safeCsv=true`, OWASP's CSV injection advice). Off by default:
    /// the export is then the data as stored.
    pub safe: bool,
}

/// Streams one export: `head`, then `row` per item (or the column methods for `jsonColumns`), then `tail`.
pub struct Encoder {
    format: Format,
    columns: Vec<Column>,
    /// `"key":` of each column, for `jsonObjects`.
    object_keys: Vec<String>,
    eol: &'static str,
    safe: bool,
    first: bool,
    scratch: String,
}

impl Encoder {
    /// An encoder; `text` says how CSV and TSV are written.
    pub fn new(format: Format, columns: Vec<Column>, text: TextOptions) -> Self {
        let object_keys = columns
            .iter()
            .map(|c| {
                let mut k = String::new();
                write_json_string(&c.key, &mut k);
                k.push(':');
                k
            })
            .collect();
        Encoder {
            format,
            columns,
            object_keys,
            eol: if text.unix { "\n" } else { "\r\n" },
            safe: text.safe,
            first: true,
            scratch: String::new(),
        }
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
        let sep = self.sep() as u8;
        if s.bytes().any(|b| b == sep || b == b'"' || b == b'\r' || b == b'\n') {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(s);
        }
    }

    /// A text cell, neutralised when asked.
    fn text(&self, s: &str, out: &mut String) {
        if self.safe && s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            self.quote(&format!("'{s}"), out);
        } else {
            self.quote(s, out);
        }
    }

    fn write_plain(&mut self, c: Cell, out: &mut String) {
        match c {
            Cell::Null => {}
            Cell::Val(Val::Text(s)) => self.text(s, out),
            Cell::Str(s) => self.text(s, out),
            Cell::Val(v) => v.write_plain(out),
            other => {
                self.scratch.clear();
                let mut tmp = std::mem::take(&mut self.scratch);
                other.write_json(&mut tmp);
                out.push_str(tmp.trim_matches('"'));
                self.scratch = tmp;
            }
        }
    }

    /// The opening bytes.
    pub fn head(&mut self, out: &mut String) {
        match self.format {
            Format::JsonRows => out.push_str(&format!("{{\"headers\":{},\"rows\":[", self.headers_json())),
            Format::JsonColumns => out.push_str(&format!("{{\"headers\":{},\"columns\":[", self.headers_json())),
            Format::JsonObjects => out.push('['),
            Format::Csv | Format::Tsv => {
                let sep = self.sep();
                for (i, c) in self.columns.iter().enumerate() {
                    if i > 0 {
                        out.push(sep);
                    }
                    self.quote(&c.key, out);
                }
                out.push_str(self.eol);
            }
        }
    }

    /// One row (every format but `jsonColumns`): the cells in column order.
    pub fn row<'a>(&mut self, cells: impl Iterator<Item = Cell<'a>>, out: &mut String) {
        match self.format {
            Format::JsonRows => {
                out.push_str(if self.first { "[" } else { ",[" });
                for (i, c) in cells.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    c.write_json(out);
                }
                out.push(']');
            }
            Format::JsonObjects => {
                out.push_str(if self.first { "{" } else { ",{" });
                for (i, c) in cells.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&self.object_keys[i]);
                    c.write_json(out);
                }
                out.push('}');
            }
            Format::Csv | Format::Tsv => {
                let sep = self.sep();
                for (i, c) in cells.enumerate() {
                    if i > 0 {
                        out.push(sep);
                    }
                    self.write_plain(c, out);
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
    pub fn column_value(&mut self, c: Cell, out: &mut String) {
        if !self.first {
            out.push(',');
        }
        c.write_json(out);
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
        let (a, ana, b, bob) =
            (Val::Text("a".into()), Val::Text("Ana".into()), Val::Text("b".into()), Val::Text("Bob, \"B\"".into()));
        let rows =
            [vec![Cell::Val(&a), Cell::Val(&ana), Cell::Null], vec![Cell::Val(&b), Cell::Val(&bob), Cell::Val(&a)]];
        let mut e = Encoder::new(format, cols(), TextOptions { unix, safe: false });
        let mut out = String::new();
        e.head(&mut out);
        if format == Format::JsonColumns {
            for i in 0..3 {
                e.column_start(i, &mut out);
                for r in &rows {
                    e.column_value(r[i], &mut out);
                }
                e.column_end(&mut out);
            }
        } else {
            for r in &rows {
                e.row(r.iter().copied(), &mut out);
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

    #[test]
    fn safe_csv_neutralises_formulas_in_text_cells_only() {
        let cells = ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "plain", "a=b"].map(|t| Val::Text(t.into()));
        let n = Val::Number(-5.0);
        let columns: Vec<Column> =
            (0..8).map(|i| Column { key: format!("c{i}"), name: String::new(), ty: "text" }).collect();
        let write = |safe| {
            let mut e = Encoder::new(Format::Csv, columns.clone(), TextOptions { unix: true, safe });
            let mut out = String::new();
            e.row(cells.iter().map(Cell::Val).chain([Cell::Val(&n)]), &mut out);
            out
        };
        assert_eq!(write(true), "'=SUM(A1),'+1,'-2,'@cmd,'\tx,plain,a=b,-5\n");
        assert_eq!(write(false), "=SUM(A1),+1,-2,@cmd,\tx,plain,a=b,-5\n", "off by default: the data as stored");
    }
}
