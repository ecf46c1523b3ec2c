//! Crash safety: `orgd serve` killed with SIGKILL in the middle of a large import and of an org settings
//! update leaves each write all-or-nothing and the store consistent, on SQLite and PostgreSQL.

use crate::cli::client;
use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::data::jobs::JobStatus;
use orgd_core::model::{Role, UsagePlan};
use orgd_core::store::Store;
use orgd_store::testing::{fresh_postgres_database, postgres_server};
use orgd_store::SqlStore;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Items in the large imports of the process tests.
pub const ITEMS: usize = 60_000;
/// Actions of the request in flight during a SIGTERM.
const IN_FLIGHT: usize = 5_000;

/// A real `orgd serve` process.
pub struct Node {
    child: Child,
    pub http: reqwest::Client,
    pub base: String,
}

fn start(dir: &Path, database: &str) -> Node {
    start_with(dir, database, &[])
}

/// Start `orgd serve` on a free port with `extra` arguments; returns once it printed its ready line.
pub fn start_with(dir: &Path, database: &str, extra: &[&str]) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(["--database", database])
        .args(extra)
        .env("ORGD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("no ready line: {line}"));
    let url = ready["url"].as_str().unwrap();
    let port = url.rsplit(':').next().unwrap();
    Node {
        child,
        http: client(Path::new(ready["caCert"].as_str().unwrap())),
        base: format!("https://localhost:{port}"),
    }
}

impl Node {
    /// SIGTERM, then wait (at most `within`) for the process to exit; true when it exited cleanly.
    pub fn terminate(mut self, within: Duration) -> bool {
        assert!(Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success());
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(mut self) {
        assert!(Command::new("kill").args(["-KILL", &self.child.id().to_string()]).status().unwrap().success());
        let _ = self.child.wait();
    }
}

/// A node never outlives its test, whether the test passed or panicked.
impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tenant prepared directly in `store` for the process tests: an administrator's API token (the tenant's
/// plan unlimited when `unlimited`), an empty PEOPLE dataset and `ITEMS` create actions for it.
pub struct PeopleTenant {
    pub org: orgd_core::model::Org,
    pub token: String,
    pub dataset: orgd_core::data::schema::Dataset,
    pub actions: Vec<Value>,
}

/// Prepare a [`PeopleTenant`] named `tenant` in `store`.
pub async fn people_tenant(store: &SqlStore, tenant: &str, unlimited: bool) -> PeopleTenant {
    let now = SystemClock::default().now();
    let new = NewOrg { tenant_id: Some(tenant.into()), name: tenant.into(), ..NewOrg::default() };
    let org = cases::orgs::create(store, new, &UsagePlan::default(), now).await.unwrap();
    if unlimited {
        let plan = OrgPatch { rate_per_second: Some(100_000), burst: Some(100_000), ..OrgPatch::default() };
        cases::orgs::update(store, tenant, plan).await.unwrap();
    }
    let email = format!("admin@{}.test", tenant.to_ascii_lowercase());
    let fields = UserFields {
        role: Some(Role::Administrator),
        token_access: Some(true),
        email: Some(email.clone()),
        ..UserFields::default()
    };
    let admin = cases::users::create(store, &org, &email, fields, now).await.unwrap();
    let (token, _) = cases::tokens::create_api(store, &admin, NewToken::default(), now).await.unwrap();
    let def = json!({"name": "People", "type": "PEOPLE", "autoId": "Id", "labelId": "Name",
        "properties": [{"key": "Id", "type": "number", "isRequired": true}, {"key": "Name", "type": "text", "isRequired": true}]});
    let dataset = orgd_core::data::ops::create(store, &org.org_id, &def, 0).await.unwrap();
    let actions =
        (0..ITEMS).map(|i| json!({"_action": "create", "Id": i, "Name": format!("Person number {i}")})).collect();
    PeopleTenant { org, token, dataset, actions }
}

async fn crash_during_writes(database: String) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&database).await.unwrap();
    let PeopleTenant { org, token, dataset: mut ds, actions } = people_tenant(&store, "CRASH", true).await;
    let body = serde_json::to_vec(&actions).unwrap();

    // A large import, killed while it is being applied: halfway through the time the same import took
    // whole here just before. A machine that finishes the import first anyway (it got faster once warm)
    // counts that import as the new measure and tries again on a fresh dataset.
    let node = start(dir.path(), &database);
    let def = json!({"name": "Probe", "type": "PEOPLE", "autoId": "Id", "labelId": "Name",
        "properties": [{"key": "Id", "type": "number", "isRequired": true}, {"key": "Name", "type": "text", "isRequired": true}]});
    let import = |id: String| {
        let (http, url, token, body) = (
            node.http.clone(),
            format!("{}/api/v1/CRASH/datasets/{id}/items?autoId=true", node.base),
            token.clone(),
            body.clone(),
        );
        let started = std::time::Instant::now();
        let answer = tokio::spawn(async move {
            http.put(url).bearer_auth(token).header("content-type", "application/json").body(body).send().await
        });
        (started, answer)
    };
    let probe = orgd_core::data::ops::create(&store, &org.org_id, &def, 0).await.unwrap();
    let (started, whole) = import(probe.id.to_string());
    let whole = whole.await.unwrap().unwrap();
    assert!(whole.status().is_success(), "the whole import: {}", whole.status());
    let mut halfway = started.elapsed() / 2;
    let mut tries = 0;
    let answer = loop {
        let (started, answer) = import(ds.id.to_string());
        tokio::time::sleep(halfway).await;
        if !answer.is_finished() {
            break answer;
        }
        let done = answer.await.unwrap().unwrap();
        assert!(done.status().is_success(), "an import that finished first: {}", done.status());
        tries += 1;
        assert!(tries < 5, "five imports in a row finished before half of the time the one before took");
        halfway = started.elapsed() / 2;
        ds = orgd_core::data::ops::create(&store, &org.org_id, &def, 0).await.unwrap();
    };
    node.kill();
    let answer = answer.await.unwrap();
    assert!(answer.is_err(), "the import was still running when the server died: {answer:?}");
    let after = store.get_dataset(&ds.id).await.unwrap().unwrap();
    let mut rows = 0;
    let mut after_seq = 0;
    loop {
        let page = store.item_page(&ds, after_seq, 10_000).await.unwrap();
        if page.is_empty() {
            break;
        }
        rows += page.len();
        after_seq = page.last().unwrap().seq;
    }
    assert!(rows == 0 || rows == ITEMS, "all or nothing: {rows} of {ITEMS} items");
    assert_eq!(after.item_count as usize, rows, "the dataset's count matches its items");

    // An org settings update, killed while requests are in flight: each is old or new, never half.
    let node = start(dir.path(), &database);
    let r = node.http.put(format!("{}/api/v1/CRASH/datasets/{}/items?autoId=true", node.base, ds.id));
    let r = r.bearer_auth(&token).header("content-type", "application/json").body(b"[]".to_vec()).send().await.unwrap();
    assert!(r.status().is_success(), "the store is usable after the crash: {}", r.status());
    let mut updates = Vec::new();
    for i in 0..40 {
        let (http, url, token) =
            (node.http.clone(), format!("{}/v3/organizations/{}", node.base, org.org_id), token.clone());
        updates.push(tokio::spawn(async move {
            let body = json!({"session_timeout_in_minutes": 100 + i, "support_email": format!("help{i}@crash.test")});
            http.put(url).header("X-TOKEN", token).json(&body).send().await.map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    node.kill();
    for u in updates {
        let _ = u.await.unwrap();
    }
    let o = store.get_org(&org.org_id).await.unwrap().unwrap();
    let minutes = o.settings["session_timeout_in_minutes"].as_i64().unwrap();
    let email = o.settings["support_email"].as_str().unwrap_or_default().to_string();
    if minutes >= 100 {
        assert_eq!(email, format!("help{}@crash.test", minutes - 100), "both keys come from one update");
    } else {
        assert!(!email.starts_with("help"), "no update landed, so neither key changed");
    }
    store.close().await;
}

#[tokio::test]
async fn sigkill_during_writes_leaves_each_write_whole_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_during_writes(format!("sqlite://{}/orgd.db", dir.path().display())).await;
}

#[tokio::test]
async fn sigkill_during_writes_leaves_each_write_whole_on_postgres() {
    let Some(server) = postgres_server("the PostgreSQL crash test") else { return };
    crash_during_writes(fresh_postgres_database(&server).await).await;
}

/// Polls the store until `job_id` is running (panics if it ends first).
async fn wait_until_running(store: &SqlStore, job_id: &str) {
    let started = std::time::Instant::now();
    loop {
        let job = store.get_job(&orgd_core::ids::JobId::parse(job_id).unwrap()).await.unwrap().unwrap();
        match job.status {
            JobStatus::Running => return,
            JobStatus::Created => assert!(started.elapsed() < Duration::from_secs(20), "the job was never taken"),
            s => panic!("the job ended before the signal could be sent: {s:?}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn sigterm_gives_a_running_export_back_and_lets_a_running_import_finish() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/orgd.db", dir.path().display());
    let store = SqlStore::open(&database).await.unwrap();
    let PeopleTenant { token, dataset: ds, actions, .. } = people_tenant(&store, "TERM", false).await;
    let opts = orgd_core::data::ops::import_options(&ds, &[]).unwrap();
    orgd_core::data::ops::import(&store, &ds, actions, &opts, 0).await.unwrap();
    let items = format!("/api/v1/TERM/datasets/{}/items", ds.id);

    // An async export running at SIGTERM stops after its current chunk and goes back to the queue.
    let node = start_with(dir.path(), &database, &["--job-workers", "1"]);
    let export = format!("{}/api/v1/TERM/datasets/{}/export?exportFormat=csv", node.base, ds.id);
    let r = node.http.post(export).bearer_auth(&token).json(&json!({}));
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 202);
    let export_id = r.json::<Value>().await.unwrap()["jobId"].as_str().unwrap().to_string();
    wait_until_running(&store, &export_id).await;
    assert!(node.terminate(Duration::from_secs(15)), "orgd exits cleanly after SIGTERM");
    let job = store.get_job(&orgd_core::ids::JobId::parse(&export_id).unwrap()).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Created, "given back to the queue, not failed and not finished");
    let owner = orgd_core::data::jobs::ChunkOwner::Job(export_id.clone());
    assert!(store.chunks(&owner, 0, 1).await.unwrap().is_empty(), "its partial result is dropped");

    // The next node takes it again and finishes it; an import running at SIGTERM is finished before exit.
    let node = start_with(dir.path(), &database, &["--job-workers", "1"]);
    let csv = loop {
        let t: Value = node
            .http
            .get(format!("{}/api/v1/TERM/jobs/{export_id}", node.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if t["jobStatus"] == "completed" {
            let url = t["_links"]["result"]["url"].as_str().unwrap();
            break node.http.get(url).send().await.unwrap().text().await.unwrap();
        }
        assert_ne!(t["jobStatus"], "failed", "{t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(csv.lines().count(), ITEMS + 1, "header and every row, once");

    let file: Value = node
        .http
        .post(format!("{}/api/v1/TERM/files/generate", node.base))
        .bearer_auth(&token)
        .json(&json!({"targetType": "json", "targetEncoding": "identity"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let renames: Vec<Value> =
        (0..ITEMS).map(|i| json!({"_action": "update", "Id": i, "Name": format!("Renamed {i}")})).collect();
    node.http.put(file["_links"]["put"]["url"].as_str().unwrap()).json(&renames).send().await.unwrap();
    let body = json!({"importLocation": {"method": "GET", "url": file["_links"]["get"]["url"]}});
    let r = node.http.put(format!("{}{items}/import?autoId=true", node.base)).bearer_auth(&token).json(&body);
    let import_id = r.send().await.unwrap().json::<Value>().await.unwrap()["jobId"].as_str().unwrap().to_string();
    wait_until_running(&store, &import_id).await;
    assert!(node.terminate(Duration::from_secs(60)), "orgd exits cleanly after SIGTERM");
    let job = store.get_job(&orgd_core::ids::JobId::parse(&import_id).unwrap()).await.unwrap().unwrap();
    assert_eq!(
        job.status,
        JobStatus::Completed,
        "the import finished before the process exited: {:?}",
        job.errors.map(|e| e[0].clone())
    );
    let page = store.item_page(&ds, 0, 10_000).await.unwrap();
    assert!(page.iter().all(|i| i.values["Name"].as_str().unwrap().starts_with("Renamed")));
    store.close().await;
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_with_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/orgd.db", dir.path().display());
    let store = SqlStore::open(&database).await.unwrap();
    let PeopleTenant { token, dataset: ds, actions, .. } = people_tenant(&store, "DRAIN", true).await;
    let node = start_with(dir.path(), &database, &["--control-token", "drain-control-secret"]);
    // The stand-in's latency rule keeps the import in flight, once its caller is known, for 3 s.
    let rule = serde_json::json!({"rules": [{"tenant": "DRAIN", "latencyMs": 3000}]});
    let r = node.http.put(format!("{}/_orgd/faults", node.base)).bearer_auth("drain-control-secret").json(&rule);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let url = format!("{}/api/v1/DRAIN/datasets/{}/items?autoId=true", node.base, ds.id);
    // A few thousand actions: the import must end within the 10 s the server gives requests in flight, on
    // a debug build beside the rest of the suite.
    let actions = &actions[..IN_FLIGHT];
    let import = {
        let (http, token, body) = (node.http.clone(), token.clone(), serde_json::to_vec(actions).unwrap());
        tokio::spawn(async move {
            let r = http.put(url).bearer_auth(token).header("content-type", "application/json").body(body);
            let r = r.send().await?;
            Ok::<_, reqwest::Error>((r.status().as_u16(), r.json::<Value>().await?))
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!import.is_finished(), "the import is still in flight when SIGTERM arrives");
    let http = node.http.clone();
    let base = node.base.clone();
    let exited = tokio::task::spawn_blocking(move || node.terminate(Duration::from_secs(15)));
    let (status, results) = import.await.unwrap().expect("the request in flight gets its answer");
    assert_eq!(status, 200);
    assert_eq!(results.as_array().map(Vec::len), Some(IN_FLIGHT), "one result per action");
    assert!(exited.await.unwrap(), "orgd exits cleanly once the request is answered");
    assert!(http.get(format!("{base}/healthz")).send().await.is_err(), "nothing is served after shutdown");
    let applied = store.get_dataset(&ds.id).await.unwrap().unwrap().item_count as usize;
    assert_eq!(applied, IN_FLIGHT, "and it was applied");
    store.close().await;
}
