//! Item actions (orgvue-dialect §6): identification, value coercion, the seven actions and the
//! per-action results. Pure: a batch of actions is [prepared](prepare) (parsed and coerced), tells which
//! items it [needs](Needs), and is [applied](apply_batch) to a working set that holds exactly those items
//! (the store finds them by index), returning the rows to write. An import runs batch after batch in one
//! transaction, so memory follows the batch, never the dataset.

use super::row::{write_json_string, Row, Val};
use super::values::{coerce_raw, DateFormat, Raw};
use super::{new_id, Dataset, DatasetType, PropertyType};
use crate::error::ErrorCode;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{json, Value};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::Arc;

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
    /// Only existing items may change: an action that would create or delete one fails (the caller holds
    /// `update`, not `modify`, on the dataset; see [`super::grants`]).
    pub items_fixed: bool,
    /// Derive new items' ids from this text and the action's index instead of at random, so that the
    /// same seed file always makes the same ids.
    pub derived_ids: Option<String>,
    /// The caller's limits on properties and items (restricted properties, a row rule; [`super::grants`]).
    pub denied: Denied,
    /// Keep a version of each changed item (the org's item history; set by [`super::import::run`]).
    pub keep_versions: bool,
}

/// What an import's caller may not touch, and what `onPropertyAccessDenied` and `onItemAccessDenied` say
/// to do with an action that touches it.
#[derive(Debug, Clone, Default)]
pub struct Denied {
    /// Properties of the dataset the caller may not read, hence not write.
    pub properties: Vec<String>,
    /// Those of them that are required: the caller cannot make an item whole, so it creates none.
    pub required: Vec<String>,
    /// `onPropertyAccessDenied=skip`: a value of such a property is ignored (and reported) instead of
    /// failing the action.
    pub skip_properties: bool,
    /// The items the caller may act on (a row rule); an action on another, or one that would move an
    /// item out of it, fails with `itemAccessDenied`.
    pub rows: Option<super::filter::Filter>,
    /// `onItemAccessDenied=skip`: an action denied on its item is skipped and reported, and does not fail
    /// a `fail`-mode import.
    pub skip_items: bool,
}

impl Options {
    /// The identification mode for a dataset.
    pub fn identify_for(&self, ds: &Dataset) -> Identify {
        match (&self.identify, ds.ty) {
            (_, DatasetType::Links) => Identify::Link,
            (Some(i), _) => i.clone(),
            (None, _) => Identify::Id,
        }
    }
}

/// The actions, as `_action` names them.
const ACTIONS: &[&str] = &["create", "update", "replace", "delete", "noop", "createOrUpdate", "createOrReplace"];

/// One action as it arrived: a JSON value (any value; non-objects fail) or a CSV record.
#[derive(Debug, Clone)]
pub enum RawAction {
    /// From a JSON array.
    Json(Value),
    /// From a CSV file: the record (an empty cell means the key is not sent), its header, and its line.
    Csv {
        /// The column keys.
        header: std::sync::Arc<[String]>,
        /// The cells, one per column.
        record: csv::StringRecord,
        /// The line the record starts on (the header is line 1).
        line: u64,
    },
}

impl RawAction {
    /// The CSV line of the action, when it came from a CSV file.
    pub fn line(&self) -> Option<u64> {
        match self {
            RawAction::Csv { line, .. } => Some(*line),
            RawAction::Json(_) => None,
        }
    }
}

/// Why one action failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// 400802, 409001 or (an action the caller may not do) 40332.
    pub code: ErrorCode,
    /// `[i]` or `[i].key`.
    pub path: String,
    /// One of the §6.4 reasons.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
    /// The action's index.
    pub index: usize,
    /// The CSV line, for actions from a CSV file.
    pub line: Option<u64>,
}

fn fail(i: usize, key: Option<&str>, reason: &'static str, message: impl Into<String>) -> Failure {
    let code = match reason {
        "itemAlreadyExists" | "duplicateKey" => ErrorCode::Conflict,
        "itemAccessDenied" | "propertyAccessDenied" => ErrorCode::DatasetPermissionDenied,
        _ => ErrorCode::RequestBodyInvalid,
    };
    let path = match key {
        Some(k) => format!("[{i}].{k}"),
        None => format!("[{i}]"),
    };
    Failure { code, path, reason, message: message.into(), index: i, line: None }
}

impl Failure {
    /// The §6.4 error object.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"name": self.code.name(), "code": self.code.code().to_string(), "message": self.message,
               "path": self.path, "actionIndex": self.index, "reason": self.reason});
        if let Some(line) = self.line {
            v["line"] = json!(line);
        }
        v
    }
}

/// The seven actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Create,
    Update,
    Replace,
    Delete,
    Noop,
    CreateOrUpdate,
    CreateOrReplace,
}

impl Act {
    fn parse(s: &str) -> Option<Act> {
        Some(match s {
            "create" => Act::Create,
            "update" => Act::Update,
            "replace" => Act::Replace,
            "delete" => Act::Delete,
            "noop" => Act::Noop,
            "createOrUpdate" => Act::CreateOrUpdate,
            "createOrReplace" => Act::CreateOrReplace,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        ACTIONS[self as usize]
    }

    fn may_create(self) -> bool {
        matches!(self, Act::Create | Act::CreateOrUpdate | Act::CreateOrReplace)
    }

    fn replaces(self) -> bool {
        matches!(self, Act::Replace | Act::CreateOrReplace)
    }
}

/// How a prepared action finds its item.
#[derive(Debug, Clone, PartialEq)]
pub enum Ident {
    /// By `_id`.
    Id(String),
    /// By the values of [`Keyed::props`].
    Key(Vec<Val>),
    /// Nothing to find: a `create`/`createOr*` without `_id` (identification by `_id`).
    New,
}

/// The property columns an import identifies items by (autoId, idKey, or `link_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed {
    /// Property indexes.
    pub props: Vec<usize>,
}

/// An action parsed and coerced, ready to apply.
#[derive(Debug, Clone)]
pub struct Prepared {
    index: usize,
    act: Act,
    ident: Ident,
    /// Values the identifiers put on a created or replaced item.
    ident_values: Vec<(usize, Val)>,
    /// Values to set (`None` = clear).
    set: Vec<(usize, Option<Val>)>,
    /// LINKS: the from and to values, checked against the linked datasets.
    link_ends: Option<(Val, Val)>,
    /// Keys whose values were ignored (`onPropertyAccessDenied=skip`).
    skipped: Vec<String>,
}

/// The parts of a dataset an import works with, worked out once.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    ds: &'a Dataset,
    identify: Identify,
    keyed: Option<Keyed>,
    /// Property index of the unique key: autoId, or `link_id` on LINKS.
    unique: Option<usize>,
    /// Property index of `treeId`.
    tree: Option<usize>,
    index_of: HashMap<&'a str, usize>,
    opts: &'a Options,
    /// LINKS: the types of `from_id` and `to_id` values.
    link_types: (PropertyType, PropertyType),
    /// The keys whose values identify an action's item.
    ident_keys: Vec<&'a str>,
    /// Their property indexes.
    ident_props: Vec<usize>,
}

impl<'a> Plan<'a> {
    /// The plan of an import into `ds`.
    pub fn new(ds: &'a Dataset, opts: &'a Options) -> Plan<'a> {
        let index_of: HashMap<&str, usize> =
            ds.properties.iter().enumerate().map(|(i, p)| (p.key.as_str(), i)).collect();
        let identify = opts.identify_for(ds);
        let keyed = match &identify {
            Identify::Id => None,
            Identify::AutoId => ds.auto_id.as_deref().and_then(|k| index_of.get(k)).map(|&i| Keyed { props: vec![i] }),
            Identify::Keys(keys) => {
                Some(Keyed { props: keys.iter().filter_map(|k| index_of.get(k.as_str()).copied()).collect() })
            }
            Identify::Link => index_of.get("link_id").map(|&i| Keyed { props: vec![i] }),
        };
        let unique = if ds.ty == DatasetType::Links {
            index_of.get("link_id").copied()
        } else {
            ds.auto_id.as_deref().and_then(|k| index_of.get(k).copied())
        };
        let tree = ds.tree_id.as_deref().and_then(|k| index_of.get(k).copied());
        let ty = |k: &str| index_of.get(k).map(|&i| ds.properties[i].ty).unwrap_or(PropertyType::Text);
        let link_types = (ty("from_id"), ty("to_id"));
        let ident_keys = match &identify {
            Identify::Id => vec![],
            Identify::AutoId => ds.auto_id.as_deref().into_iter().collect(),
            Identify::Keys(k) => k.iter().filter_map(|k| ds.property(k).map(|p| p.key.as_str())).collect(),
            Identify::Link => vec!["from_id", "to_id"],
        };
        let ident_props = ident_keys.iter().map(|k| index_of[k]).collect();
        Plan { ds, identify, keyed, unique, tree, index_of, opts, link_types, ident_keys, ident_props }
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        self.ds
    }

    /// The columns items are identified by (`None`: by `_id`).
    pub fn keyed(&self) -> Option<&Keyed> {
        self.keyed.as_ref()
    }

    /// The property index of the unique key (autoId or `link_id`).
    pub fn unique(&self) -> Option<usize> {
        self.unique
    }

    /// The property index of `treeId`.
    pub fn tree(&self) -> Option<usize> {
        self.tree
    }

    /// The property index of a key.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.index_of.get(key).copied()
    }

    fn ident_keys(&self) -> &[&'a str] {
        &self.ident_keys
    }

    /// What `key` stands for in an action.
    fn slot(&self, key: &str) -> Slot {
        match key {
            "_action" => Slot::Action,
            "_id" => Slot::Id,
            k => match self.ident_keys.iter().position(|i| *i == k) {
                Some(n) => Slot::Ident(n),
                None => match self.index_of(k) {
                    Some(i) => Slot::Property(i),
                    None if self.opts.denied.properties.iter().any(|d| d == k) => Slot::Denied,
                    None => Slot::Other,
                },
            },
        }
    }
}

/// What a key of an action stands for in a plan: worked out once per CSV header, once per key for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Action,
    Id,
    /// The n-th identifying key.
    Ident(usize),
    /// Another property, by index.
    Property(usize),
    /// A property the caller may not write.
    Denied,
    /// Not a property.
    Other,
}

/// One sent field: its key, what the key stands for, its value.
type Field<'r> = (&'r str, Slot, Raw<'r>);

/// The fields of an action (kept on the stack up to 16).
type Fields<'r> = SmallVec<[Field<'r>; 16]>;

/// The fields of `raw` (`None`: not a JSON object); `csv` gives the slots of a CSV header's columns.
fn fields<'r>(plan: &Plan, raw: &'r RawAction, csv: Option<&[Slot]>) -> Option<Fields<'r>> {
    Some(match raw {
        RawAction::Json(Value::Object(o)) => o.iter().map(|(k, v)| (k.as_str(), plan.slot(k), Raw::Json(v))).collect(),
        RawAction::Json(_) => return None,
        RawAction::Csv { header, record, .. } => {
            let own: Vec<Slot>;
            let slots = match csv {
                Some(s) if s.len() == header.len() => s,
                _ => {
                    own = header.iter().map(|k| plan.slot(k)).collect();
                    &own
                }
            };
            header
                .iter()
                .zip(record.iter())
                .zip(slots)
                .filter(|((_, v), _)| !v.is_empty())
                .map(|((k, v), slot)| (k.as_str(), *slot, Raw::Str(v)))
                .collect()
        }
    })
}

/// An action's name as sent, for its result: one of the seven without an allocation.
pub type ActionName = Cow<'static, str>;

fn name_of(sent: &str) -> ActionName {
    match ACTIONS.iter().find(|a| **a == sent) {
        Some(a) => Cow::Borrowed(a),
        None => Cow::Owned(sent.to_string()),
    }
}

/// The `link_id` text of a link: the JSON text of `[from_id, to_id]`.
pub fn link_id(from: &Val, to: &Val) -> String {
    let mut s = String::from("[");
    from.write_json(&mut s);
    s.push(',');
    to.write_json(&mut s);
    s.push(']');
    s
}

/// The action's name as sent (for its result), `""` when there is none.
pub fn action_name(raw: &RawAction) -> ActionName {
    match raw {
        RawAction::Json(v) => name_of(v.get("_action").and_then(Value::as_str).unwrap_or("")),
        RawAction::Csv { header, record, .. } => name_in(record, action_column(header)),
    }
}

/// The column of `_action` in a CSV header.
fn action_column(header: &[String]) -> Option<usize> {
    header.iter().position(|k| k == "_action")
}

/// The action's name in a CSV record whose `_action` column is `column`.
fn name_in(record: &csv::StringRecord, column: Option<usize>) -> ActionName {
    name_of(column.and_then(|c| record.get(c)).unwrap_or(""))
}

/// Parse and coerce one action (everything that does not depend on the dataset's items).
pub fn prepare(plan: &Plan, index: usize, raw: &RawAction) -> Result<Prepared, Failure> {
    prepare_with(plan, index, raw, None)
}

/// A CSV header matched to a plan: what each column stands for, and where `_action` is.
struct Columns<'r> {
    header: &'r Arc<[String]>,
    slots: Vec<Slot>,
    action: Option<usize>,
}

/// [`prepare`] every action of a batch, and name each (for its result). The columns of a CSV header are
/// matched to the plan once, not per row.
pub fn prepare_batch(plan: &Plan, base: usize, raw: &[RawAction]) -> (Vec<Result<Prepared, Failure>>, Vec<ActionName>) {
    let mut header: Option<Columns> = None;
    let (mut prepared, mut names) = (Vec::with_capacity(raw.len()), Vec::with_capacity(raw.len()));
    for (j, a) in raw.iter().enumerate() {
        let slots = match a {
            RawAction::Csv { header: h, record, .. } => {
                let columns = match header.take() {
                    Some(known) if Arc::ptr_eq(known.header, h) => header.insert(known),
                    _ => header.insert(Columns {
                        header: h,
                        slots: h.iter().map(|k| plan.slot(k)).collect(),
                        action: action_column(h),
                    }),
                };
                names.push(name_in(record, columns.action));
                Some(columns.slots.as_slice())
            }
            RawAction::Json(_) => {
                names.push(action_name(a));
                None
            }
        };
        prepared.push(prepare_with(plan, base + j, a, slots));
    }
    (prepared, names)
}

fn prepare_with(plan: &Plan, i: usize, raw: &RawAction, csv: Option<&[Slot]>) -> Result<Prepared, Failure> {
    let prepared = match fields(plan, raw, csv) {
        Some(fields) => prepare_fields(plan, i, &fields),
        None => Err(fail(i, None, "notAnObject", "Each action must be a JSON object.")),
    };
    prepared.map_err(|mut f| {
        f.line = raw.line();
        f
    })
}

fn prepare_fields(plan: &Plan, i: usize, fields: &[Field]) -> Result<Prepared, Failure> {
    let (mut action, mut id) = (None, None);
    let mut ident: SmallVec<[Option<Raw>; 4]> = SmallVec::from_elem(None, plan.ident_keys.len());
    for &(_, slot, v) in fields {
        match slot {
            _ if v.is_null() => {}
            Slot::Action => action = Some(v),
            Slot::Id => id = Some(v),
            Slot::Ident(n) => ident[n] = Some(v),
            Slot::Property(_) | Slot::Denied | Slot::Other => {}
        }
    }
    let act = match action.as_ref().map(|a| a.as_str()) {
        Some(Some(a)) => Act::parse(a).ok_or_else(|| {
            fail(
                i,
                Some("_action"),
                "invalidAction",
                format!("Unknown _action '{a}'; use one of {}.", ACTIONS.join(", ")),
            )
        })?,
        Some(None) => return Err(fail(i, Some("_action"), "invalidAction", "_action must be a string.")),
        None => return Err(fail(i, Some("_action"), "invalidAction", "_action is missing.")),
    };
    let ds = plan.ds;
    let ident_keys = plan.ident_keys();
    let mut ident_values: Vec<(usize, Val)> = Vec::with_capacity(ident_keys.len());
    for ((k, &idx), raw) in ident_keys.iter().zip(&plan.ident_props).zip(ident) {
        let Some(raw) = raw else {
            return Err(fail(i, Some(k), "missingIdentifier", format!("{k} identifies items here and is required.")));
        };
        let ty = match (&plan.identify, *k) {
            (Identify::Link, "from_id") => plan.link_types.0,
            (Identify::Link, _) => plan.link_types.1,
            _ => ds.properties[idx].ty,
        };
        let v = coerce_raw(ty, raw, plan.opts.date_format).map_err(|why| fail(i, Some(k), "invalidValue", why))?;
        ident_values.push((idx, v));
    }
    let mut link_ends = None;
    let ident = match &plan.identify {
        Identify::Id => match id {
            Some(v) => {
                let Some(id) = v.as_str().and_then(super::parse_id) else {
                    return Err(fail(i, Some("_id"), "invalidValue", "_id must be a UUID string."));
                };
                if act == Act::Create {
                    return Err(fail(
                        i,
                        Some("_id"),
                        "invalidValue",
                        "create must not carry _id; use createOrUpdate to address an item by _id.",
                    ));
                }
                Ident::Id(id)
            }
            None if act.may_create() => Ident::New,
            None => return Err(fail(i, Some("_id"), "missingIdentifier", format!("{} needs _id.", act.name()))),
        },
        Identify::Link => {
            let (from, to) = (ident_values[0].1.clone(), ident_values[1].1.clone());
            let link = Val::Text(link_id(&from, &to));
            link_ends = Some((from, to));
            Ident::Key(vec![link])
        }
        _ => Ident::Key(ident_values.iter().map(|(_, v)| v.clone()).collect()),
    };
    let mut set = Vec::with_capacity(fields.len());
    let mut skipped = Vec::new();
    for &(k, slot, v) in fields {
        let idx = match slot {
            Slot::Action | Slot::Id | Slot::Ident(_) => continue,
            Slot::Property(idx) => idx,
            Slot::Denied if plan.opts.denied.skip_properties => {
                skipped.push(k.to_string());
                continue;
            }
            Slot::Denied => {
                return Err(fail(
                    i,
                    Some(k),
                    "propertyAccessDenied",
                    format!("You may not write {k} (onPropertyAccessDenied=skip ignores such values)."),
                ))
            }
            Slot::Other => {
                return Err(if k.starts_with('_') {
                    fail(i, Some(k), "readOnlyProperty", format!("{k} is read-only."))
                } else {
                    fail(
                        i,
                        Some(k),
                        "unknownProperty",
                        format!("'{k}' is not a property of this dataset (keys are case-sensitive)."),
                    )
                })
            }
        };
        let p = &ds.properties[idx];
        if p.read_only {
            return Err(fail(i, Some(k), "readOnlyProperty", format!("{k} is computed by orgd and read-only.")));
        }
        let text = v.as_str();
        if text.is_some() && text == plan.opts.noop_token.as_deref() {
            continue;
        }
        if v.is_null() || (text.is_some() && text == plan.opts.clear_token.as_deref()) {
            set.push((idx, None));
            continue;
        }
        let c = coerce_raw(p.ty, v, plan.opts.date_format).map_err(|why| fail(i, Some(k), "invalidValue", why))?;
        set.push((idx, Some(c)));
    }
    Ok(Prepared { index: i, act, ident, ident_values, set, link_ends, skipped })
}

/// What a batch needs from the store: the items it names and the items holding the unique values it
/// sets, plus (LINKS) the link ends it names.
#[derive(Debug, Default)]
pub struct Needs {
    /// `_id`s.
    pub ids: Vec<String>,
    /// Identifier tuples on [`Plan::keyed`].
    pub keys: Vec<Vec<Val>>,
    /// Values set on the unique key (autoId / `link_id`).
    pub unique: Vec<Val>,
    /// Values set on `treeId`.
    pub tree: Vec<Val>,
    /// LINKS: `from_id` values.
    pub from: Vec<Val>,
    /// LINKS: `to_id` values.
    pub to: Vec<Val>,
}

/// Gather what `batch` needs (each value once).
pub fn needs<'b>(plan: &Plan, batch: impl IntoIterator<Item = &'b Prepared>) -> Needs {
    let mut n = Needs::default();
    let mut ids: HashSet<&str> = HashSet::default();
    let mut keys: HashSet<&[Val]> = HashSet::default();
    let (mut unique, mut tree, mut from, mut to): (HashSet<&Val>, HashSet<&Val>, HashSet<&Val>, HashSet<&Val>) =
        Default::default();
    for p in batch {
        match &p.ident {
            Ident::Id(id) if ids.insert(id) => n.ids.push(id.clone()),
            Ident::Key(k) if keys.insert(k) => n.keys.push(k.clone()),
            _ => {}
        }
        // Identifying values are found by the identifier lookup already when they are the key itself.
        let covered = |idx: usize| plan.keyed.as_ref().is_some_and(|k| k.props == [idx]);
        let set = p.set.iter().filter_map(|(i, v)| v.as_ref().map(|v| (*i, v)));
        let idents = p.ident_values.iter().filter(|(i, _)| !covered(*i)).map(|(i, v)| (*i, v));
        for (idx, v) in set.chain(idents) {
            if Some(idx) == plan.unique && unique.insert(v) {
                n.unique.push(v.clone());
            }
            if Some(idx) == plan.tree && tree.insert(v) {
                n.tree.push(v.clone());
            }
        }
        if let Some((f, t)) = &p.link_ends {
            if from.insert(f) {
                n.from.push(f.clone());
            }
            if to.insert(t) {
                n.to.push(t.clone());
            }
        }
    }
    n
}

/// The link ends that exist (LINKS imports): values of the from and to datasets' autoId properties.
#[derive(Debug, Default, Clone)]
pub struct LinkEnds {
    /// Existing from-side values.
    pub from: HashSet<Val>,
    /// Existing to-side values.
    pub to: HashSet<Val>,
}

/// One action's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// Applied; the item's id and the keys whose values were ignored (`onPropertyAccessDenied=skip`).
    Success { id: String, skipped: Vec<String> },
    /// Failed.
    Failed(Failure),
    /// Denied on its item and left out (`onItemAccessDenied=skip`): not a failure of the import.
    Skipped(Failure),
}

/// What one batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// `(action name, result)` per action, in order.
    pub results: Vec<(ActionName, Done)>,
    /// New rows.
    pub inserts: Vec<Row>,
    /// Changed rows (whole).
    pub updates: Vec<Row>,
    /// Deleted rows' `seq`.
    pub deletes: Vec<i64>,
    /// The rows as they were of the updated and deleted items, when the import keeps versions
    /// ([`Options::keep_versions`]); else empty.
    pub before: Vec<Row>,
    /// `seq` of every item an action identified (implicit deletion keeps them).
    pub seen: Vec<i64>,
}

/// The items a batch works on, indexed by every way an action can find them.
struct State<'a> {
    plan: &'a Plan<'a>,
    rows: Vec<Option<Row>>,
    original: HashMap<i64, Row>,
    by_id: HashMap<String, usize>,
    by_unique: HashMap<Val, usize>,
    by_tree: HashMap<Val, usize>,
    by_keys: HashMap<Vec<Val>, Vec<usize>>,
}

impl<'a> State<'a> {
    fn new(plan: &'a Plan<'a>, working: Vec<Row>) -> Self {
        let mut s = State {
            plan,
            rows: Vec::with_capacity(working.len()),
            original: HashMap::default(),
            by_id: HashMap::default(),
            by_unique: HashMap::default(),
            by_tree: HashMap::default(),
            by_keys: HashMap::default(),
        };
        for r in working {
            if s.by_id.contains_key(&r.id) {
                continue;
            }
            s.original.insert(r.seq, r.clone());
            let idx = s.rows.len();
            s.rows.push(Some(r));
            s.index(idx);
        }
        s
    }

    fn tuple(&self, r: &Row) -> Option<Vec<Val>> {
        let keyed = self.plan.keyed.as_ref()?;
        keyed.props.iter().map(|&i| r.cells[i].clone()).collect()
    }

    /// The `treeId` column when it is not the unique key's (then the unique index answers for both).
    fn own_tree(&self) -> Option<usize> {
        self.plan.tree.filter(|t| Some(*t) != self.plan.unique)
    }

    /// The tuple of the identifying columns, when they are not just the unique key.
    fn own_tuple(&self, r: &Row) -> Option<Vec<Val>> {
        if self.plan.identify == Identify::AutoId || self.plan.identify == Identify::Link {
            return None;
        }
        self.tuple(r)
    }

    fn index(&mut self, idx: usize) {
        let Some(r) = self.rows[idx].as_ref() else { return };
        let (id, unique, tree, tuple) = (
            r.id.clone(),
            self.plan.unique.and_then(|i| r.cells[i].clone()),
            self.own_tree().and_then(|i| r.cells[i].clone()),
            self.own_tuple(r),
        );
        self.by_id.insert(id, idx);
        if let Some(v) = unique {
            self.by_unique.insert(v, idx);
        }
        if let Some(v) = tree {
            self.by_tree.insert(v, idx);
        }
        if let Some(t) = tuple {
            self.by_keys.entry(t).or_default().push(idx);
        }
    }

    fn unindex(&mut self, idx: usize) {
        let Some(r) = self.rows[idx].as_ref() else { return };
        let (id, unique, tree, tuple) = (
            r.id.clone(),
            self.plan.unique.and_then(|i| r.cells[i].clone()),
            self.own_tree().and_then(|i| r.cells[i].clone()),
            self.own_tuple(r),
        );
        self.by_id.remove(&id);
        if let Some(v) = unique {
            if self.by_unique.get(&v) == Some(&idx) {
                self.by_unique.remove(&v);
            }
        }
        if let Some(v) = tree {
            if self.by_tree.get(&v) == Some(&idx) {
                self.by_tree.remove(&v);
            }
        }
        if let Some(t) = tuple {
            if let Some(list) = self.by_keys.get_mut(&t) {
                list.retain(|x| *x != idx);
            }
        }
    }
}

/// Apply a batch in order to `working`, which must hold every item the batch [`needs`] (more is fine).
/// New items take `seq` from `next_seq`. Each action sees the effect of the earlier ones.
pub fn apply_batch(
    plan: &Plan,
    working: Vec<Row>,
    batch: Vec<Result<Prepared, Failure>>,
    names: Vec<ActionName>,
    links: &LinkEnds,
    now_ms: i64,
    next_seq: &mut i64,
) -> BatchOutcome {
    let mut st = State::new(plan, working);
    let mut out = BatchOutcome { results: Vec::with_capacity(batch.len()), ..BatchOutcome::default() };
    let mut seen: HashSet<i64> = HashSet::default();
    for (p, name) in batch.into_iter().zip(names) {
        let done = match p {
            Err(f) => denied(plan, f),
            Ok(mut p) => {
                let skipped = std::mem::take(&mut p.skipped);
                match run_one(&mut st, p, links, now_ms, next_seq, &mut seen) {
                    Ok(id) => Done::Success { id, skipped },
                    Err(f) => denied(plan, f),
                }
            }
        };
        out.results.push((name, done));
    }
    let mut original = std::mem::take(&mut st.original);
    let keep = plan.opts.keep_versions;
    for r in std::mem::take(&mut st.rows).into_iter().flatten() {
        match original.remove(&r.seq) {
            None => out.inserts.push(r),
            Some(o) if o != r => {
                if keep {
                    out.before.push(o);
                }
                out.updates.push(r);
            }
            Some(_) => {}
        }
    }
    for (seq, row) in original {
        out.deletes.push(seq);
        if keep {
            out.before.push(row);
        }
    }
    out.deletes.sort_unstable();
    out.seen = seen.into_iter().collect();
    out.seen.sort_unstable();
    out
}

/// A failure, or a skipped action when it was denied on its item and `onItemAccessDenied=skip`.
fn denied(plan: &Plan, f: Failure) -> Done {
    if f.reason == "itemAccessDenied" && plan.opts.denied.skip_items {
        Done::Skipped(f)
    } else {
        Done::Failed(f)
    }
}

fn run_one(
    st: &mut State,
    p: Prepared,
    links: &LinkEnds,
    now_ms: i64,
    next_seq: &mut i64,
    seen: &mut HashSet<i64>,
) -> Result<String, Failure> {
    let plan = st.plan;
    let i = p.index;
    if let Some((from, to)) = &p.link_ends {
        for (k, v, set) in [("from_id", from, &links.from), ("to_id", to, &links.to)] {
            if !set.contains(v) {
                return Err(fail(
                    i,
                    Some(k),
                    "linkEndNotFound",
                    format!("No item of the linked dataset has {k} {}.", v.to_json()),
                ));
            }
        }
    }
    let found: Option<usize> = match &p.ident {
        Ident::New => None,
        Ident::Id(id) => match st.by_id.get(id) {
            Some(x) => Some(*x),
            None => return Err(fail(i, Some("_id"), "itemNotFound", format!("No item has _id {id}."))),
        },
        Ident::Key(k) if plan.identify == Identify::AutoId || plan.identify == Identify::Link => {
            st.by_unique.get(&k[0]).copied()
        }
        Ident::Key(k) => match st.by_keys.get(k).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            Some([]) | None => None,
            Some(_) => return Err(fail(i, None, "ambiguousIdentifier", "Several items match these idKey values.")),
        },
    };
    if let Some(idx) = found {
        if let Some(r) = &st.rows[idx] {
            seen.insert(r.seq);
        }
    }
    let creating = match (p.act, found) {
        (Act::Create, Some(_)) => {
            return Err(fail(
                i,
                None,
                "itemAlreadyExists",
                "An item with this identifier already exists; use update or createOrUpdate.",
            ))
        }
        (a, None) if a.may_create() => true,
        (_, None) => return Err(fail(i, None, "itemNotFound", "No item matches this identifier.")),
        _ => false,
    };
    if plan.opts.items_fixed && (creating || p.act == Act::Delete) {
        return Err(fail(
            i,
            None,
            "itemAccessDenied",
            "Creating or deleting items needs the modify permission on this dataset; you may change existing items.",
        ));
    }
    if let (true, Some(k)) = (creating, plan.opts.denied.required.first()) {
        return Err(fail(
            i,
            Some(k),
            "propertyAccessDenied",
            format!("{k} is required and you may not write it: only those who read it create items."),
        ));
    }
    let in_rows =
        |r: &Row| plan.opts.denied.rows.as_ref().is_none_or(|f| f.matches_cells(|k| plan.index_of(k), &r.cells));
    if found.and_then(|idx| st.rows[idx].as_ref()).is_some_and(|r| !in_rows(r)) {
        return Err(fail(i, None, "itemAccessDenied", "This item is outside the items you may act on."));
    }
    let ds = plan.ds;
    let mut row = match found {
        Some(idx) => st.rows[idx].clone().expect("indexed rows exist"),
        None => {
            let id = match &plan.opts.derived_ids {
                Some(base) => super::derived_id(&format!("{base}/{i}")),
                None => new_id(),
            };
            Row { id, seq: 0, created_at: now_ms, modified_at: now_ms, cells: Vec::new() }
        }
    };
    match p.act {
        Act::Delete => {
            let idx = found.expect("checked");
            st.unindex(idx);
            st.rows[idx] = None;
            return Ok(row.id);
        }
        Act::Noop => return Ok(row.id),
        _ => {}
    }
    // A new item's values are all set here; only a found one's may stay as they were.
    let before = if creating { Vec::new() } else { row.cells.clone() };
    if p.act.replaces() || creating {
        row.cells = vec![None; ds.properties.len()];
        for (idx, v) in p.ident_values {
            row.cells[idx] = Some(v);
        }
    }
    for (idx, v) in p.set {
        row.cells[idx] = v;
    }
    if ds.ty == DatasetType::Links {
        if let (Some(f), Some(t), Some(l)) =
            (plan.index_of("from_id"), plan.index_of("to_id"), plan.index_of("link_id"))
        {
            row.cells[l] = match (&row.cells[f], &row.cells[t]) {
                (Some(a), Some(b)) => Some(Val::Text(link_id(a, b))),
                _ => None,
            };
        }
    }
    if !in_rows(&row) {
        return Err(fail(i, None, "itemAccessDenied", "The item would fall outside the items you may act on."));
    }
    if creating || p.act.replaces() {
        for (idx, prop) in ds.properties.iter().enumerate() {
            let exempt = ds.tree_parent_id.as_deref() == Some(prop.key.as_str()) || prop.read_only;
            if prop.required && !exempt && row.cells[idx].is_none() {
                return Err(fail(i, Some(&prop.key), "missingRequired", format!("{} is required.", prop.key)));
            }
        }
    }
    for (n, idx) in [plan.unique, st.own_tree()].into_iter().enumerate() {
        let Some(idx) = idx else { continue };
        let Some(v) = &row.cells[idx] else { continue };
        let map = if n == 0 { &st.by_unique } else { &st.by_tree };
        if let Some(other) = map.get(v) {
            if Some(*other) != found {
                let k = &ds.properties[idx].key;
                return Err(fail(i, Some(k), "duplicateKey", format!("Another item already has {k} {}.", v.to_json())));
            }
        }
    }
    if row.cells != before || creating {
        row.modified_at = now_ms;
    }
    if found.is_none() {
        row.seq = *next_seq;
        *next_seq += 1;
    }
    seen.insert(row.seq);
    let id = row.id.clone();
    let idx = match found {
        Some(idx) => {
            st.unindex(idx);
            st.rows[idx] = Some(row);
            idx
        }
        None => {
            st.rows.push(Some(row));
            st.rows.len() - 1
        }
    };
    st.index(idx);
    Ok(id)
}

/// Append the result object of one action to `out` (JSON text).
pub fn write_result(name: &str, done: &Done, out: &mut String) {
    match done {
        Done::Success { id, skipped } => {
            out.push_str("{\"_id\":");
            write_json_string(id, out);
            out.push_str(",\"_action\":");
            write_json_string(name, out);
            out.push_str(",\"_status\":\"success\"");
            if !skipped.is_empty() {
                out.push_str(",\"_skippedProperties\":");
                out.push_str(&json!(skipped).to_string());
            }
            out.push('}');
        }
        Done::Failed(f) | Done::Skipped(f) => {
            let status = if matches!(done, Done::Failed(_)) { "failed" } else { "skipped" };
            out.push_str("{\"_action\":");
            write_json_string(name, out);
            out.push_str(",\"_status\":\"");
            out.push_str(status);
            out.push_str("\",\"errors\":[");
            out.push_str(&f.to_json().to_string());
            out.push_str("]}");
        }
    }
}

/// Append the result object of an implicit deletion.
pub fn write_implicit_delete(id: &str, out: &mut String) {
    out.push_str("{\"_id\":");
    write_json_string(id, out);
    out.push_str(",\"_action\":\"delete\",\"_status\":\"success\",\"_implicit\":true}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::parse_new;

    fn people() -> Dataset {
        let n = parse_new(
            &json!({"name":"People","type":"PEOPLE","autoId":"Employee ID","labelId":"Full Name","treeId":"Employee ID",
            "treeParentId":"Manager ID","properties":[{"key":"Employee ID","type":"number","isRequired":true},
            {"key":"Manager ID","type":"number"},{"key":"Full Name","type":"text","isRequired":true},
            {"key":"Start Date","type":"date"}]}),
        )
        .unwrap();
        Dataset {
            id: crate::ids::DatasetId::generate(),
            org_id: crate::ids::OrgId::generate(),
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
            grants: Default::default(),
            rows: None,
            view: None,
        }
    }

    fn auto() -> Options {
        Options { identify: Some(Identify::AutoId), ..Options::default() }
    }

    /// Run `actions` as one batch over a dataset that holds `rows` (the whole dataset as working set).
    fn run(ds: &Dataset, rows: Vec<Row>, actions: Value, opts: &Options) -> (BatchOutcome, Vec<Row>) {
        let plan = Plan::new(ds, opts);
        let raw: Vec<RawAction> = actions.as_array().unwrap().iter().cloned().map(RawAction::Json).collect();
        let prepared: Vec<_> = raw.iter().enumerate().map(|(i, a)| prepare(&plan, i, a)).collect();
        let names = raw.iter().map(action_name).collect();
        let mut next = rows.iter().map(|r| r.seq).max().unwrap_or(0) + 1;
        let out = apply_batch(&plan, rows.clone(), prepared, names, &LinkEnds::default(), 1, &mut next);
        let mut state: HashMap<i64, Row> = rows.into_iter().map(|r| (r.seq, r)).collect();
        for r in out.inserts.iter().chain(&out.updates) {
            state.insert(r.seq, r.clone());
        }
        for s in &out.deletes {
            state.remove(s);
        }
        let mut v: Vec<Row> = state.into_values().collect();
        v.sort_by_key(|r| r.seq);
        (out, v)
    }

    fn failures(out: &BatchOutcome) -> Vec<&Failure> {
        out.results
            .iter()
            .filter_map(|(_, d)| match d {
                Done::Failed(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn json_of(ds: &Dataset, r: &Row) -> Value {
        Value::Object(r.to_item(ds).values)
    }

    /// CSV records of `header` (comma-separated) and `rows`, lines from 2.
    fn csv_actions(header: &str, rows: &[&str]) -> Vec<RawAction> {
        let header: Arc<[String]> = header.split(',').map(String::from).collect();
        rows.iter()
            .enumerate()
            .map(|(i, r)| RawAction::Csv {
                header: header.clone(),
                record: csv::StringRecord::from(r.split(',').collect::<Vec<_>>()),
                line: i as u64 + 2,
            })
            .collect()
    }

    #[test]
    fn a_csv_batch_is_prepared_as_each_action_alone() {
        let ds = people();
        let opts = Options { noop_token: Some("#noop".into()), clear_token: Some("#clear".into()), ..auto() };
        let plan = Plan::new(&ds, &opts);
        let raw = csv_actions(
            "Full Name,_action,Employee ID,Start Date,Manager ID",
            &[
                "Ana,create,1,2024-05-01,",
                "#noop,update,2,#clear,",
                ",createOrUpdate,,2024-05-01,",
                "Bob,move,3,,",
                "Cy,create,4,01/05/2024,",
                ",,5,,",
            ],
        );
        let (batch, names) = prepare_batch(&plan, 10, &raw);
        let alone: Vec<_> = raw.iter().enumerate().map(|(j, a)| prepare(&plan, 10 + j, a)).collect();
        assert_eq!(format!("{batch:?}"), format!("{alone:?}"));
        assert_eq!(names, raw.iter().map(action_name).collect::<Vec<_>>());
        assert_eq!(names, ["create", "update", "createOrUpdate", "move", "create", ""]);
        assert!(matches!(names[0], Cow::Borrowed(_)), "the seven names are not copied");
        let ok = batch[0].as_ref().unwrap();
        assert_eq!((ok.index, ok.act, &ok.ident), (10, Act::Create, &Ident::Key(vec![Val::Number(1.0)])));
        let upd = batch[1].as_ref().unwrap();
        assert_eq!(
            upd.set.iter().map(|(i, v)| (*i, v.is_none())).collect::<Vec<_>>(),
            [(3, true)],
            "noop kept, clear set"
        );
        let why = |j: usize| batch[j].as_ref().map(|_| ()).unwrap_err().clone();
        assert_eq!(
            (why(2).reason, why(2).path.as_str(), why(2).line),
            ("missingIdentifier", "[12].Employee ID", Some(4))
        );
        assert_eq!((why(3).reason, why(3).path.as_str()), ("invalidAction", "[13]._action"));
        assert_eq!((why(4).reason, why(4).path.as_str()), ("invalidValue", "[14].Start Date"));
        assert_eq!((why(5).reason, why(5).message.as_str()), ("invalidAction", "_action is missing."));

        let other = csv_actions("_action,Employee ID,Salary,_depth", &["create,1,10,", "create,2,,1"]);
        let (batch, _) = prepare_batch(&plan, 0, &other);
        let reasons: Vec<_> = batch.iter().map(|p| p.as_ref().unwrap_err().reason).collect();
        assert_eq!(reasons, ["unknownProperty", "readOnlyProperty"]);
    }

    #[test]
    fn the_contract_example_runs() {
        let ds = people();
        let (_, rows) = run(
            &ds,
            vec![],
            json!([
            {"_action":"create","Employee ID":1000,"Full Name":"Boss"},
            {"_action":"create","Employee ID":1002,"Full Name":"Gone","Manager ID":1000}]),
            &auto(),
        );
        assert_eq!(rows.len(), 2);
        let opts = Options { date_format: DateFormat::DayFirst, skip_failures: true, ..auto() };
        let (out, after) = run(
            &ds,
            rows,
            json!([
            {"_action":"createOrUpdate","Employee ID":"1001","Full Name":"Ana Lima","Manager ID":1000,"Start Date":"01/03/2020"},
            {"_action":"delete","Employee ID":1003}]),
            &opts,
        );
        assert!(matches!(out.results[0].1, Done::Success { .. }));
        let f = failures(&out);
        assert_eq!((f[0].reason, f[0].index), ("itemNotFound", 1));
        assert_eq!(after.len(), 3);
        let ana = json_of(&ds, &after[2]);
        assert_eq!(ana["Start Date"], "2020-03-01T00:00:00.000Z");
        assert_eq!(ana["Employee ID"], 1001);
        assert_eq!(out.seen, vec![3], "the created item counts as named");
    }

    #[test]
    fn every_failure_is_named() {
        let ds = people();
        let (out, _) = run(
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
                {"_action":"create","Employee ID":6,"Full Name":"F","_depth":3},
                {"_action":"create","Employee ID":7,"Full Name":"N\u{0}UL"}
            ]),
            &auto(),
        );
        let reasons: Vec<&str> = failures(&out).iter().map(|e| e.reason).collect();
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
                "readOnlyProperty",
                "invalidValue"
            ]
        );
        let f = failures(&out);
        assert_eq!(f[0].code.code(), 409001);
        assert_eq!(f[2].path, "[3].Employee ID");
        assert_eq!(out.inserts.len(), 1);
    }

    #[test]
    fn ids_keys_replace_and_tokens() {
        let ds = people();
        let (out, rows) = run(
            &ds,
            vec![],
            json!([
            {"_action":"create","Employee ID":1,"Full Name":"A","Start Date":"2020-01-01"},
            {"_action":"create","Employee ID":2,"Full Name":"B","Manager ID":1}]),
            &Options::default(),
        );
        let Done::Success { id: a_id, .. } = &out.results[0].1 else { panic!() };
        let opts = Options { noop_token: Some("~".into()), clear_token: Some("<clear>".into()), ..Options::default() };
        let (_, rows) = run(
            &ds,
            rows,
            json!([{"_action":"update","_id":a_id.to_lowercase(),"Full Name":"~","Start Date":"<clear>"}]),
            &opts,
        );
        let a = json_of(&ds, &rows[0]);
        assert_eq!(a["Full Name"], "A");
        assert!(a.get("Start Date").is_none());
        let (out, _) = run(&ds, rows.clone(), json!([{"_action":"replace","_id":a_id,"Full Name":"Z"}]), &opts);
        assert_eq!(failures(&out)[0].reason, "missingRequired", "replace clears Employee ID when found by _id");
        let keys = Options { identify: Some(Identify::Keys(vec!["Full Name".into()])), ..Options::default() };
        let (out, _) =
            run(&ds, rows.clone(), json!([{"_action":"update","Full Name":"B","Start Date":"2021-01-01"}]), &keys);
        assert!(failures(&out).is_empty());
        assert_eq!(out.updates.len(), 1);
        let (_, dup) =
            run(&ds, rows, json!([{"_action":"create","Employee ID":3,"Full Name":"B"}]), &Options::default());
        let (out, _) = run(&ds, dup, json!([{"_action":"update","Full Name":"B"}]), &keys);
        assert_eq!(failures(&out)[0].reason, "ambiguousIdentifier");
        let (out, _) = run(
            &ds,
            vec![],
            json!([{"_action":"create","Employee ID":1,"Full Name":"A"},{"_action":"create","Employee ID":1,"Full Name":"B"}]),
            &Options::default(),
        );
        assert_eq!(failures(&out)[0].reason, "duplicateKey");
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing() {
        let ds = people();
        let (_, rows) = run(&ds, vec![], json!([{"_action":"create","Employee ID":1,"Full Name":"A"}]), &auto());
        let (out, _) = run(&ds, rows, json!([{"_action":"update","Employee ID":1,"Full Name":"A"}]), &auto());
        assert!(out.updates.is_empty() && out.inserts.is_empty() && out.deletes.is_empty());
        assert_eq!(out.seen, vec![1]);
    }

    #[test]
    fn the_batch_needs_identifiers_and_the_unique_values_it_sets() {
        let ds = people();
        let opts = Options::default();
        let plan = Plan::new(&ds, &opts);
        let raw = [
            RawAction::Json(json!({"_action":"createOrUpdate","Employee ID":7,"Full Name":"A"})),
            RawAction::Json(json!({"_action":"update","_id":"123E4567-E89B-12D3-A456-426614174000","Employee ID":"8"})),
        ];
        let prepared: Vec<Prepared> = raw.iter().enumerate().map(|(i, a)| prepare(&plan, i, a).unwrap()).collect();
        let n = needs(&plan, &prepared);
        assert_eq!(n.ids, ["123E4567-E89B-12D3-A456-426614174000"]);
        assert_eq!(n.unique, [Val::Number(7.0), Val::Number(8.0)]);
        assert_eq!(n.tree, [Val::Number(7.0), Val::Number(8.0)], "treeId is Employee ID too");
    }
}
