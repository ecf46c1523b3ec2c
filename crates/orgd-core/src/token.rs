//! API and session token strings (model §4): `orgd_<16 base32 id>_<43 base64url secret>`, stored as the
//! lookup id plus the SHA-256 of the whole string, verified in constant time.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "orgd_";
const BASE32_LOWER: data_encoding::Encoding = data_encoding::BASE32_NOPAD;

/// A freshly minted token: the secret string (shown once) and what is stored.
#[derive(Debug, Clone)]
pub struct MintedToken {
    /// The full token string the client presents.
    pub secret: String,
    /// The public lookup id.
    pub token_id: String,
    /// SHA-256 of `secret`.
    pub hash: [u8; 32],
}

/// Make a new token.
pub fn mint() -> MintedToken {
    let mut id = [0u8; 10];
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut id);
    rand::thread_rng().fill_bytes(&mut secret);
    let token_id = BASE32_LOWER.encode(&id).to_ascii_lowercase();
    let s = format!("{PREFIX}{token_id}_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret));
    MintedToken { hash: hash(&s), secret: s, token_id }
}

/// Make a token from a fixed secret string (seed files); `None` if it is not well-formed.
pub fn from_fixed(secret: &str) -> Option<MintedToken> {
    let token_id = lookup_id(secret)?.to_string();
    Some(MintedToken { hash: hash(secret), secret: secret.to_string(), token_id })
}

/// The lookup id of a well-formed token string, `None` for anything malformed.
pub fn lookup_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_at_checked(16)?;
    let secret = secret.strip_prefix('_')?;
    let id_ok = id.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    let secret_ok = secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (id_ok && secret_ok).then_some(id)
}

/// SHA-256 of a token string.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Constant-time comparison of a presented token with a stored hash.
pub fn verify(token: &str, stored_hash: &[u8]) -> bool {
    let h = hash(token);
    stored_hash.len() == 32 && bool::from(h.as_slice().ct_eq(stored_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_have_the_documented_form() {
        let t = mint();
        assert_eq!(t.secret.len(), 5 + 16 + 1 + 43);
        assert_eq!(lookup_id(&t.secret), Some(t.token_id.as_str()));
        assert!(verify(&t.secret, &t.hash));
        assert!(!verify(&mint().secret, &t.hash));
        assert_ne!(mint().secret, t.secret);
    }

    #[test]
    fn malformed_tokens_have_no_lookup_id() {
        assert!(lookup_id("").is_none());
        assert!(lookup_id("orgd_p5hvsnyhgdhoa3ut").is_none());
        assert!(lookup_id("orgd_P5HVSNYHGDHOA3UT_AfOoaSBczpA6b8J01D_iXMfiuftT_cWttVkLMbTCQZ8").is_none());
        assert!(lookup_id("xrgd_p5hvsnyhgdhoa3ut_AfOoaSBczpA6b8J01D_iXMfiuftT_cWttVkLMbTCQZ8").is_none());
        assert!(lookup_id("orgd_p5hvsnyhgdhoa3ut_AfOoaSBczpA6b8J01D_iXMfiuftT_cWttVkLMbTCQZ").is_none());
        assert_eq!(
            lookup_id("orgd_p5hvsnyhgdhoa3ut_AfOoaSBczpA6b8J01D_iXMfiuftT_cWttVkLMbTCQZ8"),
            Some("p5hvsnyhgdhoa3ut")
        );
        assert!(lookup_id("orgd_é5hvsnyhgdhoa3u_AfOoaSBczpA6b8J01D_iXMfiuftT_cWttVkLMbTCQZ8").is_none());
    }
}
