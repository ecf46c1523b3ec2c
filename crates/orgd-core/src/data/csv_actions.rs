//! CSV files of item actions (orgvue-dialect §3.11): RFC 4180, UTF-8 (a BOM is ignored), a header row of
//! keys including `_action`; an empty cell means the key is not sent; values are coerced like JSON strings.

use crate::error::ApiError;
use serde_json::{Map, Value};

/// Parse CSV text into JSON item actions; faults name the line.
pub fn parse(text: &str) -> Result<Vec<Value>, ApiError> {
    parse_with_default(text, None)
}

/// [`parse`], where a file without an `_action` column is allowed when `default_action` is given (each row
/// then gets that action).
pub fn parse_with_default(text: &str, default_action: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| ApiError::invalid_field("line 1", format!("is not a CSV header row: {e}")))?
        .iter()
        .map(String::from)
        .collect();
    let has_action = headers.iter().any(|h| h == "_action");
    if !has_action && default_action.is_none() {
        return Err(ApiError::invalid_field("line 1", "the header row must include _action"));
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| ApiError::invalid_field(format!("line {}", i + 2), e.to_string()))?;
        let mut m = Map::new();
        if let (false, Some(a)) = (has_action, default_action) {
            m.insert("_action".into(), Value::String(a.into()));
        }
        for (h, v) in headers.iter().zip(rec.iter()) {
            if !v.is_empty() {
                m.insert(h.clone(), Value::String(v.to_string()));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
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
}
