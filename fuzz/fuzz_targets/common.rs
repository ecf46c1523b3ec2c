//! Shared inputs of the fuzz targets: a dataset with one property of every type, query parameters.
#![allow(dead_code)]

use orgd_core::data::schema::parse_new;
use orgd_core::data::Dataset;
use serde_json::json;

/// A hierarchical PEOPLE dataset with text, number, date and boolean properties.
pub fn dataset() -> Dataset {
    let def = json!({"name": "People", "type": "PEOPLE", "autoId": "id", "labelId": "name",
        "treeId": "id", "treeParentId": "boss",
        "properties": [
            {"key": "id", "type": "number", "isRequired": true},
            {"key": "name", "type": "text", "isRequired": true},
            {"key": "boss", "type": "number", "isRequired": true},
            {"key": "born", "type": "date"},
            {"key": "active", "type": "boolean"}]});
    let n = parse_new(&def).expect("the fuzz dataset is valid");
    Dataset {
        id: orgd_core::ids::DatasetId::parse("00000000-0000-0000-0000-000000000001").unwrap(),
        org_id: orgd_core::ids::OrgId::parse("qtvFBASTipf1FiUmQkp-Lw").expect("valid id"),
        name: n.name,
        ty: n.ty,
        auto_id: n.auto_id,
        label_id: n.label_id,
        tree_id: n.tree_id,
        tree_parent_id: n.tree_parent_id,
        tags: vec![],
        properties: n.properties,
        from_dataset: None,
        to_dataset: None,
        cache_key: "k".into(),
        item_count: 0,
        created_at: 0,
        modified_at: 0,
        grants: Default::default(),
        rows: None,
        view: None,
    }
}

/// `a=b&c=d` → pairs (repeats kept), as the server's query extractor gives them.
pub fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

/// Split fuzz input into a query string (first line) and a body (the rest).
pub fn split(data: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(data).ok()?;
    Some(text.split_once('\n').unwrap_or(("", text)))
}
