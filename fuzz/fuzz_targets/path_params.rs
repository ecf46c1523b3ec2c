//! Path parameters read from the path as sent: any bytes give a value per `{name}`, a refusal naming a
//! parameter, or "another shape" — never a panic, never a default; and any UTF-8 values, percent-encoded
//! into a path, come back exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgd_core::path_params::decode;

const TEMPLATE: &str = "/api/v1/{tenantId}/datasets/{datasetId}";

fn encoded(value: &str) -> String {
    value.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    match decode(TEMPLATE, &raw) {
        Ok(Some(params)) => assert_eq!(params.len(), 2, "one value per parameter"),
        Ok(None) => {}
        Err(e) => {
            let named = e.context["pathParameter"].as_str().unwrap_or_default();
            assert!(named == "{tenantId}" || named == "{datasetId}", "the refusal names a parameter: {named}");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut mid = text.len() / 2;
        while !text.is_char_boundary(mid) {
            mid -= 1;
        }
        let (a, b) = text.split_at(mid);
        let path = format!("/api/v1/{}/datasets/{}", encoded(a), encoded(b));
        let got = decode(TEMPLATE, &path).expect("encoded UTF-8 decodes").expect("the template's shape");
        assert_eq!((got[0].1.as_str(), got[1].1.as_str()), (a, b), "values come back exactly");
    }
});
