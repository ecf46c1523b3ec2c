//! Item actions and value coercion per property type and date format: import options from the query
//! (first line), a JSON array of actions (the rest), applied to a dataset that already holds two items.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use orgd_core::data::actions::{self, LinkEnds};
use orgd_core::data::ops::import_options;
use orgd_core::data::Item;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Some((query, body)) = common::split(data) else { return };
    let ds = common::dataset();
    let Ok(opts) = import_options(&ds, &common::params(query)) else { return };
    let Ok(Value::Array(list)) = serde_json::from_str::<Value>(body) else { return };
    let item = |id: &str, seq: i64, v: Value| Item {
        id: id.into(),
        seq,
        values: v.as_object().cloned().unwrap_or_default(),
        created_at: 0,
        modified_at: 0,
    };
    let items = vec![
        item("A", 1, json!({"id": 1, "name": "Ana", "boss": null})),
        item("B", 2, json!({"id": 2, "name": "Bob", "boss": 1, "active": true})),
    ];
    let outcome = actions::apply(&ds, items, &list, &opts, &LinkEnds::default(), 1_700_000_000_000);
    if !opts.skip_failures && !outcome.errors.is_empty() {
        assert!(outcome.changes.is_empty(), "in fail mode one failure means no change at all");
    }
});
