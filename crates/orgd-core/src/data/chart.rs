//! The org chart of a hierarchical dataset, as it is or as a draft would make it: every item placed in
//! its tree (tidy layout: leaves side by side, a parent centred over its children), drawn down to a chosen
//! depth and a chosen number of children per item, with what lies below summarised as a count, so that a
//! chart of tens of thousands of people stays readable. Items a draft added, moved, changed or removed
//! are marked. Pure layout: the console draws it.

use super::drafts::overlay::Overlay;
use super::drafts::view::MergedScan;
use super::drafts::Change;
use super::row::Val;
use super::Dataset;
use crate::error::{ApiError, ErrorCode};
use crate::store::Store;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// The most items a chart reads (a bigger dataset is refused with a clear message).
pub const MAX_ITEMS: i64 = 250_000;
/// The most children drawn under one item; the rest are one "+N more" box.
pub const MAX_CHILDREN: usize = 40;

/// How a draft changed an item, as the chart marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Unchanged.
    None,
    /// Added by the draft.
    Added,
    /// Given another parent.
    Moved,
    /// Other values changed.
    Changed,
    /// Removed by the draft (drawn under its former parent).
    Removed,
}

impl Mark {
    /// A CSS class and legend word.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::None => "none",
            Mark::Added => "added",
            Mark::Moved => "moved",
            Mark::Changed => "changed",
            Mark::Removed => "removed",
        }
    }
}

/// One drawn box.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// The label (the label property's value, else the `treeId` value, else the `_id`).
    pub label: String,
    /// How a draft changed it.
    pub mark: Mark,
    /// Column (0-based, fractional for parents) and depth (0 = a root).
    pub x: f64,
    /// Depth, 0 for roots.
    pub y: u32,
    /// Items below it that are not drawn (collapsed), or for a "+N more" box the items it stands for.
    pub hidden: u32,
    /// A summary box ("+N more"), not an item.
    pub summary: bool,
    /// The index of its parent box.
    pub parent: Option<usize>,
}

/// A laid-out chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    /// The boxes, parents before children.
    pub boxes: Vec<Placed>,
    /// Columns used.
    pub columns: f64,
    /// Rows used.
    pub rows: u32,
    /// Items in the (to-be) tree, removed ones not counted.
    pub items: usize,
}

struct Item {
    tree: Option<Val>,
    parent: Option<Val>,
    label: String,
    mark: Mark,
}

/// Read `ds` (through `draft` when given) and lay its tree out down to `depth` levels (1 = roots only).
pub async fn chart(
    store: &dyn Store,
    ds: &Dataset,
    draft: Option<Arc<Overlay>>,
    depth: u32,
) -> Result<Chart, ApiError> {
    let pos = |k: &Option<String>| k.as_deref().and_then(|k| ds.properties.iter().position(|p| p.key == k));
    let (Some(tree), Some(parent)) = (pos(&ds.tree_id), pos(&ds.tree_parent_id)) else {
        return Err(ApiError::new(ErrorCode::RequestBodyInvalid)
            .with_message("The dataset has no hierarchy (treeId and treeParentId) to chart."));
    };
    if ds.item_count > MAX_ITEMS {
        return Err(ApiError::new(ErrorCode::RequestBodyInvalid).with_message(format!(
            "The dataset has {} items; charts draw datasets of up to {MAX_ITEMS}. Export it instead.",
            ds.item_count
        )));
    }
    let label = pos(&ds.label_id).unwrap_or(tree);
    // A row rule of the caller's view reads its keys too: the chart shows only the items it lets through.
    let rule_keys: Vec<(&str, usize)> = ds
        .rows
        .iter()
        .flat_map(|f| f.keys())
        .filter_map(|k| Some((k, ds.properties.iter().position(|p| p.key == k)?)))
        .collect();
    let mut props = vec![tree, parent, label];
    props.extend(rule_keys.iter().map(|(_, i)| *i));
    let mut scan = store.scan(ds, &props, 1).await?;
    if let Some(o) = &draft {
        scan = Box::new(MergedScan::new(scan, o.clone(), &props, 1));
    }
    let moved = match &draft {
        Some(o) => moves(store, ds, o, parent).await?,
        None => Default::default(),
    };
    let mut items: Vec<Item> = Vec::new();
    while let Some((_, rows)) = scan.next().await? {
        for mut r in rows {
            let at = |k: &str| rule_keys.iter().position(|(x, _)| *x == k).map(|n| n + 3);
            if ds.rows.as_ref().is_some_and(|f| !f.matches_cells(at, &r.cells)) {
                continue;
            }
            let mark = match draft.as_ref().map_or(Change::None, |o| o.change(r.seq)) {
                Change::None => Mark::None,
                Change::Added => Mark::Added,
                Change::Removed => Mark::Removed,
                Change::Updated if moved.contains(&r.seq) => Mark::Moved,
                Change::Updated => Mark::Changed,
            };
            let text = r.cells[2].as_ref().or(r.cells[0].as_ref()).map(|v| {
                let mut s = String::new();
                v.write_plain(&mut s);
                s
            });
            let label = text.unwrap_or_else(|| r.id.clone());
            let parent = r.cells[1].take();
            items.push(Item { tree: r.cells[0].take(), parent, label, mark });
        }
    }
    Ok(layout(&items, depth.max(1)))
}

/// The `seq`s of the items a draft gave another parent value.
async fn moves(
    store: &dyn Store,
    ds: &Dataset,
    overlay: &Overlay,
    parent: usize,
) -> Result<std::collections::HashSet<i64>, ApiError> {
    let base = super::drafts::diff::baseline_of(store, ds, overlay).await?;
    Ok(overlay
        .iter()
        .filter(|(seq, e)| {
            e.change == Change::Updated
                && base.get(seq).zip(e.row.as_ref()).is_some_and(|(b, d)| b.cells[parent] != d.cells[parent])
        })
        .map(|(seq, _)| seq)
        .collect())
}

/// The tree of `items`: each item's children (in item order) and the roots. A parent is the item whose
/// `treeId` equals the parent value (removed items are no one's parent); items on a cycle become roots.
fn tree_of(items: &[Item]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut by_tree: HashMap<&Val, usize> = HashMap::default();
    for (i, it) in items.iter().enumerate() {
        if let (Some(t), false) = (&it.tree, it.mark == Mark::Removed) {
            by_tree.entry(t).or_insert(i);
        }
    }
    let parent: Vec<Option<usize>> = items
        .iter()
        .enumerate()
        .map(|(i, it)| it.parent.as_ref().and_then(|p| by_tree.get(p).copied()).filter(|&p| p != i))
        .collect();
    let mut children = vec![Vec::new(); items.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            children[*p].push(i);
        }
    }
    let mut roots: Vec<usize> = (0..items.len()).filter(|&i| parent[i].is_none()).collect();
    let mut seen = vec![false; items.len()];
    let visit = |start: usize, seen: &mut Vec<bool>| {
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                stack.extend(children[n].iter().copied());
            }
        }
    };
    for &r in &roots {
        visit(r, &mut seen);
    }
    for i in 0..items.len() {
        if !seen[i] {
            roots.push(i);
            visit(i, &mut seen);
        }
    }
    // A cycle's entry is a root now: it is no longer its parent's child.
    let rooted: std::collections::HashSet<usize> = roots.iter().copied().collect();
    for list in children.iter_mut() {
        list.retain(|c| !rooted.contains(c));
    }
    (children, roots)
}

/// Items below each item (its descendants), computed bottom-up without recursion.
fn sizes(children: &[Vec<usize>], roots: &[usize]) -> Vec<u32> {
    let mut order = Vec::with_capacity(children.len());
    let mut stack: Vec<usize> = roots.to_vec();
    while let Some(n) = stack.pop() {
        order.push(n);
        stack.extend(children[n].iter().copied());
    }
    let mut below = vec![0u32; children.len()];
    for &n in order.iter().rev() {
        below[n] = children[n].iter().map(|&c| 1 + below[c]).sum();
    }
    below
}

struct Layout<'a> {
    items: &'a [Item],
    children: Vec<Vec<usize>>,
    below: Vec<u32>,
    depth: u32,
    next: f64,
    out: Vec<Placed>,
}

impl Layout<'_> {
    /// Place `list` at depth `y` under `parent`; returns the columns of the first and last box.
    fn place_all(&mut self, list: &[usize], y: u32, parent: Option<usize>) -> (f64, f64) {
        let (mut first, mut last) = (f64::NAN, f64::NAN);
        for &n in list.iter().take(MAX_CHILDREN) {
            let x = self.place(n, y, parent);
            if first.is_nan() {
                first = x;
            }
            last = x;
        }
        if list.len() > MAX_CHILDREN {
            let rest = &list[MAX_CHILDREN..];
            let hidden = rest.iter().map(|&c| 1 + self.below[c]).sum();
            let label = format!("+{} more", rest.len());
            self.out.push(Placed { label, mark: Mark::None, x: self.next, y, hidden, summary: true, parent });
            last = self.next;
            self.next += 1.0;
        }
        (first, last)
    }

    fn place(&mut self, n: usize, y: u32, parent: Option<usize>) -> f64 {
        let at = self.out.len();
        let it = &self.items[n];
        self.out.push(Placed { label: it.label.clone(), mark: it.mark, x: 0.0, y, hidden: 0, summary: false, parent });
        let kids = std::mem::take(&mut self.children[n]);
        let x = if kids.is_empty() || y + 1 >= self.depth {
            self.out[at].hidden = self.below[n];
            let x = self.next;
            self.next += 1.0;
            x
        } else {
            let (first, last) = self.place_all(&kids, y + 1, Some(at));
            (first + last) / 2.0
        };
        self.out[at].x = x;
        x
    }
}

fn layout(items: &[Item], depth: u32) -> Chart {
    let (children, roots) = tree_of(items);
    let below = sizes(&children, &roots);
    let mut l = Layout { items, children, below, depth, next: 0.0, out: Vec::new() };
    l.place_all(&roots, 0, None);
    let rows = l.out.iter().map(|b| b.y + 1).max().unwrap_or(0);
    let people = items.iter().filter(|i| i.mark != Mark::Removed).count();
    Chart { columns: l.next, rows, items: people, boxes: l.out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(_seq: i64, tree: f64, parent: Option<f64>, mark: Mark) -> Item {
        Item { tree: Some(Val::Number(tree)), parent: parent.map(Val::Number), label: format!("n{tree}"), mark }
    }

    #[test]
    fn parents_centre_over_children_and_depth_collapses() {
        let items = vec![
            item(1, 1.0, None, Mark::None),
            item(2, 2.0, Some(1.0), Mark::None),
            item(3, 3.0, Some(1.0), Mark::Moved),
            item(4, 4.0, Some(2.0), Mark::Added),
            item(5, 5.0, Some(2.0), Mark::None),
            item(6, 6.0, Some(9.0), Mark::None),
            item(7, 7.0, Some(8.0), Mark::None),
            item(8, 8.0, Some(7.0), Mark::None),
        ];
        let c = layout(&items, 3);
        let at = |label: &str| c.boxes.iter().find(|b| b.label == label).unwrap();
        assert_eq!((at("n4").x, at("n5").x, at("n2").x, at("n3").x), (0.0, 1.0, 0.5, 2.0));
        assert_eq!(at("n1").x, 1.25, "centred over its children's boxes");
        assert_eq!((at("n4").y, at("n3").mark), (2, Mark::Moved));
        assert!(at("n6").parent.is_none(), "an orphan is a root");
        assert!(
            at("n7").parent.is_none() && at("n8").parent == Some(c.boxes.iter().position(|b| b.label == "n7").unwrap()),
            "a cycle is cut at its first item"
        );
        let c = layout(&items, 2);
        assert_eq!(c.boxes.iter().find(|b| b.label == "n2").unwrap().hidden, 2, "below depth 2, counted");
        assert!(c.boxes.iter().all(|b| b.label != "n4"));
        assert_eq!(c.rows, 2);
    }

    #[test]
    fn wide_levels_end_in_a_summary_box() {
        let mut items = vec![item(1, 0.0, None, Mark::None)];
        items.extend((1..=100).map(|i| item(i + 1, i as f64, Some(0.0), Mark::None)));
        items.push(item(200, 1000.0, Some(100.0), Mark::None));
        let c = layout(&items, 5);
        let summary = c.boxes.iter().find(|b| b.summary).unwrap();
        assert_eq!((summary.label.as_str(), summary.hidden), ("+60 more", 61));
        assert_eq!(c.boxes.len(), 1 + MAX_CHILDREN + 1);
    }

    #[test]
    fn removed_items_parent_no_one() {
        let items = vec![
            item(1, 1.0, None, Mark::None),
            item(2, 2.0, Some(1.0), Mark::Removed),
            item(3, 3.0, Some(2.0), Mark::None),
        ];
        let c = layout(&items, 5);
        let n3 = c.boxes.iter().find(|b| b.label == "n3").unwrap();
        assert!(n3.parent.is_none(), "the child of a removed item is an orphan in the to-be tree");
        let n2 = c.boxes.iter().find(|b| b.label == "n2").unwrap();
        assert_eq!(n2.parent, Some(0), "a removed item is drawn under its former parent");
    }
}
