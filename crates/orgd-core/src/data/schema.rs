//! Dataset schemas (orgvue-dialect §3.3–§3.4): parsing a create request and rendering metadata.

use crate::error::FieldFault;
use crate::ids::{DatasetId, OrgId};
use serde_json::{json, Map, Value};

/// Dataset types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetType {
    /// People records.
    People,
    /// Positions.
    Positions,
    /// Roles.
    Roles,
    /// Activities.
    Activities,
    /// Lookup tables.
    Lookup,
    /// Links between two datasets.
    Links,
}

impl DatasetType {
    /// Parse the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PEOPLE" => Self::People,
            "POSITIONS" => Self::Positions,
            "ROLES" => Self::Roles,
            "ACTIVITIES" => Self::Activities,
            "LOOKUP" => Self::Lookup,
            "LINKS" => Self::Links,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::People => "PEOPLE",
            Self::Positions => "POSITIONS",
            Self::Roles => "ROLES",
            Self::Activities => "ACTIVITIES",
            Self::Lookup => "LOOKUP",
            Self::Links => "LINKS",
        }
    }
}

/// Property value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    /// Text.
    Text,
    /// Number.
    Number,
    /// Date (an instant).
    Date,
    /// Boolean.
    Boolean,
}

impl PropertyType {
    /// Parse the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => Self::Text,
            "number" => Self::Number,
            "date" => Self::Date,
            "boolean" => Self::Boolean,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Boolean => "boolean",
        }
    }
}

/// One property of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Key (unique, not starting with `_`).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Value type.
    pub ty: PropertyType,
    /// Must hold a value after create/replace.
    pub required: bool,
    /// Generated, read-only (`link_id`).
    pub read_only: bool,
    /// The storage column that holds its values: its place at creation, kept when others are removed.
    pub column: usize,
}

/// A dataset's definition and bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `datasetId`.
    pub id: DatasetId,
    /// Owning org.
    pub org_id: OrgId,
    /// Name, unique in the tenant.
    pub name: String,
    /// Type.
    pub ty: DatasetType,
    /// Identifying property.
    pub auto_id: Option<String>,
    /// Label property.
    pub label_id: Option<String>,
    /// Hierarchy: the item's own key.
    pub tree_id: Option<String>,
    /// Hierarchy: the parent's key.
    pub tree_parent_id: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Properties in creation order.
    pub properties: Vec<Property>,
    /// LINKS: the from dataset.
    pub from_dataset: Option<DatasetId>,
    /// LINKS: the to dataset.
    pub to_dataset: Option<DatasetId>,
    /// Opaque key that changes with every data or schema change.
    pub cache_key: String,
    /// Number of items.
    pub item_count: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub modified_at: i64,
    /// Who may do what with it.
    pub grants: super::grants::Grants,
    /// In a caller's view ([`super::grants::view`]): the only items it may see and act on, when a row rule
    /// limits them. Never stored.
    pub rows: Option<super::filter::Filter>,
    /// A permissioned view: a saved projection and filter over another dataset, with grants of its own.
    pub view: Option<View>,
}

/// What a permissioned view shows of its dataset (orgvue-dialect §12).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The dataset it shows.
    pub of: DatasetId,
    /// The properties it shows, by key (the dataset's identifying and hierarchy ones always).
    pub projection: Vec<String>,
    /// The items it shows: a filter (§5.1), `{}` for all.
    pub filter: Value,
}

impl Dataset {
    /// The dataset whose items table holds the items: its own, or a view's dataset's.
    pub fn table_id(&self) -> &DatasetId {
        self.view.as_ref().map_or(&self.id, |v| &v.of)
    }

    /// Refuse changing items or the schema of a permissioned view (40332): it is read-only.
    pub fn writable(&self) -> Result<(), crate::error::ApiError> {
        match &self.view {
            None => Ok(()),
            Some(v) => Err(crate::error::ApiError::new(crate::error::ErrorCode::DatasetPermissionDenied).with_message(
                format!("'{}' is a permissioned view, read-only: change its dataset {} instead.", self.name, v.of),
            )),
        }
    }

    /// A property by key.
    pub fn property(&self, key: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.key == key)
    }

    /// Whether the dataset has a hierarchy.
    pub fn is_hierarchical(&self) -> bool {
        self.tree_id.is_some() && self.tree_parent_id.is_some()
    }

    /// Whether a property is a core one (identifying, label, hierarchy, link ends).
    pub fn is_core(&self, key: &str) -> bool {
        [&self.auto_id, &self.label_id, &self.tree_id, &self.tree_parent_id].iter().any(|k| k.as_deref() == Some(key))
            || (self.ty == DatasetType::Links && (key == "from_id" || key == "to_id"))
    }

    /// The metadata object (orgvue-dialect §3.4) without `_links`.
    pub fn metadata(&self) -> Value {
        let mut m = Map::new();
        m.insert("datasetId".into(), json!(self.id));
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.ty.as_str()));
        for (k, v) in [
            ("autoId", &self.auto_id),
            ("labelId", &self.label_id),
            ("treeId", &self.tree_id),
            ("treeParentId", &self.tree_parent_id),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if let (Some(f), Some(t)) = (&self.from_dataset, &self.to_dataset) {
            m.insert("fromDatasetId".into(), json!(f));
            m.insert("toDatasetId".into(), json!(t));
        }
        m.insert("tags".into(), json!(self.tags));
        m.insert("isPermissionedView".into(), json!(self.view.is_some()));
        if let Some(v) = &self.view {
            m.insert("view".into(), json!({"datasetId": v.of, "projection": v.projection, "filter": v.filter}));
        }
        let props: Vec<Value> = self
            .properties
            .iter()
            .map(|p| {
                let mut o = Map::new();
                o.insert("key".into(), json!(p.key));
                o.insert("type".into(), json!(p.ty.as_str()));
                o.insert("name".into(), json!(p.name));
                o.insert("isRequired".into(), json!(p.required));
                for (flag, k) in [
                    ("isAutoId", &self.auto_id),
                    ("isLabelId", &self.label_id),
                    ("isTreeId", &self.tree_id),
                    ("isTreeParentId", &self.tree_parent_id),
                ] {
                    if k.as_deref() == Some(p.key.as_str()) {
                        o.insert(flag.into(), json!(true));
                    }
                }
                if self.is_core(&p.key) {
                    o.insert("isCore".into(), json!(true));
                }
                if p.read_only {
                    o.insert("isReadOnly".into(), json!(true));
                }
                Value::Object(o)
            })
            .collect();
        m.insert("properties".into(), Value::Array(props));
        m.insert("cacheKey".into(), json!(self.cache_key));
        m.insert("itemCount".into(), json!(self.item_count));
        m.insert("createdAt".into(), json!(crate::clock::iso_millis(crate::clock::from_millis(self.created_at))));
        m.insert("modifiedAt".into(), json!(crate::clock::iso_millis(crate::clock::from_millis(self.modified_at))));
        Value::Object(m)
    }

    /// The stored definition (everything but bookkeeping) as JSON.
    pub fn definition_json(&self) -> Value {
        let mut d = json!({
            "autoId": self.auto_id, "labelId": self.label_id, "treeId": self.tree_id, "treeParentId": self.tree_parent_id,
            "tags": self.tags, "fromDatasetId": self.from_dataset, "toDatasetId": self.to_dataset,
            "properties": self.properties.iter().map(|p| json!({"key": p.key, "name": p.name, "type": p.ty.as_str(),
                "isRequired": p.required, "readOnly": p.read_only, "column": p.column})).collect::<Vec<_>>(),
        });
        if let Some(g) = self.grants.stored() {
            d["grants"] = g;
        }
        if let Some(v) = &self.view {
            // A view keeps only what it adds; the rest is its dataset's, read when it is resolved.
            d["properties"] = json!([]);
            d["view"] = json!({"of": v.of, "projection": v.projection, "filter": v.filter});
        }
        d
    }

    /// Rebuild from the stored definition.
    pub fn from_definition(base: Dataset, def: &Value) -> Dataset {
        let s = |k: &str| def.get(k).and_then(Value::as_str).map(String::from);
        let properties = def
            .get("properties")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(i, p)| Property {
                        key: p["key"].as_str().unwrap_or_default().to_string(),
                        name: p["name"].as_str().unwrap_or_default().to_string(),
                        ty: PropertyType::parse(p["type"].as_str().unwrap_or("text")).unwrap_or(PropertyType::Text),
                        required: p["isRequired"].as_bool().unwrap_or(false),
                        read_only: p["readOnly"].as_bool().unwrap_or(false),
                        column: p["column"].as_u64().map_or(i, |c| c as usize),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Dataset {
            auto_id: s("autoId"),
            label_id: s("labelId"),
            tree_id: s("treeId"),
            tree_parent_id: s("treeParentId"),
            tags: def
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            from_dataset: s("fromDatasetId").and_then(|d| DatasetId::parse(&d)),
            to_dataset: s("toDatasetId").and_then(|d| DatasetId::parse(&d)),
            properties,
            grants: super::grants::Grants::from_stored(def.get("grants")),
            rows: None,
            view: def.get("view").and_then(|v| {
                Some(View {
                    of: DatasetId::parse(v["of"].as_str()?)?,
                    projection: v["projection"]
                        .as_array()?
                        .iter()
                        .filter_map(|k| k.as_str().map(String::from))
                        .collect(),
                    filter: v["filter"].clone(),
                })
            }),
            ..base
        }
    }
}

fn fault(field: &str, message: &str) -> FieldFault {
    FieldFault { field: field.into(), message: message.into() }
}

/// A validated create request; LINKS end datasets still have to be checked against the tenant.
#[derive(Debug)]
pub struct NewDataset {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: DatasetType,
    /// autoId.
    pub auto_id: Option<String>,
    /// labelId.
    pub label_id: Option<String>,
    /// treeId.
    pub tree_id: Option<String>,
    /// treeParentId.
    pub tree_parent_id: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Properties as sent (LINKS core properties are added by the caller, who knows the end types).
    pub properties: Vec<Property>,
    /// LINKS from.
    pub from_dataset: Option<DatasetId>,
    /// LINKS to.
    pub to_dataset: Option<DatasetId>,
}

/// Parse one property definition `{key, type, name?, isRequired?}` found at `path`, beside `others`; each
/// fault goes to `faults` (the property is still returned when only its extras are wrong). Its column is
/// the caller's to give.
pub fn parse_property(p: &Value, path: &str, others: &[Property], faults: &mut Vec<FieldFault>) -> Option<Property> {
    let Some(p) = p.as_object() else {
        faults.push(fault(
            if path.is_empty() { "body" } else { path },
            "must be an object {key, type, name?, isRequired?}",
        ));
        return None;
    };
    let at = |f: &str| if path.is_empty() { f.to_string() } else { format!("{path}.{f}") };
    let key = p.get("key").and_then(Value::as_str).unwrap_or("");
    if key.is_empty() || key.chars().count() > 255 {
        faults.push(fault(&at("key"), "must be a string of 1 to 255 characters"));
    } else if key.starts_with('_') {
        faults.push(fault(&at("key"), "must not start with _ (reserved for system keys)"));
    } else if let Err(f) = crate::text::storable(&at("key"), key) {
        faults.push(f);
    } else if others.iter().any(|q| q.key == key) {
        faults.push(fault(&at("key"), &format!("repeats the key '{key}'")));
    }
    let ty = p.get("type").and_then(Value::as_str).and_then(PropertyType::parse);
    if ty.is_none() {
        faults.push(fault(&at("type"), "must be one of text, number, date, boolean"));
    }
    let name = match p.get("name") {
        None | Some(Value::Null) => key.to_string(),
        Some(Value::String(s)) if s.chars().count() <= 255 && !s.contains('\0') => s.clone(),
        Some(_) => {
            faults.push(fault(&at("name"), "must be a string of at most 255 characters, without NUL"));
            key.to_string()
        }
    };
    let required = match p.get("isRequired") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(r)) => *r,
        Some(_) => {
            faults.push(fault(&at("isRequired"), "must be true or false"));
            false
        }
    };
    for k in p.keys() {
        if !["key", "type", "name", "isRequired"].contains(&k.as_str()) {
            faults.push(fault(&at(k), "unknown field"));
        }
    }
    Some(Property {
        key: key.into(),
        name,
        ty: ty.unwrap_or(PropertyType::Text),
        required,
        read_only: false,
        column: 0,
    })
}

/// Parse and check a create body; every fault is one entry.
pub fn parse_new(body: &Value) -> Result<NewDataset, Vec<FieldFault>> {
    let Some(b) = body.as_object() else { return Err(vec![fault("body", "must be a JSON object")]) };
    let mut faults = Vec::new();
    let string = |k: &str, faults: &mut Vec<FieldFault>| match b.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            faults.push(fault(k, "must be a string"));
            None
        }
    };
    let name = string("name", &mut faults);
    let absent = |k: &str| matches!(b.get(k), None | Some(Value::Null));
    match &name {
        None if absent("name") => faults.push(fault("name", "is required")),
        Some(n) if n.trim().is_empty() || n.chars().count() > 255 => {
            faults.push(fault("name", "must be 1 to 255 characters"))
        }
        Some(n) => faults.extend(crate::text::storable("name", n).err()),
        _ => {}
    }
    let ty = match string("type", &mut faults) {
        Some(t) => DatasetType::parse(&t).or_else(|| {
            faults.push(fault("type", "must be one of PEOPLE, POSITIONS, ROLES, ACTIVITIES, LOOKUP, LINKS"));
            None
        }),
        None => {
            if absent("type") {
                faults.push(fault("type", "is required"));
            }
            None
        }
    };
    let auto_id = string("autoId", &mut faults);
    let label_id = string("labelId", &mut faults);
    let tree_id = string("treeId", &mut faults);
    let tree_parent_id = string("treeParentId", &mut faults);
    let from_dataset = string("fromDatasetId", &mut faults);
    let to_dataset = string("toDatasetId", &mut faults);
    let mut tags = Vec::new();
    match b.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            if a.len() > 50 {
                faults.push(fault("tags", "at most 50 tags"));
            }
            for (i, t) in a.iter().enumerate() {
                match t.as_str() {
                    Some(s) if s.chars().count() <= 100 && !s.contains('\0') => tags.push(s.to_string()),
                    _ => faults
                        .push(fault(&format!("tags[{i}]"), "must be a string of at most 100 characters, without NUL")),
                }
            }
        }
        Some(_) => faults.push(fault("tags", "must be a list of strings")),
    }
    let mut properties: Vec<Property> = Vec::new();
    match b.get("properties") {
        Some(Value::Array(a)) => {
            if a.len() > 1000 {
                faults.push(fault("properties", "at most 1000 properties"));
            }
            for (i, p) in a.iter().enumerate() {
                if let Some(p) = parse_property(p, &format!("properties[{i}]"), &properties, &mut faults) {
                    properties.push(Property { column: properties.len(), ..p });
                }
            }
        }
        None => faults.push(fault("properties", "is required")),
        Some(_) => faults.push(fault("properties", "must be a list of {key, type, name?, isRequired?}")),
    }
    let required_key = |field: &str, key: &Option<String>, faults: &mut Vec<FieldFault>| {
        if let Some(k) = key {
            match properties.iter().find(|p| &p.key == k) {
                Some(p) if p.required => {}
                Some(_) => faults.push(fault(field, &format!("names '{k}', which must have isRequired: true"))),
                None => faults.push(fault(field, &format!("names '{k}', which is not a property of the dataset"))),
            }
        }
    };
    if ty == Some(DatasetType::Links) {
        for (f, v) in
            [("autoId", &auto_id), ("labelId", &label_id), ("treeId", &tree_id), ("treeParentId", &tree_parent_id)]
        {
            if v.is_some() {
                faults.push(fault(f, "must be absent on a LINKS dataset"));
            }
        }
        for (f, v) in [("fromDatasetId", &from_dataset), ("toDatasetId", &to_dataset)] {
            match v {
                None => faults.push(fault(f, "is required on a LINKS dataset")),
                Some(id) if super::parse_id(id).is_none() => faults.push(fault(f, "must be a dataset id (UUID)")),
                _ => {}
            }
        }
        for (i, p) in properties.iter().enumerate() {
            if ["from_id", "to_id", "link_id"].contains(&p.key.as_str()) {
                faults.push(fault(&format!("properties[{i}].key"), "from_id, to_id and link_id are added by orgd"));
            }
        }
    } else if ty.is_some() {
        for (f, v) in [("fromDatasetId", &from_dataset), ("toDatasetId", &to_dataset)] {
            if v.is_some() {
                faults.push(fault(f, "is only for LINKS datasets"));
            }
        }
        if auto_id.is_none() {
            faults.push(fault("autoId", "is required"));
        }
        if label_id.is_none() {
            faults.push(fault("labelId", "is required"));
        }
        required_key("autoId", &auto_id, &mut faults);
        required_key("labelId", &label_id, &mut faults);
        if tree_id.is_some() != tree_parent_id.is_some() {
            faults.push(fault(
                if tree_id.is_some() { "treeParentId" } else { "treeId" },
                "treeId and treeParentId go together",
            ));
        }
        required_key("treeId", &tree_id, &mut faults);
        // An HR file leaves the manager of the top person empty: the parent key may be optional.
        if let Some(k) = &tree_parent_id {
            if !properties.iter().any(|p| &p.key == k) {
                faults.push(fault("treeParentId", &format!("names '{k}', which is not a property of the dataset")));
            }
        }
    }
    for k in b.keys() {
        if ![
            "name",
            "type",
            "autoId",
            "labelId",
            "treeId",
            "treeParentId",
            "tags",
            "properties",
            "fromDatasetId",
            "toDatasetId",
        ]
        .contains(&k.as_str())
        {
            faults.push(fault(k, "unknown field"));
        }
    }
    let (Some(ty), true) = (ty, faults.is_empty()) else { return Err(faults) };
    Ok(NewDataset {
        name: name.unwrap_or_default().trim().to_string(),
        ty,
        auto_id,
        label_id,
        tree_id,
        tree_parent_id,
        tags,
        properties,
        from_dataset: from_dataset.and_then(|d| DatasetId::parse(&d)),
        to_dataset: to_dataset.and_then(|d| DatasetId::parse(&d)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Value {
        json!({"name":"People","type":"PEOPLE","autoId":"Employee ID","labelId":"Full Name","treeId":"Employee ID",
         "treeParentId":"Manager ID","tags":["hris"],"properties":[{"key":"Employee ID","type":"number","isRequired":true},
         {"key":"Manager ID","type":"number","isRequired":true},{"key":"Full Name","type":"text","isRequired":true},
         {"key":"Start Date","name":"Start Date","type":"date"}]})
    }

    #[test]
    fn a_null_name_or_type_is_missing_not_a_crash() {
        let faults = parse_new(&json!({"name": null, "type": null, "properties": []})).unwrap_err();
        let fields: Vec<&str> = faults.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "type"], "{faults:?}");
        assert!(faults.iter().all(|f| f.message == "is required"));
        let faults = parse_new(&json!({"name": "0", "type": null, "autoId": "", "labelId": "", "properties": [],
            "fromDatasetId": "00000000-0000-0000-0000-000000000000"}))
        .unwrap_err();
        assert!(faults.iter().any(|f| f.field == "type" && f.message == "is required"), "{faults:?}");
    }

    #[test]
    fn the_contract_example_parses() {
        let d = parse_new(&people()).unwrap();
        assert_eq!(d.properties.len(), 4);
        assert_eq!(d.tree_parent_id.as_deref(), Some("Manager ID"));
    }

    #[test]
    fn schema_faults_are_named() {
        let mut b = people();
        b["labelId"] = json!("Start Date");
        b["treeParentId"] = Value::Null;
        b["properties"][1]["type"] = json!("money");
        b["properties"][2]["key"] = json!("_x");
        let f: Vec<String> = parse_new(&b).unwrap_err().into_iter().map(|f| f.field).collect();
        assert_eq!(f, ["properties[1].type", "properties[2].key", "labelId", "treeParentId"]);
        let links = json!({"name":"L","type":"LINKS","autoId":"x","properties":[],"fromDatasetId":"nope"});
        let f: Vec<String> = parse_new(&links).unwrap_err().into_iter().map(|f| f.field).collect();
        assert_eq!(f, ["autoId", "fromDatasetId", "toDatasetId"]);
    }
}
