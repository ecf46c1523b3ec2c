//! Export filter and projection: query parameters (first line) and a JSON body (the rest) planned for every
//! format; a fault must come back as an error, never a panic.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use orgd_core::data::ops::plan_sync_export;

fuzz_target!(|data: &[u8]| {
    let Some((query, body)) = common::split(data) else { return };
    let ds = common::dataset();
    let params = common::params(query);
    let body: Option<serde_json::Value> = serde_json::from_str(body).ok();
    for format in ["json", "jsonRows", "csv", "xml"] {
        let _ = plan_sync_export(&ds, format, &params, body.as_ref());
    }
});
