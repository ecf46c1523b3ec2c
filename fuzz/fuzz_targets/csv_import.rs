//! CSV import bodies: parsed to item actions in memory (seed files, with and without a default action)
//! and by the streaming parser of file imports (header checks, lines, quoting), whose batches must hold
//! every record it accepts.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use orgd_core::data::csv_actions::parse_with_default;
use orgd_core::data::source::{ActionSource, Format, Parsed};
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_with_default(text, None);
        let _ = parse_with_default(text, Some("createOrUpdate"));
    }
    let ds = common::dataset();
    let bytes = data.to_vec();
    let lines = 1 + data.iter().filter(|&&b| b == b'\n').count() as u64;
    runtime().block_on(async move {
        let mut p = Parsed::spawn(Box::new(std::io::Cursor::new(bytes)), Format::Csv, None, &ds);
        let mut last_line = 0;
        loop {
            match p.next_batch().await {
                Ok(b) if b.is_empty() => break,
                Ok(b) => {
                    for a in &b {
                        let line = a.line().expect("CSV actions know their line");
                        // Lines count `\n` as `wc -l` and `sed` do, so records ended by a lone `\r` share one.
                        assert!(line >= last_line.max(1) && line <= lines, "lines never go back and stay in the file");
                        last_line = line;
                    }
                }
                Err(e) => {
                    assert!(!e.orgvue_message().is_empty());
                    break;
                }
            }
        }
    });
});
