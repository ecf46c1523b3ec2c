//! CSV import bodies: parsed to item actions with and without a default action.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orgd_core::data::csv_actions::parse_with_default;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_with_default(text, None);
    let _ = parse_with_default(text, Some("createOrUpdate"));
});
