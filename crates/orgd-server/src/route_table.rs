//! [`Table`]: every API route is added through one, which builds the axum router and records each
//! operation (method, full path, summary) beside it, so the OpenAPI document and the tenant-isolation test
//! read the same list the server serves. A test checks the list against the router: every listed
//! operation is routed, every other method on a listed path is 405.

use crate::render::Dialect;
use crate::state::AppState;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;

/// One operation of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The method.
    pub method: Method,
    /// The full path template, e.g. `/api/v1/{tenantId}/datasets/{datasetId}`.
    pub path: String,
    /// What it does, in a few words.
    pub summary: &'static str,
    /// The dialect it answers in, set where its group is mounted ([`Table::mount`]).
    pub dialect: Option<Dialect>,
}

/// A router with the list of its operations.
pub struct Table {
    router: Router<AppState>,
    endpoints: Vec<Endpoint>,
}

impl Default for Table {
    fn default() -> Self {
        Table { router: Router::new(), endpoints: Vec::new() }
    }
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Route `path` to `handler`, which serves exactly the methods of `ops` (method, summary).
    pub fn route(mut self, path: &str, ops: &[(Method, &'static str)], handler: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, handler);
        self.endpoints.extend(ops.iter().map(|(m, s)| Endpoint {
            method: m.clone(),
            path: path.into(),
            summary: s,
            dialect: None,
        }));
        self
    }

    /// Serve `inner` below `prefix` (empty: at the root), in `dialect`: every operation of `inner`
    /// answers in it ([`crate::mounts`]).
    pub fn mount(mut self, dialect: Dialect, prefix: &str, inner: Table) -> Self {
        self.router =
            if prefix.is_empty() { self.router.merge(inner.router) } else { self.router.nest(prefix, inner.router) };
        self.endpoints.extend(inner.endpoints.into_iter().map(|e| Endpoint {
            path: format!("{prefix}{}", e.path),
            dialect: Some(dialect),
            ..e
        }));
        self
    }

    /// Serve `other`'s routes too.
    pub fn merge(mut self, other: Table) -> Self {
        self.router = self.router.merge(other.router);
        self.endpoints.extend(other.endpoints);
        self
    }

    /// The operations, in the order they were added.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The router.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
