//! Dataset definitions (`POST /api/v1/{tenantId}/datasets` bodies): any JSON gives either a definition
//! that keeps the schema rules or the faults, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orgd_core::data::schema::{parse_new, DatasetType};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(d) = parse_new(&body) else { return };
    let chars = d.name.chars().count();
    assert!((1..=255).contains(&chars), "a name of 1 to 255 characters: {:?}", d.name);
    let mut keys: Vec<&str> = d.properties.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.iter().all(|k| !k.is_empty() && !k.starts_with('_')), "property keys: {keys:?}");
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "property keys are unique");
    let key_of = |k: &Option<String>| k.as_deref().map(|k| d.properties.iter().any(|p| p.key == k && p.required));
    if d.ty == DatasetType::Links {
        assert!(d.auto_id.is_none() && d.tree_id.is_none(), "LINKS have no autoId or tree");
    } else {
        assert_eq!(key_of(&d.auto_id), Some(true), "autoId names a required property");
        assert_eq!(key_of(&d.label_id), Some(true), "labelId names a required property");
        assert_eq!(d.tree_id.is_some(), d.tree_parent_id.is_some(), "treeId and treeParentId go together");
    }
});
