//! Figures and the BENCHMARKS.md they go into.

use crate::Settings;
use std::fmt::Write;
use std::time::Duration;

/// One measured figure with its baseline from the same run.
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// Unit of the values (`rows/s`, `MB/s`).
    pub unit: &'static str,
    /// One value per run.
    pub values: Vec<f64>,
    /// The baseline's name.
    pub baseline: String,
    /// The baseline's values.
    pub baseline_values: Vec<f64>,
    /// Target ratio to the baseline (e.g. 0.5).
    pub target: f64,
    /// Anything else worth reporting (peak RSS growth).
    pub note: String,
}

/// A latency with an absolute limit (lower is better).
pub struct Latency {
    /// What was measured.
    pub name: String,
    /// Milliseconds, one per run.
    pub values: Vec<f64>,
    /// The limit of the median, in milliseconds.
    pub limit: f64,
    /// Anything else worth reporting.
    pub note: String,
}

/// A count checked against an expected value with a tolerance (correctness under load).
pub struct Count {
    /// What was counted.
    pub name: String,
    /// One count per run.
    pub values: Vec<f64>,
    /// The expected count.
    pub expected: f64,
    /// Allowed relative deviation (0.05 = ±5%).
    pub tolerance: f64,
    /// Anything else worth reporting.
    pub note: String,
}

enum Figures {
    Ratios(Vec<Figure>),
    Latencies(Vec<Latency>),
    Counts(Vec<Count>),
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    (s[0], s[s.len() / 2], s[s.len() - 1])
}

/// The whole report.
pub struct Report {
    sections: Vec<(String, String, Figures)>,
    settings: String,
}

impl Report {
    /// A report for these settings.
    pub fn new(s: &Settings) -> Report {
        Report {
            sections: Vec::new(),
            settings: format!(
                "{} runs per figure; {} rows per import file and items exported; wrk runs of {} s",
                s.runs, s.import_items, s.seconds
            ),
        }
    }

    /// Add figures under a backend and a heading.
    pub fn section(&mut self, backend: &str, title: &str, figs: Vec<Figure>) {
        self.sections.push((backend.to_string(), title.to_string(), Figures::Ratios(figs)));
    }

    /// Add checked counts under a backend and a heading.
    pub fn counts(&mut self, backend: &str, title: &str, figs: Vec<Count>) {
        self.sections.push((backend.to_string(), title.to_string(), Figures::Counts(figs)));
    }

    /// Add latencies under a backend and a heading.
    pub fn latencies(&mut self, backend: &str, title: &str, figs: Vec<Latency>) {
        self.sections.push((backend.to_string(), title.to_string(), Figures::Latencies(figs)));
    }

    /// Write the markdown file.
    pub fn write(&self, path: &str, took: Duration) -> anyhow::Result<()> {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok())
            })
            .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
            .unwrap_or_default();
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let date = time::OffsetDateTime::now_utc();
        let mut md = String::new();
        let _ = writeln!(md, "# orgd benchmarks\n");
        let _ = writeln!(md, "Reproduce with `bench/run.sh` (or `cargo build --release -p orgd -p orgd-bench && target/release/orgd-bench all`);");
        let _ = writeln!(
            md,
            "set `ORGD_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres` to add PostgreSQL.\n"
        );
        let _ = writeln!(md, "- machine: {cpu}, {cores} cores, {mem}");
        let _ = writeln!(md, "- date: {}-{:02}-{:02}, commit `{commit}`", date.year(), date.month() as u8, date.day());
        let _ = writeln!(md, "- {}; the harness took {:.0} s", self.settings, took.as_secs_f64());
        let _ = writeln!(
            md,
            "- every baseline is measured in the same run, on the same machine, right beside its figure\n"
        );
        for (backend, title, figs) in &self.sections {
            let _ = writeln!(md, "## {backend}: {title}\n");
            let figs = match figs {
                Figures::Ratios(f) => f,
                Figures::Counts(c) => {
                    let _ = writeln!(md, "| check | min | median | max | expected | notes |");
                    let _ = writeln!(md, "|---|---|---|---|---|---|");
                    for f in c {
                        let (lo, med, hi) = stats(&f.values);
                        let within = |x: f64| (x - f.expected).abs() <= f.expected * f.tolerance;
                        let ok = if within(lo) && within(hi) { "met in every run" } else { "**not met**" };
                        let _ = writeln!(
                            md,
                            "| {} | {lo:.0} | {med:.0} | {hi:.0} | {:.0} ± {:.0}% ({ok}) | {} |",
                            f.name,
                            f.expected,
                            f.tolerance * 100.0,
                            f.note
                        );
                    }
                    let _ = writeln!(md);
                    continue;
                }
                Figures::Latencies(l) => {
                    let _ = writeln!(md, "| figure | min | median | max | limit (median) | notes |");
                    let _ = writeln!(md, "|---|---|---|---|---|---|");
                    for f in l {
                        let (lo, med, hi) = stats(&f.values);
                        let ok = if med <= f.limit { "met" } else { "**not met**" };
                        let _ = writeln!(
                            md,
                            "| {} | {lo:.1} ms | {med:.1} ms | {hi:.1} ms | ≤ {:.0} ms ({ok}) | {} |",
                            f.name, f.limit, f.note
                        );
                    }
                    let _ = writeln!(md);
                    continue;
                }
            };
            let _ = writeln!(md, "| figure | min | median | max | baseline (median) | ratio | target | notes |");
            let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
            for f in figs {
                let (lo, med, hi) = stats(&f.values);
                let (_, bmed, _) = stats(&f.baseline_values);
                let ratio = med / bmed;
                let ok = if ratio >= f.target { "met" } else { "**not met**" };
                let n = |x: f64| if x < 100.0 { format!("{x:.1} {}", f.unit) } else { format!("{x:.0} {}", f.unit) };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {}: {} | {ratio:.2} | ≥ {:.2} ({ok}) | {} |",
                    f.name,
                    n(lo),
                    n(med),
                    n(hi),
                    f.baseline,
                    n(bmed),
                    f.target,
                    f.note
                );
            }
            let _ = writeln!(md);
        }
        // The profile and the reading notes are prose kept beside the harness; every run carries them along.
        let notes = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/notes.md");
        if let Ok(text) = std::fs::read_to_string(notes) {
            let body = text.split_once("-->").map_or(text.as_str(), |(_, rest)| rest);
            md.push_str(body.trim_start());
        }
        std::fs::write(path, md)?;
        Ok(())
    }
}
