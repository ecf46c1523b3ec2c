//! Turning an [`ApiError`] into the body of each dialect. Handlers and extractors return `ApiError`; its
//! `IntoResponse` only marks the response, and the error-rendering layer ([`render_errors`]) renders it in the
//! dialect the route is mounted with ([`crate::mounts`]), so every error of every route goes through here.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use orgd_core::error::{ApiError, ErrorCode};
use serde_json::{json, Map, Value};

/// The two wire dialects (plus plain server endpoints, which use the Orgvue envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/api/v1/…`: `{"errors":[…]}`.
    Orgvue,
    /// `/v1`, `/v2`, `/v3`, `/users`: `{"error":{…}}`.
    Apperian,
}

impl Dialect {
    /// `orgvue` or `apperian`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Orgvue => "orgvue",
            Dialect::Apperian => "apperian",
        }
    }
}

/// A marker carried by error responses until they are rendered.
#[derive(Clone)]
pub struct PendingError(pub ApiError);

/// Wrapper so that `ApiError` (a core type) can be returned from handlers.
pub struct Failure(pub ApiError);

impl<E: Into<ApiError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut r =
            StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response();
        r.extensions_mut().insert(PendingError(self.0));
        r
    }
}

/// An answer that carries a secret (a token, a session, a presigned URL): never stored by a cache.
pub struct Secret<T>(pub T);

impl<T: IntoResponse> IntoResponse for Secret<T> {
    fn into_response(self) -> Response {
        let mut r = self.0.into_response();
        r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
        r.headers_mut().insert(axum::http::header::PRAGMA, axum::http::HeaderValue::from_static("no-cache"));
        r
    }
}

/// The HTTP status of an error in a dialect.
pub fn status(e: &ApiError, dialect: Dialect) -> StatusCode {
    let code = if dialect == Dialect::Apperian && e.code.is_missing_credential() { 401 } else { e.code.status() };
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The JSON body of an error in a dialect.
pub fn body(e: &ApiError, dialect: Dialect, trace_id: &str) -> Value {
    match dialect {
        Dialect::Orgvue if !e.listed.is_empty() => json!({ "errors": e.listed }),
        Dialect::Orgvue => {
            let mut obj = Map::new();
            obj.insert("name".into(), json!(e.code.name()));
            obj.insert("code".into(), json!(e.code.code().to_string()));
            obj.insert("message".into(), json!(e.orgvue_message()));
            for (k, v) in &e.context {
                if k != "ip" {
                    obj.insert(k.clone(), v.clone());
                }
            }
            if e.code == ErrorCode::InternalError {
                obj.insert("traceId".into(), json!(trace_id));
            }
            if e.faults.len() > 1 {
                let errors: Vec<Value> = e
                    .faults
                    .iter()
                    .map(|f| {
                        json!({"name": e.code.name(), "code": e.code.code().to_string(),
                               "message": format!("{}: {}", f.field, f.message), "path": f.field})
                    })
                    .collect();
                return json!({ "errors": errors });
            }
            if let Some(f) = e.faults.first() {
                obj.insert("path".into(), json!(f.field));
            }
            json!({ "errors": [Value::Object(obj)] })
        }
        Dialect::Apperian => {
            let mut message = e.apperian_message();
            if e.code == ErrorCode::InternalError {
                message = format!("Internal error (trace {trace_id})");
            }
            let mut obj = Map::new();
            obj.insert("code".into(), json!(e.code.code()));
            obj.insert("message".into(), json!(message));
            if !e.listed.is_empty() {
                obj.insert("details".into(), Value::Array(e.listed.clone()));
            } else if !e.faults.is_empty() {
                let details: Vec<Value> =
                    e.faults.iter().map(|f| json!({"field": f.field, "message": f.message})).collect();
                obj.insert("details".into(), Value::Array(details));
            }
            json!({ "error": Value::Object(obj) })
        }
    }
}

/// Render an error as a complete response.
pub fn response(e: &ApiError, dialect: Dialect, trace_id: &str) -> Response {
    let mut r = (status(e, dialect), axum::Json(body(e, dialect, trace_id))).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json; charset=UTF-8"));
    if let Some(s) = e.retry_after {
        h.insert("retry-after", HeaderValue::from(s));
    }
    for (name, value) in &e.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(*name, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_follow_each_dialect() {
        let e = ApiError::new(ErrorCode::ApiTokenExpired);
        assert_eq!(status(&e, Dialect::Orgvue), StatusCode::FORBIDDEN);
        assert_eq!(status(&e, Dialect::Apperian), StatusCode::UNAUTHORIZED);
        assert_eq!(
            body(&e, Dialect::Orgvue, "t"),
            json!({"errors":[{"name":"ApiTokenExpired","code":"40302","message":"The API Token has expired."}]})
        );
        assert_eq!(
            body(&e, Dialect::Apperian, "t"),
            json!({"error":{"code":40302,"message":"Missing token or session expired"}})
        );
        let ip = ApiError::ip_refusal(ErrorCode::ApiTokenSubnetViolation, "127.0.0.1");
        assert_eq!(
            body(&ip, Dialect::Orgvue, "t")["errors"][0]["message"],
            "The API Token cannot be used from the current IP address: 127.0.0.1"
        );
    }

    /// `docs/contract/errors.md`, made from the one error table.
    fn error_page() -> String {
        let mut page = String::from(
            "# Error codes\n\nEvery failure orgd answers, in both APIs, generated from the one table in the code \
             (`orgd-core/src/error.rs`) by `ORGD_WRITE_DOCS=1 cargo test -p orgd-server error_page`; a test fails \
             when this page and the table differ. Orgvue answers `{\"errors\":[{\"name\",\"code\",\"message\"}]}` \
             with the code as a string ([orgvue.md](orgvue.md) §2); Apperian answers `{\"error\":{\"code\",\"message\"}}` \
             with the code as a number ([apperian.md](apperian.md) §6). A specific message may replace the default.\n\n\
             | code | name | HTTP (Orgvue) | HTTP (Apperian) | Orgvue default message | Apperian default message |\n\
             |---|---|---|---|---|---|\n",
        );
        for &code in ErrorCode::ALL {
            let e = ApiError::new(code);
            page.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                code.code(),
                code.name(),
                status(&e, Dialect::Orgvue).as_u16(),
                status(&e, Dialect::Apperian).as_u16(),
                code.orgvue_message(),
                code.apperian_message()
            ));
        }
        page
    }

    #[test]
    fn the_error_page_lists_every_code_as_the_table_has_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/contract/errors.md");
        if std::env::var_os("ORGD_WRITE_DOCS").is_some() {
            std::fs::write(&path, error_page()).unwrap();
        }
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == error_page(),
            "docs/contract/errors.md is out of date: run ORGD_WRITE_DOCS=1 cargo test -p orgd-server error_page"
        );
    }
}
