//! Which token a request presents (model §4 "Presenting"): `Authorization: Bearer <t>`, the tolerated
//! `Bearer: <t>`, or `X-TOKEN: <t>`. A Bearer credential wins; a non-Bearer `Authorization` is ignored when
//! `X-TOKEN` is present.

use crate::error::ErrorCode;

/// Pick the presented token from the two header values, or the pipeline's step-1 failure.
pub fn presented<'a>(authorization: Option<&'a str>, x_token: Option<&'a str>) -> Result<&'a str, ErrorCode> {
    let x_token = x_token.map(str::trim).filter(|t| !t.is_empty());
    let auth = authorization.map(str::trim).filter(|a| !a.is_empty());
    if let Some(a) = auth {
        if let Some(t) = bearer(a) {
            return if t.is_empty() { Err(ErrorCode::ApiTokenInvalid) } else { Ok(t) };
        }
        return match x_token {
            Some(t) => Ok(t),
            None => Err(ErrorCode::BearerTokenNotFound),
        };
    }
    x_token.ok_or(ErrorCode::AuthorizationHeaderEmpty)
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) && !value[6..].starts_with(':') {
        return None;
    }
    Some(rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_forms_are_accepted() {
        assert_eq!(presented(Some("Bearer abc"), None), Ok("abc"));
        assert_eq!(presented(Some("bearer   abc "), None), Ok("abc"));
        assert_eq!(presented(Some("Bearer: abc"), None), Ok("abc"));
        assert_eq!(presented(Some("Bearer abc"), Some("xyz")), Ok("abc"));
        assert_eq!(presented(Some("Bearer"), None), Err(ErrorCode::ApiTokenInvalid));
    }

    #[test]
    fn other_schemes_and_absence_are_refused() {
        assert_eq!(presented(None, None), Err(ErrorCode::AuthorizationHeaderEmpty));
        assert_eq!(presented(Some("  "), Some("")), Err(ErrorCode::AuthorizationHeaderEmpty));
        assert_eq!(presented(Some("Basic dXNlcg=="), None), Err(ErrorCode::BearerTokenNotFound));
        assert_eq!(presented(Some("Bearerabc"), None), Err(ErrorCode::BearerTokenNotFound));
        assert_eq!(presented(Some("Basic dXNlcg=="), Some("xyz")), Ok("xyz"));
        assert_eq!(presented(None, Some("xyz")), Ok("xyz"));
    }
}
