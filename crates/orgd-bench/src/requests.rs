//! Request-path scenarios with `wrk` on loopback: small authenticated requests against a minimal axum
//! baseline on the same connection layer (1 token and 1,000 tokens), sign-in alone and beside token
//! traffic, the org tree of 10,000 orgs, and usage-plan throttling under a flood.

use crate::report::{Count, Figure, Latency};
use crate::server::Bench;
use crate::Settings;
use anyhow::{anyhow, Context};
use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::ids::{OrgId, TenantId};
use orgd_core::model::{Org, Role, UsagePlan};
use orgd_core::store::Store;
use orgd_store::SqlStore;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const SIGNIN: (&str, &str) = ("signin@bench.test", "Bench-Signin-2024!");

/// What the scenarios need besides the server's own tenant.
struct Setup {
    org_id: String,
    tokens: Vec<String>,
    throttle_token: String,
    tree_token: String,
}

fn fail(e: orgd_core::ApiError) -> anyhow::Error {
    anyhow!(e.orgvue_message())
}

async fn user(
    store: &SqlStore,
    org: &Org,
    id: &str,
    role: Role,
    password: Option<&str>,
) -> anyhow::Result<orgd_core::model::User> {
    let fields = UserFields {
        role: Some(role),
        token_access: Some(true),
        email: Some(id.into()),
        password: password.map(String::from),
        ..UserFields::default()
    };
    cases::users::create(store, org, id, fields, SystemClock::default().now()).await.map_err(fail)
}

async fn prepare(b: &Bench) -> anyhow::Result<Setup> {
    let store = SqlStore::open(&b.database).await?;
    let now = SystemClock::default().now();
    let bench = cases::orgs::load(&store, "BENCH").await.map_err(fail)?;
    let mut tokens = Vec::new();
    for u in 0..20 {
        let user = user(&store, &bench, &format!("load{u}@bench.test"), Role::User, None).await?;
        for _ in 0..50 {
            tokens.push(cases::tokens::create_api(&store, &user, NewToken::default(), now).await.map_err(fail)?.0);
        }
    }
    user(&store, &bench, SIGNIN.0, Role::User, Some(SIGNIN.1)).await?;

    let throttle = cases::orgs::create(
        &store,
        NewOrg { tenant_id: Some("THROTTLE".into()), name: "Throttle".into(), ..NewOrg::default() },
        &UsagePlan::default(),
        now,
    )
    .await
    .map_err(fail)?;
    let plan = OrgPatch {
        rate_per_second: Some(100),
        burst: Some(100),
        max_concurrent: Some(10_000),
        daily_quota: Some(None),
        ..OrgPatch::default()
    };
    let throttle = cases::orgs::update(&store, throttle.tenant_id.as_str(), plan).await.map_err(fail)?;
    let t_admin = user(&store, &throttle, "admin@throttle.test", Role::Administrator, None).await?;
    let throttle_token = cases::tokens::create_api(&store, &t_admin, NewToken::default(), now).await.map_err(fail)?.0;

    let tree = tree(&store).await?;
    let tree_admin = user(&store, &tree, "admin@tree.test", Role::Administrator, None).await?;
    let tree_token = cases::tokens::create_api(&store, &tree_admin, NewToken::default(), now).await.map_err(fail)?.0;
    store.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    Ok(Setup { org_id: bench.org_id.to_string(), tokens, throttle_token, tree_token })
}

/// 10,000 orgs in 6 levels under a root `TREE` (7 children per org, the last level filled up to the count).
async fn tree(store: &SqlStore) -> anyhow::Result<Org> {
    let now = SystemClock::default().now();
    let plan = UsagePlan {
        rate_per_second: 1_000_000,
        burst: 1_000_000,
        max_concurrent: 10_000,
        daily_quota: None,
        ..UsagePlan::default()
    };
    let org = |n: usize, parent: Option<&OrgId>| Org {
        org_id: OrgId::generate(),
        tenant_id: TenantId::parse(&if n == 0 { "TREE".to_string() } else { format!("T{n}") })
            .expect("valid tenant id"),
        parent_id: parent.cloned(),
        name: format!("Tree org {n}"),
        allowed_subnets: Default::default(),
        usage_plan: plan.clone(),
        settings: orgd_core::org_settings::defaults(),
        created_at: now,
    };
    let root = org(0, None);
    store.insert_org(&root).await?;
    let mut level = vec![root.org_id.clone()];
    let mut n = 1;
    'levels: for _ in 1..6 {
        let mut next = Vec::new();
        for parent in &level {
            for _ in 0..7 {
                if n == 10_000 {
                    break 'levels;
                }
                let o = org(n, Some(parent));
                store.insert_org(&o).await?;
                next.push(o.org_id.clone());
                n += 1;
            }
        }
        level = next;
    }
    Ok(root)
}

/// One small-request figure: what to load and how.
struct Case<'a> {
    name: &'static str,
    path: String,
    headers: &'a [String],
    script: Option<&'a Path>,
}

pub(crate) struct Wrk {
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    /// Answers other than 2xx/3xx, and socket errors (connect, read, write, timeout).
    failures: u64,
}

pub(crate) fn lua(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text)?;
    Ok(p)
}

/// Start one `wrk` run (2 threads, keep-alive, latency distribution).
fn wrk(
    url: &str,
    conns: u32,
    secs: u32,
    script: Option<&Path>,
    headers: &[String],
) -> anyhow::Result<std::process::Child> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{conns}"), &format!("-d{secs}s"), "--latency", "--timeout", "10s"]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.arg(url).stdout(Stdio::piped()).stderr(Stdio::null());
    cmd.spawn().context("wrk is missing: install it (apt-get install wrk); bench/run.sh does")
}

fn finish(child: std::process::Child) -> anyhow::Result<Wrk> {
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| anyhow!("wrk printed no Requests/sec:\n{text}"))?;
    let p99 = text.lines().find_map(|l| l.trim().strip_prefix("99%")).map(|v| v.trim().to_string()).unwrap_or_default();
    let p99_ms = if let Some(us) = p99.strip_suffix("us") {
        us.parse::<f64>().unwrap_or(f64::NAN) / 1000.0
    } else if let Some(ms) = p99.strip_suffix("ms") {
        ms.parse::<f64>().unwrap_or(f64::NAN)
    } else if let Some(s) = p99.strip_suffix('s') {
        s.parse::<f64>().unwrap_or(f64::NAN) * 1000.0
    } else {
        f64::NAN
    };
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let socket: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|v| v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Ok(Wrk { rps, p99_ms, failures: non_2xx + socket })
}

/// A wrk run whose every answer must be a success: a figure built on errors would measure nothing.
pub(crate) fn run(url: &str, conns: u32, secs: u32, script: Option<&Path>, headers: &[String]) -> anyhow::Result<Wrk> {
    let w = finish(wrk(url, conns, secs, script, headers)?)?;
    anyhow::ensure!(w.failures == 0, "{url}: {} answers were errors or socket failures", w.failures);
    Ok(w)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A child process killed when dropped, so a failing scenario leaves nothing running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_baseline(b: &Bench, orgs_body: &Path, datasets_body: &Path) -> anyhow::Result<(std::process::Child, u16)> {
    let tls = b._dir.path().join("tls");
    let mut child = Command::new(std::env::current_exe()?)
        .arg("baseline-serve")
        .arg(tls.join("cert.pem"))
        .arg(tls.join("key.pem"))
        .arg(orgs_body)
        .arg(datasets_body)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?).read_line(&mut line)?;
    Ok((child, line.trim().parse()?))
}

/// orgd's p99 beside the baseline's, measured under the same load generator on the same cores: when both
/// pass 5 ms, the tail is wrk and the server sharing two saturated cores, not the request's own cost (the
/// paced figure of the latency section measures that).
fn p99_note(p99: &[f64], base_p99: &[f64]) -> String {
    let (m, b) = (median(p99), median(base_p99));
    format!(
        "p99 at saturation {m:.2} ms (target ≤ 5 ms: {}); the baseline's p99 under the same load: {b:.2} ms",
        if m <= 5.0 { "met" } else { "**not met**" }
    )
}

/// Every request-path figure.
pub async fn measure(b: &Bench, s: &Settings) -> anyhow::Result<(Vec<Figure>, Vec<Latency>, Vec<Count>)> {
    eprintln!("preparing 1,000 tokens, a throttled tenant and 10,000 orgs");
    let setup = prepare(b).await?;
    let work = tempfile::tempdir()?;
    let secs = s.seconds;
    let orgs_path = format!("/v3/organizations/{}", setup.org_id);
    let body = |r: reqwest::Response| async move {
        anyhow::ensure!(r.status().is_success(), "priming request answered {}", r.status());
        Ok(r.bytes().await?)
    };
    let orgs_body =
        body(b.client.get(format!("{}{orgs_path}", b.url)).header("X-TOKEN", &b.token).send().await?).await?;
    let ds_body =
        body(b.client.get(format!("{}/api/v1/BENCH/datasets", b.url)).bearer_auth(&b.token).send().await?).await?;
    let (orgs_file, ds_file) = (work.path().join("orgs.json"), work.path().join("datasets.json"));
    std::fs::write(&orgs_file, &orgs_body)?;
    std::fs::write(&ds_file, &ds_body)?;
    let (baseline, port) = start_baseline(b, &orgs_file, &ds_file)?;
    let baseline = KillOnDrop(baseline);
    let base_url = format!("https://localhost:{port}");

    let mut figures = Vec::new();
    let bearer = vec![format!("Authorization: Bearer {}", b.token)];
    let xtoken = vec![format!("X-TOKEN: {}", b.token)];
    let token_list: Vec<String> = setup.tokens.iter().map(|t| format!("\"{t}\"")).collect();
    let round_robin = lua(
        work.path(),
        "tokens.lua",
        &format!(
            "local tokens = {{ {} }}\nlocal i = 0\nrequest = function()\n  i = i % #tokens + 1\n  \
             return wrk.format(\"GET\", \"/api/v1/BENCH/datasets\", {{ [\"Authorization\"] = \"Bearer \" .. tokens[i] }})\nend\n",
            token_list.join(", ")
        ),
    )?;
    let datasets = "/api/v1/BENCH/datasets".to_string();
    let cases = [
        Case {
            name: "GET /v3/organizations/{id}, one token, 64 connections",
            path: orgs_path.clone(),
            headers: &xtoken,
            script: None,
        },
        Case {
            name: "GET /api/v1/{tenantId}/datasets, one token, 64 connections",
            path: datasets.clone(),
            headers: &bearer,
            script: None,
        },
        Case {
            name: "GET /api/v1/{tenantId}/datasets, 1,000 tokens round-robin",
            path: datasets,
            headers: &[],
            script: Some(&round_robin),
        },
    ];
    let mut solo_datasets = Vec::new();
    for Case { name, path, headers, script } in cases {
        let base_path = path.clone();
        eprintln!("   {name}");
        let (mut vals, mut base, mut p99, mut base_p99) = (vec![], vec![], vec![], vec![]);
        for _ in 0..s.runs {
            let w = run(&format!("{}{path}", b.url), 64, secs, script, headers)?;
            vals.push(w.rps);
            p99.push(w.p99_ms);
            // The same wrk work for both (script, headers): the load tool shares the cores with the server.
            let bw = run(&format!("{base_url}{base_path}"), 64, secs, script, headers)?;
            base.push(bw.rps);
            base_p99.push(bw.p99_ms);
        }
        if name.contains("datasets, one token") {
            solo_datasets = vals.clone();
        }
        figures.push(Figure {
            name: name.into(),
            unit: "req/s",
            values: vals,
            baseline: "minimal axum handler, same bytes, same TLS and connection layer".into(),
            baseline_values: base,
            target: 0.6,
            note: p99_note(&p99, &base_p99),
        });
    }

    // p99 at a paced load: each of the 64 connections waits 2 ms before its next request (about half of
    // the saturated rate), so the tail shows what a request costs rather than how two saturated cores
    // schedule the load tool against the server.
    eprintln!("   paced p99");
    let paced = lua(work.path(), "paced.lua", "function delay()\n  return 2\nend\n")?;
    let ds_url = |base: &str| format!("{base}/api/v1/BENCH/datasets");
    let (mut p99, mut base_p99, mut rates, mut base_rates) = (vec![], vec![], vec![], vec![]);
    for _ in 0..s.runs {
        let w = run(&ds_url(&b.url), 64, secs, Some(&paced), &bearer)?;
        p99.push(w.p99_ms);
        rates.push(w.rps);
        let bw = run(&ds_url(&base_url), 64, secs, Some(&paced), &bearer)?;
        base_p99.push(bw.p99_ms);
        base_rates.push(bw.rps);
    }
    drop(baseline);
    let mut latencies = vec![Latency {
        name: "p99 of GET /api/v1/{tenantId}/datasets, one token, 64 connections paced at 2 ms between requests".into(),
        values: p99,
        limit: 5.0,
        note: format!(
            "at {:.0} req/s (median); the baseline under the same paced load: p99 {:.2} ms at {:.0} req/s",
            median(&rates),
            median(&base_p99),
            median(&base_rates)
        ),
    }];

    eprintln!("   sign-in");
    let signin = lua(
        work.path(),
        "signin.lua",
        &format!(
            "local n = 0\nlocal id = tostring(math.random(0, 250))\nrequest = function()\n  n = n + 1\n  \
             local ip = \"10.\" .. id .. \".\" .. (math.floor(n / 256) % 256) .. \".\" .. (n % 256)\n  \
             return wrk.format(\"POST\", \"/users/authenticate\", {{ [\"Content-Type\"] = \"application/json\", \
             [\"X-Forwarded-For\"] = ip }}, '{{\"user_id\":\"{}\",\"password\":\"{}\"}}')\nend\n",
            SIGNIN.0, SIGNIN.1
        ),
    )?;
    let signin_url = format!("{}/users/authenticate", b.url);
    let (mut signins, mut hashes, mut mixed, mut mixed_signins) = (vec![], vec![], vec![], vec![]);
    for _ in 0..s.runs {
        signins.push(run(&signin_url, 8, secs, Some(&signin), &[])?.rps);
        hashes.push(hash_rate(secs).await);
        let load = wrk(&signin_url, 8, secs, Some(&signin), &[])?;
        let token_path = run(&format!("{}/api/v1/BENCH/datasets", b.url), 64, secs, None, &bearer)?;
        let load = finish(load)?;
        anyhow::ensure!(load.failures == 0, "{} sign-ins beside the token path failed", load.failures);
        mixed_signins.push(load.rps);
        mixed.push(token_path.rps);
    }
    figures.push(Figure {
        name: "POST /users/authenticate (argon2id m=19 MiB t=2 p=1), 8 connections".into(),
        unit: "sign-ins/s",
        values: signins,
        baseline: "argon2id verifications per second, one thread, in-process".into(),
        baseline_values: hashes,
        target: 0.5,
        note: String::new(),
    });
    figures.push(Figure {
        name: "token path (datasets, 64 connections) while sign-in runs at full load".into(),
        unit: "req/s",
        values: mixed,
        baseline: "the same token path alone, this run".into(),
        baseline_values: solo_datasets,
        target: 0.5,
        note: format!(
            "sign-ins meanwhile {:.1}/s (median; password hashing runs at nice {})",
            median(&mixed_signins),
            orgd_core::password::HASHING_NICE
        ),
    });

    eprintln!("   org tree");
    let mut tree_ms = Vec::new();
    for i in 0..(s.runs * 20 + 2) {
        let t = Instant::now();
        let r =
            b.client.get(format!("{}/v1/organizations/", b.url)).header("X-TOKEN", &setup.tree_token).send().await?;
        anyhow::ensure!(r.status().is_success(), "the org tree answered {}", r.status());
        let body = r.bytes().await?;
        if i >= 2 {
            tree_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        anyhow::ensure!(body.len() > 100_000, "the tree of 10,000 orgs is only {} bytes", body.len());
    }
    let mut sorted = tree_ms.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    latencies.push(Latency {
        name: "GET /v1/organizations/ for an administrator over 10,000 orgs (6 levels), one request at a time".into(),
        values: tree_ms,
        limit: 250.0,
        note: format!(
            "p99 {p99:.1} ms over {} requests; the limit is ours (the issue asks for the figure)",
            sorted.len()
        ),
    });

    eprintln!("   throttling flood");
    let mut counts = Vec::new();
    for _ in 0..s.runs {
        counts.push(flood(b, &setup.throttle_token).await?);
    }
    // The bucket admits 100 per second of the counted window, which is wrk's 10 s plus its start-up and the two
    // /metrics reads: the 200s are scaled to exactly 10 s of that window.
    let ok: Vec<f64> = counts.iter().map(|c| c.0 * 10.0 / c.3).collect();
    let raw: Vec<f64> = counts.iter().map(|c| c.0).collect();
    let windows: Vec<f64> = counts.iter().map(|c| c.3).collect();
    let note = format!(
        "every other answer was 429 42901 ({} of {} in all runs, counted from /metrics); unscaled 200s: median {} \
         in a median window of {:.2} s",
        counts.iter().map(|c| c.1).sum::<f64>(),
        counts.iter().map(|c| c.2).sum::<f64>() - counts.iter().map(|c| c.0).sum::<f64>(),
        median(&raw),
        median(&windows)
    );
    let checks = vec![Count {
        name: "200 answers per 10 s of a flood at 64 connections, plan 100 req/s burst 100 (burst spent first)".into(),
        values: ok,
        expected: 1000.0,
        tolerance: 0.05,
        note,
    }];
    Ok((figures, latencies, checks))
}

/// One argon2id verification rate in-process (the bound of sign-ins on one core).
async fn hash_rate(secs: u32) -> f64 {
    tokio::task::spawn_blocking(move || {
        let phc = orgd_core::password::hash("Bench-Signin-2024!");
        let t = Instant::now();
        let mut n = 0u32;
        while t.elapsed().as_secs_f64() < f64::from(secs.min(3)) {
            orgd_core::password::verify("Bench-Signin-2024!", &phc);
            n += 1;
        }
        f64::from(n) / t.elapsed().as_secs_f64()
    })
    .await
    .unwrap_or(f64::NAN)
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// Spend the burst, flood 10 s, and count (200s, 42901s, all answers) from the server's /metrics, with the
/// seconds between the two /metrics reads that bound the count.
async fn flood(b: &Bench, token: &str) -> anyhow::Result<(f64, f64, f64, f64)> {
    let url = format!("{}/api/v1/THROTTLE/datasets", b.url);
    let route = "orgd_requests_total{method=\"GET\",route=\"/api/v1/{tenantId}/datasets\"";
    for _ in 0..150 {
        b.client.get(&url).bearer_auth(token).send().await?;
    }
    let before = b.client.get(format!("{}/metrics", b.url)).send().await?.text().await?;
    let window = Instant::now();
    finish(wrk(&url, 64, 10, None, &[format!("Authorization: Bearer {token}")])?)?;
    let after = b.client.get(format!("{}/metrics", b.url)).send().await?.text().await?;
    let window = window.elapsed().as_secs_f64();
    let ok =
        metric(&after, &format!("{route},status=\"200\"}}")) - metric(&before, &format!("{route},status=\"200\"}}"));
    let throttled = metric(&after, "orgd_throttled_total{code=\"42901\"}")
        - metric(&before, "orgd_throttled_total{code=\"42901\"}");
    let all = metric(&after, route) - metric(&before, route);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    Ok((ok, throttled, all, window))
}
