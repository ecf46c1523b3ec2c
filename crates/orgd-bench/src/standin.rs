//! Scenario: orgd as a stand-in for test suites. Start-up of `orgd serve --ephemeral --seed` to the first
//! successful `/readyz` (beside the same start without a seed), and `POST /_orgd/reset` back to the seed.

use crate::report::Latency;
use crate::server::orgd_binary;
use crate::Settings;
use anyhow::{anyhow, Context};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const CONTROL: &str = "bench-control-secret";

struct Started {
    child: Child,
    url: String,
    client: reqwest::Client,
    millis: f64,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

async fn start(seed: Option<&Path>) -> anyhow::Result<Started> {
    let mut cmd = Command::new(orgd_binary()?);
    cmd.args(["serve", "--ephemeral", "--listen", "127.0.0.1:0"]);
    if let Some(seed) = seed {
        cmd.arg("--seed").arg(seed).args(["--control-token", CONTROL]);
    }
    let t0 = Instant::now();
    let log = std::fs::File::create(std::env::temp_dir().join("orgd-bench-standin.log"))?;
    let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?).read_line(&mut line)?;
    let ready: serde_json::Value = serde_json::from_str(&line).with_context(|| format!("ready line: {line}"))?;
    let url = ready["url"].as_str().ok_or_else(|| anyhow!("no url in {line}"))?.to_string();
    let pem = std::fs::read(ready["caCert"].as_str().unwrap_or_default())?;
    let port: u16 = url.rsplit(':').next().unwrap_or_default().parse()?;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()?;
    loop {
        if client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        anyhow::ensure!(t0.elapsed().as_secs() < 30, "orgd did not get ready in 30 s");
    }
    let millis = t0.elapsed().as_secs_f64() * 1000.0;
    Ok(Started { child, url, client, millis })
}

/// Start-up and reset latencies.
pub async fn measure(s: &Settings) -> anyhow::Result<Vec<Latency>> {
    let seed = std::env::current_dir()?.join("docs/examples/standin/seed.yaml");
    let (mut bare, mut seeded, mut resets, mut server_side) = (vec![], vec![], vec![], vec![]);
    for run in 0..s.runs {
        eprintln!("   stand-in run {}/{}", run + 1, s.runs);
        bare.push(start(None).await?.millis);
        let srv = start(Some(&seed)).await?;
        seeded.push(srv.millis);
        for _ in 0..5 {
            let t = Instant::now();
            let r = srv.client.post(format!("{}/_orgd/reset", srv.url)).bearer_auth(CONTROL).send().await?;
            let status = r.status();
            anyhow::ensure!(status.is_success(), "reset answered {status}: {}", r.text().await.unwrap_or_default());
            let body: serde_json::Value = r.json().await?;
            resets.push(t.elapsed().as_secs_f64() * 1000.0);
            server_side.push(body["millis"].as_f64().unwrap_or_default());
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    Ok(vec![
        Latency {
            name: "start to first ready /readyz, `serve --ephemeral` without a seed".into(),
            values: bare.clone(),
            limit: 1000.0,
            note: "process start, TLS certificate, migrations".into(),
        },
        Latency {
            name: "start to first ready /readyz, `serve --ephemeral --seed` (1 org, 1 user, 1 token, 3 items)".into(),
            note: format!(
                "the seed adds {:.0} ms (one argon2id hash per seeded password)",
                median(&seeded) - median(&bare)
            ),
            values: seeded,
            limit: 1000.0,
        },
        Latency {
            name: "POST /_orgd/reset back to the same seed, round trip over HTTPS".into(),
            note: format!("server-side median {:.1} ms", median(&server_side)),
            values: resets,
            limit: 50.0,
        },
    ])
}
