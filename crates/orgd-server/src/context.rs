//! What every layer and handler knows of a request ([`RequestInfo`]: trace id, client address, dialect)
//! and what the access pipeline learns of it on the way ([`Slot`]), set by the outermost layer,
//! [`request_info`], which also stamps the trace id on the answer.

use crate::mounts::Mounts;
use crate::render::Dialect;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use orgd_core::ids::OrgId;
use orgd_core::usage::Admission;
use parking_lot::Mutex;
use rand::RngCore;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The TCP peer of a connection, set by the listener.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Facts about the request that layers, extractors and handlers read.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// `Root=1-<8 hex>-<24 hex>`.
    pub trace_id: String,
    /// The client address (`None` = could not be determined).
    pub client_ip: Option<IpAddr>,
    /// The dialect of the API the path is mounted in ([`Mounts`]); `None` outside both APIs.
    pub api: Option<Dialect>,
    /// The envelope of its answers: the API's dialect, else Orgvue's.
    pub dialect: Dialect,
    /// What the access pipeline learned, for the layers that run after the handler.
    pub slot: Arc<Mutex<Slot>>,
}

impl RequestInfo {
    /// The request's info, set by [`request_info`], the outermost layer of every route.
    pub fn of<B>(req: &axum::http::Request<B>) -> RequestInfo {
        req.extensions().get::<RequestInfo>().cloned().expect("the request-info layer runs on every route")
    }
}

/// What the access pipeline (extractors, sign-in) learns of a request, written as it goes and read by
/// the layers on the way out: the log line and journal ([`crate::access_log`]), CORS ([`crate::cors`]) and
/// the usage headers ([`crate::admission`]). A shared record, as crates.io keeps its log metadata,
/// because an extractor cannot reach the response.
#[derive(Debug, Default)]
pub struct Slot {
    admission: Option<Admission>,
    tenant: Option<String>,
    token_id: Option<String>,
    home_org: Option<OrgId>,
    fault: bool,
}

impl Slot {
    /// The presented token's lookup id (known before the token is checked, so refusals are logged with it).
    pub fn token(&mut self, id: &str) {
        self.token_id = Some(id.to_string());
    }

    /// The caller's home org, once the token is checked: it decides CORS when the path names no org.
    pub fn home_org(&mut self, org: &OrgId) {
        self.home_org = Some(org.clone());
    }

    /// The acting tenant.
    pub fn tenant(&mut self, tenant: &str) {
        self.tenant = Some(tenant.to_string());
    }

    /// The usage-plan admission, held until the answer has been sent.
    pub fn admitted(&mut self, admission: Admission) {
        self.admission = Some(admission);
    }

    /// An injected fault (stand-in) answered or delayed the request.
    pub fn faulted(&mut self) {
        self.fault = true;
    }

    /// The tenant and token, for the log line.
    pub fn who(&self) -> (Option<String>, Option<String>) {
        (self.tenant.clone(), self.token_id.clone())
    }

    /// Whether a fault was injected.
    pub fn was_faulted(&self) -> bool {
        self.fault
    }

    /// The caller's home org, if known.
    pub fn caller_home(&self) -> Option<OrgId> {
        self.home_org.clone()
    }

    /// The admission, taken by the layer that holds it until the body is sent.
    pub fn take_admission(&mut self) -> Option<Admission> {
        self.admission.take()
    }
}

/// A new trace id in the AWS X-Ray form.
pub fn new_trace_id() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut rnd = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut rnd);
    format!("Root=1-{:08x}-{}", secs as u32, hex::encode(rnd))
}

/// The client address: the peer, or, when the peer is a trusted proxy, the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy. A malformed header makes the address unknown (fail closed).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer.map(orgd_core::net::canonical)?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(s) = v.to_str() else { return None };
        hops.extend(s.split(',').map(str::trim).filter(|h| !h.is_empty()));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let ip = orgd_core::net::canonical(hop.parse::<IpAddr>().ok()?);
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// The layer: make the request's [`RequestInfo`], and stamp its trace id on the answer.
pub async fn request_info(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let trace_id = new_trace_id();
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let client_ip = client_ip(peer, req.headers(), &state.config.trusted_proxies);
    let api = Mounts::served().of_path(req.uri().path());
    let info = RequestInfo {
        trace_id: trace_id.clone(),
        client_ip,
        api,
        dialect: api.unwrap_or(Dialect::Orgvue),
        slot: Arc::default(),
    };
    req.extensions_mut().insert(info);
    // The changes the request makes are recorded with its address and trace id, and with its caller once
    // the access pipeline knows it ([`crate::extract`]).
    let events = orgd_core::events::Context {
        actor: orgd_core::events::Actor::system(),
        ip: client_ip.map(|ip| orgd_core::net::display_ip(Some(ip))),
        trace_id: Some(trace_id.clone()),
        clock: Some(state.clock.clone()),
    };
    let mut res = orgd_core::events::scope(events, next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&trace_id) {
        res.headers_mut().insert("x-amzn-trace-id", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = Some("10.1.1.1".parse().unwrap());
        let stranger = Some("203.0.113.9".parse().unwrap());
        assert_eq!(client_ip(stranger, &headers(&["1.2.3.4"]), &trusted), stranger);
        assert_eq!(client_ip(peer, &headers(&["1.2.3.4, 10.2.2.2"]), &trusted), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(
            client_ip(peer, &headers(&["6.6.6.6, 1.2.3.4", "10.9.9.9"]), &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(client_ip(peer, &headers(&[]), &trusted), peer);
        assert_eq!(client_ip(peer, &headers(&["garbage"]), &trusted), None);
        assert_eq!(client_ip(Some("::ffff:203.0.113.9".parse().unwrap()), &headers(&[]), &trusted), stranger);
    }

    #[test]
    fn trace_ids_have_the_xray_form() {
        let t = new_trace_id();
        assert!(t.starts_with("Root=1-"));
        let parts: Vec<&str> = t.split('-').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].len(), 8);
        assert_eq!(parts[2].len(), 24);
    }
}
