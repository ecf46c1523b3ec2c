//! orgd's benchmark harness. `cargo run --release -p orgd-bench -- all` (or `bench/run.sh`) runs every
//! scenario against a release `orgd serve` on loopback, measures each baseline in the same run, and
//! writes BENCHMARKS.md. Set ORGD_BENCH_POSTGRES_URL to add PostgreSQL.

/// The same allocator as `orgd`, so the baseline server differs only by what orgd does per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod baseline;
mod data;
mod drafts;
mod events;
mod report;
mod requests;
mod server;
mod standin;

use anyhow::Context;
use report::Report;
use std::time::Instant;

/// Settings from the command line.
pub struct Settings {
    /// Runs per figure (min/median/max).
    pub runs: usize,
    /// Rows of the import file (and items of the exported dataset).
    pub import_items: usize,
    /// Seconds of each wrk run.
    pub seconds: u32,
    /// Events written for the change-history query.
    pub events: u64,
    /// The parts of the events scenario to run (`overhead`, `fanout`, `query`; all when empty).
    pub parts: &'static str,
}

fn usage() -> ! {
    eprintln!(
        "usage: orgd-bench all|requests|import|export|drafts|events|coldstart|standin [--runs N] [--seconds N] [--import-items N] [--events N] [--parts overhead,fanout,query] [--backend sqlite|postgresql] [--out FILE]\n\n\
         Runs against target/release/orgd (build it first: bench/run.sh does). Writes BENCHMARKS.md by default.\n\
         The events scenario also runs target/release/orgd-before-events, the build before the change history\n\
         (bench/run.sh events builds it)."
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(what) = args.first().cloned() else { usage() };
    if what == "baseline-serve" {
        return baseline::serve(&args[1..]).await;
    }
    if !["all", "requests", "import", "export", "drafts", "events", "coldstart", "standin"].contains(&what.as_str()) {
        usage();
    }
    let mut s = Settings { runs: 5, import_items: 1_000_000, seconds: 5, events: 10_000_000, parts: "" };
    let mut out = "BENCHMARKS.md".to_string();
    let mut backend: Option<String> = None;
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_else(|| usage());
        match args[i].as_str() {
            "--runs" => s.runs = v.parse().unwrap_or_else(|_| usage()),
            "--seconds" => s.seconds = v.parse().unwrap_or_else(|_| usage()),
            "--import-items" => s.import_items = v.parse().unwrap_or_else(|_| usage()),
            "--events" => s.events = v.parse().unwrap_or_else(|_| usage()),
            "--parts" => s.parts = String::leak(v),
            "--out" => out = v,
            "--backend" => backend = Some(v),
            _ => usage(),
        }
        i += 2;
    }
    let started = Instant::now();
    let mut report = Report::new(&s);
    let mut backends = vec![("SQLite", None)];
    if let Ok(url) = std::env::var("ORGD_BENCH_POSTGRES_URL") {
        backends.push(("PostgreSQL", Some(url)));
    }
    if let Some(only) = &backend {
        backends.retain(|(name, _)| name.eq_ignore_ascii_case(only));
        if backends.is_empty() {
            anyhow::bail!("--backend {only}: no such backend (sqlite, or postgresql with ORGD_BENCH_POSTGRES_URL set)");
        }
    }
    if what == "all" || what == "standin" {
        eprintln!("== stand-in");
        report.latencies("SQLite", "Stand-in for test suites (`serve --ephemeral`)", standin::measure(&s).await?);
        if what == "standin" {
            backends.clear();
        }
    }
    for (name, pg) in backends {
        eprintln!("== {name}");
        if what == "all" || what == "events" {
            let part = |p: &str| s.parts.is_empty() || s.parts.split(',').any(|x| x == p);
            if part("overhead") {
                let figs = events::overhead(&s, pg.as_deref()).await?;
                report.section(name, "What recording events costs (against the build before them)", figs);
            }
            if part("fanout") {
                let (counts, lat) = events::fanout(&s, pg.as_deref()).await?;
                report.counts(name, "Webhook fan-out", counts);
                report.latencies(name, "Webhook delivery lag", lat);
            }
            if part("query") {
                let lat = events::query(&s, pg.as_deref(), s.events).await?;
                report.latencies(name, &format!("Change history query over {} events", s.events), lat);
            }
            if what == "events" {
                continue;
            }
        }
        let mut srv =
            server::Bench::start(pg.as_deref()).await.with_context(|| format!("starting the {name} server"))?;
        if what == "all" || what == "requests" {
            let (figs, latencies, counts) = requests::measure(&srv, &s).await?;
            report.section(name, "Small authenticated requests and sign-in (wrk, HTTPS keep-alive)", figs);
            report.latencies(name, "Latency: paced small requests and the org tree", latencies);
            report.counts(name, "Throttling under a flood", counts);
        }
        // The governance scenario rewrites the full dataset; it runs after the cold start it would slow.
        let mut governed: Option<String> = None;
        if ["all", "import", "export", "coldstart"].contains(&what.as_str()) {
            eprintln!("importing {} rows", s.import_items);
            // Export and cold start only need the full dataset: one import run makes it.
            let runs = if what == "all" || what == "import" { s.runs } else { 1 };
            let (figs, full) = data::import(&srv, &Settings { runs, ..s }).await?;
            if what == "all" || what == "import" {
                report.section(name, &format!("Import at HR scale ({} rows)", s.import_items), figs);
                report.latencies(name, "Writes into the full dataset", data::writes(&srv, &s, &full).await?);
                report.latencies(
                    name,
                    "Schema changes of the full dataset",
                    data::schema_changes(&srv, &s, &full).await?,
                );
                report.latencies(name, "Another tenant during a big import", data::neighbours(&srv, &s).await?);
            }
            if what == "all" || what == "export" {
                let (figs, lat) = data::export(&srv, &s, &full).await?;
                report.section(name, &format!("Export at HR scale ({} items)", s.import_items), figs);
                report.latencies(name, "Generated hierarchy values", lat);
                governed = Some(full);
            }
        }
        if what == "all" || what == "drafts" {
            let (figs, lat) = drafts::measure(&srv, &s).await?;
            report.section(name, &format!("Drafts over {} items", s.import_items), figs);
            report.latencies(name, "Drafts: staging, diff and the org chart", lat);
        }
        if what == "all" || what == "export" || what == "coldstart" {
            let mut cold = Vec::new();
            for _ in 0..s.runs {
                cold.push(srv.restart_until_ready().await?);
            }
            report.latencies(
                name,
                "Cold start",
                vec![report::Latency {
                    name: format!(
                        "process start to first successful /readyz, database holding {} items",
                        s.import_items
                    ),
                    values: cold,
                    limit: 200.0,
                    note: "migrations checked, TLS loaded, no data read at start".into(),
                }],
            );
        }
        if let Some(full) = governed {
            let (figs, lat) = data::governance(&srv, &s, &full).await?;
            report.section(name, &format!("Governance over {} items", s.import_items), figs);
            report.latencies(name, "A property's type changed", lat);
            let after = srv.restart_until_ready().await?;
            report.latencies(
                name,
                "Cold start after the type changes",
                vec![report::Latency {
                    name: format!("the first start after {} type changes of every value", s.runs * 2),
                    values: vec![after],
                    limit: 200.0,
                    note: "includes what the engine does at open after big rewrites (SQLite: the write-ahead log)"
                        .into(),
                }],
            );
        }
        srv.stop();
    }
    report.write(&out, started.elapsed())?;
    eprintln!("wrote {out}");
    Ok(())
}
