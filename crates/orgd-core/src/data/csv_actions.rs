//! CSV files of item actions (orgvue-dialect §3.11): RFC 4180, UTF-8 (a BOM is ignored), a header row of
//! keys including `_action`; an empty cell means the key is not sent; values are coerced like JSON strings.
//!
//! Reading is strict where leniency would change data: a quote never closed, text after a closing quote
//! (`"a"b`) and a column named twice are refused with the line and column. Lines count `\n` as `wc -l` and
//! `sed` do (a lone `\r` ends a record, not a line); a row's line is the one it starts on.

use crate::error::ApiError;
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

/// Parse CSV text into JSON item actions; faults name the line.
pub fn parse(text: &str) -> Result<Vec<Value>, ApiError> {
    parse_with_default(text, None)
}

/// [`parse`], where a file without an `_action` column is allowed when `default_action` is given (each row
/// then gets that action).
pub fn parse_with_default(text: &str, default_action: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let mut rows = CsvRows::open(text.as_bytes(), |e| ApiError::invalid_field("file", e.to_string()))?;
    let has_action = rows.header().iter().any(|h| h == "_action");
    if !has_action && default_action.is_none() {
        return Err(rows.fault(1, "the header row must include _action"));
    }
    let header = rows.header().clone();
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rows.next(&mut rec)?.is_some() {
        let mut m = Map::new();
        if let (false, Some(a)) = (has_action, default_action) {
            m.insert("_action".into(), Value::String(a.into()));
        }
        for (h, v) in header.iter().zip(rec.iter()) {
            if !v.is_empty() {
                m.insert(h.clone(), Value::String(v.to_string()));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

/// The rows of a CSV input after its header, read strictly as they stream.
pub struct CsvRows<R: Read> {
    rdr: csv::Reader<Checked<R>>,
    header: Arc<[String]>,
    io_fault: fn(&std::io::Error) -> ApiError,
}

impl<R: Read> CsvRows<R> {
    /// Read the header row (a leading BOM dropped, each column named once); `io_fault` says what a failed
    /// read of the input means.
    pub fn open(input: R, io_fault: fn(&std::io::Error) -> ApiError) -> Result<Self, ApiError> {
        let checked = Checked::new(input);
        let rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(checked);
        let mut rows = CsvRows { rdr, header: Arc::from(Vec::new()), io_fault };
        let mut record = csv::StringRecord::new();
        if rows.read(&mut record)?.is_none() {
            return Err(rows.fault(1, "the file is empty; its first line names the columns, _action among them"));
        }
        let mut header: Vec<String> = Vec::with_capacity(record.len());
        for (i, h) in record.iter().enumerate() {
            let h = if i == 0 { h.trim_start_matches('\u{feff}') } else { h };
            if header.iter().any(|k| k == h) {
                return Err(rows.fault(1, format!("column '{h}' appears twice; name each column once")));
            }
            header.push(h.to_string());
        }
        rows.header = header.into();
        Ok(rows)
    }

    /// The column names.
    pub fn header(&self) -> &Arc<[String]> {
        &self.header
    }

    /// A fault at `line`.
    pub fn fault(&self, line: u64, message: impl Into<String>) -> ApiError {
        ApiError::invalid_field(format!("line {line}"), message)
    }

    /// Read the next row into `record`: its line, or `None` at the end. A row must have as many fields as
    /// the header.
    pub fn next(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>, ApiError> {
        let Some(line) = self.read(record)? else { return Ok(None) };
        if record.len() != self.header.len() {
            return Err(
                self.fault(line, format!("has {} fields where the header has {}", record.len(), self.header.len()))
            );
        }
        Ok(Some(line))
    }

    fn read(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>, ApiError> {
        let read = self.rdr.read_record(record);
        let start = self.rdr.get_mut().starts.pop_front().unwrap_or(1);
        match read {
            Ok(more) => Ok(more.then_some(start)),
            Err(e) => Err(match e.kind() {
                csv::ErrorKind::Io(io) => match io.get_ref().and_then(|inner| inner.downcast_ref::<Quoting>()) {
                    Some(q) => self.fault(q.line, self.column_fault(q.field, q.what)),
                    None => (self.io_fault)(io),
                },
                csv::ErrorKind::Utf8 { err, .. } => {
                    self.fault(start, self.column_fault(err.field(), "is not UTF-8 text"))
                }
                _ => self.fault(start, e.to_string()),
            }),
        }
    }

    fn column_fault(&self, field: usize, what: &str) -> String {
        match self.header.get(field) {
            Some(name) => format!("column '{name}' {what}"),
            None => format!("field {} {what}", field + 1),
        }
    }
}

/// A misplaced quote, found by [`Checked`].
#[derive(Debug)]
struct Quoting {
    line: u64,
    field: usize,
    what: &'static str,
}

impl std::fmt::Display for Quoting {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "line {}: field {} {}", self.line, self.field + 1, self.what)
    }
}

impl std::error::Error for Quoting {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the first byte of a field.
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: doubled, or the field's end.
    QuoteInQuoted,
}

/// A reader that checks RFC 4180 quoting as the bytes pass and notes the line each row starts on (the CSV
/// reader's own line count skips blank lines).
struct Checked<R> {
    inner: R,
    at: At,
    /// The line being read (1-based).
    line: u64,
    field: usize,
    /// Whether the current row has started (a blank line is no row).
    in_row: bool,
    quote_line: u64,
    /// The lines rows started on, not yet handed out.
    starts: VecDeque<u64>,
    /// A fault found after the bytes before it were handed over.
    fault: Option<Quoting>,
}

impl<R> Checked<R> {
    fn new(inner: R) -> Self {
        Checked {
            inner,
            at: At::FieldStart,
            line: 1,
            field: 0,
            in_row: false,
            quote_line: 0,
            starts: VecDeque::new(),
            fault: None,
        }
    }

    /// Scan `bytes`; the count that may be handed over before a fault.
    fn scan(&mut self, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            // Inside a field only a few bytes change anything: go straight to the next of them.
            let next = match self.at {
                At::Unquoted => memchr::memchr3(b',', b'\r', b'\n', &bytes[i..]),
                At::Quoted => memchr::memchr2(b'"', b'\n', &bytes[i..]),
                _ => Some(0),
            };
            let Some(skip) = next else { break };
            i += skip;
            let b = bytes[i];
            if !self.in_row && b != b'\r' && b != b'\n' {
                self.in_row = true;
                self.starts.push_back(self.line);
            }
            let ends_row = |s: &mut Self| {
                s.field = 0;
                s.in_row = false;
                s.at = At::FieldStart;
            };
            match (self.at, b) {
                (At::Quoted, b'"') => self.at = At::QuoteInQuoted,
                (At::Quoted, _) => {}
                (At::QuoteInQuoted, b'"') => self.at = At::Quoted,
                (At::FieldStart, b'"') => {
                    self.at = At::Quoted;
                    self.quote_line = self.line;
                }
                (_, b',') => {
                    self.field += 1;
                    self.at = At::FieldStart;
                }
                (_, b'\r' | b'\n') => ends_row(self),
                (At::QuoteInQuoted, _) => {
                    self.fault = Some(Quoting {
                        line: self.line,
                        field: self.field,
                        what: "has text after its closing quote; inside a quoted value write a quote twice (\"\")",
                    });
                    return i;
                }
                (At::FieldStart | At::Unquoted, _) => self.at = At::Unquoted,
            }
            if b == b'\n' {
                self.line += 1;
            }
            i += 1;
        }
        bytes.len()
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(q) = self.fault.take() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, q));
        }
        let n = self.inner.read(buf)?;
        if n == 0 && self.at == At::Quoted {
            let q = Quoting { line: self.quote_line, field: self.field, what: "opens a quote that is never closed" };
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, q));
        }
        let ok = self.scan(&buf[..n]);
        if ok == 0 && n > 0 {
            let q = self.fault.take().expect("a fault stops the scan");
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, q));
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn csv_rows_become_actions() {
        let a =
            super::parse("\u{feff}_action,Employee ID,Full Name\r\ncreate,1,\"Lima, Ana\"\r\nupdate,2,\r\n").unwrap();
        assert_eq!(
            a,
            vec![
                json!({"_action": "create", "Employee ID": "1", "Full Name": "Lima, Ana"}),
                json!({"_action": "update", "Employee ID": "2"})
            ]
        );
        assert!(super::parse("a,b\n1,2\n").is_err());
        assert_eq!(
            super::parse_with_default("a,b\n1,\n", Some("create")).unwrap(),
            vec![json!({"_action": "create", "a": "1"})]
        );
        assert!(super::parse("_action,a\ncreate,1,2\n").is_err());
    }

    #[test]
    fn quoting_that_would_change_data_is_refused_with_line_and_column() {
        for (text, field, why) in [
            ("_action,a\ncreate,\"x\n\ny\n", "line 2", "column 'a' opens a quote that is never closed"),
            ("_action,a\n\ncreate,\"a\"b\n", "line 3", "column 'a' has text after its closing quote"),
            ("_action,a,a\ncreate,1,2\n", "line 1", "column 'a' appears twice"),
            ("_action,a\n\n\ncreate,1,2\n", "line 4", "has 3 fields"),
            ("", "line 1", "the file is empty"),
        ] {
            let e = super::parse(text).unwrap_err();
            assert_eq!(e.faults[0].field, field, "{text:?}");
            assert!(e.faults[0].message.contains(why), "{text:?}: {}", e.faults[0].message);
        }
        assert_eq!(
            super::parse("_action,a\ncreate,\"say \"\"hi\"\"\"\ncreate,a\"b\n").unwrap(),
            vec![json!({"_action": "create", "a": "say \"hi\""}), json!({"_action": "create", "a": "a\"b"})],
            "doubled quotes and a quote inside an unquoted value keep their text"
        );
    }
}
