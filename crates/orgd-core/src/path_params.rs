//! The parameters of a matched route, read from the request's path as it was sent: each `{name}` segment
//! of the route's template is percent-decoded and must be UTF-8. A segment that is not is refused by
//! name (400601), never replaced by a default.

use crate::error::ApiError;
use percent_encoding::percent_decode_str;

/// Pair the `{name}` segments of `template` (e.g. `/api/v1/{tenantId}/datasets/{datasetId}`) with the
/// segments of `raw_path` (still percent-encoded) and decode them, in order. `Ok(None)` when the path does
/// not have the template's shape (the caller falls back to the router's own reading).
pub fn decode(template: &str, raw_path: &str) -> Result<Option<Vec<(String, String)>>, ApiError> {
    let (mut names, mut raw) = (template.split('/'), raw_path.split('/'));
    let mut out = Vec::new();
    loop {
        match (names.next(), raw.next()) {
            (None, None) => return Ok(Some(out)),
            (Some(t), Some(r)) => match t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(name) if !name.starts_with('*') => {
                    let value = percent_decode_str(r).decode_utf8().map_err(|_| ApiError::undecodable_path(name))?;
                    out.push((name.to_string(), value.into_owned()));
                }
                Some(_) => return Ok(None),
                None if t == r => {}
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn parameters_are_decoded_and_undecodable_ones_named() {
        let t = "/api/v1/{tenantId}/datasets/{datasetId}";
        let got = decode(t, "/api/v1/AC%4DE/datasets/a%20b").unwrap().unwrap();
        assert_eq!(got, [("tenantId".to_string(), "ACME".to_string()), ("datasetId".to_string(), "a b".to_string())]);
        let e = decode(t, "/api/v1/CHILD%FF/datasets/x").unwrap_err();
        assert_eq!(e.context["pathParameter"], "{tenantId}");
        assert!(decode(t, "/api/v1/ACME/items/x").unwrap().is_none(), "another shape");
        assert!(decode(t, "/api/v1/ACME/datasets").unwrap().is_none());
        assert!(decode("/files/{*rest}", "/files/a").unwrap().is_none(), "wildcards are the router's");
    }
}
