//! What the change history costs. Small writes and a 1,000,000-row import run on this build and, in turn, on
//! a release build of the last commit without the change history (`orgd-before-events`, which
//! `bench/run.sh` builds), each on a database of its own seeded by its own binary; a webhook fan-out of
//! 1,000 deliveries/s to a receiver in this process, with the server's memory over time; and the events
//! query over 10,000,000 events beside the engine's own time for the SQL orgd issues.

use crate::data::{cli_import, create_dataset, delete_dataset, mb, rss_of, write_csv};
use crate::report::{Count, Figure, Latency};
use crate::requests::{lua, run};
use crate::server::Bench;
use crate::Settings;
use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last commit without the change history; `bench/run.sh` builds it as `target/release/orgd-before-events`.
pub const BEFORE_EVENTS: &str = "7354c98";

/// The seeded administrator's token (public id `benchadmintokena`).
const TOKEN: &str = "orgd_benchadmintokena_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Users whose updates the write and fan-out scenarios make.
const USERS: usize = 100;

/// Webhook subscriptions of the fan-out, and user updates per second: 20 × 50 = 1,000 deliveries/s.
const SUBSCRIPTIONS: usize = 20;
const UPDATES_PER_SECOND: u64 = 50;

/// Seconds of load of each fan-out run.
const FANOUT_SECONDS: u64 = 60;

/// The release build of [`BEFORE_EVENTS`], beside this harness.
pub fn before_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe.parent().ok_or_else(|| anyhow!("no parent"))?.join("orgd-before-events");
    anyhow::ensure!(
        p.exists(),
        "{} is missing: `bench/run.sh events` builds it from commit {BEFORE_EVENTS}",
        p.display()
    );
    Ok(p)
}

/// One tenant with no usage limit, its administrator (with [`TOKEN`]) and [`USERS`] plain users.
fn seed() -> String {
    let mut y = format!(
        "orgs:\n  - tenant_id: BENCH\n    name: Bench\n    usage_plan: {{rate_per_second: 1000000, burst: 1000000, \
         max_concurrent: 10000, daily_quota: null}}\n    users:\n      - user_id: bench@bench.test\n        \
         role: administrator\n        email: bench@bench.test\n        token_access: true\n        tokens:\n          \
         - secret: {TOKEN}\n"
    );
    for i in 0..USERS {
        y.push_str(&format!("      - user_id: u{i}@bench.test\n        first_name: U{i}\n"));
    }
    y
}

/// The `psk`s of the seeded plain users (`GET /v1/users`).
async fn psks(b: &Bench) -> anyhow::Result<Vec<i64>> {
    let r = b.client.get(format!("{}/v1/users", b.url)).header("X-TOKEN", &b.token).send().await?;
    anyhow::ensure!(r.status() == 200, "GET /v1/users answered {}", r.status());
    let v: Value = r.json().await?;
    fn walk(v: &Value, out: &mut Vec<i64>) {
        match v {
            Value::Object(m) => {
                let plain = m.get("user_id").and_then(Value::as_str).is_some_and(|u| u.starts_with('u'));
                match m.get("psk").and_then(Value::as_i64) {
                    Some(psk) if plain => out.push(psk),
                    _ => m.values().for_each(|x| walk(x, out)),
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&v, &mut out);
    anyhow::ensure!(out.len() == USERS, "GET /v1/users listed {} of the {USERS} seeded users", out.len());
    Ok(out)
}

/// A wrk script whose every request changes a user's first name (a new value each time, so each is a change
/// and records a `user.updated` event on a build with events).
fn user_script(psks: &[i64], tag: &str) -> String {
    let list = psks.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    format!(
        "local psks = {{{list}}}\nlocal threads = 0\nlocal n = 0\n\
         function setup(thread) threads = threads + 1; thread:set(\"tid\", threads) end\n\
         function request()\n  n = n + 1\n  local psk = psks[(n * 7 + tid) % #psks + 1]\n  \
         return wrk.format(\"PUT\", \"/v1/users/\" .. psk, {{[\"X-TOKEN\"] = \"{TOKEN}\", \
         [\"Content-Type\"] = \"application/json\"}}, '{{\"first_name\":\"{tag}-' .. tid .. '-' .. n .. '\"}}')\nend\n"
    )
}

/// A wrk script of one-action imports (`createOrUpdate` of one of 1,000 people with a new name each time).
fn item_script(dataset: &str, tag: &str) -> String {
    format!(
        "local threads = 0\nlocal n = 0\n\
         function setup(thread) threads = threads + 1; thread:set(\"tid\", threads) end\n\
         function request()\n  n = n + 1\n  local k = (n * 7 + tid) % 1000 + 1\n  \
         return wrk.format(\"PUT\", \"/api/v1/BENCH/datasets/{dataset}/items?autoId=true\", \
         {{[\"Authorization\"] = \"Bearer {TOKEN}\", [\"Content-Type\"] = \"application/json\"}}, \
         '[{{\"_action\":\"createOrUpdate\",\"Employee ID\":' .. k .. ',\"Full Name\":\"{tag}-' .. tid .. '-' .. n .. '\"}}]')\nend\n"
    )
}

/// Small writes, a read and a 1,000,000-row CLI import on this build against the build before events, in
/// turn, `s.runs` times each.
pub async fn overhead(s: &Settings, pg: Option<&str>) -> anyhow::Result<Vec<Figure>> {
    let before = before_binary()?;
    let now = crate::server::orgd_binary()?;
    let mut builds = Vec::new();
    for bin in [&before, &now] {
        let b =
            Bench::seeded(bin, pg, &seed(), TOKEN, &[]).await.with_context(|| format!("starting {}", bin.display()))?;
        let psks = psks(&b).await?;
        let small = create_dataset(&b, "BENCH", &b.token, "Small writes").await?;
        builds.push((b, psks, small));
    }
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("people.csv");
    write_csv(&file, s.import_items, "create")?;
    // [before, now] per figure
    let mut users = [Vec::new(), Vec::new()];
    let mut items = [Vec::new(), Vec::new()];
    let mut reads = [Vec::new(), Vec::new()];
    let mut imports = [Vec::new(), Vec::new()];
    for r in 0..s.runs {
        for (i, (b, psks, small)) in builds.iter().enumerate() {
            let tag = format!("r{r}b{i}");
            let script = lua(dir.path(), "users.lua", &user_script(psks, &tag))?;
            let w = tokio::task::block_in_place(|| run(&b.url, 8, s.seconds, Some(&script), &[]))?;
            users[i].push(w.rps);
            let script = lua(dir.path(), "items.lua", &item_script(small, &tag))?;
            let w = tokio::task::block_in_place(|| run(&b.url, 8, s.seconds, Some(&script), &[]))?;
            items[i].push(w.rps);
            let url = format!("{}/api/v1/BENCH/datasets", b.url);
            let auth = [format!("Authorization: Bearer {TOKEN}")];
            let w = tokio::task::block_in_place(|| run(&url, 64, s.seconds, None, &auth))?;
            reads[i].push(w.rps);
            let ds = create_dataset(b, "BENCH", &b.token, &format!("Import {r}")).await?;
            let (secs, _) = tokio::task::block_in_place(|| cli_import(b, &ds, &file, &[]))?;
            imports[i].push(s.import_items as f64 / secs);
            delete_dataset(b, &ds).await?;
            eprintln!(
                "events overhead run {r}, {}: users {:.0}/s, items {:.0}/s, reads {:.0}/s, import {secs:.1} s",
                if i == 0 { "before" } else { "now" },
                users[i].last().unwrap_or(&0.0),
                items[i].last().unwrap_or(&0.0),
                reads[i].last().unwrap_or(&0.0)
            );
        }
    }
    let baseline = format!("the release build of `{BEFORE_EVENTS}` (no change history), same run, in turn");
    let [users_before, users_now] = users;
    let [items_before, items_now] = items;
    let [reads_before, reads_now] = reads;
    let [imports_before, imports_now] = imports;
    let fig = |name: String, unit, values, baseline_values, note: &str| Figure {
        name,
        unit,
        values,
        baseline: baseline.clone(),
        baseline_values,
        target: 0.9,
        note: note.into(),
    };
    Ok(vec![
        fig(
            "PUT /v1/users/{psk} changing `first_name` (X-TOKEN), 8 connections".into(),
            "req/s",
            users_now,
            users_before,
            "each request records one `user.updated` event with the field's before and after",
        ),
        fig(
            "PUT /api/v1/{tenantId}/datasets/{id}/items, one `createOrUpdate`, 8 connections".into(),
            "req/s",
            items_now,
            items_before,
            "each request records one `items.imported` event (item history off, the default)",
        ),
        fig(
            "GET /api/v1/{tenantId}/datasets, 64 connections".into(),
            "req/s",
            reads_now,
            reads_before,
            "records nothing (a token's first use is one event, made before the run)",
        ),
        fig(
            format!("{}-row CSV into an empty dataset, `orgd admin dataset import --auto-id`", s.import_items),
            "rows/s",
            imports_now,
            imports_before,
            "one `items.imported` event per import, with its counts",
        ),
    ])
}

/// What the receiver of the fan-out saw.
#[derive(Default)]
struct Received {
    /// (subscription, event id) of every delivery.
    seen: HashSet<(u32, String)>,
    duplicates: u64,
    /// Milliseconds since the run's start of each first delivery.
    at: Vec<f64>,
    /// Milliseconds from each event to its delivery.
    lag: Vec<f64>,
}

/// A plain-HTTP receiver on loopback counting deliveries at `/hook/{n}`; answers its port.
async fn receiver(
    got: Arc<Mutex<Received>>,
    start: Instant,
) -> anyhow::Result<(u16, tokio::sync::oneshot::Sender<()>)> {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{HeaderMap, StatusCode};
    async fn hook(
        State((got, start)): State<(Arc<Mutex<Received>>, Instant)>,
        UrlPath(n): UrlPath<u32>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e6;
        let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let at = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["data"]["at"].as_f64());
        let mut g = got.lock().expect("receiver state");
        if g.seen.insert((n, id)) {
            g.at.push(start.elapsed().as_secs_f64() * 1000.0);
            if let Some(at) = at {
                g.lag.push(now_ms - at);
            }
        } else {
            g.duplicates += 1;
        }
        StatusCode::NO_CONTENT
    }
    let app = axum::Router::new().route("/hook/{n}", axum::routing::post(hook)).with_state((got, start));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok((port, stop))
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// [`SUBSCRIPTIONS`] webhooks of `user.updated` on one server, [`UPDATES_PER_SECOND`] user updates a second
/// for [`FANOUT_SECONDS`]: the rate, completeness and lag of the deliveries and the server's memory.
pub async fn fanout(s: &Settings, pg: Option<&str>) -> anyhow::Result<(Vec<Count>, Vec<Latency>)> {
    let bin = crate::server::orgd_binary()?;
    let flags = ["--outbound-allow-http", "--outbound-allow-internal"];
    let b = Bench::seeded(&bin, pg, &seed(), TOKEN, &flags).await?;
    let psks = psks(&b).await?;
    let (mut rates, mut complete, mut p99s, mut notes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut lag_notes = Vec::new();
    for r in 0..s.runs {
        let start = Instant::now();
        let got = Arc::new(Mutex::new(Received::default()));
        let (port, stop) = receiver(got.clone(), start).await?;
        let mut hooks = Vec::new();
        for n in 0..SUBSCRIPTIONS {
            let body = json!({"url": format!("http://127.0.0.1:{port}/hook/{n}"), "events": ["user.updated"]});
            let resp =
                b.client.post(format!("{}/v1/webhooks", b.url)).header("X-TOKEN", TOKEN).json(&body).send().await?;
            anyhow::ensure!(
                resp.status() == 201,
                "creating a webhook answered {}: {}",
                resp.status(),
                resp.text().await?
            );
            let v: Value = resp.json().await?;
            let id = v["webhook"]["webhookId"].as_str().unwrap_or_default().to_string();
            anyhow::ensure!(!id.is_empty(), "a created webhook has no id: {v}");
            hooks.push(id);
        }
        let rss: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        {
            let (rss, sampling, pid) = (rss.clone(), sampling.clone(), b.pid);
            std::thread::spawn(move || {
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    rss.lock().expect("samples").push((start.elapsed().as_secs_f64(), rss_of(pid)));
                    std::thread::sleep(Duration::from_millis(500));
                }
            });
        }
        let load = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / UPDATES_PER_SECOND));
        let mut sent = tokio::task::JoinSet::new();
        let updates = FANOUT_SECONDS * UPDATES_PER_SECOND;
        for i in 0..updates {
            tick.tick().await;
            let (client, url) = (b.client.clone(), format!("{}/v1/users/{}", b.url, psks[i as usize % psks.len()]));
            sent.spawn(async move {
                let body = json!({"first_name": format!("F{r}-{i}")});
                client.put(url).header("X-TOKEN", TOKEN).json(&body).send().await.map(|r| r.status())
            });
        }
        while let Some(status) = sent.join_next().await {
            let status = status??;
            anyhow::ensure!(status.is_success(), "a user update answered {status}");
        }
        let load_end = load.elapsed().as_secs_f64() * 1000.0 + (load - start).as_secs_f64() * 1000.0;
        let expected = updates as usize * SUBSCRIPTIONS;
        let waited = Instant::now();
        while got.lock().expect("receiver state").seen.len() < expected && waited.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        let g = std::mem::take(&mut *got.lock().expect("receiver state"));
        let from = (load - start).as_secs_f64() * 1000.0 + 5000.0;
        let window = g.at.iter().filter(|&&t| t >= from && t < load_end).count() as f64;
        let rate = window / ((load_end - from) / 1000.0);
        let last = g.at.iter().cloned().fold(0.0, f64::max);
        let samples = rss.lock().expect("samples").clone();
        let rss_at = |secs: f64| {
            let t = (load - start).as_secs_f64() + secs;
            samples.iter().find(|(at, _)| *at >= t).map_or(0, |s| s.1)
        };
        let (at10, at30, end) = (rss_at(10.0), rss_at(30.0), rss_at(FANOUT_SECONDS as f64 - 0.5));
        let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
        eprintln!(
            "fan-out run {r}: {} of {expected} delivered, {} duplicates, {rate:.0}/s, p99 lag {:.0} ms, \
             last {:.1} s after the load, RSS {:.0} / {:.0} / {:.0} MB at 10 s / 30 s / the end (peak {:.0})",
            g.seen.len(),
            g.duplicates,
            percentile(&g.lag, 0.99),
            (last - load_end) / 1000.0,
            mb(at10),
            mb(at30),
            mb(end),
            mb(peak)
        );
        rates.push(rate);
        complete.push(g.seen.len() as f64);
        p99s.push(percentile(&g.lag, 0.99));
        lag_notes.push(percentile(&g.lag, 0.5));
        notes.push(format!(
            "run {}: server RSS {:.0} / {:.0} / {:.0} MB at 10 s / 30 s / the end of the load, {} duplicates",
            r + 1,
            mb(at10),
            mb(at30),
            mb(end),
            g.duplicates
        ));
        for id in hooks {
            let resp = b.client.delete(format!("{}/v1/webhooks/{id}", b.url)).header("X-TOKEN", TOKEN).send().await?;
            anyhow::ensure!(resp.status().is_success(), "deleting a webhook answered {}", resp.status());
        }
        let _ = stop.send(());
    }
    let expected = (FANOUT_SECONDS * UPDATES_PER_SECOND) as f64 * SUBSCRIPTIONS as f64;
    let counts = vec![
        Count {
            name: format!(
                "webhook deliveries received per second, from 5 s into the load to its end ({UPDATES_PER_SECOND} \
                 user updates/s for {FANOUT_SECONDS} s, {SUBSCRIPTIONS} subscriptions, a receiver on loopback)"
            ),
            values: rates,
            expected: (UPDATES_PER_SECOND as usize * SUBSCRIPTIONS) as f64,
            tolerance: 0.05,
            note: notes.join("; "),
        },
        Count {
            name: "distinct deliveries (subscription, event) received in all".into(),
            values: complete,
            expected,
            tolerance: 0.0,
            note: "each event once per subscription; duplicates (allowed: at least once) counted in the notes above"
                .into(),
        },
    ];
    let lat = vec![Latency {
        name: "event to delivery, p99 (the event's `at` to its arrival at the receiver)".into(),
        values: p99s,
        limit: 1500.0,
        note: format!(
            "medians {} ms; a deliverer with nothing due looks again after 1 s, so a delivery waits up to that \
             long; the limit is ours (the issue sets the rate and flat memory)",
            lag_notes.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(" / ")
        ),
    }];
    Ok((counts, lat))
}

/// The engine's own command line on `database`: its stdout.
fn engine(database: &str, sql: &str) -> anyhow::Result<String> {
    let out = if let Some(path) = database.strip_prefix("sqlite://") {
        use std::io::Write;
        let mut child = Command::new("sqlite3")
            .args(["-bail", path])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?.write_all(format!(".timer on\n{sql};\n").as_bytes())?;
        child.wait_with_output()?
    } else {
        Command::new("psql")
            .args([database, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", "\\timing on", "-c", sql])
            .output()?
    };
    if !out.status.success() {
        bail!("the engine's command line failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Milliseconds the engine reported for its last statement (`.timer on` / `\timing on`).
fn engine_ms(out: &str) -> Option<f64> {
    out.lines().rev().find_map(|l| {
        if let Some(rest) = l.strip_prefix("Run Time: real ") {
            rest.split_whitespace().next()?.parse::<f64>().ok().map(|s| s * 1000.0)
        } else {
            l.strip_prefix("Time: ")?.split_whitespace().next()?.parse::<f64>().ok()
        }
    })
}

/// `events` synthetic events of the bench tenant (100 actors, one event every 3 s, ending now), written
/// with the engine's own SQL while the server is stopped, then the one-day, one-actor query through
/// orgd (HTTPS, keep-alive) and through the engine's command line.
pub async fn query(s: &Settings, pg: Option<&str>, events: u64) -> anyhow::Result<Vec<Latency>> {
    let bin = crate::server::orgd_binary()?;
    let mut b = Bench::seeded(&bin, pg, &seed(), TOKEN, &[]).await?;
    let sqlite = b.database.starts_with("sqlite://");
    let org = engine(&b.database, "SELECT org_id FROM orgs WHERE tenant_id = 'BENCH'")?;
    let org = org.lines().find(|l| !l.trim().is_empty() && !l.starts_with("Run Time") && !l.starts_with("Time"));
    let org = org.ok_or_else(|| anyhow!("no org BENCH"))?.trim().to_string();
    let end = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - 60_000;
    let first = end - events as i64 * 3000;
    let actor = "'a' || (i % 100) || '@bench.test'";
    let body = |obj: &str, arr: &str| {
        format!(
            "{obj}('id', 'bench-' || i, 'at', {first} + i * 3000, 'orgId', '{org}', 'actor', {obj}('kind', 'user', \
             'id', {actor}, 'orgId', '{org}'), 'ip', '127.0.0.1', 'traceId', NULL, 'objectType', 'user', 'objectId', \
             {actor}, 'kind', 'user.updated', 'changes', {arr}({obj}('field', 'first_name', 'before', 'A', 'after', \
             'B')), 'detail', {obj}())"
        )
    };
    let columns = format!("'bench-' || i, {first} + i * 3000, '{org}', {actor}, {actor}, 'user.updated', NULL");
    let fill = if sqlite {
        format!(
            "PRAGMA cache_size = -2000000; \
             INSERT INTO events (event_id, at, org_id, actor_id, object_id, kind, trace_id, body) \
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             SELECT {columns}, {} FROM n; ANALYZE;",
            events - 1,
            body("json_object", "json_array")
        )
    } else {
        format!(
            "INSERT INTO events (event_id, at, org_id, actor_id, object_id, kind, trace_id, body) \
             SELECT {columns}, {}::text FROM generate_series(0::bigint, {}) AS i; ANALYZE events;",
            body("json_build_object", "json_build_array"),
            events - 1
        )
    };
    b.kill();
    let t = Instant::now();
    tokio::task::block_in_place(|| engine(&b.database, &fill)).context("writing the events")?;
    eprintln!("wrote {events} events in {:.0} s", t.elapsed().as_secs_f64());
    b.restart_until_ready().await?;
    let day = 86_400_000i64;
    let days = (events as i64 * 3000 / day).max(1);
    let rfc = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default()
    };
    let (mut orgd, mut own) = (Vec::new(), Vec::new());
    // The first request warms the connection and the server's caches; it is not counted.
    for i in 0..=(s.runs.max(5) * 4) {
        let actor = format!("a{}@bench.test", (i * 37) % 100);
        let from = first + ((i as i64 * 13) % days) * day;
        let url = format!("{}/api/v1/BENCH/events", b.url);
        let q = [("actor", actor.clone()), ("from", rfc(from)), ("to", rfc(from + day))];
        let t = Instant::now();
        let r = b.client.get(&url).bearer_auth(TOKEN).query(&q).send().await?;
        anyhow::ensure!(r.status() == 200, "the events query answered {}", r.status());
        let v: Value = r.json().await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let n = v["events"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(n == 100, "the events query gave {n} events, not a full page of 100");
        let sql = format!(
            "SELECT seq, body FROM events WHERE 1 = 1 AND org_id = '{org}' AND actor_id = '{actor}' AND at >= {from} \
             AND at < {} ORDER BY seq DESC LIMIT 101",
            from + day
        );
        let out = tokio::task::block_in_place(|| engine(&b.database, &sql))?;
        if i > 0 {
            orgd.push(ms);
            own.push(engine_ms(&out).ok_or_else(|| anyhow!("the engine printed no timing"))?);
        }
    }
    let tool = if sqlite { "`sqlite3` with `.timer on`" } else { "`psql` with `\\timing on`" };
    Ok(vec![Latency {
        name: format!(
            "GET /api/v1/{{tenantId}}/events?actor=…&from=…&to=… (one actor, one day, first page of 100) over \
             {events} events, HTTPS keep-alive"
        ),
        values: orgd,
        limit: 50.0,
        note: format!(
            "{} queries of different actors and days; the same SQL in {tool}: median {:.1} ms, max {:.1} ms",
            own.len(),
            percentile(&own, 0.5),
            percentile(&own, 1.0)
        ),
    }])
}
