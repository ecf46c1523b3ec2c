//! Dataset scenarios at HR scale, against the storage engine's own tools on the same rows in the same run:
//! a 1,000,000-row CSV imported by the CLI and by an async job (beside `sqlite3 .import --csv` and psql
//! `\copy … FROM`), a full refresh with `implicitDelete`, 100-action writes into the full dataset in each
//! identification mode, streamed exports (beside `sqlite3 -csv` / `-json` and psql `\copy … TO`), the
//! memory of generated hierarchy values, and another tenant's reads while a big import runs.

use crate::report::{Figure, Latency};
use crate::server::{orgd_binary, Bench};
use crate::Settings;
use anyhow::{anyhow, bail, Context};
use futures_util::StreamExt;
use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::model::{Role, UsagePlan};
use orgd_store::SqlStore;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The PEOPLE dataset of the scenarios: 10 properties, a hierarchy with an empty manager at the top.
fn schema(name: &str) -> Value {
    json!({"name": name, "type": "PEOPLE", "autoId": "Employee ID", "labelId": "Full Name",
        "treeId": "Employee ID", "treeParentId": "Manager ID",
        "properties": [{"key": "Employee ID", "type": "number", "isRequired": true}, {"key": "Manager ID", "type": "number"},
            {"key": "Full Name", "type": "text", "isRequired": true}, {"key": "Email", "type": "text"},
            {"key": "Department", "type": "text"}, {"key": "Location", "type": "text"}, {"key": "Job Title", "type": "text"},
            {"key": "Grade", "type": "number"}, {"key": "Start Date", "type": "date"}, {"key": "Active", "type": "boolean"}]})
}

/// The plain table of the baselines: the same columns, no keys or indexes.
const PLAIN_COLUMNS: &str =
    "action TEXT, employee_id REAL, manager_id REAL, full_name TEXT, email TEXT, department TEXT, \
    location TEXT, job_title TEXT, grade REAL, start_date TEXT, active BOOLEAN";

/// Write `n` rows of `action` actions as CSV.
pub(crate) fn write_csv(path: &Path, n: usize, action: &str) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        f,
        "_action,Employee ID,Manager ID,Full Name,Email,Department,Location,Job Title,Grade,Start Date,Active"
    )?;
    for i in 1..=n {
        let manager = if i == 1 { String::new() } else { ((i - 2) / 8 + 1).to_string() };
        writeln!(
            f,
            "{action},{i},{manager},Person {i},person{i}@acme.test,Department {},City {},Title {},{},2020-{:02}-{:02},{}",
            i % 97,
            i % 31,
            i % 53,
            i % 12,
            1 + i % 12,
            1 + i % 28,
            i % 3 != 0
        )?;
    }
    f.flush()?;
    Ok(())
}

pub(crate) async fn create_dataset(b: &Bench, tenant: &str, token: &str, name: &str) -> anyhow::Result<String> {
    let r = b
        .client
        .post(format!("{}/api/v1/{tenant}/datasets", b.url))
        .bearer_auth(token)
        .json(&schema(name))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("creating a dataset answered {}: {}", r.status(), r.text().await?);
    }
    let v: Value = r.json().await?;
    Ok(v["datasetId"].as_str().unwrap_or_default().to_string())
}

/// `PUT …/items?autoId=true` of `actions` into tenant OTHER's dataset `id`; `what` names it when it fails.
async fn put_items(b: &Bench, token: &str, id: &str, actions: &Value, what: &str) -> anyhow::Result<()> {
    let url = format!("{}/api/v1/OTHER/datasets/{id}/items?autoId=true", b.url);
    let r = b.client.put(url).bearer_auth(token).json(actions).send().await?;
    anyhow::ensure!(r.status() == 200, "{what} answered {}", r.status());
    Ok(())
}

pub(crate) async fn delete_dataset(b: &Bench, id: &str) -> anyhow::Result<()> {
    let r = b.client.delete(format!("{}/api/v1/BENCH/datasets/{id}", b.url)).bearer_auth(&b.token).send().await?;
    anyhow::ensure!(r.status() == 204, "deleting a dataset answered {}", r.status());
    Ok(())
}

pub(crate) fn rss_of(pid: u32) -> u64 {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    st.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples a process's RSS every 20 ms until dropped; `peak()` is the highest seen.
struct Sampler {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let (peak, done) = (Arc::new(AtomicU64::new(rss_of(pid))), Arc::new(AtomicBool::new(false)));
        let (p, d) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !d.load(Ordering::Relaxed) {
                p.fetch_max(rss_of(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler { peak, done }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Let the server load its org tree now (moving the auth epoch), so that no reload of the 10,000 orgs of
/// the request scenarios falls inside a memory measurement; then one request uses it.
pub(crate) async fn settle(b: &Bench) -> anyhow::Result<()> {
    let store = SqlStore::open(&b.database).await?;
    orgd_core::store::Store::revoke_token(&store, "bench-no-such-token", time::OffsetDateTime::now_utc()).await?;
    store.close().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = b.client.get(format!("{}/api/v1/BENCH/datasets", b.url)).bearer_auth(&b.token).send().await?;
    anyhow::ensure!(r.status().is_success(), "the warm-up request answered {}", r.status());
    Ok(())
}

/// `orgd admin dataset import` (of the server's binary) of `file` into `dataset`: seconds and the CLI's peak RSS growth over its
/// RSS right after start.
pub(crate) fn cli_import(b: &Bench, dataset: &str, file: &Path, extra: &[&str]) -> anyhow::Result<(f64, u64)> {
    let t = Instant::now();
    let child = Command::new(&b.binary)
        .args(["admin", "--database", &b.database, "dataset", "import", "--tenant", "BENCH", "--dataset", dataset])
        .arg("--file")
        .arg(file)
        .args(["--auto-id"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(30));
    let start_rss = rss_of(pid);
    let sampler = Sampler::start(pid);
    let out = child.wait_with_output()?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("orgd admin dataset import failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((secs, sampler.peak().saturating_sub(start_rss)))
}

/// The engine's own bulk load of `file` into a plain table of the same columns: seconds.
fn engine_import(database: &str, file: &Path, run: usize) -> anyhow::Result<f64> {
    let table = format!("plain_{run}_{}", std::process::id());
    if let Some(path) = database.strip_prefix("sqlite://") {
        let db = format!("{path}.plain");
        let _ = std::fs::remove_file(&db);
        let create =
            Command::new("sqlite3").arg(&db).arg(format!("CREATE TABLE {table} ({PLAIN_COLUMNS})")).status()?;
        anyhow::ensure!(create.success(), "sqlite3 could not make the plain table");
        let t = Instant::now();
        let s = Command::new("sqlite3")
            .arg(&db)
            .arg(format!(".import --csv --skip 1 {} {table}", file.display()))
            .status()
            .context("sqlite3 (install Debian's sqlite3)")?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(s.success(), "sqlite3 .import failed");
        let _ = std::fs::remove_file(&db);
        Ok(secs)
    } else {
        psql(database, &format!("CREATE TABLE {table} ({PLAIN_COLUMNS})"))?;
        let t = Instant::now();
        psql(database, &format!("\\copy {table} FROM '{}' (FORMAT csv, HEADER true)", file.display()))?;
        let secs = t.elapsed().as_secs_f64();
        psql(database, &format!("DROP TABLE {table}"))?;
        Ok(secs)
    }
}

fn psql(database: &str, command: &str) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("psql").args([database, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command]).output()?;
    anyhow::ensure!(out.status.success(), "psql {command}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(out.stdout)
}

/// Upload `file` to a `files/generate` URL, import it by an async job and wait: seconds from the job's
/// submission to its end.
async fn async_import(b: &Bench, dataset: &str, file: &Path) -> anyhow::Result<f64> {
    let f: Value = b
        .client
        .post(format!("{}/api/v1/BENCH/files/generate", b.url))
        .bearer_auth(&b.token)
        .json(&json!({"targetType": "csv", "targetEncoding": "identity"}))
        .send()
        .await?
        .json()
        .await?;
    let put = f["_links"]["put"]["url"].as_str().ok_or_else(|| anyhow!("no upload URL: {f}"))?;
    let body = tokio::fs::read(file).await?;
    let r = b.client.put(put).body(body).send().await?;
    anyhow::ensure!(r.status() == 200, "the upload answered {}", r.status());
    let t = Instant::now();
    let url = format!("{}/api/v1/BENCH/datasets/{dataset}/items/import?autoId=true", b.url);
    let job: Value = b
        .client
        .put(url)
        .bearer_auth(&b.token)
        .json(&json!({"importLocation": {"method": "GET", "url": f["_links"]["get"]["url"]}}))
        .send()
        .await?
        .json()
        .await?;
    let id = job["jobId"].as_str().ok_or_else(|| anyhow!("no job: {job}"))?.to_string();
    loop {
        let t2: Value = b
            .client
            .get(format!("{}/api/v1/BENCH/jobs/{id}", b.url))
            .bearer_auth(&b.token)
            .send()
            .await?
            .json()
            .await?;
        match t2["jobStatus"].as_str() {
            Some("completed") => return Ok(t.elapsed().as_secs_f64()),
            Some("failed") => bail!("the import job failed: {t2}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Import figures.
pub async fn import(b: &Bench, s: &Settings) -> anyhow::Result<(Vec<Figure>, String)> {
    let n = s.import_items;
    let dir = b._dir.path();
    let file = dir.join("people.csv");
    let refresh = dir.join("refresh.csv");
    write_csv(&file, n, "create")?;
    write_csv(&refresh, n, "createOrUpdate")?;
    let size = std::fs::metadata(&file)?.len();
    let (mut cli, mut cli_base, mut cli_rss) = (Vec::new(), Vec::new(), 0u64);
    let (mut job, mut job_base, mut job_rss) = (Vec::new(), Vec::new(), 0u64);
    let mut full = String::new();
    for run in 0..s.runs {
        let ds = create_dataset(b, "BENCH", &b.token, &format!("Import {run}")).await?;
        let (secs, rss) = tokio::task::block_in_place(|| cli_import(b, &ds, &file, &[]))?;
        let base = tokio::task::block_in_place(|| engine_import(&b.database, &file, run))?;
        eprintln!(
            "cli import run {run}: {secs:.2} s ({:.0} rows/s), engine {base:.2} s, RSS +{:.0} MB",
            n as f64 / secs,
            mb(rss)
        );
        cli.push(n as f64 / secs);
        cli_base.push(n as f64 / base);
        cli_rss = cli_rss.max(rss);
        if run + 1 < s.runs {
            delete_dataset(b, &ds).await?;
        } else {
            full = ds;
        }
        let ds = create_dataset(b, "BENCH", &b.token, &format!("Async {run}")).await?;
        settle(b).await?;
        let before = b.rss();
        let sampler = Sampler::start(b.pid);
        let secs = async_import(b, &ds, &file).await?;
        job_rss = job_rss.max(sampler.peak().saturating_sub(before));
        drop(sampler);
        let base = tokio::task::block_in_place(|| engine_import(&b.database, &file, run))?;
        eprintln!("async import run {run}: {secs:.2} s, engine {base:.2} s");
        job.push(n as f64 / secs);
        job_base.push(n as f64 / base);
        delete_dataset(b, &ds).await?;
    }
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for run in 0..s.runs {
        let (plain, _) = tokio::task::block_in_place(|| cli_import(b, &full, &refresh, &[]))?;
        let (implicit, _) = tokio::task::block_in_place(|| cli_import(b, &full, &refresh, &["--implicit-delete"]))?;
        eprintln!("refresh run {run}: {plain:.2} s, with implicitDelete {implicit:.2} s");
        without.push(n as f64 / plain);
        with.push(n as f64 / implicit);
    }
    let engine = if b.database.starts_with("sqlite://") {
        "`sqlite3 .import --csv` into a plain table of the same columns"
    } else {
        "psql `\\copy … FROM … (FORMAT csv)` into a plain table of the same columns"
    };
    let figs = vec![
        Figure {
            name: format!(
                "{n}-row CSV ({} MB, 10 properties) into an empty dataset, `orgd admin dataset import --auto-id`",
                size / 1_000_000
            ),
            unit: "rows/s",
            values: cli,
            baseline: engine.into(),
            baseline_values: cli_base,
            target: 0.5,
            note: format!(
                "CLI peak RSS growth {:.0} MB (limit 128 MB); one transaction, every key looked up",
                mb(cli_rss)
            ),
        },
        Figure {
            name: "the same file uploaded, then an async import job (submission to completed)".to_string(),
            unit: "rows/s",
            values: job,
            baseline: engine.into(),
            baseline_values: job_base,
            target: 0.5,
            note: format!("server peak RSS growth {:.0} MB (limit 128 MB); results kept as job chunks", mb(job_rss)),
        },
        Figure {
            name: format!("full refresh of the {n}-item dataset (`createOrUpdate` every row) with `implicitDelete`"),
            unit: "rows/s",
            values: with,
            baseline: "the same refresh without implicitDelete".into(),
            baseline_values: without,
            target: 0.5,
            note: "ratio ≥ 0.5 = at most twice the time".into(),
        },
    ];
    Ok((figs, full))
}

/// 100 mixed actions per request into the full dataset, in each identification mode.
pub async fn writes(b: &Bench, s: &Settings, dataset: &str) -> anyhow::Result<Vec<Latency>> {
    let n = s.import_items;
    let url = format!("{}/api/v1/BENCH/datasets/{dataset}/items", b.url);
    let ids: Vec<String> = {
        let store = SqlStore::open(&b.database).await?;
        let id = orgd_core::ids::DatasetId::parse(dataset).ok_or_else(|| anyhow!("{dataset} is not a dataset id"))?;
        let ds = orgd_core::store::Store::get_dataset(&store, &id).await?.ok_or_else(|| anyhow!("no dataset"))?;
        let mut ids = Vec::new();
        let mut after = 0;
        while ids.len() < 5000 {
            let page = orgd_core::store::Store::item_page(&store, &ds, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq + 197;
            ids.extend(page.into_iter().step_by(7).map(|i| i.id));
        }
        store.close().await;
        ids
    };
    let mut out = Vec::new();
    for (m, mode) in ["_id", "autoId", "idKey"].into_iter().enumerate() {
        let mut times = Vec::new();
        settle(b).await?;
        let before = b.rss();
        let sampler = Sampler::start(b.pid);
        for req in 0..s.runs * 10 {
            let mut actions = Vec::new();
            for k in 0..100usize {
                let i = 1 + (req * 7919 + k * 104_729) % n;
                let new = 10_000_000 * (m + 1) + req * 100 + k;
                let a = match (mode, k % 4) {
                    ("_id", 0 | 1) => {
                        json!({"_action": "update", "_id": ids[(req * 100 + k) % ids.len()], "Grade": k % 12})
                    }
                    ("_id", 2) => {
                        json!({"_action": "createOrUpdate", "_id": ids[(req * 31 + k) % ids.len()], "Location": "Moved"})
                    }
                    ("_id", _) => json!({"_action": "create", "Employee ID": new, "Full Name": "New hire"}),
                    ("autoId", 0 | 1) => {
                        json!({"_action": "createOrUpdate", "Employee ID": i, "Full Name": format!("Person {i}"), "Grade": k % 12})
                    }
                    ("autoId", 2) => json!({"_action": "update", "Employee ID": i, "Location": "Moved"}),
                    ("autoId", _) => json!({"_action": "create", "Employee ID": new, "Full Name": "New hire"}),
                    (_, 0 | 1) => {
                        json!({"_action": "update", "Email": format!("person{i}@acme.test"), "Grade": k % 12})
                    }
                    (_, 2) => {
                        json!({"_action": "createOrUpdate", "Email": format!("person{i}@acme.test"), "Full Name": format!("Person {i}"), "Employee ID": i})
                    }
                    (_, _) => {
                        json!({"_action": "create", "Email": format!("new{new}@acme.test"), "Employee ID": new, "Full Name": "New hire"})
                    }
                };
                actions.push(a);
            }
            let q = match mode {
                "_id" => "",
                "autoId" => "?autoId=true",
                _ => "?idKey=Email",
            };
            let t = Instant::now();
            let r = b.client.put(format!("{url}{q}")).bearer_auth(&b.token).json(&actions).send().await?;
            let status = r.status();
            let body = r.text().await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(status == 200, "PUT ({mode}) answered {status}: {}", &body[..body.len().min(300)]);
        }
        let growth = sampler.peak().saturating_sub(before);
        drop(sampler);
        times.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let runs: Vec<f64> = times.chunks(10).map(|c| c[c.len() / 2]).collect();
        eprintln!("PUT 100 actions by {mode}: median {:.1} ms, RSS +{:.1} MB", times[times.len() / 2], mb(growth));
        out.push(Latency {
            name: format!("PUT …/items, 100 mixed actions (update, createOrUpdate, create) identified by {mode}, into the {n}-item dataset"),
            values: runs,
            limit: 20.0,
            note: format!(
                "median of each run's 10 requests; p max {:.1} ms; server RSS growth {:.1} MB (limit 16 MB){}",
                times[times.len() - 1],
                mb(growth),
                if mode == "idKey" { "; the first idKey import made its index" } else { "" }
            ),
        });
    }
    Ok(out)
}

/// Adding an optional property to the full dataset, and removing it again, over HTTPS.
pub async fn schema_changes(b: &Bench, s: &Settings, dataset: &str) -> anyhow::Result<Vec<Latency>> {
    let url = format!("{}/api/v1/BENCH/datasets/{dataset}/properties", b.url);
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for run in 0..s.runs {
        let key = format!("Extra{run}");
        let t = Instant::now();
        let r = b.client.post(&url).bearer_auth(&b.token).json(&json!({"key": key, "type": "text"})).send().await?;
        added.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(r.status() == 201, "adding a property answered {}", r.status());
        let t = Instant::now();
        let r = b.client.delete(format!("{url}/{key}")).bearer_auth(&b.token).send().await?;
        removed.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(r.status() == 200, "removing a property answered {}", r.status());
    }
    let n = s.import_items;
    let mut sorted = removed.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(vec![Latency {
        name: format!("POST …/properties: an optional text property added to the {n}-item dataset"),
        values: added,
        limit: 1000.0,
        note: format!(
            "no item is rewritten; removing it again (its values and column go) took {:.1}–{:.1} ms",
            sorted[0],
            sorted[sorted.len() - 1]
        ),
    }])
}

/// Export figures over the full dataset, against the engine's own export of the same rows.
pub async fn export(b: &Bench, s: &Settings, dataset: &str) -> anyhow::Result<(Vec<Figure>, Vec<Latency>)> {
    let table = format!("items_{}", dataset.replace('-', "").to_ascii_lowercase());
    let columns: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    let select = format!("SELECT {} FROM {table} ORDER BY seq", columns.join(", "));
    let mut figs = Vec::new();
    for format in ["csv", "jsonRows"] {
        let (mut values, mut base, mut growth) = (Vec::new(), Vec::new(), 0u64);
        for run in 0..s.runs {
            let (secs, bytes, g) = http_export(b, dataset, format, "").await?;
            growth = growth.max(g);
            let (bsecs, bbytes) = tokio::task::block_in_place(|| engine_export(&b.database, &select, format))?;
            eprintln!(
                "export {format} run {run}: {:.1} MB/s, engine {:.1} MB/s",
                bytes as f64 / secs / 1e6,
                bbytes as f64 / bsecs / 1e6
            );
            values.push(bytes as f64 / secs / 1e6);
            base.push(bbytes as f64 / bsecs / 1e6);
        }
        let engine = match (b.database.starts_with("sqlite://"), format) {
            (true, "csv") => "`sqlite3 -csv -header` of the same rows",
            (true, _) => "`sqlite3 -json` of the same rows",
            (false, _) => "psql `\\copy (SELECT …) TO STDOUT (FORMAT csv)` of the same rows",
        };
        figs.push(Figure {
            name: format!("sync `{format}` export of {} items over HTTPS", s.import_items),
            unit: "MB/s",
            values,
            baseline: engine.into(),
            baseline_values: base,
            target: 0.5,
            note: format!("server peak RSS growth {:.1} MB (limit 64 MB)", mb(growth)),
        });
    }
    let (mut secs, mut peak) = (Vec::new(), 0u64);
    for _ in 0..s.runs {
        let (t, _, g) = http_export(b, dataset, "csv", "?generated=true").await?;
        eprintln!("export csv with generated values: {t:.2} s, RSS +{:.0} MB", mb(g));
        secs.push(t * 1000.0);
        peak = peak.max(g);
    }
    let lat = vec![Latency {
        name: format!(
            "sync `csv` export with the generated hierarchy values (`generated=true`) of {} items",
            s.import_items
        ),
        values: secs,
        limit: 60_000.0,
        note: format!("server peak RSS growth {:.0} MB (limit 200 MB); the limit of the time is ours", mb(peak)),
    }];
    Ok((figs, lat))
}

/// What governance costs an export of the full dataset: a plain user's `csv` export with a restricted
/// property it may not read, and with a row rule that every item passes, against the same user's export
/// with neither (items/s); then a type change of every value.
pub async fn governance(b: &Bench, s: &Settings, dataset: &str) -> anyhow::Result<(Vec<Figure>, Vec<Latency>)> {
    let perms = format!("{}/api/v1/BENCH/datasets/{dataset}/permissions", b.url);
    let set = |grants: Value| {
        let perms = perms.clone();
        async move {
            let r = b.client.put(&perms).bearer_auth(&b.token).json(&grants).send().await?;
            anyhow::ensure!(r.status() == 200, "setting grants answered {}", r.status());
            anyhow::Ok(())
        }
    };
    let n = s.import_items as f64;
    let per_second = |grants: Value| {
        let set = &set;
        async move {
            set(grants).await?;
            let mut values = Vec::new();
            for _ in 0..s.runs {
                let (secs, _, _) = export_as(b, &b.reader_token, dataset, "csv", "").await?;
                values.push(n / secs);
            }
            anyhow::Ok(values)
        }
    };
    let open = per_second(json!({})).await?;
    let restricted = per_second(json!({"properties": {"Email": {"roles": []}}})).await?;
    let ruled = per_second(json!({"rows": {"roles": {"user": {"Employee ID": {"$gte": 0}}}}})).await?;
    set(json!({})).await?;
    let figure = |name: &str, values: Vec<f64>| Figure {
        name: format!("sync `csv` export of {} items by a plain user, {name}", s.import_items),
        unit: "items/s",
        values,
        baseline: "the same user's export of the same dataset without it".into(),
        baseline_values: open.clone(),
        target: 0.9,
        note: String::new(),
    };
    let figs = vec![
        figure("one property restricted from it (the export leaves that column out)", restricted),
        figure("under a row rule every item passes (evaluated per item)", ruled),
    ];
    let url = format!("{}/api/v1/BENCH/datasets/{dataset}/properties/Grade", b.url);
    let (mut there, mut back) = (Vec::new(), Vec::new());
    for _ in 0..s.runs {
        for (ty, out) in [("text", &mut there), ("number", &mut back)] {
            let t = Instant::now();
            let r = b.client.patch(&url).bearer_auth(&b.token).json(&json!({"type": ty})).send().await?;
            out.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(r.status() == 200, "changing Grade to {ty} answered {}", r.status());
        }
    }
    let mut sorted = back.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let lat = vec![Latency {
        name: format!(
            "PATCH …/properties/Grade {{\"type\":\"text\"}}: every value of the {}-item dataset converted",
            s.import_items
        ),
        values: there,
        limit: 60_000.0,
        note: format!(
            "one pass in one transaction; back to number took {:.0}–{:.0} ms; the limit is ours",
            sorted[0],
            sorted[sorted.len() - 1]
        ),
    }];
    Ok((figs, lat))
}

/// One sync export over HTTPS: seconds, bytes, server peak RSS growth.
pub(crate) async fn http_export(
    b: &Bench,
    dataset: &str,
    format: &str,
    query: &str,
) -> anyhow::Result<(f64, u64, u64)> {
    export_as(b, &b.token, dataset, format, query).await
}

/// [`http_export`] with a chosen caller's token.
async fn export_as(
    b: &Bench,
    token: &str,
    dataset: &str,
    format: &str,
    query: &str,
) -> anyhow::Result<(f64, u64, u64)> {
    settle(b).await?;
    let before = b.rss();
    let sampler = Sampler::start(b.pid);
    let t = Instant::now();
    let r = b
        .client
        .get(format!("{}/api/v1/BENCH/datasets/{dataset}/export/{format}{query}", b.url))
        .bearer_auth(token)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "export answered {}", r.status());
    let mut bytes = 0u64;
    let mut body = r.bytes_stream();
    while let Some(c) = body.next().await {
        bytes += c?.len() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    Ok((secs, bytes, sampler.peak().saturating_sub(before)))
}

/// The engine's own export of the same rows to a pipe: seconds and bytes.
fn engine_export(database: &str, select: &str, format: &str) -> anyhow::Result<(f64, u64)> {
    let t = Instant::now();
    let out = if let Some(path) = database.strip_prefix("sqlite://") {
        let mode = if format == "csv" { "-csv" } else { "-json" };
        Command::new("sqlite3").args([mode, "-header", path, select]).output()?
    } else {
        Command::new("psql")
            .args([database, "-X", "-q", "-c", &format!("\\copy ({select}) TO STDOUT (FORMAT csv)")])
            .output()?
    };
    anyhow::ensure!(out.status.success(), "the engine's export failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok((t.elapsed().as_secs_f64(), out.stdout.len() as u64))
}

/// Tenant B's reads (csv export of its small dataset, then its metadata) and, every tenth, a one-action
/// write, until `busy` ends: the milliseconds of each read and of each write.
async fn watch_b(
    b: &Bench,
    token: &str,
    other: &str,
    busy: &std::thread::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    let mut k = 0usize;
    while !busy.is_finished() {
        let t = Instant::now();
        let r = b
            .client
            .get(format!("{}/api/v1/OTHER/datasets/{other}/export/csv", b.url))
            .bearer_auth(token)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "B's read answered {}", r.status());
        r.bytes().await?;
        let r = b.client.get(format!("{}/api/v1/OTHER/datasets/{other}", b.url)).bearer_auth(token).send().await?;
        anyhow::ensure!(r.status() == 200, "B's metadata read answered {}", r.status());
        // Read to the end: a response dropped unread is a stream the client resets, and HTTP/2 clients
        // close a connection that resets too many (h2's `too_many_internal_resets`).
        r.bytes().await?;
        reads.push(t.elapsed().as_secs_f64() * 1000.0);
        k += 1;
        if k.is_multiple_of(10) {
            let t = Instant::now();
            let a = json!([{"_action": "update", "Employee ID": 1 + k % 1000, "Full Name": format!("Renamed {k}")}]);
            put_items(b, token, other, &a, "B's write").await?;
            writes.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok((reads, writes))
}

/// The `p`th percentile of `values`.
fn percentile(mut values: Vec<f64>, p: usize) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get((values.len() * p / 100).min(values.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
}

/// Another tenant's reads and writes while tenant BENCH imports the whole file by the CLI, and on PostgreSQL
/// the same writes while psql loads the same rows (the engine's own reference).
pub async fn neighbours(b: &Bench, s: &Settings) -> anyhow::Result<Vec<Latency>> {
    let store = SqlStore::open(&b.database).await?;
    let now = SystemClock::default().now();
    let new = NewOrg { tenant_id: Some("OTHER".into()), name: "Other".into(), ..NewOrg::default() };
    let fail = |e: orgd_core::ApiError| anyhow!(e.to_string());
    let org = match cases::orgs::create(&store, new, &UsagePlan::default(), now).await {
        Ok(o) => o,
        Err(_) => (*cases::orgs::load(&store, "OTHER").await.map_err(fail)?).clone(),
    };
    cases::orgs::update(&store, "OTHER", crate::server::unlimited()).await.map_err(fail)?;
    let fields = UserFields {
        role: Some(Role::Administrator),
        token_access: Some(true),
        email: Some("o@other.test".into()),
        ..UserFields::default()
    };
    let user = match cases::users::create(&store, &org, "o@other.test", fields, now).await {
        Ok(u) => u,
        Err(_) => cases::users::find(&store, &org, "o@other.test").await.map_err(fail)?,
    };
    let (token, _) = cases::tokens::create_api(&store, &user, NewToken::default(), now).await.map_err(fail)?;
    store.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other = create_dataset(b, "OTHER", &token, "Small").await?;
    let small: Vec<Value> =
        (1..=1000).map(|i| json!({"_action": "create", "Employee ID": i, "Full Name": format!("P{i}")})).collect();
    put_items(b, &token, &other, &Value::from(small), "the small import").await?;
    let file = b._dir.path().join("people.csv");
    let (mut reads_p99, mut writes_max, mut engine_max) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..s.runs {
        let big = create_dataset(b, "BENCH", &b.token, &format!("Busy {run}")).await?;
        let (bb, big2, file2) = (b.database.clone(), big.clone(), file.clone());
        let bin = orgd_binary()?;
        let started = Instant::now();
        let importer = std::thread::spawn(move || {
            let s = Command::new(bin)
                .args(["admin", "--database", &bb, "dataset", "import", "--tenant", "BENCH", "--dataset", &big2])
                .arg("--auto-id")
                .arg("--file")
                .arg(file2)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            anyhow::ensure!(s.success(), "A's import failed");
            Ok(())
        });
        let (reads, writes) = watch_b(b, &token, &other, &importer).await?;
        importer.join().map_err(|_| anyhow!("the importer panicked"))??;
        let took = started.elapsed();
        let read_count = reads.len();
        reads_p99.push(percentile(reads, 99));
        let wmax = writes.iter().fold(0f64, |a, b| a.max(*b));
        writes_max.push(wmax);
        // On PostgreSQL, the same writes while psql loads the same rows into the same database server, for
        // as long as A's import took (SQLite's own tool would load another file: no shared writer).
        if b.database.starts_with("sqlite://") {
            eprintln!(
                "while A imports: B's reads p99 {:.1} ms over {}, B's writes max {wmax:.0} ms over {}",
                reads_p99[run],
                read_count,
                writes.len()
            );
            delete_dataset(b, &big).await?;
            continue;
        }
        let (database, file3) = (b.database.clone(), file.clone());
        let engine = std::thread::spawn(move || {
            let mut k = 0;
            while started.elapsed() < took * 2 {
                engine_import(&database, &file3, 1000 + run * 100 + k)?;
                k += 1;
            }
            Ok(())
        });
        let (_, engine_writes) = watch_b(b, &token, &other, &engine).await?;
        engine.join().map_err(|_| anyhow!("the engine's load panicked"))??;
        let emax = engine_writes.iter().fold(0f64, |a, b| a.max(*b));
        eprintln!(
            "while A imports: B's reads p99 {:.1} ms over {}, B's writes max {wmax:.0} ms over {}; \
             while the engine loads: B's writes max {emax:.0} ms over {}",
            reads_p99[run],
            read_count,
            writes.len(),
            engine_writes.len()
        );
        engine_max.push(emax);
        delete_dataset(b, &big).await?;
    }
    let sqlite = b.database.starts_with("sqlite://");
    let mut out = vec![Latency {
        name: format!(
            "p99 of tenant B's reads (metadata + csv export of its 1,000 items) while tenant A imports {} rows",
            s.import_items
        ),
        values: reads_p99,
        limit: 50.0,
        note: "reads run on their own snapshot, never waiting for A's write lock".into(),
    }];
    out.push(Latency {
        name: "the slowest of tenant B's one-action writes meanwhile".into(),
        values: writes_max,
        limit: if sqlite { 60_000.0 } else { 50.0 },
        note: if sqlite {
            "SQLite has one writer: B's write waits for A's commit (the limit is the busy timeout, 60 s)".into()
        } else {
            "PostgreSQL locks per dataset: B writes while A imports; each write waits for its commit's WAL flush, \
             which A's load makes slower"
                .into()
        },
    });
    if !sqlite {
        out.push(Latency {
            name: "the slowest of the same writes of B while psql `\\copy` loads the same rows into a plain table \
                   (the engine's own load, for reference)"
                .into(),
            values: engine_max,
            limit: 50.0,
            note: "psql `\\copy … FROM … (FORMAT csv)` repeated for as long as A's import took".into(),
        });
    }
    Ok(out)
}
