//! Identifier newtypes: parsed once at the edge, trusted everywhere after.

use base64::Engine;
use rand::RngCore;
use std::fmt;

/// An organization's `org_id`: 22 characters of unpadded base64url (16 random bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        OrgId(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parse `^[A-Za-z0-9_-]{22}$`.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 22 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            .then(|| OrgId(s.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organization's `tenant_id`: `^[A-Z][A-Z0-9_]{0,29}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Parse a tenant id; `None` when it does not fit the pattern.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 30
            && b[0].is_ascii_uppercase()
            && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        ok.then(|| TenantId(s.to_string()))
    }

    /// Derive a tenant id from an organization name (model §2): upper-case, runs of other characters
    /// become `_`, trimmed, `T_` prefix unless it starts with a letter, cut to 30; `taken` decides
    /// collisions, which get `_2`, `_3`, … with the stem shortened to stay within 30.
    pub fn derive(name: &str, taken: impl Fn(&str) -> bool) -> Self {
        let mut stem = String::new();
        let mut gap = false;
        for c in name.to_uppercase().chars() {
            if c.is_ascii_uppercase() || c.is_ascii_digit() {
                if gap && !stem.is_empty() {
                    stem.push('_');
                }
                gap = false;
                stem.push(c);
            } else {
                gap = true;
            }
        }
        if stem.is_empty() {
            stem.push('T');
        } else if !stem.starts_with(|c: char| c.is_ascii_uppercase()) {
            stem.insert_str(0, "T_");
        }
        stem.truncate(30);
        let stem = stem.trim_end_matches('_').to_string();
        if !taken(&stem) {
            return TenantId(stem);
        }
        for n in 2.. {
            let suffix = format!("_{n}");
            let mut s = stem.clone();
            s.truncate(30 - suffix.len());
            let candidate = format!("{}{}", s.trim_end_matches('_'), suffix);
            if !taken(&candidate) {
                return TenantId(candidate);
            }
        }
        unreachable!("an unbounded counter always finds a free id")
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new id in the Orgvue form: UUID text, upper-case. A time-ordered UUID (version 7: 48 bits of
/// milliseconds, then 74 random bits), so that items made together sit together in the store's index of
/// ids instead of landing on random pages of it.
pub fn new_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    uuid_text(b, 0x70)
}

/// A UUID-shaped id derived from `text` (SHA-256), for ids that must be the same on every run.
pub fn derived_id(text: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid_text(b, 0x40)
}

/// UUID text of 16 bytes with the given version nibble (`0x40`, `0x70`) and the RFC 4122 variant.
fn uuid_text(mut b: [u8; 16], version: u8) -> String {
    b[6] = (b[6] & 0x0f) | version;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_upper(&b)
}

/// The upper-case hyphenated text of a UUID's 16 bytes, as ids are written.
pub fn uuid_upper(b: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*b).hyphenated().encode_upper(&mut uuid::Uuid::encode_buffer()).to_string()
}

/// Parse UUID text (8-4-4-4-12 hex, any case, no version check) into the upper-case form.
pub fn parse_id(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    (parts.len() == 5 && parts.iter().zip(lens).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit())))
        .then(|| s.to_ascii_uppercase())
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(new_id())
            }

            /// Parse UUID text in any case; `None` when it is not 8-4-4-4-12 hex.
            pub fn parse(s: &str) -> Option<Self> {
                parse_id(s).map($name)
            }

            /// The id as text (upper-case).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id! {
    /// A dataset's `datasetId` (orgvue-dialect §1): UUID text, upper-case.
    DatasetId
}

uuid_id! {
    /// An async job's `jobId` (orgvue-dialect §7.1): UUID text, upper-case.
    JobId
}

uuid_id! {
    /// A draft's `draftId` (orgvue-dialect §9): UUID text, upper-case.
    DraftId
}

uuid_id! {
    /// A webhook subscription's `webhookId` (orgd extension): UUID text, upper-case.
    WebhookId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_follow_the_pattern() {
        assert!(TenantId::parse("ACME").is_some());
        assert!(TenantId::parse("ACME_EU_2").is_some());
        assert!(TenantId::parse("acme").is_none());
        assert!(TenantId::parse("1ACME").is_none());
        assert!(TenantId::parse("").is_none());
        assert!(TenantId::parse(&"A".repeat(31)).is_none());
        assert!(TenantId::parse(&"A".repeat(30)).is_some());
    }

    #[test]
    fn tenant_ids_are_derived_from_names() {
        let free = |_: &str| false;
        assert_eq!(TenantId::derive("Acme Ltd", free).as_str(), "ACME_LTD");
        assert_eq!(TenantId::derive("  acme -- eu!", free).as_str(), "ACME_EU");
        assert_eq!(TenantId::derive("3M Corp", free).as_str(), "T_3M_CORP");
        assert_eq!(TenantId::derive("äöü", free).as_str(), "T");
        assert_eq!(TenantId::derive(&"x".repeat(40), free).as_str(), "X".repeat(30));
        let taken = |s: &str| s == "ACME" || s == "ACME_2";
        assert_eq!(TenantId::derive("acme", taken).as_str(), "ACME_3");
        let long = "Y".repeat(30);
        let taken_long = |s: &str| s == long;
        assert_eq!(TenantId::derive(&long, taken_long).as_str(), format!("{}_2", "Y".repeat(28)));
    }

    #[test]
    fn org_ids_are_22_url_safe_chars() {
        let id = OrgId::generate();
        assert_eq!(id.as_str().len(), 22);
        assert!(OrgId::parse(id.as_str()).is_some());
        assert!(OrgId::parse("short").is_none());
        assert!(OrgId::parse("Xv_hgo4lqNZ5LHqFpN_yf=").is_none());
    }

    #[test]
    fn new_and_derived_ids_are_uuid_text_with_their_version() {
        let hyphens = |id: &str| id.char_indices().filter(|(_, c)| *c == '-').map(|(i, _)| i).collect::<Vec<_>>();
        let id = new_id();
        assert_eq!(parse_id(&id).as_deref(), Some(id.as_str()), "upper-case 8-4-4-4-12 hex");
        assert_eq!(hyphens(&id), [8, 13, 18, 23]);
        assert_eq!(&id[14..15], "7", "version 7: {id}");
        assert!(matches!(&id[19..20], "8" | "9" | "A" | "B"), "RFC 4122 variant: {id}");
        let d = derived_id("people/1");
        assert_eq!(d, derived_id("people/1"), "the same text gives the same id");
        assert_ne!(d, derived_id("people/2"));
        assert_eq!((hyphens(&d), &d[14..15]), (vec![8, 13, 18, 23], "4"));
        assert_eq!(parse_id(&d).as_deref(), Some(d.as_str()));
    }

    #[test]
    fn dataset_and_job_ids_are_uuid_text_upper_cased_at_the_edge() {
        let id = DatasetId::parse("f97434fc-d1b0-701e-d310-a44cc4c84947").unwrap();
        assert_eq!(id.as_str(), "F97434FC-D1B0-701E-D310-A44CC4C84947");
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("F97434FC-D1B0-701E-D310-A44CC4C84947"));
        assert!(DatasetId::parse("people").is_none());
        assert!(JobId::parse("F97434FCD1B0701ED310A44CC4C84947").is_none());
        assert_eq!(JobId::parse(JobId::generate().as_str()).map(|j| j.as_str().len()), Some(36));
    }
}
