//! The to-be view of a draft: the baseline scan with the overlay merged in as it streams (updated items
//! replaced, removed ones kept and marked, added ones after the last baseline item of each pass), and the
//! hierarchy links of the modelled tree.

use super::overlay::Overlay;
use super::Change;
use crate::data::row::{Row, Val};
use crate::data::Dataset;
use crate::store::{ItemScan, Store, StoreResult, TreeLink};
use async_trait::async_trait;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// A scan of the baseline with a draft's overlay merged in: both are in `seq` order, so each page is
/// merged by walking the draft's changed baseline items alongside it, without a lookup per row.
pub struct MergedScan {
    base: Box<dyn ItemScan>,
    overlay: Arc<Overlay>,
    /// The baseline items the draft updated, in `seq` order.
    updated: Vec<i64>,
    /// Where the walk through `updated` is, in the current pass.
    at: usize,
    props: Vec<usize>,
    passes: usize,
    /// The pass whose added items are still to come.
    pass: usize,
    /// A baseline page read ahead (it starts a later pass).
    pending: Option<(usize, Vec<Row>)>,
    done: bool,
}

impl MergedScan {
    /// Merge `overlay` into `base`, a scan of `props` in `passes` passes.
    pub fn new(base: Box<dyn ItemScan>, overlay: Arc<Overlay>, props: &[usize], passes: usize) -> MergedScan {
        let updated = overlay.iter().filter(|(_, e)| e.change == Change::Updated).map(|(s, _)| s).collect();
        MergedScan { base, overlay, updated, at: 0, props: props.to_vec(), passes, pass: 0, pending: None, done: false }
    }

    fn project(&self, r: &Row) -> Row {
        Row { cells: self.props.iter().map(|&i| r.cells[i].clone()).collect(), ..r.clone() }
    }

    /// The added items of the pass ending now; `None` when it has none.
    fn end_pass(&mut self) -> Option<(usize, Vec<Row>)> {
        let p = self.pass;
        self.pass += 1;
        self.at = 0;
        let added: Vec<Row> = self.overlay.added().map(|r| self.project(r)).collect();
        (!added.is_empty()).then_some((p, added))
    }
}

#[async_trait]
impl ItemScan for MergedScan {
    async fn next(&mut self) -> StoreResult<Option<(usize, Vec<Row>)>> {
        loop {
            if let Some((p, mut rows)) = self.pending.take() {
                if p > self.pass {
                    self.pending = Some((p, rows));
                    if let Some(page) = self.end_pass() {
                        return Ok(Some(page));
                    }
                    continue;
                }
                for r in rows.iter_mut() {
                    while self.updated.get(self.at).is_some_and(|&s| s < r.seq) {
                        self.at += 1;
                    }
                    if self.updated.get(self.at) == Some(&r.seq) {
                        if let Some(changed) = self.overlay.get(r.seq).and_then(|e| e.row.as_ref()) {
                            *r = self.project(changed);
                        }
                    }
                }
                if self.overlay.leaves_out_removed() {
                    rows.retain(|r| self.overlay.change(r.seq) != Change::Removed);
                }
                return Ok(Some((p, rows)));
            }
            if self.done {
                if self.pass >= self.passes {
                    return Ok(None);
                }
                if let Some(page) = self.end_pass() {
                    return Ok(Some(page));
                }
                continue;
            }
            match self.base.next().await? {
                None => self.done = true,
                Some(page) => self.pending = Some(page),
            }
        }
    }
}

/// The hierarchy links of the to-be tree, in creation order: every item but the removed ones, each
/// with the item whose `treeId` its `treeParentId` names in the draft. Reads two columns of every item
/// once and keeps one entry per item.
pub async fn links(store: &dyn Store, ds: &Dataset, overlay: Arc<Overlay>) -> StoreResult<Vec<TreeLink>> {
    let pos = |k: &Option<String>| k.as_deref().and_then(|k| ds.properties.iter().position(|p| p.key == k));
    let (Some(tree), Some(parent)) = (pos(&ds.tree_id), pos(&ds.tree_parent_id)) else { return Ok(Vec::new()) };
    let base = store.scan(ds, &[tree, parent], 1).await?;
    let mut scan = MergedScan::new(base, overlay.clone(), &[tree, parent], 1);
    let mut items: Vec<(i64, Option<Val>)> = Vec::new();
    let mut by_tree: HashMap<Val, i64> = HashMap::default();
    while let Some((_, rows)) = scan.next().await? {
        for mut r in rows {
            if overlay.change(r.seq) == Change::Removed {
                continue;
            }
            let parent = r.cells.pop().flatten();
            if let Some(t) = r.cells.pop().flatten() {
                by_tree.entry(t).or_insert(r.seq);
            }
            items.push((r.seq, parent));
        }
    }
    Ok(items.into_iter().map(|(seq, p)| (seq, p.as_ref().and_then(|p| by_tree.get(p).copied()), p.is_some())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::drafts::overlay::Entry;

    /// Pages given in advance, as a store's scan yields them.
    struct Pages(Vec<(usize, Vec<Row>)>);

    #[async_trait]
    impl ItemScan for Pages {
        async fn next(&mut self) -> StoreResult<Option<(usize, Vec<Row>)>> {
            Ok((!self.0.is_empty()).then(|| self.0.remove(0)))
        }
    }

    fn row(seq: i64, v: &str) -> Row {
        Row { id: format!("id{seq}"), seq, created_at: 0, modified_at: 0, cells: vec![Some(Val::Text(v.into()))] }
    }

    fn overlay() -> Arc<Overlay> {
        let mut o = Overlay::default();
        for (seq, change, v) in [
            (2, Change::Updated, Some("b2")),
            (3, Change::Removed, None),
            (super::super::ADDED_BASE, Change::Added, Some("new")),
        ] {
            let row = v.map(|v| row(seq, v));
            o.put(seq, Entry { change, id: format!("id{seq}"), base_modified_at: Some(0), row });
        }
        Arc::new(o)
    }

    async fn all(mut scan: MergedScan) -> Vec<(usize, i64, String)> {
        let mut out = Vec::new();
        while let Some((p, rows)) = scan.next().await.unwrap() {
            for r in rows {
                out.push((p, r.seq, r.cells[0].as_ref().and_then(Val::as_text).unwrap_or_default().to_string()));
            }
        }
        out
    }

    #[tokio::test]
    async fn each_pass_merges_updates_keeps_removals_and_ends_with_the_added_items() {
        let pages = (0..2).flat_map(|p| vec![(p, vec![row(1, "a"), row(2, "b")]), (p, vec![row(3, "c")])]).collect();
        let merged = all(MergedScan::new(Box::new(Pages(pages)), overlay(), &[0], 2)).await;
        let pass = |p: usize| merged.iter().filter(|m| m.0 == p).map(|m| m.2.as_str()).collect::<Vec<_>>();
        assert_eq!(pass(0), ["a", "b2", "c", "new"]);
        assert_eq!(pass(1), pass(0), "every pass alike");
        assert_eq!(merged.iter().map(|m| m.0).collect::<Vec<_>>(), [0, 0, 0, 0, 1, 1, 1, 1], "passes in order");
        let empty = all(MergedScan::new(Box::new(Pages(Vec::new())), overlay(), &[0], 3)).await;
        assert_eq!(empty.iter().map(|m| (m.0, m.2.as_str())).collect::<Vec<_>>(), [(0, "new"), (1, "new"), (2, "new")]);
    }
}
