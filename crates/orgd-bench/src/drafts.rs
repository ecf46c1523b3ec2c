//! Drafts at HR scale: a draft of 10,000 staged changes over the full 1,000,000-item dataset — staging
//! 100 more actions, the to-be `csv` export beside the dataset's own export, the diff — and the console's
//! org chart of a 10,000-person dataset with a draft, collapsed below level 3.

use crate::data::{cli_import, create_dataset, http_export, settle, write_csv};
use crate::report::{Figure, Latency};
use crate::server::{Bench, ADMIN_PASSWORD};
use crate::Settings;
use anyhow::{anyhow, ensure};
use serde_json::{json, Value};
use std::time::Instant;

/// Changes staged into the draft before it is measured.
const STAGED: usize = 10_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

async fn new_draft(b: &Bench, dataset: &str) -> anyhow::Result<String> {
    let r = b
        .client
        .post(format!("{}/api/v1/BENCH/drafts", b.url))
        .bearer_auth(&b.token)
        .json(&json!({"name": format!("Reorg of {dataset}"), "datasetId": dataset}))
        .send()
        .await?;
    ensure!(r.status() == 201, "creating a draft answered {}", r.status());
    let v: Value = r.json().await?;
    Ok(v["draftId"].as_str().unwrap_or_default().to_string())
}

/// Stage `actions` (by autoId) into `draft`: milliseconds.
async fn stage(b: &Bench, draft: &str, actions: &Value) -> anyhow::Result<f64> {
    let t = Instant::now();
    let r = b
        .client
        .put(format!("{}/api/v1/BENCH/drafts/{draft}/items?autoId=true", b.url))
        .bearer_auth(&b.token)
        .json(actions)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    ensure!(status == 200, "staging answered {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
    Ok(ms)
}

/// The k-th change of request `req` over `n` items: moves, value changes, new hires and leavers, each
/// on an item of its own.
fn change(n: usize, req: usize, k: usize) -> Value {
    let i = 2 + ((req * 100 + k) * 7919) % (n - 1);
    match k % 4 {
        0 => json!({"_action": "update", "Employee ID": i, "Manager ID": 1 + (i * 31) % (i - 1).max(1)}),
        1 => json!({"_action": "update", "Employee ID": i, "Grade": k % 12, "Job Title": "Modelled"}),
        2 => {
            json!({"_action": "create", "Employee ID": 50_000_000 + req * 100 + k, "Manager ID": i, "Full Name": "New hire"})
        }
        _ => json!({"_action": "delete", "Employee ID": i}),
    }
}

/// The figures of the drafts scenario.
pub async fn measure(b: &Bench, s: &Settings) -> anyhow::Result<(Vec<Figure>, Vec<Latency>)> {
    let n = s.import_items;
    let file = b._dir.path().join("drafted.csv");
    write_csv(&file, n, "create")?;
    let ds = create_dataset(b, "BENCH", &b.token, "Drafted").await?;
    let (secs, _) = tokio::task::block_in_place(|| cli_import(b, &ds, &file, &[]))?;
    eprintln!("drafts: {n} items imported in {secs:.1} s");
    let draft = new_draft(b, &ds).await?;
    let t = Instant::now();
    for req in 0..STAGED / 100 {
        let actions: Vec<Value> = (0..100).map(|k| change(n, req, k)).collect();
        stage(b, &draft, &Value::Array(actions)).await?;
    }
    eprintln!("drafts: {STAGED} changes staged in {:.1} s", t.elapsed().as_secs_f64());
    let mut out = Vec::new();

    // 100 more actions into the 10,000-change draft: value changes of items in and out of the draft
    // (`createOrUpdate`, so that an item the draft removed comes back instead of failing the request).
    let mut runs = Vec::new();
    for run in 0..s.runs {
        let mut times = Vec::new();
        for req in 0..10 {
            let actions: Vec<Value> = (0..100)
                .map(|k| {
                    let i = 2 + ((run * 1000 + req * 100 + k) * 104_729) % (n - 1);
                    json!({"_action": "createOrUpdate", "Employee ID": i, "Full Name": format!("Person {i}"),
                        "Grade": (run + k) % 12})
                })
                .collect();
            times.push(stage(b, &draft, &Value::Array(actions)).await?);
        }
        runs.push(median(&mut times));
    }
    eprintln!("drafts: staging 100 actions, medians {runs:?} ms");
    out.push(Latency {
        name: format!(
            "PUT …/drafts/{{id}}/items, 100 `createOrUpdate` by autoId into a draft of {STAGED} changes over {n} items"
        ),
        values: runs,
        limit: 20.0,
        note: "median of each run's 10 requests".into(),
    });

    // The to-be csv export beside the dataset's own.
    let (mut plain, mut tobe) = (Vec::new(), Vec::new());
    for run in 0..s.runs {
        let (p, bytes, _) = http_export(b, &ds, "csv", "").await?;
        let (d, dbytes, growth) = http_export(b, &ds, "csv", &format!("?draftId={draft}")).await?;
        eprintln!("drafts: export run {run}: {p:.2} s as is, {d:.2} s to-be (RSS +{:.0} MB)", growth as f64 / 1e6);
        plain.push(bytes as f64 / p / 1e6);
        tobe.push(dbytes as f64 / d / 1e6);
    }
    let figs = vec![Figure {
        name: format!("sync `csv` export of the {n}-item dataset through a draft of {STAGED} changes (`?draftId=`)"),
        unit: "MB/s",
        values: tobe,
        baseline: "the same export without the draft, same run".into(),
        baseline_values: plain,
        target: 1.0 / 1.2,
        note: "ratio ≥ 0.83 = the to-be view within 1.2× the time of the dataset's own export".into(),
    }];

    // The diff of the whole draft.
    let mut times = Vec::new();
    for _ in 0..s.runs {
        settle(b).await?;
        let t = Instant::now();
        let r =
            b.client.get(format!("{}/api/v1/BENCH/drafts/{draft}/diff", b.url)).bearer_auth(&b.token).send().await?;
        ensure!(r.status() == 200, "the diff answered {}", r.status());
        let v: Value = r.json().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        ensure!(v["changes"].as_array().map_or(0, Vec::len) >= STAGED - 100, "the diff lists the draft's changes");
    }
    out.push(Latency {
        name: format!("GET …/drafts/{{id}}/diff of {STAGED} changes over {n} items"),
        values: times,
        limit: 1000.0,
        note: "the whole answer received and parsed".into(),
    });
    out.push(chart(b, s).await?);
    Ok((figs, out))
}

/// A console session of the bench administrator: the session cookie.
async fn sign_in(b: &Bench) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let r = client.get(format!("{}/login", b.url)).send().await?;
    let csrf = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("orgd_login_csrf=").map(|c| c.split(';').next().unwrap_or("").to_string()))
        .ok_or_else(|| anyhow!("no sign-in form cookie"))?;
    let r = client
        .post(format!("{}/login", b.url))
        .header("cookie", format!("orgd_login_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("user_id", "bench@bench.test"),
            ("password", ADMIN_PASSWORD),
            ("next", "/tokens"),
        ])
        .send()
        .await?;
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("orgd_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .ok_or_else(|| anyhow!("signing in to the console failed ({})", r.status()))
}

/// The org chart page of a 10,000-person dataset with a draft of 100 changes, collapsed below level 3.
async fn chart(b: &Bench, s: &Settings) -> anyhow::Result<Latency> {
    const PEOPLE: usize = 10_000;
    let ds = create_dataset(b, "BENCH", &b.token, "Org chart").await?;
    let actions: Vec<Value> = (1..=PEOPLE)
        .map(|i| {
            let manager = if i == 1 { Value::Null } else { json!((i - 2) / 8 + 1) };
            json!({"_action": "create", "Employee ID": i, "Manager ID": manager, "Full Name": format!("Person {i}")})
        })
        .collect();
    let r = b
        .client
        .put(format!("{}/api/v1/BENCH/datasets/{ds}/items?autoId=true", b.url))
        .bearer_auth(&b.token)
        .json(&actions)
        .send()
        .await?;
    ensure!(r.status() == 200, "importing the chart's people answered {}", r.status());
    let draft = new_draft(b, &ds).await?;
    let actions: Vec<Value> = (0..100).map(|k| change(PEOPLE, 0, k)).collect();
    stage(b, &draft, &Value::Array(actions)).await?;
    let cookie = sign_in(b).await?;
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..s.runs {
        let t = Instant::now();
        let r = client
            .get(format!("{}/app/configui/datasets/{ds}/chart?draft={draft}&depth=3", b.url))
            .header("cookie", &cookie)
            .send()
            .await?;
        ensure!(r.status() == 200, "the chart page answered {}", r.status());
        let html = r.text().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        ensure!(html.contains("<svg id=\"org-chart\""), "the page holds the chart");
        size = html.len();
    }
    Ok(Latency {
        name: format!("console org chart of a {PEOPLE}-person dataset through a draft of 100 changes, 3 levels shown"),
        values: times,
        limit: 300.0,
        note: format!("the whole page received ({} kB of HTML and SVG), diff table included", size / 1000),
    })
}
