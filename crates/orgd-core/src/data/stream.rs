//! Running an export: typed rows read from one snapshot of the store page by page, filtered, encoded
//! straight into text, and handed to a sink in chunks, so memory stays flat whatever the dataset's size.
//! Only generated hierarchy values need a pass over every item first, and keep a few bytes per item.

use super::drafts::overlay::Overlay;
use super::drafts::view::{self, MergedScan};
use super::drafts::Change;
use super::export::{self, Encoder, Format, Source};
use super::filter::Filter;
use super::hierarchy::{self, Generated};
use super::ops::ExportPlan;
use super::row::write_json_string;
use super::row::Row;
use super::Dataset;
use crate::store::{Store, TreeLink};
use std::sync::Arc;

/// Bytes gathered before a chunk goes to the sink.
pub const CHUNK: usize = 64 * 1024;

/// Where export output goes: an HTTP response channel, a file, standard output.
pub trait Sink: Send {
    /// Take one chunk; an error stops the export.
    fn write(&mut self, chunk: String) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// Generated values by `seq`, in creation order, from the hierarchy links of the items.
pub fn generated(links: &[TreeLink]) -> Vec<(i64, Generated)> {
    let pos: std::collections::HashMap<i64, usize> = links.iter().enumerate().map(|(i, l)| (l.0, i)).collect();
    let parents: Vec<hierarchy::Parent> = links
        .iter()
        .enumerate()
        .map(|(i, (_, parent, has_value))| match parent.and_then(|p| pos.get(&p)) {
            Some(&p) if p != i => hierarchy::Parent::Item(p),
            Some(_) => hierarchy::Parent::Root,
            None if *has_value => hierarchy::Parent::Missing,
            None => hierarchy::Parent::Root,
        })
        .collect();
    links.iter().map(|l| l.0).zip(hierarchy::compute(&parents)).collect()
}

/// What the export reads of each row: the scanned properties and where each column and filter key finds
/// its value.
struct Layout {
    props: Vec<usize>,
    columns: Vec<(Source, Option<usize>)>,
    filter_keys: Vec<(String, Source, Option<usize>)>,
}

fn layout(ds: &Dataset, plan: &ExportPlan) -> Layout {
    let mut props: Vec<usize> = Vec::new();
    let mut slot = |s: Source| match s {
        Source::Property(i) => Some(props.iter().position(|p| *p == i).unwrap_or_else(|| {
            props.push(i);
            props.len() - 1
        })),
        _ => None,
    };
    let columns = plan
        .columns
        .iter()
        .map(|c| {
            let s = export::source(ds, &c.key).unwrap_or(Source::Change);
            (s, slot(s))
        })
        .collect();
    let filter_keys = plan
        .filter
        .keys()
        .map(|k| {
            let s = export::source(ds, k).unwrap_or(Source::Change);
            (k.to_string(), s, slot(s))
        })
        .collect();
    Layout { props, columns, filter_keys }
}

/// Run `plan` over `ds`, giving each chunk of output to `sink`; `progress` gets the number of items
/// read so far (once per page).
pub async fn run(
    store: &dyn Store,
    ds: &Dataset,
    plan: &ExportPlan,
    sink: &mut impl Sink,
    progress: impl FnMut(u64) + Send,
) -> Result<(), String> {
    run_view(store, ds, None, plan, sink, progress).await
}

/// [`run`] over the dataset as it is, or with a draft's overlay as the draft would make it (`_change`
/// and the generated hierarchy values then follow the draft).
pub async fn run_view(
    store: &dyn Store,
    ds: &Dataset,
    draft: Option<Arc<Overlay>>,
    plan: &ExportPlan,
    sink: &mut impl Sink,
    mut progress: impl FnMut(u64) + Send,
) -> Result<(), String> {
    let gen = match (&draft, plan.needs_hierarchy) {
        (_, false) => Vec::new(),
        (None, true) => generated(&store.tree_links(ds).await.map_err(|e| e.to_string())?),
        (Some(o), true) => generated(&view::links(store, ds, o.clone()).await.map_err(|e| e.to_string())?),
    };
    let lay = layout(ds, plan);
    let columns_format = plan.format == Format::JsonColumns;
    let passes = if columns_format { plan.columns.len() } else { 1 };
    let mut scan = store.scan(ds, &lay.props, passes.max(1)).await.map_err(|e| e.to_string())?;
    if let Some(o) = &draft {
        scan = Box::new(MergedScan::new(scan, o.clone(), &lay.props, passes.max(1)));
    }
    // `_change` is looked up only when a column or the filter reads it.
    let reads_change = lay.columns.iter().any(|(s, _)| *s == Source::Change)
        || lay.filter_keys.iter().any(|(_, s, _)| *s == Source::Change);
    let changes = draft.as_ref().filter(|_| reads_change);
    let change = |seq: i64| changes.map_or(Change::None, |o| o.change(seq));
    let mut enc = Encoder::new(plan.format, plan.columns.clone(), plan.text);
    let mut buf = String::with_capacity(CHUNK * 2);
    enc.head(&mut buf);
    let (mut pass, mut at, mut read) = (0usize, 0usize, 0u64);
    if columns_format && passes > 0 {
        enc.column_start(0, &mut buf);
    }
    while let Some((p, rows)) = scan.next().await.map_err(|e| e.to_string())? {
        if columns_format && p != pass {
            enc.column_end(&mut buf);
            enc.column_start(p, &mut buf);
            pass = p;
            at = 0;
        }
        for row in &rows {
            let g = generated_of(&gen, &mut at, row.seq);
            let c = change(row.seq);
            if !plan.filter.is_empty() && !matches(plan, &lay, row, g, c) {
                continue;
            }
            if columns_format {
                let (s, slot) = lay.columns[pass];
                enc.column_value(export::cell(s, row, &row.cells, slot, g, c), &mut buf);
            } else {
                enc.row(lay.columns.iter().map(|&(s, slot)| export::cell(s, row, &row.cells, slot, g, c)), &mut buf);
            }
        }
        if pass == 0 {
            read += rows.len() as u64;
            progress(read);
        }
        if buf.len() >= CHUNK {
            sink.write(std::mem::replace(&mut buf, String::with_capacity(CHUNK * 2))).await?;
        }
    }
    if columns_format && passes > 0 {
        enc.column_end(&mut buf);
        for p in pass + 1..passes {
            enc.column_start(p, &mut buf);
            enc.column_end(&mut buf);
        }
    }
    enc.tail(&mut buf);
    if !buf.is_empty() {
        sink.write(buf).await?;
    }
    Ok(())
}

/// Stream the saved raw values of the items that match `filter` (orgvue-dialect §3.8): a JSON array of
/// objects with `_id` and the properties that hold a value, in creation order.
pub async fn raw_items(store: &dyn Store, ds: &Dataset, filter: &Filter, sink: &mut impl Sink) -> Result<(), String> {
    let scoped = ds.rows.as_ref().map(|rows| filter.clone().and(rows));
    let filter = scoped.as_ref().unwrap_or(filter);
    let props: Vec<usize> = (0..ds.properties.len()).collect();
    let keys: Vec<String> = ds
        .properties
        .iter()
        .map(|p| {
            let mut k = String::from(",");
            write_json_string(&p.key, &mut k);
            k.push(':');
            k
        })
        .collect();
    let mut scan = store.scan(ds, &props, 1).await.map_err(|e| e.to_string())?;
    let mut buf = String::with_capacity(CHUNK * 2);
    buf.push('[');
    let mut first = true;
    while let Some((_, rows)) = scan.next().await.map_err(|e| e.to_string())? {
        for row in &rows {
            if !filter.is_empty() && !filter.matches(|k| raw_value(ds, row, k)) {
                continue;
            }
            buf.push_str(if std::mem::take(&mut first) { "{\"_id\":" } else { ",{\"_id\":" });
            write_json_string(&row.id, &mut buf);
            for (v, key) in row.cells.iter().zip(&keys) {
                if let Some(v) = v {
                    buf.push_str(key);
                    v.write_json(&mut buf);
                }
            }
            buf.push('}');
        }
        if buf.len() >= CHUNK {
            sink.write(std::mem::replace(&mut buf, String::with_capacity(CHUNK * 2))).await?;
        }
    }
    buf.push(']');
    sink.write(buf).await
}

/// A raw value or a system key's value, for raw-item filters.
fn raw_value(ds: &Dataset, row: &Row, key: &str) -> Option<serde_json::Value> {
    match export::source(ds, key)? {
        s @ Source::Property(i) => export::cell(s, row, &row.cells, Some(i), None, Change::None).to_json(),
        s => export::cell(s, row, &row.cells, None, None, Change::None).to_json(),
    }
}

/// The generated values of the row with `seq`, walking `gen` (in creation order) forward from `at`.
fn generated_of<'a>(gen: &'a [(i64, Generated)], at: &mut usize, seq: i64) -> Option<&'a Generated> {
    while *at < gen.len() && gen[*at].0 < seq {
        *at += 1;
    }
    gen.get(*at).filter(|(s, _)| *s == seq).map(|(_, g)| g)
}

fn matches(plan: &ExportPlan, lay: &Layout, row: &Row, g: Option<&Generated>, c: Change) -> bool {
    plan.filter.matches(|k| {
        let (_, s, slot) = lay.filter_keys.iter().find(|(key, _, _)| key == k)?;
        export::cell(*s, row, &row.cells, *slot, g, c).to_json()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_values_follow_parent_links() {
        let links = vec![(1, None, false), (2, Some(1), true), (5, Some(2), true), (7, None, true), (9, Some(9), true)];
        let g = super::generated(&links);
        assert_eq!(g.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2, 5, 7, 9]);
        assert_eq!((g[0].1.depth, g[0].1.descendants, g[2].1.depth), (1, 2, 3));
        assert!(g[3].1.is_orphan, "a parent value that names no item");
        assert!(!g[4].1.is_orphan && g[4].1.depth == 1, "a self-parent is a root");
        let mut at = 0;
        assert!(super::generated_of(&g, &mut at, 3).is_none());
        assert_eq!(super::generated_of(&g, &mut at, 5).map(|x| x.depth), Some(3));
    }
}
