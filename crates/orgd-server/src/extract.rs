//! Extractors that run the access pipeline and read bodies, turning every rejection into an [`ApiError`]
//! of the shared table.

use crate::context::RequestInfo;
use crate::intake::{body_limit, MULTIPART_BODY_LIMIT, ORGVUE_BODY_LIMIT};
use crate::policy::{DatasetPolicy, Policy};
use crate::render::{Dialect, Failure};
use crate::state::AppState;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use orgd_core::access::{Operation, Target};
use orgd_core::credential;
use orgd_core::error::{ApiError, ErrorCode, FieldFault};
use orgd_core::model::{Org, TokenRecord, User};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;

/// Route marker: this route also takes `multipart/form-data` bodies (up to [`MULTIPART_BODY_LIMIT`]).
#[derive(Debug, Clone, Copy)]
pub struct AllowMultipart;

/// Parse a JSON body, or 400801.
pub fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(ErrorCode::RequestBodyNotJson).with_detail(format!("{e}.")))
}

/// A caller that passed the access pipeline for the operation its route declares.
#[derive(Debug, Clone)]
pub struct Acting {
    /// The caller.
    pub user: Arc<User>,
    /// The presented token.
    pub token: Arc<TokenRecord>,
    /// The caller's home org.
    pub home: Arc<Org>,
    /// The org the request acts in.
    pub target: Arc<Org>,
    /// Request facts.
    pub info: RequestInfo,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap_or("\u{0}invalid"))
}

/// The request's [`RequestInfo`], set by the middleware.
pub fn info(parts: &Parts) -> RequestInfo {
    parts.extensions.get::<RequestInfo>().cloned().expect("the request-context middleware runs on every route")
}

/// A caller that passed the access pipeline for the operation of policy `P`: the permission is in the
/// handler's type, so a route cannot forget it ([`Acting`] itself is not an extractor).
pub struct Guarded<P: Policy> {
    acting: Acting,
    policy: PhantomData<P>,
}

impl<P: Policy> std::ops::Deref for Guarded<P> {
    type Target = Acting;
    fn deref(&self) -> &Acting {
        &self.acting
    }
}

impl<P: Policy> FromRequestParts<AppState> for Guarded<P> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        Ok(Guarded { acting: acting(parts, state, P::OPERATION).await?, policy: PhantomData })
    }
}

/// A caller that passed the access pipeline and holds at least policy `P`'s level on the dataset of the
/// route's `{datasetId}` (a caller who may not read it gets 404001, as for a dataset that does not exist).
pub struct OnDataset<P: DatasetPolicy> {
    acting: Acting,
    /// The dataset as the caller sees it: without the properties it may not read
    /// ([`orgd_core::data::grants::view`]).
    pub ds: orgd_core::data::Dataset,
    /// The whole dataset, for changes of its schema and grants.
    pub whole: orgd_core::data::Dataset,
    /// The level the caller holds on it (at least `P`'s).
    pub level: orgd_core::data::grants::Level,
    policy: PhantomData<P>,
}

impl<P: DatasetPolicy> std::ops::Deref for OnDataset<P> {
    type Target = Acting;
    fn deref(&self) -> &Acting {
        &self.acting
    }
}

impl<P: DatasetPolicy> FromRequestParts<AppState> for OnDataset<P> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let acting = acting(parts, state, Operation::Read).await?;
        let params = PathParams::from_request_parts(parts, state).await?;
        let id = params.get("datasetId").and_then(orgd_core::ids::DatasetId::parse).ok_or_else(|| {
            ApiError::new(ErrorCode::PathParameterMustBeUuidString).with_context("pathParameter", "{datasetId}")
        })?;
        let (ds, level) =
            orgd_core::data::grants::open(state.store.as_ref(), &acting.target.org_id, &acting.user, &id, P::LEVEL)
                .await?;
        if !P::ON_VIEWS {
            ds.writable()?;
        }
        let view = orgd_core::data::grants::view(&ds, &acting.user);
        Ok(OnDataset { acting, ds: view, whole: ds, level, policy: PhantomData })
    }
}

/// Run the pipeline for `op`.
async fn acting(parts: &mut Parts, state: &AppState, op: Operation) -> Result<Acting, Failure> {
    let info = info(parts);
    let params = PathParams::from_request_parts(parts, state).await?;
    let target = match (params.get("tenantId"), params.get("org_id")) {
        (Some(t), _) => Target::Tenant(t),
        (None, Some(o)) => Target::Org(o),
        _ => Target::Home,
    };
    let presented = credential::presented(header(&parts.headers, "authorization"), header(&parts.headers, "x-token"));
    let ip = info.client_ip;
    // The lookup id is known before the check, so refused requests are logged with it too.
    if let Some(id) = presented.as_ref().ok().and_then(|p| orgd_core::token::lookup_id(p)) {
        info.slot.lock().token(id);
    }
    let caller = state.gate.identify(presented, ip).await?;
    info.slot.lock().home_org(&caller.user.org_id);
    let access = state.gate.admit(caller, target, ip).await?;
    let op_result = access.require(op);
    {
        let mut slot = info.slot.lock();
        slot.tenant(access.target.tenant_id.as_str());
        slot.admitted(access.admission);
    }
    op_result?;
    orgd_core::events::set_actor(orgd_core::events::Actor::user(&access.user, Some(&access.token.token_id)));
    tenant_fault(parts, state, &info, access.target.tenant_id.as_str()).await?;
    let multipart_ok = parts.extensions.get::<AllowMultipart>().is_some();
    check_body_headers(&parts.headers, info.dialect, multipart_ok)?;
    if parts.extensions.get::<crate::intake::BodyTooLarge>().is_some() {
        let limit = if multipart_ok { MULTIPART_BODY_LIMIT } else { body_limit(info.dialect) };
        return Err(too_large(limit).into());
    }
    Ok(Acting { user: access.user, token: access.token, home: access.home, target: access.target, info })
}

/// The decoded path parameters of the matched route. A parameter that is not UTF-8 once percent-decoded
/// is refused (400601 naming it): a path that cannot be read never falls back to a default.
#[derive(Debug, Clone, Default)]
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// The value of `name`, when the route has that parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `""` when the route has no such parameter (handlers ask only for their
    /// route's own parameters).
    pub fn of(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        // The core reads the path as it was sent against the route's full template (nested prefixes
        // included); the router's own reading is the fallback for a shape the core does not take.
        let template = parts.extensions.get::<axum::extract::MatchedPath>().map(|m| m.as_str().to_string());
        let raw = parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |u| u.0.path());
        if let Some(template) = template {
            if let Some(params) = orgd_core::path_params::decode(&template, raw)? {
                return Ok(PathParams(params));
            }
        }
        match RawPathParams::from_request_parts(parts, state).await {
            Ok(p) => Ok(PathParams(p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())),
            Err(RawPathParamsRejection::InvalidUtf8InPathParam(e)) => {
                let key = e.body_text();
                let name = key.rsplit('`').nth(1).unwrap_or("path");
                Err(ApiError::undecodable_path(name).into())
            }
            Err(e) => Err(ApiError::new(ErrorCode::InternalError).with_message(e.body_text()).into()),
        }
    }
}

/// The stand-in's fault rules that name a tenant, tried once the acting tenant is known.
async fn tenant_fault(parts: &Parts, state: &AppState, info: &RequestInfo, tenant: &str) -> Result<(), ApiError> {
    let Some(s) = state.standin.as_ref().filter(|s| !s.faults.is_empty()) else { return Ok(()) };
    let route = parts.extensions.get::<axum::extract::MatchedPath>().map(|m| m.as_str());
    let client_ip = orgd_core::net::display_ip(info.client_ip);
    let facts = orgd_core::faults::RequestFacts {
        dialect: info.dialect.name(),
        method: parts.method.as_str(),
        route,
        path: parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |u| u.0.path()),
        tenant: Some(tenant),
        client_ip: &client_ip,
    };
    let Some(f) = s.faults.pick(&facts, true) else { return Ok(()) };
    info.slot.lock().faulted();
    if !f.latency.is_zero() {
        tokio::time::sleep(f.latency).await;
    }
    f.error.map_or(Ok(()), Err)
}

/// Step-6 checks of a request body's headers: JSON only, identity encoding, within the limit.
pub fn check_body_headers(h: &HeaderMap, dialect: Dialect, multipart_ok: bool) -> Result<(), ApiError> {
    let length = header(h, "content-length").and_then(|l| l.trim().parse::<u64>().ok());
    let has_body = length.is_some_and(|l| l > 0) || h.contains_key("transfer-encoding");
    if !has_body {
        return Ok(());
    }
    if let Some(enc) = header(h, "content-encoding") {
        if !enc.trim().eq_ignore_ascii_case("identity") {
            return Err(ApiError::new(ErrorCode::ContentTypeIsNotImplemented).with_message(format!(
                "Request bodies must not be compressed (Content-Encoding: {enc}); send them as identity."
            )));
        }
    }
    let content_type = header(h, "content-type");
    let multipart =
        multipart_ok && content_type.is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart && !is_json(content_type) {
        return Err(match dialect {
            Dialect::Apperian if multipart_ok => ApiError::new(ErrorCode::ContentTypeIsNotImplemented)
                .with_message("Use application/json or multipart/form-data"),
            _ => ApiError::new(ErrorCode::ContentTypeIsNotImplemented),
        });
    }
    let limit = if multipart { MULTIPART_BODY_LIMIT as u64 } else { body_limit(dialect) as u64 };
    if length.is_some_and(|l| l > limit) {
        return Err(too_large(limit as usize));
    }
    Ok(())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge).with_message(format!("The request body exceeds {limit} bytes."))
}

/// `application/json`, optionally with `charset=UTF-8`.
pub fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mut parts = ct.split(';').map(str::trim);
    if !parts.next().is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        return false;
    }
    parts.all(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        !k.trim().eq_ignore_ascii_case("charset") || v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
}

/// A JSON body deserialized into `T`: 415001, 413001, 400801 or 400802 (naming the field) on faults.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Failure> {
        let dialect = req.extensions().get::<RequestInfo>().map(|i| i.dialect).unwrap_or(Dialect::Orgvue);
        if !is_json(header(req.headers(), "content-type")) {
            return Err(ApiError::new(ErrorCode::ContentTypeIsNotImplemented).into());
        }
        check_body_headers(req.headers(), dialect, false)?;
        let limit = body_limit(dialect);
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| too_large(limit))?;
        let value = parse_json(&bytes)?;
        serde_path_to_error::deserialize(value).map(JsonBody).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { "body".to_string() } else { path };
            ApiError::invalid_fields(vec![FieldFault { field, message: e.inner().to_string() }]).into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A handler that takes `Acting` without a policy does not compile: only `Guarded<Policy>` extracts.
    static_assertions::assert_not_impl_any!(Acting: FromRequestParts<AppState>);
    static_assertions::assert_impl_all!(Guarded<crate::policy::Read>: FromRequestParts<AppState>);

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=UTF-8")));
        assert!(is_json(Some("application/json;charset=\"utf-8\"")));
        assert!(!is_json(Some("application/json; charset=latin1")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}

/// The query string as a list of pairs: a repeated name is a list (`?idKey=a&idKey=b`), and a value is
/// never split on commas (`?idKey=a,b` is one key `a,b`). Unknown names are ignored by callers.
#[derive(Debug, Clone, Default)]
pub struct QueryList(pub Vec<(String, String)>);

impl QueryList {
    /// Parse a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        QueryList(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The single value of `name`; 400701 when it is given more than once.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        orgd_core::query::one(&self.0, name)
    }

    /// A `true`/`false` parameter, false when absent; 400701 otherwise.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        orgd_core::query::flag(&self.0, name)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryList {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Failure> {
        Ok(QueryList::parse(parts.uri.query()))
    }
}

#[cfg(test)]
mod query_tests {
    use super::QueryList;

    #[test]
    fn repeated_names_are_lists_and_commas_never_split() {
        let q = QueryList::parse(Some("idKey=firstName&idKey=lastName&idKey=DOB&x=a%2Cb&y=a,b"));
        assert_eq!(q.all("idKey"), ["firstName", "lastName", "DOB"]);
        assert_eq!(q.one("x").unwrap(), Some("a,b"));
        assert_eq!(q.one("y").unwrap(), Some("a,b"));
        assert_eq!(q.one("missing").unwrap(), None);
        let e = q.one("idKey").unwrap_err();
        assert_eq!(e.code.code(), 400701);
        assert_eq!(e.context["queryParameter"], "idKey");
    }
}

/// The request body as bytes, read up to the dialect's limit (413001 past it).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Failure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Failure> {
        let info = req.extensions().get::<RequestInfo>().cloned();
        let multipart = req.extensions().get::<AllowMultipart>().is_some();
        let limit = match info.map(|i| i.dialect) {
            Some(Dialect::Apperian) if multipart => MULTIPART_BODY_LIMIT,
            Some(d) => body_limit(d),
            None => ORGVUE_BODY_LIMIT,
        };
        axum::body::to_bytes(req.into_body(), limit).await.map(RawBody).map_err(|_| too_large(limit).into())
    }
}
