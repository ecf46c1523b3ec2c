//! `orgd admin dataset …`: operator imports and exports, with progress on a terminal.

use crate::cli::{fail, DatasetCommand};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use orgd_core::clock::to_millis;
use orgd_core::data::import::{self, Run};
use orgd_core::data::ops;
use orgd_core::data::source::{Format, Parsed};
use orgd_core::data::stream::{self, Sink};
use orgd_core::data::{evolve, grants};
use orgd_core::store::Store;
use orgd_store::SqlStore;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// Run a dataset command.
pub async fn run(store: &SqlStore, cmd: DatasetCommand, now: OffsetDateTime, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        DatasetCommand::List { tenant } => {
            let org = orgd_core::cases::orgs::load(store, &tenant).await.map_err(fail)?;
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
        DatasetCommand::AddProperty { tenant, dataset, key, ty, name, required } => {
            let org = orgd_core::cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let ds = ops::find(store, &org.org_id, &dataset).await.map_err(fail)?;
            let body = serde_json::json!({"key": key, "type": ty, "name": name, "isRequired": required});
            let ds = evolve::add(store, &ds, &body, to_millis(now)).await.map_err(fail)?;
            print_properties(&ds, json_out)?;
        }
        DatasetCommand::ChangeProperty { tenant, dataset, key, name, required, ty, dry_run, force } => {
            let org = orgd_core::cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let ds = ops::find(store, &org.org_id, &dataset).await.map_err(fail)?;
            let mut body = serde_json::Map::new();
            if let Some(n) = name {
                body.insert("name".into(), Value::String(n));
            }
            if let Some(r) = required {
                body.insert("isRequired".into(), Value::Bool(r));
            }
            if let Some(t) = ty {
                body.insert("type".into(), Value::String(t));
            }
            let opts = evolve::ChangeOptions { dry_run, force };
            match evolve::change(store, &ds, &key, &Value::Object(body), opts, to_millis(now)).await.map_err(fail)? {
                evolve::Changed::Saved(ds) => print_properties(&ds, json_out)?,
                evolve::Changed::Report(r) => println!("{}", serde_json::to_string_pretty(&r)?),
            }
        }
        DatasetCommand::RemoveProperty { tenant, dataset, key } => {
            let org = orgd_core::cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let ds = ops::find(store, &org.org_id, &dataset).await.map_err(fail)?;
            let ds = evolve::remove(store, &ds, &key, to_millis(now)).await.map_err(fail)?;
            print_properties(&ds, json_out)?;
        }
        DatasetCommand::Permissions { tenant, dataset, roles, users, restrict, unrestrict, rows, all_rows } => {
            let org = orgd_core::cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let ds = ops::find(store, &org.org_id, &dataset).await.map_err(fail)?;
            let mut shown = grants::show(store, &ds).await.map_err(fail)?;
            let changes = [roles.len(), users.len(), restrict.len(), unrestrict.len(), rows.len(), all_rows.len()];
            if changes.iter().any(|n| *n > 0) {
                for (who, rule) in rows {
                    let rule: Value = serde_json::from_str(&rule).map_err(|e| {
                        anyhow::anyhow!("--rows {who}=…: the rule is not JSON ({e}); quote it for the shell")
                    })?;
                    let kind = if orgd_core::model::Role::parse(&who).is_some() { "roles" } else { "users" };
                    shown["rows"][kind][who] = rule;
                }
                for who in all_rows {
                    for kind in ["roles", "users"] {
                        if let Some(r) = shown["rows"][kind].as_object_mut() {
                            r.remove(&who);
                        }
                    }
                }
                for (key, readers) in restrict {
                    let (mut r, mut u) = (Vec::new(), Vec::new());
                    for who in readers.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                        match orgd_core::model::Role::parse(who) {
                            Some(_) => r.push(who.to_string()),
                            None => u.push(who.to_string()),
                        }
                    }
                    shown["properties"][key] = serde_json::json!({"roles": r, "users": u});
                }
                for key in unrestrict {
                    if let Some(p) = shown["properties"].as_object_mut() {
                        p.remove(&key);
                    }
                }
                for (role, level) in roles {
                    shown["roles"][role] = Value::String(level);
                }
                for (user, level) in users {
                    shown["users"][user] = Value::String(level);
                }
                shown = grants::replace(store, &ds, &shown, to_millis(now)).await.map_err(fail)?;
            }
            if json_out {
                println!("{}", serde_json::to_string_pretty(&shown)?);
            } else {
                println!("{:<8}  {:<40}  LEVEL", "KIND", "WHO");
                for kind in ["roles", "users"] {
                    for (who, level) in shown[kind].as_object().into_iter().flatten() {
                        let kind = if kind == "roles" { "role" } else { "user" };
                        println!("{kind:<8}  {who:<40}  {}", level.as_str().unwrap_or_default());
                    }
                }
                for (key, readers) in shown["properties"].as_object().into_iter().flatten() {
                    let mut who: Vec<String> = Vec::new();
                    for list in ["roles", "users"] {
                        who.extend(
                            readers[list].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)),
                        );
                    }
                    let who = if who.is_empty() {
                        "administrators only".to_string()
                    } else {
                        format!("administrators, {}", who.join(", "))
                    };
                    println!("{:<8}  {key:<40}  read by {who}", "property");
                }
                for kind in ["roles", "users"] {
                    for (who, rule) in shown["rows"][kind].as_object().into_iter().flatten() {
                        println!("{:<8}  {who:<40}  only items matching {rule}", "rows");
                    }
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
            let org = orgd_core::cases::orgs::load(store, &tenant).await.map_err(fail)?;
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
            let name = file.to_string_lossy().to_ascii_lowercase();
            let gzip = name.ends_with(".gz");
            let format = if name.trim_end_matches(".gz").ends_with(".csv") { Format::Csv } else { Format::Json };
            let opened = std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let size = opened.metadata().map(|m| m.len()).unwrap_or(0);
            let read = Arc::new(AtomicU64::new(0));
            let counted = Counted { inner: opened, read: read.clone() };
            let gzip_limit = gzip.then_some(orgd_core::data::source::GZIP_EXPANDED_LIMIT);
            let mut source = Parsed::spawn(Box::new(counted), format, gzip_limit, &ds);
            let bar = import_bar(size);
            let started = std::time::Instant::now();
            let run = Run { now_ms: to_millis(now), cache_key: ops::new_cache_key(), results: json_out, job: None };
            let (b2, r2) = (bar.clone(), read.clone());
            let mut progress = move |rows: u64| {
                b2.set_position(r2.load(Ordering::Relaxed));
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                b2.set_message(format!("{rows} rows, {rate:.0} rows/s"));
            };
            let result = import::run(store, &ds, &mut source, &opts, run, &mut progress).await;
            bar.finish_and_clear();
            let mut outcome = match result {
                Ok(o) => o,
                Err(e) if !e.listed.is_empty() => {
                    let failures: Vec<&Value> = e.listed.iter().filter(|x| x.get("actionIndex").is_some()).collect();
                    for err in failures.iter().take(20) {
                        let at = match err.get("line") {
                            Some(line) => format!("line {line}"),
                            None => format!("action {}", err["actionIndex"]),
                        };
                        eprintln!(
                            "{at}: {} ({})",
                            err["message"].as_str().unwrap_or(""),
                            err["path"].as_str().unwrap_or("")
                        );
                    }
                    let count = e.listed.iter().find_map(|x| x["errorCount"].as_u64()).unwrap_or(failures.len() as u64);
                    if count > 20 {
                        eprintln!("… and {} more", count - 20);
                    }
                    anyhow::bail!(
                        "{count} action(s) failed; nothing was applied (use --skip-failures to apply the rest)"
                    );
                }
                Err(e) => return Err(fail(e)),
            };
            let ok = outcome.actions - outcome.failed;
            let secs = started.elapsed().as_secs_f64();
            if json_out {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                write!(
                    out,
                    "{{\"succeeded\":{ok},\"failed\":{},\"implicitDeletes\":{},\"seconds\":{secs:.3},\"results\":",
                    outcome.failed, outcome.implicit_deletes
                )?;
                outcome.results.for_each_piece(1 << 16, |p| out.write_all(p))?;
                writeln!(out, "}}")?;
                out.flush()?;
            } else {
                println!(
                    "imported into {}: {ok} succeeded, {} failed, {} deleted as not named ({:.1} s, {:.0} rows/s)",
                    ds.name,
                    outcome.failed,
                    outcome.implicit_deletes,
                    secs,
                    outcome.actions as f64 / secs.max(0.001)
                );
            }
        }
        DatasetCommand::Export { tenant, dataset, format, unix, generated, output } => {
            let org = orgd_core::cases::orgs::load(store, &tenant).await.map_err(fail)?;
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

/// A progress bar over the bytes of the file, with rows per second (hidden when stderr is no terminal).
/// A dataset's properties after a schema change: a table, or (`--json`) the metadata.
fn print_properties(ds: &orgd_core::data::Dataset, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(&ds.metadata())?);
        return Ok(());
    }
    println!("{:<30}  {:<8}  {:<8}  NAME", "KEY", "TYPE", "REQUIRED");
    for p in &ds.properties {
        println!("{:<30}  {:<8}  {:<8}  {}", p.key, p.ty.as_str(), if p.required { "yes" } else { "no" }, p.name);
    }
    Ok(())
}

fn import_bar(size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(size);
    b.set_style(ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} eta {eta}").expect("template"));
    b.enable_steady_tick(std::time::Duration::from_millis(200));
    b
}

/// A file whose bytes read so far are counted (for the progress bar).
struct Counted {
    inner: std::fs::File,
    read: Arc<AtomicU64>,
}

impl std::io::Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

struct WriteSink(Box<dyn Write + Send>);

impl Sink for WriteSink {
    async fn write(&mut self, chunk: String) -> Result<(), String> {
        self.0.write_all(chunk.as_bytes()).map_err(|e| e.to_string())
    }
}
