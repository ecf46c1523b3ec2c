//! Presented token strings: id lookup, fixed-secret parsing and verification against a real hash.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orgd_core::token;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let real = token::from_fixed("orgd_fuzzfuzzfuzzfuzz_FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF").expect("valid");
    if let Some(id) = token::lookup_id(text) {
        assert!(text.contains(id));
    }
    if let Some(m) = token::from_fixed(text) {
        assert!(token::verify(text, &m.hash), "a parsed token verifies against its own hash");
    }
    assert_eq!(
        token::verify(text, &real.hash),
        text == "orgd_fuzzfuzzfuzzfuzz_FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    );
});
