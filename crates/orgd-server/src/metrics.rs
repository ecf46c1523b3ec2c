//! Prometheus text metrics: requests by route and status, a latency histogram, pipeline refusals by
//! code, throttled requests.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    refusals: Mutex<BTreeMap<u32, u64>>,
    throttled: Mutex<BTreeMap<u32, u64>>,
}

impl Metrics {
    /// Count one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration, error_code: Option<u32>) {
        *self.requests.lock().entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        {
            let mut lat = self.latency.lock();
            let h = lat.entry(route.to_string()).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        }
        if let Some(code) = error_code {
            if (40000..50000).contains(&code) {
                *self.refusals.lock().entry(code).or_default() += 1;
            }
            if code == 42901 || code == 42902 {
                *self.throttled.lock().entry(code).or_default() += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP orgd_requests_total Requests answered, by method, route and status.\n");
        out.push_str("# TYPE orgd_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().iter() {
            let _ = writeln!(out, "orgd_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}", esc(r));
        }
        out.push_str("# HELP orgd_request_duration_seconds Time to the response head, by route.\n");
        out.push_str("# TYPE orgd_request_duration_seconds histogram\n");
        for (r, h) in self.latency.lock().iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "orgd_request_duration_seconds_bucket{{route=\"{}\",le=\"{b}\"}} {}",
                    esc(r),
                    h.counts[i]
                );
            }
            let _ =
                writeln!(out, "orgd_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}", esc(r), h.count);
            let _ = writeln!(out, "orgd_request_duration_seconds_sum{{route=\"{}\"}} {}", esc(r), h.sum);
            let _ = writeln!(out, "orgd_request_duration_seconds_count{{route=\"{}\"}} {}", esc(r), h.count);
        }
        out.push_str("# HELP orgd_access_refusals_total Requests refused by the access pipeline, by code.\n");
        out.push_str("# TYPE orgd_access_refusals_total counter\n");
        for (c, n) in self.refusals.lock().iter() {
            let _ = writeln!(out, "orgd_access_refusals_total{{code=\"{c}\"}} {n}");
        }
        out.push_str("# HELP orgd_throttled_total Requests refused by a usage plan (42901 rate, 42902 quota).\n");
        out.push_str("# TYPE orgd_throttled_total counter\n");
        for (c, n) in self.throttled.lock().iter() {
            let _ = writeln!(out, "orgd_throttled_total{{code=\"{c}\"}} {n}");
        }
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
