//! Which dialect answers below which path, read from where each route group is mounted ([`crate::routes`]):
//! the route table records each operation's dialect, the router hands the table to [`Mounts::serve`] when
//! it is built, and a path that matched no route (a 404, a refusal of the connection layer) takes the
//! dialect of the routes that share its first segment.

use crate::render::Dialect;
use crate::route_table::Endpoint;
use std::sync::OnceLock;

/// First path segment → dialect, over every mounted API route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts(Vec<(String, Dialect)>);

static SERVED: OnceLock<Mounts> = OnceLock::new();

/// The first segment of a path (`/api/v1/x` → `api`).
fn first_segment(path: &str) -> &str {
    let rest = path.strip_prefix('/').unwrap_or(path);
    rest.split('/').next().unwrap_or("")
}

impl Mounts {
    /// The mounts of `endpoints`. Panics when an endpoint has no dialect or two dialects share a first
    /// segment: both are mistakes in [`crate::routes::api`], which a unit test builds.
    pub fn of(endpoints: &[Endpoint]) -> Mounts {
        let mut out: Vec<(String, Dialect)> = Vec::new();
        for e in endpoints {
            let dialect = e.dialect.unwrap_or_else(|| panic!("{} {} is mounted without a dialect", e.method, e.path));
            let segment = first_segment(&e.path);
            match out.iter().find(|(s, _)| s == segment) {
                Some((_, d)) if *d != dialect => panic!("/{segment} holds routes of two dialects ({})", e.path),
                Some(_) => {}
                None => out.push((segment.to_string(), dialect)),
            }
        }
        Mounts(out)
    }

    /// Record the mounts of the API the router serves (every router of the process serves the same
    /// [`crate::routes::api`]; the first call keeps them).
    pub fn serve(endpoints: &[Endpoint]) {
        SERVED.get_or_init(|| Mounts::of(endpoints));
    }

    /// The mounts of the API being served; none before a router was built (every path is then outside
    /// both APIs).
    pub fn served() -> &'static Mounts {
        static NONE: Mounts = Mounts(Vec::new());
        SERVED.get().unwrap_or(&NONE)
    }

    /// The dialect of the API routes `path` falls among, or `None` for the console, the system endpoints
    /// and other paths outside both APIs.
    pub fn of_path(&self, path: &str) -> Option<Dialect> {
        let segment = first_segment(path);
        self.0.iter().find(|(s, _)| s == segment).map(|(_, d)| *d)
    }

    /// The envelope of an answer on `path`: its API's dialect, else Orgvue's (the plain endpoints use it).
    pub fn envelope(&self, path: &str) -> Dialect {
        self.of_path(path).unwrap_or(Dialect::Orgvue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_path_takes_the_dialect_it_is_mounted_with() {
        let api = crate::routes::api();
        Mounts::serve(api.endpoints());
        let m = Mounts::served();
        assert_eq!(m.of_path("/api/v1/ACME/datasets"), Some(Dialect::Orgvue));
        assert_eq!(m.of_path("/api/v9/nothing"), Some(Dialect::Orgvue));
        assert_eq!(m.of_path("/v1/tokens"), Some(Dialect::Apperian));
        assert_eq!(m.of_path("/v1"), Some(Dialect::Apperian));
        assert_eq!(m.of_path("/v3/organizations/x"), Some(Dialect::Apperian));
        assert_eq!(m.of_path("/users/authenticate"), Some(Dialect::Apperian));
        assert_eq!(m.of_path("/organizations/x"), Some(Dialect::Apperian));
        assert_eq!(m.of_path("/v1x"), None);
        assert_eq!(m.of_path("/healthz"), None);
        assert_eq!(m.of_path("/console/login"), None);
        assert_eq!(m.envelope("/healthz"), Dialect::Orgvue);
        for e in api.endpoints() {
            assert_eq!(m.of_path(&e.path), e.dialect, "{} {}", e.method, e.path);
        }
    }

    #[test]
    #[should_panic(expected = "two dialects")]
    fn a_segment_shared_by_two_dialects_is_refused() {
        let e = |path: &str, d| Endpoint {
            method: axum::http::Method::GET,
            path: path.into(),
            summary: "x",
            dialect: Some(d),
        };
        Mounts::of(&[e("/v1/a", Dialect::Apperian), e("/v1/b", Dialect::Orgvue)]);
    }
}
