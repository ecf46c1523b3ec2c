//! Datasets: schemas, typed values, item actions, filters, projections and export encoders
//! (orgvue-dialect §3–§6), free of HTTP and SQL.

pub mod actions;
pub mod async_ops;
pub mod chart;
pub mod csv_actions;
pub mod drafts;
pub mod evolve;
pub mod export;
pub mod filter;
pub mod grants;
pub mod hierarchy;
pub mod history;
pub mod import;
pub mod jobs;
pub mod ops;
pub mod row;
pub mod schema;
pub mod source;
pub mod spool;
pub mod stream;
pub mod values;
pub mod views;

pub use schema::{Dataset, DatasetType, Property, PropertyType};

/// A stored item: its id, creation order, timestamps and the properties that hold a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `_id`, upper-case UUID text.
    pub id: String,
    /// Creation order within the dataset.
    pub seq: i64,
    /// Creation time (ms since epoch).
    pub created_at: i64,
    /// Last change (ms since epoch).
    pub modified_at: i64,
    /// Property key → normalized value (text string, number, ISO timestamp string, boolean).
    pub values: serde_json::Map<String, serde_json::Value>,
}

impl Item {
    /// The item as `GET …/items/{itemId}` shows it: `_id` and the properties that hold a value.
    pub fn raw_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::with_capacity(self.values.len() + 1);
        m.insert("_id".into(), serde_json::Value::String(self.id.clone()));
        m.extend(self.values.iter().map(|(k, v)| (k.clone(), v.clone())));
        serde_json::Value::Object(m)
    }
}

pub use crate::ids::{derived_id, new_id, parse_id};

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_uuid_text() {
        let id = crate::ids::new_id();
        assert_eq!(crate::ids::parse_id(&id.to_lowercase()), Some(id.clone()));
        assert_eq!(&id[14..15], "7", "time-ordered: {id}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(crate::ids::new_id() > id, "later ids sort after earlier ones");
        assert!(crate::ids::parse_id("123E4567-E89B-12D3-A456-426614174000").is_some());
        assert!(crate::ids::parse_id("123E4567E89B12D3A456426614174000").is_none());
        assert!(crate::ids::parse_id("123E4567-E89B-12D3-A456-42661417400G").is_none());
    }
}
