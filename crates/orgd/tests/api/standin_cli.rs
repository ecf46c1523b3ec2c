//! The stand-in from the command line: `orgd seed`, `orgd serve --ephemeral`, and the testing guide's
//! example run as written.

use crate::cli::{client, first_err_line, ok, orgd, Running};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/standin").join(file)
}

#[test]
fn orgd_seed_checks_applies_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed = example("seed.yaml");
    let seed = seed.to_str().unwrap();
    let out = ok(&orgd(d, &["seed", seed, "--check"]));
    assert!(
        out.contains("valid (1 org(s), 1 user(s), 1 token(s), 1 dataset(s), 3 item(s)); nothing was changed"),
        "{out}"
    );
    assert!(!d.join("orgd.db").exists(), "--check changes nothing");
    let first: serde_json::Value = serde_json::from_str(&ok(&orgd(d, &["seed", seed, "--json"]))).unwrap();
    assert_eq!(first, serde_json::json!({"created": 4, "updated": 0, "unchanged": 0}));
    let again: serde_json::Value = serde_json::from_str(&ok(&orgd(d, &["seed", seed, "--json"]))).unwrap();
    assert_eq!(again, serde_json::json!({"created": 0, "updated": 0, "unchanged": 4}));
    let orgs = ok(&orgd(d, &["admin", "org", "list"]));
    assert!(orgs.contains("ACME"), "{orgs}");

    let bad = d.join("bad.yaml");
    let text =
        std::fs::read_to_string(example("seed.yaml")).unwrap().replace("ends_at: 2030-01-01", "ends_at: 2023-01-01");
    std::fs::write(&bad, text).unwrap();
    let err = first_err_line(&orgd(d, &["seed", bad.to_str().unwrap()]));
    assert_eq!(err, "error: the seed file has 1 fault(s):");
    let out = orgd(d, &["seed", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml:16: orgs[0].users[0].tokens[0].ends_at: must be later than starts_at"),
        "{stderr}"
    );
    let again: serde_json::Value = serde_json::from_str(&ok(&orgd(d, &["seed", seed, "--json"]))).unwrap();
    assert_eq!(again["unchanged"], 4, "a faulty file changed nothing");
}

#[tokio::test]
async fn serve_ephemeral_prints_a_ready_line_and_leaves_nothing_behind() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["serve", "--ephemeral", "--listen", "127.0.0.1:0", "--control-token", "control-secret-1", "--seed"])
        .arg(example("seed.yaml"))
        .env_remove("ORGD_DATA_DIR")
        .env_remove("ORGD_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut running = Running(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["ready"], true);
    let folder = std::path::PathBuf::from(ready["ephemeral"].as_str().unwrap());
    assert!(folder.join("orgd.db").exists());
    let url = ready["url"].as_str().unwrap();
    assert_eq!(ready["controlApi"], format!("{url}/_orgd/"));
    let http = client(Path::new(ready["caCert"].as_str().unwrap()));
    let port = url.rsplit(':').next().unwrap();
    let r = http
        .get(format!("https://localhost:{port}/api/v1/ACME/datasets"))
        .bearer_auth("orgd_acmecitokenxxxxx_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = running.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while running.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "orgd did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!folder.exists(), "the ephemeral folder is deleted on exit");

    let dir = tempfile::tempdir().unwrap();
    let err = first_err_line(&orgd(dir.path(), &["serve", "--ephemeral"]));
    assert_eq!(err, "error: --ephemeral keeps its data in a temporary folder; leave out --data-dir and --database");
    for (token, was) in [("short", "shorter"), ("", "empty")] {
        let err = first_err_line(&orgd(dir.path(), &["serve", "--control-token", token]));
        assert!(
            err.starts_with(&format!("error: --control-token must be at least 8 characters (it was {was})")),
            "{err}"
        );
    }
}

#[test]
fn the_testing_guide_example_runs_as_written() {
    let out = Command::new("python3")
        .arg(example("test_client.py"))
        .env("ORGD_BIN", env!("CARGO_BIN_EXE_orgd"))
        .output()
        .expect("python3 runs the guide's example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Ran 4 tests") && stderr.contains("\nOK"), "{stderr}");
}
