//! `orgd admin dataset …`: operator imports and exports, with progress on a terminal.

use crate::admin::fail;
use crate::cli::DatasetCommand;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use orgd_core::clock::to_millis;
use orgd_core::data::ops;
use orgd_core::data::stream::{self, Sink};
use orgd_core::store::Store;
use orgd_store::SqlStore;
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use time::OffsetDateTime;

/// Run a dataset command.
pub async fn run(store: &SqlStore, cmd: DatasetCommand, now: OffsetDateTime, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        DatasetCommand::List { tenant } => {
            let org = orgd_core::ops::load_org(store, &tenant).await.map_err(fail)?;
            let mut list = store.list_datasets(&org.org_id).await?;
            list.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            if json_out {
                let v: Vec<Value> = list.iter().map(|d| d.metadata()).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{:<38}  {:<10}  {:>9}  NAME", "DATASET_ID", "TYPE", "ITEMS");
                for d in &list {
                    println!("{:<38}  {:<10}  {:>9}  {}", d.id, d.ty.as_str(), d.item_count, d.name);
                }
                if list.is_empty() {
                    println!("(none)");
                }
            }
        }
        DatasetCommand::Import {
            tenant,
            dataset,
            file,
            auto_id,
            id_keys,
            date_format,
            implicit_delete,
            skip_failures,
        } => {
            let org = orgd_core::ops::load_org(store, &tenant).await.map_err(fail)?;
            let ds = ops::find(store, &org.org_id, &dataset).await.map_err(fail)?;
            let mut params: Vec<(String, String)> = Vec::new();
            if auto_id {
                params.push(("autoId".into(), "true".into()));
            }
            params.extend(id_keys.into_iter().map(|k| ("idKey".to_string(), k)));
            if let Some(f) = date_format {
                params.push(("dateFormat".into(), f));
            }
            if implicit_delete {
                params.push(("implicitDelete".into(), "true".into()));
            }
            if skip_failures {
                params.push(("onActionValidationFailure".into(), "skip".into()));
            }
            let opts = ops::import_options(&ds, &params).map_err(fail)?;
            let bar = spinner(&format!("reading {}", file.display()));
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let is_csv = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            let actions: Vec<Value> = if is_csv {
                orgd_core::data::csv_actions::parse(&text).map_err(fail)?
            } else {
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Array(a)) => a,
                    Ok(_) => anyhow::bail!("{} must hold a JSON array of item actions", file.display()),
                    Err(e) => anyhow::bail!("{} is not valid JSON: {e}", file.display()),
                }
            };
            bar.set_message(format!("applying {} actions in one transaction", actions.len()));
            let result = ops::import(store, &ds, &actions, &opts, to_millis(now)).await;
            bar.finish_and_clear();
            let outcome = match result {
                Ok(o) => o,
                Err(e) if !e.listed.is_empty() => {
                    for err in e.listed.iter().take(20) {
                        eprintln!(
                            "action {}: {} ({})",
                            err["actionIndex"],
                            err["message"].as_str().unwrap_or(""),
                            err["path"].as_str().unwrap_or("")
                        );
                    }
                    if e.listed.len() > 20 {
                        eprintln!("… and {} more", e.listed.len() - 20);
                    }
                    anyhow::bail!(
                        "{} of {} actions failed; nothing was applied (use --skip-failures to apply the rest)",
                        e.listed.len(),
                        actions.len()
                    );
                }
                Err(e) => return Err(fail(e)),
            };
            let ok = outcome.results.iter().filter(|r| r["_status"] == "success").count();
            let failed = outcome.results.len() - ok;
            if json_out {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"succeeded": ok, "failed": failed, "results": outcome.results})
                    )?
                );
            } else {
                println!("imported into {}: {ok} succeeded, {failed} failed", ds.name);
            }
        }
        DatasetCommand::Export { tenant, dataset, format, unix, generated, output } => {
            let org = orgd_core::ops::load_org(store, &tenant).await.map_err(fail)?;
            let ds = ops::find(store, &org.org_id, &dataset).await.map_err(fail)?;
            let mut params = Vec::new();
            if unix {
                params.push(("lineEndings".to_string(), "unix".to_string()));
            }
            if generated {
                params.push(("generated".to_string(), "true".to_string()));
            }
            let plan = ops::plan_sync_export(&ds, &format, &params, None).map_err(fail)?;
            let writer: Box<dyn Write + Send> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let bar = if std::io::stderr().is_terminal() {
                let b = ProgressBar::new(ds.item_count.max(0) as u64);
                b.set_style(
                    ProgressStyle::with_template("{bar:40} {pos}/{len} items {per_sec} eta {eta}").expect("template"),
                );
                b
            } else {
                ProgressBar::hidden()
            };
            let mut sink = WriteSink(writer);
            let b2 = bar.clone();
            stream::run(store, &ds, &plan, &mut sink, move |n| b2.set_position(n)).await.map_err(anyhow::Error::msg)?;
            sink.0.flush()?;
            bar.finish_and_clear();
        }
    }
    Ok(())
}

fn spinner(msg: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new_spinner();
    b.set_message(msg.to_string());
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    b
}

struct WriteSink(Box<dyn Write + Send>);

impl Sink for WriteSink {
    async fn write(&mut self, chunk: String) -> Result<(), String> {
        self.0.write_all(chunk.as_bytes()).map_err(|e| e.to_string())
    }
}
