//! Datasets: schemas, typed values, item actions, filters, projections and export encoders
//! (orgvue-dialect §3–§6), free of HTTP and SQL.

pub mod actions;
pub mod async_ops;
pub mod csv_actions;
pub mod export;
pub mod filter;
pub mod hierarchy;
pub mod import;
pub mod jobs;
pub mod ops;
pub mod row;
pub mod schema;
pub mod source;
pub mod spool;
pub mod stream;
pub mod values;

pub use schema::{Dataset, DatasetType, Property, PropertyType};

/// A stored item: its id, creation order, timestamps and the properties that hold a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `_id`, upper-case UUID text.
    pub id: String,
    /// Creation order within the dataset.
    pub seq: i64,
    /// Creation time (ms since epoch).
    pub created_at: i64,
    /// Last change (ms since epoch).
    pub modified_at: i64,
    /// Property key → normalized value (text string, number, ISO timestamp string, boolean).
    pub values: serde_json::Map<String, serde_json::Value>,
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
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 15) as usize] as char);
    }
    out
}

/// Parse UUID text (8-4-4-4-12 hex, any case, no version check) into the upper-case form.
pub fn parse_id(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    (parts.len() == 5 && parts.iter().zip(lens).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit())))
        .then(|| s.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_uuid_text() {
        let id = super::new_id();
        assert_eq!(super::parse_id(&id.to_lowercase()), Some(id.clone()));
        assert_eq!(&id[14..15], "7", "time-ordered: {id}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(super::new_id() > id, "later ids sort after earlier ones");
        assert!(super::parse_id("123E4567-E89B-12D3-A456-426614174000").is_some());
        assert!(super::parse_id("123E4567E89B12D3A456426614174000").is_none());
        assert!(super::parse_id("123E4567-E89B-12D3-A456-42661417400G").is_none());
    }
}
