//! Running an export: rows read page by page from the store, filtered, encoded, and handed to a sink in
//! chunks, so memory stays flat whatever the dataset's size (only the compact hierarchy index, when
//! generated properties are asked for, grows with it).

use super::export::{self, Encoder, Format};
use super::hierarchy::{self, Generated};
use super::ops::{self, ExportPlan, PAGE};
use super::Dataset;
use crate::store::Store;
use serde_json::Value;
use std::collections::HashMap;

/// Bytes gathered before a chunk goes to the sink.
pub const CHUNK: usize = 64 * 1024;

async fn hierarchy_of(store: &dyn Store, ds: &Dataset) -> Result<HashMap<i64, Generated>, String> {
    let (Some(tree), Some(parent)) = (ds.tree_id.clone(), ds.tree_parent_id.clone()) else { return Ok(HashMap::new()) };
    let mut seqs = Vec::new();
    let mut nodes = Vec::new();
    ops::scan(store, &ds.id, |it| {
        seqs.push(it.seq);
        nodes.push((it.values.get(&tree).map(|v| v.to_string()), it.values.get(&parent).map(|v| v.to_string())));
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(seqs.into_iter().zip(hierarchy::compute(&nodes)).collect())
}

/// Where export output goes: an HTTP response channel, a file, standard output.
pub trait Sink: Send {
    /// Take one chunk; an error stops the export.
    fn write(&mut self, chunk: String) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// Run `plan` over `ds`, giving each chunk of output to `sink`; `progress` gets the number of items
/// read so far (once per page).
pub async fn run(
    store: &dyn Store,
    ds: &Dataset,
    plan: &ExportPlan,
    sink: &mut impl Sink,
    mut progress: impl FnMut(u64) + Send,
) -> Result<(), String> {
    let gen = if plan.needs_hierarchy { hierarchy_of(store, ds).await? } else { HashMap::new() };
    let mut enc = Encoder::new(plan.format, plan.columns.clone(), plan.unix);
    let mut buf = String::with_capacity(CHUNK * 2);
    enc.head(&mut buf);
    let columns_format = plan.format == Format::JsonColumns;
    let passes = if columns_format { plan.columns.len() } else { 1 };
    let mut read = 0u64;
    for pass in 0..passes {
        if columns_format {
            enc.column_start(pass, &mut buf);
        }
        let mut after = 0;
        loop {
            let page = store.item_page(&ds.id, after, PAGE).await.map_err(|e| e.to_string())?;
            let n = page.len();
            for it in &page {
                after = it.seq;
                let g = gen.get(&it.seq);
                if !plan.filter.is_empty() && !plan.filter.matches(|k| export::lookup(k, it, g)) {
                    continue;
                }
                if columns_format {
                    enc.column_value(&export::value(&plan.columns[pass], it, g), &mut buf);
                } else {
                    let row: Vec<Value> = plan.columns.iter().map(|c| export::value(c, it, g)).collect();
                    enc.row(&row, &mut buf);
                }
            }
            read += n as u64;
            progress(read);
            if buf.len() >= CHUNK {
                sink.write(std::mem::take(&mut buf)).await?;
            }
            if (n as i64) < PAGE {
                break;
            }
        }
        if columns_format {
            enc.column_end(&mut buf);
        }
    }
    enc.tail(&mut buf);
    if !buf.is_empty() {
        sink.write(buf).await?;
    }
    Ok(())
}
