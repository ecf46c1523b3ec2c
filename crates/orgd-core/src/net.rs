//! IP allow-lists (model §6): IPv4 and IPv6 CIDRs, bare addresses, IPv4-mapped IPv6 clients.

use crate::error::FieldFault;
use ipnet::IpNet;
use std::net::IpAddr;

/// The most entries one list may hold.
pub const MAX_SUBNETS: usize = 50;

/// An allow-list of networks; empty = no restriction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(Vec<IpNet>);

impl CidrList {
    /// The empty (unrestricted) list.
    pub fn any() -> Self {
        CidrList(Vec::new())
    }

    /// Parse entries; each fault names `field[i]`. Bare addresses mean /32 or /128.
    pub fn parse<S: AsRef<str>>(entries: &[S], field: &str) -> Result<Self, Vec<FieldFault>> {
        let mut nets = Vec::new();
        let mut faults = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let e = e.as_ref().trim();
            match parse_net(e) {
                Some(n) => nets.push(n),
                None => faults.push(FieldFault {
                    field: format!("{field}[{i}]"),
                    message: format!("'{e}' is not an IPv4 or IPv6 address or CIDR range (e.g. 203.0.113.0/24)"),
                }),
            }
        }
        if entries.len() > MAX_SUBNETS {
            faults.push(FieldFault {
                field: field.to_string(),
                message: format!("at most {MAX_SUBNETS} entries are allowed, got {}", entries.len()),
            });
        }
        if faults.is_empty() {
            Ok(CidrList(nets))
        } else {
            Err(faults)
        }
    }

    /// Parse a comma-separated list (`10.0.0.0/8, 2001:db8::/32`); empty text = empty list.
    pub fn parse_comma(text: &str, field: &str) -> Result<Self, Vec<FieldFault>> {
        let parts: Vec<&str> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        Self::parse(&parts, field)
    }

    /// True when the list is empty (no restriction).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` may pass: always for an empty list; never for an unknown address otherwise.
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = ip.map(canonical) else { return false };
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The entries as text, normalized (`10.0.0.0/8`).
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|n| n.to_string()).collect()
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n.trunc());
    }
    s.parse::<IpAddr>().ok().map(|ip| IpNet::from(canonical(ip)))
}

/// `::ffff:a.b.c.d` becomes `a.b.c.d`; everything else is unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// How an address prints in refusals: the canonical form, or `unknown`.
pub fn display_ip(ip: Option<IpAddr>) -> String {
    ip.map(|i| canonical(i).to_string()).unwrap_or_else(|| "unknown".into())
}

/// Whether `ip` is not a public address: loopback, private, link-local, unique-local, shared (CGNAT),
/// unspecified, multicast or broadcast. Outbound calls refuse such targets unless allowed.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> CidrList {
        CidrList::parse_comma(s, "subnets").unwrap()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges_match() {
        let l = list("10.0.0.0/8, 192.168.1.7");
        assert!(l.allows(ip("10.200.3.4")));
        assert!(l.allows(ip("192.168.1.7")));
        assert!(!l.allows(ip("192.168.1.8")));
        assert!(!l.allows(ip("127.0.0.1")));
        assert!(CidrList::any().allows(None));
        assert!(!l.allows(None));
    }

    #[test]
    fn internal_addresses_are_told_from_public_ones() {
        for a in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in ["::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::"] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in ["203.0.113.9", "8.8.8.8", "2001:4860::8888", "100.128.0.1"] {
            assert!(!is_internal(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn ipv6_ranges_match() {
        let l = list("2001:db8::/32,::1");
        assert!(l.allows(ip("2001:db8:ffff::1")));
        assert!(!l.allows(ip("2001:db9::1")));
        assert!(l.allows(ip("::1")));
        assert!(!l.allows(ip("::2")));
        assert!(!l.allows(ip("10.0.0.1")));
    }

    #[test]
    fn mapped_ipv4_clients_match_ipv4_rules() {
        let l = list("127.0.0.0/8");
        assert!(l.allows(ip("::ffff:127.0.0.1")));
        let l = list("::ffff:10.1.2.3");
        assert!(l.allows(ip("10.1.2.3")));
        assert_eq!(display_ip(ip("::ffff:10.1.2.3")), "10.1.2.3");
        assert_eq!(display_ip(None), "unknown");
    }

    #[test]
    fn host_bits_are_normalized_and_faults_are_named() {
        assert_eq!(list("10.1.2.3/8").to_strings(), vec!["10.0.0.0/8"]);
        let err = CidrList::parse_comma("10.0.0.0/8, nope, 1.2.3.4/33", "subnets").unwrap_err();
        assert_eq!(err.len(), 2);
        assert_eq!(err[0].field, "subnets[1]");
        assert_eq!(err[1].field, "subnets[2]");
        let many: Vec<String> = (0..51).map(|i| format!("10.0.0.{i}")).collect();
        assert!(CidrList::parse(&many, "subnets").is_err());
    }
}
