//! Item actions and value coercion per property type and date format: import options from the query
//! (first line), a JSON array of actions (the rest), prepared and applied as one batch to a working set of
//! two items, as an import does batch by batch.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use orgd_core::data::actions::{self, apply_batch, Done, LinkEnds, Plan, RawAction};
use orgd_core::data::ops::import_options;
use orgd_core::data::row::Row;
use orgd_core::data::Item;
use serde_json::{json, Value};
use std::collections::HashSet;

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
    let rows = vec![
        Row::from_item(&ds, &item("A", 1, json!({"id": 1, "name": "Ana", "boss": null}))),
        Row::from_item(&ds, &item("B", 2, json!({"id": 2, "name": "Bob", "boss": 1, "active": true}))),
    ];
    let plan = Plan::new(&ds, &opts);
    let raw: Vec<RawAction> = list.into_iter().map(RawAction::Json).collect();
    let prepared: Vec<_> = raw.iter().enumerate().map(|(i, a)| actions::prepare(&plan, i, a)).collect();
    let names = raw.iter().map(actions::action_name).collect();
    let mut next = 3;
    let out = apply_batch(&plan, rows, prepared, names, &LinkEnds::default(), 1_700_000_000_000, &mut next);
    assert_eq!(out.results.len(), raw.len(), "one result per action");
    let seqs: HashSet<i64> = out.inserts.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), out.inserts.len(), "new items get distinct seqs");
    assert!(seqs.iter().all(|s| *s >= 3), "and never an existing one");
    assert!(out.updates.iter().all(|r| r.seq == 1 || r.seq == 2), "only the working set's items change");
    assert!(out.deletes.iter().all(|s| *s == 1 || *s == 2));
    if out.results.iter().all(|(_, d)| matches!(d, Done::Failed(_))) {
        assert!(out.inserts.is_empty() && out.updates.is_empty() && out.deletes.is_empty(), "nothing done, nothing written");
    }
    for r in out.inserts.iter().chain(&out.updates) {
        assert_eq!(r.cells.len(), ds.properties.len());
        let _ = r.to_item(&ds);
    }
});
