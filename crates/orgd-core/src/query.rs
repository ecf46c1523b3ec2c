//! Query parameters as both dialects read them: a list of pairs where a repeated name is a list, and the
//! one rule for single-valued parameters (given twice → 400701).

use crate::error::ApiError;

/// The single value of query parameter `name`; 400701 when it is given more than once.
pub fn one<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut all = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match (all.next(), all.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v)),
        _ => Err(ApiError::invalid_query(name, "may be given only once")),
    }
}

/// A page size `limit`: `default` when absent, else a whole number from 1 to `max` (400701 otherwise).
pub fn limit(params: &[(String, String)], default: i64, max: i64) -> Result<i64, ApiError> {
    match one(params, "limit")? {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::invalid_query("limit", &format!("must be a whole number from 1 to {max}"))),
    }
}

/// A `true`/`false` parameter, false when absent; anything else is 400701.
pub fn flag(params: &[(String, String)], name: &str) -> Result<bool, ApiError> {
    match one(params, name)? {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid_query(name, "must be true or false")),
    }
}
