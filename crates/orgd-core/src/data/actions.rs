//! Item actions (orgvue-dialect §6): identification, value coercion, the seven actions, implicit
//! deletion, and the per-action results. Pure: works on the dataset's items in memory and returns the
//! changes to write, so one transaction can apply them or none.

use super::values::{coerce, DateFormat};
use super::{new_id, Dataset, DatasetType, Item, PropertyType};
use crate::error::ErrorCode;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// How actions identify items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identify {
    /// By `_id` (default).
    Id,
    /// By the dataset's autoId property.
    AutoId,
    /// By the tuple of these properties.
    Keys(Vec<String>),
    /// LINKS: by `from_id` + `to_id`.
    Link,
}

/// Import options (orgvue-dialect §3.9).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Identification mode (`None` = by `_id`, or by link ends on LINKS datasets).
    pub identify: Option<Identify>,
    /// Date format of date values.
    pub date_format: DateFormat,
    /// Delete every item no action identified.
    pub implicit_delete: bool,
    /// A value equal to it leaves the property unchanged.
    pub noop_token: Option<String>,
    /// A value equal to it clears the property.
    pub clear_token: Option<String>,
    /// `onActionValidationFailure=skip`.
    pub skip_failures: bool,
    /// Derive new items' ids from this text and the action's index instead of at random, so that the
    /// same seed file always makes the same ids.
    pub derived_ids: Option<String>,
}

/// One write to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new item.
    Insert(Item),
    /// A changed item.
    Update(Item),
    /// A deleted item id.
    Delete(String),
}

/// What an import produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One result per action, then the implicit deletions (the 200 body).
    pub results: Vec<Value>,
    /// Every failing action's error object (the 400 body in `fail` mode).
    pub errors: Vec<Value>,
    /// The writes (empty when `fail` mode found a failure).
    pub changes: Vec<Change>,
}

const ACTIONS: &[&str] = &["create", "update", "replace", "delete", "noop", "createOrUpdate", "createOrReplace"];

fn key_of(v: &Value) -> String {
    v.to_string()
}

struct Failure {
    code: ErrorCode,
    path: String,
    reason: &'static str,
    message: String,
}

fn fail(i: usize, key: Option<&str>, reason: &'static str, message: impl Into<String>) -> Failure {
    let code = if matches!(reason, "itemAlreadyExists" | "duplicateKey") {
        ErrorCode::Conflict
    } else {
        ErrorCode::RequestBodyInvalid
    };
    let path = match key {
        Some(k) => format!("[{i}].{k}"),
        None => format!("[{i}]"),
    };
    Failure { code, path, reason, message: message.into() }
}

impl Failure {
    fn to_json(&self, i: usize) -> Value {
        json!({"name": self.code.name(), "code": self.code.code().to_string(), "message": self.message,
               "path": self.path, "actionIndex": i, "reason": self.reason})
    }
}

/// The in-memory state actions work on.
struct State<'a> {
    ds: &'a Dataset,
    items: Vec<Option<Item>>,
    by_id: HashMap<String, usize>,
    by_auto: HashMap<String, usize>,
    by_tree: HashMap<String, usize>,
    by_keys: HashMap<Vec<String>, Vec<usize>>,
    keys: Vec<String>,
    next_seq: i64,
}

impl<'a> State<'a> {
    fn new(ds: &'a Dataset, items: Vec<Item>, keys: Vec<String>) -> Self {
        let next_seq = items.iter().map(|i| i.seq).max().unwrap_or(0) + 1;
        let mut s = State {
            ds,
            items: Vec::with_capacity(items.len()),
            by_id: HashMap::new(),
            by_auto: HashMap::new(),
            by_tree: HashMap::new(),
            by_keys: HashMap::new(),
            keys,
            next_seq,
        };
        for it in items {
            let idx = s.items.len();
            s.items.push(Some(it));
            s.index(idx);
        }
        s
    }

    fn auto_key(&self) -> Option<&str> {
        if self.ds.ty == DatasetType::Links {
            Some("link_id")
        } else {
            self.ds.auto_id.as_deref()
        }
    }

    fn tuple(&self, it: &Item) -> Option<Vec<String>> {
        self.keys.iter().map(|k| it.values.get(k).map(key_of)).collect()
    }

    fn index(&mut self, idx: usize) {
        let Some(it) = self.items[idx].clone() else { return };
        self.by_id.insert(it.id.clone(), idx);
        if let Some(v) = self.auto_key().and_then(|k| it.values.get(k)) {
            self.by_auto.insert(key_of(v), idx);
        }
        if let Some(v) = self.ds.tree_id.as_ref().and_then(|k| it.values.get(k)) {
            self.by_tree.insert(key_of(v), idx);
        }
        if !self.keys.is_empty() {
            if let Some(t) = self.tuple(&it) {
                self.by_keys.entry(t).or_default().push(idx);
            }
        }
    }

    fn unindex(&mut self, idx: usize) {
        let Some(it) = self.items[idx].clone() else { return };
        self.by_id.remove(&it.id);
        if let Some(v) = self.auto_key().and_then(|k| it.values.get(k)) {
            if self.by_auto.get(&key_of(v)) == Some(&idx) {
                self.by_auto.remove(&key_of(v));
            }
        }
        if let Some(v) = self.ds.tree_id.as_ref().and_then(|k| it.values.get(k)) {
            if self.by_tree.get(&key_of(v)) == Some(&idx) {
                self.by_tree.remove(&key_of(v));
            }
        }
        if let Some(t) = self.tuple(&it) {
            if let Some(list) = self.by_keys.get_mut(&t) {
                list.retain(|x| *x != idx);
            }
        }
    }
}

/// Link-end values that exist (the autoId values of the from and to datasets).
#[derive(Debug, Default, Clone)]
pub struct LinkEnds {
    /// Type of `from_id` values.
    pub from_type: Option<PropertyType>,
    /// Type of `to_id` values.
    pub to_type: Option<PropertyType>,
    /// Existing from-side keys (`key_of` form).
    pub from: HashSet<String>,
    /// Existing to-side keys.
    pub to: HashSet<String>,
}

/// The canonical key text of a normalized value (for link-end sets).
pub fn canonical_key(v: &Value) -> String {
    key_of(v)
}

/// Run an import: `actions` must be a JSON array (else the caller answers 400802).
pub fn apply(
    ds: &Dataset,
    items: Vec<Item>,
    actions: &[Value],
    opts: &Options,
    links: &LinkEnds,
    now_ms: i64,
) -> Outcome {
    let identify = match (&opts.identify, ds.ty) {
        (_, DatasetType::Links) => Identify::Link,
        (Some(i), _) => i.clone(),
        (None, _) => Identify::Id,
    };
    let keys = match &identify {
        Identify::Keys(k) => k.clone(),
        _ => Vec::new(),
    };
    let original: HashMap<String, Item> = items.iter().map(|i| (i.id.clone(), i.clone())).collect();
    let mut st = State::new(ds, items, keys);
    let mut results = Vec::with_capacity(actions.len());
    let mut errors = Vec::new();
    let mut identified: HashSet<String> = HashSet::new();
    for (i, action) in actions.iter().enumerate() {
        let name = action.get("_action").and_then(Value::as_str).unwrap_or("").to_string();
        match run_one(&mut st, i, action, &identify, opts, links, now_ms, &mut identified) {
            Ok(id) => results.push(json!({"_id": id, "_action": name, "_status": "success"})),
            Err(f) => {
                let e = f.to_json(i);
                errors.push(e.clone());
                let mut r = Map::new();
                r.insert("_action".into(), json!(name));
                r.insert("_status".into(), json!("failed"));
                r.insert("errors".into(), json!([e]));
                results.push(Value::Object(r));
            }
        }
    }
    if !errors.is_empty() && !opts.skip_failures {
        return Outcome { results: Vec::new(), errors, changes: Vec::new() };
    }
    if opts.implicit_delete {
        for idx in 0..st.items.len() {
            let Some(it) = st.items[idx].clone() else { continue };
            if !identified.contains(&it.id) {
                st.unindex(idx);
                st.items[idx] = None;
                results.push(json!({"_id": it.id, "_action": "delete", "_status": "success", "_implicit": true}));
            }
        }
    }
    let mut changes = Vec::new();
    let mut alive: HashSet<String> = HashSet::new();
    for it in st.items.iter().flatten() {
        alive.insert(it.id.clone());
        match original.get(&it.id) {
            None => changes.push(Change::Insert(it.clone())),
            Some(o) if o != it => changes.push(Change::Update(it.clone())),
            _ => {}
        }
    }
    for id in original.keys() {
        if !alive.contains(id) {
            changes.push(Change::Delete(id.clone()));
        }
    }
    Outcome { results, errors, changes }
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    st: &mut State,
    i: usize,
    action: &Value,
    identify: &Identify,
    opts: &Options,
    links: &LinkEnds,
    now_ms: i64,
    identified: &mut HashSet<String>,
) -> Result<String, Failure> {
    let Some(obj) = action.as_object() else {
        return Err(fail(i, None, "notAnObject", "Each action must be a JSON object."));
    };
    let name = match obj.get("_action").and_then(Value::as_str) {
        Some(a) if ACTIONS.contains(&a) => a,
        Some(a) => {
            return Err(fail(
                i,
                Some("_action"),
                "invalidAction",
                format!("Unknown _action '{a}'; use one of {}.", ACTIONS.join(", ")),
            ))
        }
        None => return Err(fail(i, Some("_action"), "invalidAction", "_action is missing.")),
    };
    let ds = st.ds;
    // Which keys identify, with their coerced values.
    let ident_keys: Vec<String> = match identify {
        Identify::Id => vec![],
        Identify::AutoId => vec![ds.auto_id.clone().unwrap_or_default()],
        Identify::Keys(k) => k.clone(),
        Identify::Link => vec!["from_id".into(), "to_id".into()],
    };
    let mut ident_values: Vec<(String, Value)> = Vec::new();
    for k in &ident_keys {
        let raw = obj.get(k).filter(|v| !v.is_null());
        let Some(raw) = raw else {
            return Err(fail(i, Some(k), "missingIdentifier", format!("{k} identifies items here and is required.")));
        };
        let ty = match (identify, k.as_str()) {
            (Identify::Link, "from_id") => links.from_type.unwrap_or(PropertyType::Text),
            (Identify::Link, _) => links.to_type.unwrap_or(PropertyType::Text),
            _ => ds.property(k).map(|p| p.ty).unwrap_or(PropertyType::Text),
        };
        let v = coerce(ty, raw, opts.date_format).map_err(|why| fail(i, Some(k), "invalidValue", why))?;
        ident_values.push((k.clone(), v));
    }
    if *identify == Identify::Link {
        for (k, v) in &ident_values {
            let set = if k == "from_id" { &links.from } else { &links.to };
            if !set.contains(&key_of(v)) {
                return Err(fail(i, Some(k), "linkEndNotFound", format!("No item of the linked dataset has {k} {v}.")));
            }
        }
    }
    // Find the item.
    let id_field = obj.get("_id").filter(|v| !v.is_null());
    let found: Option<usize> = match identify {
        Identify::Id => match id_field {
            Some(v) => {
                let Some(id) = v.as_str().and_then(super::parse_id) else {
                    return Err(fail(i, Some("_id"), "invalidValue", "_id must be a UUID string."));
                };
                if name == "create" {
                    return Err(fail(
                        i,
                        Some("_id"),
                        "invalidValue",
                        "create must not carry _id; use createOrUpdate to address an item by _id.",
                    ));
                }
                match st.by_id.get(&id) {
                    Some(x) => Some(*x),
                    None => return Err(fail(i, Some("_id"), "itemNotFound", format!("No item has _id {id}."))),
                }
            }
            None if matches!(name, "create" | "createOrUpdate" | "createOrReplace") => None,
            None => return Err(fail(i, Some("_id"), "missingIdentifier", format!("{name} needs _id."))),
        },
        Identify::AutoId => st.by_auto.get(&key_of(&ident_values[0].1)).copied(),
        Identify::Link => {
            let link = json!([ident_values[0].1, ident_values[1].1]).to_string();
            st.by_auto.get(&key_of(&Value::String(link))).copied()
        }
        Identify::Keys(_) => {
            let t: Vec<String> = ident_values.iter().map(|(_, v)| key_of(v)).collect();
            match st.by_keys.get(&t).map(Vec::as_slice) {
                Some([one]) => Some(*one),
                Some([]) | None => None,
                Some(_) => return Err(fail(i, None, "ambiguousIdentifier", "Several items match these idKey values.")),
            }
        }
    };
    if let Some(idx) = found {
        if let Some(it) = &st.items[idx] {
            identified.insert(it.id.clone());
        }
    }
    // Values to set.
    let mut set: Vec<(String, Option<Value>)> = Vec::new();
    for (k, v) in obj {
        if k == "_action" || k == "_id" || ident_keys.contains(k) {
            continue;
        }
        let Some(p) = ds.property(k) else {
            let reason = if k.starts_with('_') { "readOnlyProperty" } else { "unknownProperty" };
            let msg = if reason == "readOnlyProperty" {
                format!("{k} is read-only.")
            } else {
                format!("'{k}' is not a property of this dataset (keys are case-sensitive).")
            };
            return Err(fail(i, Some(k), reason, msg));
        };
        if p.read_only {
            return Err(fail(i, Some(k), "readOnlyProperty", format!("{k} is computed by orgd and read-only.")));
        }
        if v.as_str().is_some_and(|s| Some(s) == opts.noop_token.as_deref()) {
            continue;
        }
        if v.is_null() || v.as_str().is_some_and(|s| Some(s) == opts.clear_token.as_deref()) {
            set.push((k.clone(), None));
            continue;
        }
        let c = coerce(p.ty, v, opts.date_format).map_err(|why| fail(i, Some(k), "invalidValue", why))?;
        set.push((k.clone(), Some(c)));
    }
    let creating = match (name, found) {
        ("create", Some(_)) => {
            return Err(fail(
                i,
                None,
                "itemAlreadyExists",
                "An item with this identifier already exists; use update or createOrUpdate.",
            ))
        }
        ("create", None) | ("createOrUpdate", None) | ("createOrReplace", None) => true,
        (_, None) => return Err(fail(i, None, "itemNotFound", "No item matches this identifier.")),
        _ => false,
    };
    let replace = name == "replace" || name == "createOrReplace";
    let mut item = match found {
        Some(idx) => st.items[idx].clone().expect("indexed items exist"),
        None => {
            let id = match &opts.derived_ids {
                Some(base) => super::derived_id(&format!("{base}/{i}")),
                None => new_id(),
            };
            Item { id, seq: 0, created_at: now_ms, modified_at: now_ms, values: Map::new() }
        }
    };
    match name {
        "delete" => {
            let idx = found.expect("checked");
            st.unindex(idx);
            st.items[idx] = None;
            return Ok(item.id);
        }
        "noop" => return Ok(item.id),
        _ => {}
    }
    let before = item.values.clone();
    if replace || creating {
        item.values = Map::new();
        for (k, v) in &ident_values {
            item.values.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in set {
        match v {
            Some(v) => {
                item.values.insert(k, v);
            }
            None => {
                item.values.remove(&k);
            }
        }
    }
    if ds.ty == DatasetType::Links {
        let link = json!([item.values.get("from_id"), item.values.get("to_id")]).to_string();
        item.values.insert("link_id".into(), Value::String(link));
    }
    if creating || replace {
        for p in &ds.properties {
            let exempt = ds.tree_parent_id.as_deref() == Some(p.key.as_str()) || p.read_only;
            if p.required && !exempt && !item.values.contains_key(&p.key) {
                return Err(fail(i, Some(&p.key), "missingRequired", format!("{} is required.", p.key)));
            }
        }
    }
    // Uniqueness of autoId and treeId values.
    let checks = [st.auto_key().map(String::from), ds.tree_id.clone()];
    for (n, k) in checks.iter().enumerate() {
        let Some(k) = k else { continue };
        let Some(v) = item.values.get(k) else { continue };
        let map = if n == 0 { &st.by_auto } else { &st.by_tree };
        if let Some(other) = map.get(&key_of(v)) {
            if Some(*other) != found {
                return Err(fail(i, Some(k), "duplicateKey", format!("Another item already has {k} {v}.")));
            }
        }
    }
    if item.values != before || creating {
        item.modified_at = now_ms;
    }
    match found {
        Some(idx) => {
            st.unindex(idx);
            st.items[idx] = Some(item.clone());
            st.index(idx);
        }
        None => {
            item.seq = st.next_seq;
            st.next_seq += 1;
            let idx = st.items.len();
            st.items.push(Some(item.clone()));
            st.index(idx);
        }
    }
    identified.insert(item.id.clone());
    Ok(item.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::parse_new;

    fn people() -> Dataset {
        let n = parse_new(
            &json!({"name":"People","type":"PEOPLE","autoId":"Employee ID","labelId":"Full Name","treeId":"Employee ID",
            "treeParentId":"Manager ID","properties":[{"key":"Employee ID","type":"number","isRequired":true},
            {"key":"Manager ID","type":"number","isRequired":true},{"key":"Full Name","type":"text","isRequired":true},
            {"key":"Start Date","type":"date"}]}),
        )
        .unwrap();
        Dataset {
            id: new_id(),
            org_id: "o".into(),
            name: n.name,
            ty: n.ty,
            auto_id: n.auto_id,
            label_id: n.label_id,
            tree_id: n.tree_id,
            tree_parent_id: n.tree_parent_id,
            tags: n.tags,
            properties: n.properties,
            from_dataset: None,
            to_dataset: None,
            cache_key: String::new(),
            item_count: 0,
            created_at: 0,
            modified_at: 0,
        }
    }

    fn auto() -> Options {
        Options { identify: Some(Identify::AutoId), ..Options::default() }
    }

    fn items_after(ds: &Dataset, items: Vec<Item>, actions: Value, opts: &Options) -> (Outcome, Vec<Item>) {
        let out = apply(ds, items.clone(), actions.as_array().unwrap(), opts, &LinkEnds::default(), 1);
        let mut state: HashMap<String, Item> = items.into_iter().map(|i| (i.id.clone(), i)).collect();
        for c in &out.changes {
            match c {
                Change::Insert(i) | Change::Update(i) => {
                    state.insert(i.id.clone(), i.clone());
                }
                Change::Delete(id) => {
                    state.remove(id);
                }
            }
        }
        let mut v: Vec<Item> = state.into_values().collect();
        v.sort_by_key(|i| i.seq);
        (out, v)
    }

    #[test]
    fn the_contract_example_runs() {
        let ds = people();
        let (_, items) = items_after(
            &ds,
            vec![],
            json!([
            {"_action":"create","Employee ID":1000,"Full Name":"Boss"},
            {"_action":"create","Employee ID":1002,"Full Name":"Gone","Manager ID":1000}]),
            &auto(),
        );
        assert_eq!(items.len(), 2);
        let opts = Options { date_format: DateFormat::DayFirst, implicit_delete: true, skip_failures: true, ..auto() };
        let (out, after) = items_after(
            &ds,
            items,
            json!([
            {"_action":"createOrUpdate","Employee ID":"1001","Full Name":"Ana Lima","Manager ID":1000,"Start Date":"01/03/2020"},
            {"_action":"delete","Employee ID":1003}]),
            &opts,
        );
        assert_eq!(out.results[0]["_status"], "success");
        assert_eq!(out.results[1]["errors"][0]["reason"], "itemNotFound");
        assert_eq!(out.results[1]["errors"][0]["actionIndex"], 1);
        let implicit: Vec<&Value> = out.results.iter().filter(|r| r["_implicit"] == true).collect();
        assert_eq!(implicit.len(), 2, "Boss and Gone were not named");
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].values["Start Date"], "2020-03-01T00:00:00.000Z");
        assert_eq!(after[0].values["Employee ID"], 1001);
    }

    #[test]
    fn fail_mode_lists_every_failure_and_changes_nothing() {
        let ds = people();
        let out = apply(
            &ds,
            vec![],
            json!([
                {"_action":"create","Employee ID":1,"Full Name":"A"},
                {"_action":"create","Employee ID":1,"Full Name":"A again"},
                {"_action":"frobnicate"},
                {"_action":"create","Employee ID":"x","Full Name":"B"},
                {"_action":"create","Employee ID":3,"full name":"C"},
                {"_action":"create","Employee ID":4},
                {"_action":"update","Full Name":"no id"},
                5,
                {"_action":"create","Employee ID":6,"Full Name":"F","_depth":3}
            ])
            .as_array()
            .unwrap(),
            &auto(),
            &LinkEnds::default(),
            1,
        );
        let reasons: Vec<&str> = out.errors.iter().map(|e| e["reason"].as_str().unwrap()).collect();
        assert_eq!(
            reasons,
            [
                "itemAlreadyExists",
                "invalidAction",
                "invalidValue",
                "unknownProperty",
                "missingRequired",
                "missingIdentifier",
                "notAnObject",
                "readOnlyProperty"
            ]
        );
        assert_eq!(out.errors[0]["code"], "409001");
        assert_eq!(out.errors[2]["path"], "[3].Employee ID");
        assert!(out.changes.is_empty());
    }

    #[test]
    fn ids_keys_replace_and_tokens() {
        let ds = people();
        let (out, items) = items_after(
            &ds,
            vec![],
            json!([
            {"_action":"create","Employee ID":1,"Full Name":"A","Start Date":"2020-01-01"},
            {"_action":"create","Employee ID":2,"Full Name":"B","Manager ID":1}]),
            &Options::default(),
        );
        let a_id = out.results[0]["_id"].as_str().unwrap().to_string();
        // By _id: update keeps others, replace clears them; tokens skip and clear.
        let opts = Options { noop_token: Some("~".into()), clear_token: Some("<clear>".into()), ..Options::default() };
        let (_, items) = items_after(
            &ds,
            items,
            json!([
            {"_action":"update","_id":a_id.to_lowercase(),"Full Name":"~","Start Date":"<clear>"}]),
            &opts,
        );
        assert_eq!(items[0].values["Full Name"], "A");
        assert!(!items[0].values.contains_key("Start Date"));
        let (out, _) =
            items_after(&ds, items.clone(), json!([{"_action":"replace","_id":a_id,"Full Name":"Z"}]), &opts);
        assert_eq!(out.errors[0]["reason"], "missingRequired", "replace clears Employee ID when found by _id");
        // Composite keys; a tuple matching several items is ambiguous.
        let keys = Options { identify: Some(Identify::Keys(vec!["Full Name".into()])), ..Options::default() };
        let (out, _) = items_after(
            &ds,
            items.clone(),
            json!([{"_action":"update","Full Name":"B","Start Date":"2021-01-01"}]),
            &keys,
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let (_, dup) =
            items_after(&ds, items, json!([{"_action":"create","Employee ID":3,"Full Name":"B"}]), &Options::default());
        let (out, _) = items_after(&ds, dup, json!([{"_action":"update","Full Name":"B"}]), &keys);
        assert_eq!(out.errors[0]["reason"], "ambiguousIdentifier");
        // Tree ids stay unique.
        let (out, _) = items_after(
            &ds,
            vec![],
            json!([
            {"_action":"create","Employee ID":1,"Full Name":"A"},{"_action":"create","Employee ID":1,"Full Name":"B"}]),
            &Options::default(),
        );
        assert_eq!(out.errors[0]["reason"], "duplicateKey");
    }
}
