//! CIDR lists (token and org subnets): comma-separated text and JSON-style entries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orgd_core::net::CidrList;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(list) = CidrList::parse_comma(text, "subnets") {
        let printed = list.to_strings();
        let again = CidrList::parse(&printed, "subnets").expect("a parsed list prints parseable");
        assert_eq!(again.to_strings(), printed, "printing is stable");
    }
    let entries: Vec<&str> = text.split('\n').collect();
    let _ = CidrList::parse(&entries, "subnets");
});
