//! Dataset scenarios: the import of PEOPLE items in 6 MB batches against raw prepared inserts in one
//! transaction, and the streamed export against reading and serializing the same rows in-process.

use crate::report::Figure;
use crate::server::Bench;
use crate::Settings;
use anyhow::{anyhow, bail};
use futures_util::StreamExt;
use orgd_core::data::row::Row;
use orgd_core::data::stream::{self, Sink};
use orgd_core::data::{new_id, ops, Item};
use orgd_core::store::Store;
use orgd_store::SqlStore;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

const BATCH_BYTES: usize = 6_000_000;

fn person(i: usize) -> Value {
    json!({"Employee ID": i, "Manager ID": if i == 1 { Value::Null } else { json!((i - 2) / 5 + 1) },
        "Full Name": format!("Person {i}"), "Department": format!("Department {}", i % 17),
        "Start Date": "2020-01-01T00:00:00.000Z", "Salary": 40_000 + i % 50_000})
}

fn schema(name: &str) -> Value {
    json!({"name": name, "type": "PEOPLE", "autoId": "Employee ID", "labelId": "Full Name",
        "treeId": "Employee ID", "treeParentId": "Manager ID",
        "properties": [{"key": "Employee ID", "type": "number", "isRequired": true},
            {"key": "Manager ID", "type": "number", "isRequired": true}, {"key": "Full Name", "type": "text", "isRequired": true},
            {"key": "Department", "type": "text"}, {"key": "Start Date", "type": "date"}, {"key": "Salary", "type": "number"}]})
}

async fn create_dataset(b: &Bench, name: &str) -> anyhow::Result<String> {
    let r = b
        .client
        .post(format!("{}/api/v1/BENCH/datasets", b.url))
        .bearer_auth(&b.token)
        .json(&schema(name))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("creating a dataset answered {}: {}", r.status(), r.text().await?);
    }
    let v: Value = r.json().await?;
    Ok(v["datasetId"].as_str().unwrap_or_default().to_string())
}

fn batches(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::from("[");
    for i in 1..=n {
        let mut a = person(i);
        a["_action"] = json!("create");
        let s = a.to_string();
        if cur.len() + s.len() + 2 > BATCH_BYTES {
            cur.push(']');
            out.push(std::mem::replace(&mut cur, String::from("[")));
        }
        if cur.len() > 1 {
            cur.push(',');
        }
        cur.push_str(&s);
    }
    cur.push(']');
    out.push(cur);
    out
}

/// Raw baseline: the same rows inserted with one prepared statement in one transaction.
async fn raw_insert(database: &str, n: usize, run: usize) -> anyhow::Result<f64> {
    use sqlx::Executor;
    let table = format!("bench_raw_{run}_{}", std::process::id());
    let rows: Vec<(String, String)> = (1..=n).map(|i| (new_id(), person(i).to_string())).collect();
    let started;
    if let Some(path) = database.strip_prefix("sqlite://") {
        let raw = format!("{path}.raw");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&raw)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        let pool = sqlx::SqlitePool::connect_with(opts).await?;
        pool.execute(format!("CREATE TABLE {table} (dataset_id TEXT, item_id TEXT, seq BIGINT, data TEXT, created_at BIGINT, modified_at BIGINT, PRIMARY KEY (dataset_id, item_id))").as_str()).await?;
        started = Instant::now();
        let mut tx = pool.begin().await?;
        for (seq, (id, data)) in rows.iter().enumerate() {
            sqlx::query(&format!("INSERT INTO {table} VALUES ('d', ?1, ?2, ?3, 0, 0)"))
                .bind(id)
                .bind(seq as i64)
                .bind(data)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    } else {
        let pool = sqlx::PgPool::connect(database).await?;
        pool.execute(format!("CREATE TABLE {table} (dataset_id TEXT, item_id TEXT, seq BIGINT, data TEXT, created_at BIGINT, modified_at BIGINT, PRIMARY KEY (dataset_id, item_id))").as_str()).await?;
        started = Instant::now();
        let mut tx = pool.begin().await?;
        for (seq, (id, data)) in rows.iter().enumerate() {
            sqlx::query(&format!("INSERT INTO {table} VALUES ('d', $1, $2, $3, 0, 0)"))
                .bind(id)
                .bind(seq as i64)
                .bind(data)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Import scenario.
pub async fn import(b: &Bench, s: &Settings) -> anyhow::Result<Vec<Figure>> {
    let bodies = batches(s.import_items);
    let (mut values, mut base) = (Vec::new(), Vec::new());
    for run in 0..s.runs {
        let ds = create_dataset(b, &format!("Import {run}")).await?;
        let started = Instant::now();
        for body in &bodies {
            let r = b
                .client
                .put(format!("{}/api/v1/BENCH/datasets/{ds}/items?autoId=true", b.url))
                .bearer_auth(&b.token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await?;
            if r.status() != 200 {
                bail!("import answered {}: {}", r.status(), r.text().await?);
            }
        }
        let rate = s.import_items as f64 / started.elapsed().as_secs_f64();
        let raw = raw_insert(&b.database, s.import_items, run).await?;
        eprintln!("import run {run}: {rate:.0} rows/s (raw {raw:.0})");
        values.push(rate);
        base.push(raw);
    }
    Ok(vec![Figure {
        name: format!("{} PEOPLE items in {} batches", s.import_items, bodies.len()),
        unit: "rows/s",
        values,
        baseline: "raw prepared inserts, one transaction".into(),
        baseline_values: base,
        target: 0.5,
        note: String::new(),
    }])
}

/// A dataset of `n` people written straight into the store (the export and cold-start scenarios).
pub async fn seed_export(b: &Bench, n: usize) -> anyhow::Result<String> {
    let id = create_dataset(b, "Export").await?;
    let store = SqlStore::open(&b.database).await?;
    let ds = store.get_dataset(&id).await?.ok_or_else(|| anyhow!("the dataset is gone"))?;
    let mut seq = 0i64;
    let step = 50_000;
    for start in (1..=n).step_by(step) {
        let rows: Vec<Row> = (start..(start + step).min(n + 1))
            .map(|i| {
                seq += 1;
                let Value::Object(values) = person(i) else { unreachable!() };
                Row::from_item(&ds, &Item { id: new_id(), seq, created_at: 0, modified_at: 0, values })
            })
            .collect();
        let count = rows.len() as i64;
        let mut w = store.begin_items(&ds).await?;
        w.write(rows, Vec::new(), Vec::new()).await?;
        w.finish(count, &ops::new_cache_key(), 0).await?;
        w.commit().await?;
    }
    store.close().await;
    Ok(id)
}

/// Move the store's auth epoch (revoking a token that does not exist), so the server drops its caches and
/// its background poll loads the org tree again; returns the server's peak RSS growth meanwhile.
async fn reload_org_tree(b: &Bench, store: &SqlStore) -> anyhow::Result<u64> {
    let before = b.rss();
    store.revoke_token("bench-no-such-token", time::OffsetDateTime::now_utc()).await?;
    let mut peak = before;
    // The poll sees the move within 200 ms; loading 10,000 orgs takes a few hundred more.
    for _ in 0..75 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        peak = peak.max(b.rss());
    }
    Ok(peak.saturating_sub(before))
}

/// Counts the bytes an export produces, optionally gzipping them as the server's compression layer does.
struct Counter(u64, Option<flate2::write::GzEncoder<std::io::Sink>>);

impl Sink for Counter {
    async fn write(&mut self, chunk: String) -> Result<(), String> {
        self.0 += chunk.len() as u64;
        if let Some(gz) = &mut self.1 {
            std::io::Write::write_all(gz, chunk.as_bytes()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Export scenario.
pub async fn export(b: &Bench, s: &Settings) -> anyhow::Result<Vec<Figure>> {
    eprintln!("seeding {} items", s.export_items);
    let id = seed_export(b, s.export_items).await?;
    let store = SqlStore::open(&b.database).await?;
    let ds = store.get_dataset(&id).await?.ok_or_else(|| anyhow!("seeded dataset missing"))?;
    let mut figs = Vec::new();
    for (format, gzip) in [("jsonRows", false), ("csv", false), ("csv", true)] {
        let (mut values, mut base, mut peak_growth, mut compressed) = (Vec::new(), Vec::new(), 0u64, 0.0);
        let mut tree_growth = 0u64;
        for run in 0..s.runs {
            // Each run starts on a freshly loaded org tree (the 10,000 orgs of the request scenarios): the
            // server reloads a tree in use a few seconds before its 30 s TTL, so no reload falls inside the
            // export whose memory is measured. The reload's own memory is reported beside the figure.
            tree_growth = tree_growth.max(reload_org_tree(b, &store).await?);
            let warm = b.client.get(format!("{}/api/v1/BENCH/datasets", b.url)).bearer_auth(&b.token).send().await?;
            anyhow::ensure!(warm.status().is_success(), "the warm-up request answered {}", warm.status());
            let before = b.rss();
            let peak = Arc::new(AtomicU64::new(before));
            let done = Arc::new(AtomicBool::new(false));
            let sampler = {
                let (peak, done, pid) = (peak.clone(), done.clone(), b.pid);
                tokio::spawn(async move {
                    while !done.load(Ordering::Relaxed) {
                        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                        if let Some(kb) = st
                            .lines()
                            .find(|l| l.starts_with("VmRSS:"))
                            .and_then(|l| l.split_whitespace().nth(1))
                            .and_then(|k| k.parse::<u64>().ok())
                        {
                            peak.fetch_max(kb * 1024, Ordering::Relaxed);
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                })
            };
            let started = Instant::now();
            let mut req =
                b.client.get(format!("{}/api/v1/BENCH/datasets/{id}/export/{format}", b.url)).bearer_auth(&b.token);
            if gzip {
                req = req.header("accept-encoding", "gzip");
            }
            let r = req.send().await?;
            if r.status() != 200 {
                bail!("export answered {}", r.status());
            }
            if gzip && r.headers().get("content-encoding").is_none_or(|e| e != "gzip") {
                bail!("the export was not gzipped");
            }
            let mut bytes = 0u64;
            let mut body = r.bytes_stream();
            while let Some(c) = body.next().await {
                bytes += c?.len() as u64;
            }
            let secs = started.elapsed().as_secs_f64();
            done.store(true, Ordering::Relaxed);
            let _ = sampler.await;
            peak_growth = peak_growth.max(peak.load(Ordering::Relaxed).saturating_sub(before));
            let plan = ops::plan_sync_export(&ds, format, &[], None).map_err(|e| anyhow!(e.to_string()))?;
            let t = Instant::now();
            let mut counter = Counter(
                0,
                gzip.then(|| flate2::write::GzEncoder::new(std::io::sink(), flate2::Compression::default())),
            );
            stream::run(&store, &ds, &plan, &mut counter, |_| {}).await.map_err(|e| anyhow!(e))?;
            if let Some(gz) = counter.1.take() {
                gz.finish()?;
            }
            let raw = counter.0 as f64 / t.elapsed().as_secs_f64() / 1e6;
            if gzip {
                compressed = bytes as f64 / counter.0 as f64;
            }
            let rate = if gzip { counter.0 as f64 } else { bytes as f64 } / secs / 1e6;
            eprintln!("export {format} run {run}: {rate:.1} MB/s ({bytes} bytes; raw {raw:.1} MB/s)");
            values.push(rate);
            base.push(raw);
        }
        let (name, baseline, extra) = if gzip {
            (
                format!("{format} of {} items over HTTPS, gzip (uncompressed MB/s)", s.export_items),
                "in-process read + serialize + gzip (level 6), no HTTP",
                format!("; the body is {:.0}% of the csv", compressed * 100.0),
            )
        } else {
            (
                format!("{format} of {} items over HTTPS", s.export_items),
                "in-process read + serialize, no HTTP",
                String::new(),
            )
        };
        figs.push(Figure {
            name,
            unit: "MB/s",
            values,
            baseline: baseline.into(),
            baseline_values: base,
            target: 0.5,
            note: format!(
                "server peak RSS growth {:.1} MB (limit 64 MB){extra}; each run starts on a fresh org tree, whose background reload before it grew RSS by up to {:.1} MB",
                peak_growth as f64 / 1e6,
                tree_growth as f64 / 1e6
            ),
        });
    }
    store.close().await;
    Ok(figs)
}
