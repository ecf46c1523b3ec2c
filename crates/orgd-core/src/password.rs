//! Password hashing: argon2id with the `argon2` crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! recommendation), PHC strings at rest.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

/// Hash a password into a PHC string.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail on a generated salt")
        .to_string()
}

/// Check a password against a PHC string; a malformed string never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spend the same work as a real check, so that an unknown user costs as much time as a wrong password.
pub fn dummy_verify(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("orgd-dummy-password"));
    let _ = verify(password, phc);
}

/// Password checks at once: one core is left for everything else (token-authenticated requests must
/// not starve under a sign-in flood).
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

/// [`verify`] on the blocking pool, at most one per spare core at a time, so that the async workers keep
/// serving other requests while argon2 runs.
pub async fn verify_off_thread(password: &str, phc: &str) -> bool {
    let _slot = hashing_slots().acquire().await.expect("the hashing semaphore is never closed");
    let (password, phc) = (password.to_string(), phc.to_string());
    tokio::task::spawn_blocking(move || verify(&password, &phc)).await.unwrap_or(false)
}

/// [`dummy_verify`] the same way.
pub async fn dummy_verify_off_thread(password: &str) {
    let _slot = hashing_slots().acquire().await.expect("the hashing semaphore is never closed");
    let password = password.to_string();
    let _ = tokio::task::spawn_blocking(move || dummy_verify(&password)).await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_never_hold_the_password() {
        let h = super::hash("S3cret!pw");
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("S3cret"));
        assert!(super::verify("S3cret!pw", &h));
        assert!(!super::verify("S3cret!pW", &h));
        assert!(!super::verify("S3cret!pw", "not-a-hash"));
    }
}
