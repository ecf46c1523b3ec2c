//! CORS origins (model §8.4): parsing the whitelist entries and matching a browser's `Origin`.

/// Normalize an origin `scheme://host[:port]`: lower-case scheme and host, default ports made explicit.
/// Errors say what is wrong with the entry.
pub fn parse_origin(s: &str) -> Result<String, String> {
    if !s.is_ascii() {
        return Err("must be ASCII (use the punycode form of the host)".into());
    }
    if s.contains('*') {
        return Err("wildcards are not allowed; list each origin".into());
    }
    let (scheme, rest) = s.split_once("://").ok_or("must look like https://app.example.com")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err("the scheme must be http or https".into());
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err("must be scheme://host[:port] with no path, query or trailing /".into());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
            let port: u32 = p.parse().map_err(|_| "the port must be a number from 1 to 65535".to_string())?;
            if !(1..=65535).contains(&port) {
                return Err("the port must be a number from 1 to 65535".into());
            }
            (h.to_string(), port)
        }
        _ => (rest.to_string(), if scheme == "https" { 443 } else { 80 }),
    };
    if host.is_empty() || host.contains(' ') {
        return Err("the host is missing".into());
    }
    Ok(format!("{scheme}://{}:{port}", host.to_ascii_lowercase()))
}

/// Whether `origin` is one of `whitelist`.
pub fn allowed<'a>(origin: &str, whitelist: impl IntoIterator<Item = &'a str>) -> bool {
    let Ok(o) = parse_origin(origin) else { return false };
    whitelist.into_iter().any(|w| parse_origin(w).is_ok_and(|w| w == o))
}

/// Whether an org's `cors_domain_whitelist` lists `origin`.
pub fn org_allows(org: &crate::model::Org, origin: &str) -> bool {
    let list = crate::org_settings::OrgSettings::of(&org.settings).cors_domain_whitelist;
    allowed(origin, list.iter().map(String::as_str))
}

/// The headers a listed origin gets (model §8.4).
pub fn headers(origin: &str, preflight: bool) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("access-control-allow-origin", origin.to_string()),
        ("vary", "Origin".to_string()),
        (
            "access-control-expose-headers",
            "X-Amzn-Trace-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset".to_string(),
        ),
    ];
    if preflight {
        h.push(("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS".to_string()));
        h.push(("access-control-allow-headers", "Authorization, X-TOKEN, Content-Type, Accept-Encoding".to_string()));
        h.push(("access-control-max-age", "600".to_string()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalize_and_match() {
        assert_eq!(parse_origin("HTTPS://App.Example.com").unwrap(), "https://app.example.com:443");
        assert_eq!(parse_origin("http://localhost:3000").unwrap(), "http://localhost:3000");
        assert!(allowed("https://app.example.com:443", ["https://APP.example.com"]));
        assert!(!allowed("http://app.example.com", ["https://app.example.com"]));
        assert!(!allowed("https://evil.example", ["https://app.example.com"]));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "https://*.example.com",
            "https://a.example/",
            "https://a.example/x",
            "ftp://a.example",
            "a.example",
            "https://a.example:0",
            "https://a.example:99999",
            "https://ä.example",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
