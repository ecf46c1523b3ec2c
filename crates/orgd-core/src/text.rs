//! Text every store can keep. PostgreSQL's `text` type refuses the NUL character (U+0000) where SQLite
//! keeps it, so the core refuses NUL in every name, identifier and item value: both engines answer the
//! same 400 naming the field, and nothing reaches a store that one engine would refuse.

use crate::error::FieldFault;

/// What a refused value is told.
pub const NUL_REFUSED: &str = "must not contain the NUL character (U+0000)";

/// A fault naming `field` when `s` holds a NUL character.
pub fn storable(field: &str, s: &str) -> Result<(), FieldFault> {
    if s.contains('\0') {
        Err(FieldFault { field: field.into(), message: NUL_REFUSED.into() })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nul_is_refused_naming_the_field() {
        assert!(super::storable("name", "Acme").is_ok());
        assert!(super::storable("name", "").is_ok());
        let f = super::storable("user_id", "a\0b").unwrap_err();
        assert_eq!((f.field.as_str(), f.message.as_str()), ("user_id", super::NUL_REFUSED));
    }
}
