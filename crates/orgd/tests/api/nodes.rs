//! Several `orgd serve` processes on one PostgreSQL database: what one node changes, the others act on
//! within a second (the auth and data epochs they poll); usage plans hold for all nodes together through
//! Redis; a job outlives the node that started it.

use crate::crash::{people_tenant, start_with, Node, PeopleTenant};
use crate::helpers::{orgvue_error, redis_server, TestApp};
use orgd_core::cases;
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::data::jobs::JobStatus;
use orgd_core::store::Store;
use orgd_store::testing::{fresh_postgres_database, postgres_server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn within_a_second(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} did not happen within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `n` `orgd serve` processes on different ports, all on the database `url`, each with `extra` flags.
fn nodes(url: &str, n: usize, extra: &[&str]) -> (Vec<tempfile::TempDir>, Vec<Node>) {
    let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = dirs.iter().map(|d| start_with(d.path(), url, extra)).collect();
    (dirs, nodes)
}

async fn status(node: &Node, path: &str, token: &str) -> u16 {
    let r = node.http.get(format!("{}{path}", node.base)).bearer_auth(token).send().await.unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn a_token_revoked_on_one_node_is_refused_by_another_within_a_second() {
    let Some(server) = postgres_server("the multi-node test") else { return };
    let url = fresh_postgres_database(&server).await;
    let store = orgd_store::SqlStore::open(&url).await.unwrap();
    let PeopleTenant { token, .. } = people_tenant(&store, "NODES", false).await;
    let (_dirs, nodes) = nodes(&url, 3, &[]);
    let [a, b, c] = &nodes[..] else { unreachable!() };
    let datasets = "/api/v1/NODES/datasets";
    for node in [a, b, c] {
        assert_eq!(status(node, datasets, &token).await, 200, "every node takes the token");
    }

    let def = json!({"name": "Shared", "type": "POSITIONS", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = a.http.post(format!("{}{datasets}", a.base)).bearer_auth(&token).json(&def).send().await.unwrap();
    assert_eq!(r.status(), 201);
    for node in [b, c] {
        within_a_second("another node listing node A's new dataset", async || {
            let r = node.http.get(format!("{}{datasets}", node.base)).bearer_auth(&token).send().await.unwrap();
            r.json::<Vec<Value>>().await.unwrap().iter().any(|d| d["name"] == "Shared")
        })
        .await;
    }

    let id = orgd_core::token::lookup_id(&token).unwrap().to_string();
    let r = a.http.delete(format!("{}/v1/tokens/{id}", a.base)).header("X-TOKEN", &token).send().await.unwrap();
    assert!(r.status().is_success(), "revoked through node A: {}", r.status());
    assert_eq!(status(a, datasets, &token).await, 401, "node A refuses it at once");
    for node in [b, c] {
        within_a_second("another node refusing the revoked token", async || {
            status(node, datasets, &token).await == 401
        })
        .await;
    }
    store.close().await;
}

#[tokio::test]
async fn a_usage_plan_holds_for_all_nodes_together_through_redis() {
    let group = "the shared usage-limits test";
    let (Some(server), Some(redis)) = (postgres_server(group), redis_server(group)) else { return };
    let url = fresh_postgres_database(&server).await;
    let store = orgd_store::SqlStore::open(&url).await.unwrap();
    // Daily quota: 20 requests a day for the org, whichever node answers.
    let quota = people_tenant(&store, "QUOTA", false).await;
    cases::orgs::update(&store, "QUOTA", OrgPatch { daily_quota: Some(Some(20)), ..Default::default() }).await.unwrap();
    // Rate: a bucket of 10 refilled at 1 per second, again for all nodes together.
    let rate = people_tenant(&store, "RATE", false).await;
    let patch = OrgPatch { rate_per_second: Some(1), burst: Some(10), ..Default::default() };
    cases::orgs::update(&store, "RATE", patch).await.unwrap();
    let (_dirs, nodes) = nodes(&url, 3, &["--shared-limits", &redis]);

    let mut admitted = [0u64; 3];
    for i in 0..60 {
        let node = &nodes[i % 3];
        let r = node.http.get(format!("{}/api/v1/QUOTA/datasets", node.base)).bearer_auth(&quota.token);
        let r = r.send().await.unwrap();
        match r.status().as_u16() {
            200 => admitted[i % 3] += 1,
            429 => assert_eq!(orgvue_error(r).await.1, "42902", "request {i}: refused for the quota"),
            s => panic!("request {i}: unexpected status {s}"),
        }
    }
    assert_eq!(admitted, [7, 7, 6], "20 requests a day in all, shared by the three nodes");

    let started = Instant::now();
    let mut admitted = [0u64; 3];
    for i in 0..60 {
        let node = &nodes[i % 3];
        let r = node.http.get(format!("{}/api/v1/RATE/datasets", node.base)).bearer_auth(&rate.token);
        let r = r.send().await.unwrap();
        match r.status().as_u16() {
            200 => admitted[i % 3] += 1,
            429 => assert_eq!(orgvue_error(r).await.1, "42901", "request {i}: refused by the rate"),
            s => panic!("request {i}: unexpected status {s}"),
        }
    }
    let refilled = started.elapsed().as_secs() + 1;
    let total: u64 = admitted.iter().sum();
    assert!(admitted.iter().all(|n| *n > 0), "every node answered: {admitted:?}");
    assert!(
        (10..=10 + refilled).contains(&total),
        "a burst of 10 plus at most {refilled} refilled for all nodes together, not 10 per node: {admitted:?}"
    );
    store.close().await;
}

#[tokio::test]
async fn a_node_counts_alone_while_redis_is_out_of_reach() {
    let app = TestApp::builder().shared_limits("redis://127.0.0.1:1/0").spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ALONE").await;
    let patch = OrgPatch { rate_per_second: Some(1), burst: Some(3), ..Default::default() };
    app.update_org(&org, patch).await;
    let statuses = {
        let mut s = vec![];
        for _ in 0..4 {
            s.push(app.get_bearer("/api/v1/ALONE/datasets", &token).await.status().as_u16());
        }
        s
    };
    assert_eq!(statuses[..3], [200, 200, 200], "served without Redis");
    assert_eq!(statuses[3], 429, "and still throttled, by this node's own bucket");
    let metrics = app.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("orgd_shared_limits_degraded 1"), "{metrics}");
}

#[tokio::test]
async fn an_async_import_survives_the_death_of_its_node_and_applies_once() {
    let Some(server) = postgres_server("the job failover test") else { return };
    let url = fresh_postgres_database(&server).await;
    let store = orgd_store::SqlStore::open(&url).await.unwrap();
    let crate::crash::PeopleTenant { token, dataset: ds, actions, .. } =
        crate::crash::people_tenant(&store, "FAILOVER", false).await;

    // Node A accepts the upload and the job, and dies while it runs it.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let fast = ["--job-stale-seconds", "2", "--job-workers", "1"];
    let a = start_with(dir_a.path(), &url, &fast);
    let api = |node: &crate::crash::Node, path: &str| format!("{}/api/v1/FAILOVER{path}", node.base);
    let file: Value = a
        .http
        .post(api(&a, "/files/generate"))
        .bearer_auth(&token)
        .json(&json!({"targetType": "json", "targetEncoding": "identity"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let put = a.http.put(file["_links"]["put"]["url"].as_str().unwrap()).json(&actions).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let body = json!({"importLocation": {"method": "GET", "url": file["_links"]["get"]["url"]}});
    let r = a
        .http
        .put(api(&a, &format!("/datasets/{}/items/import?autoId=true", ds.id)))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let job_id = r.json::<Value>().await.unwrap()["jobId"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let job = store.get_job(&orgd_core::ids::JobId::parse(&job_id).unwrap()).await.unwrap().unwrap();
        if job.status == JobStatus::Running {
            break;
        }
        assert_eq!(job.status, JobStatus::Created, "node A finished the job before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(20), "node A never took the job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.kill();
    assert_eq!(
        store.get_job(&orgd_core::ids::JobId::parse(&job_id).unwrap()).await.unwrap().unwrap().status,
        JobStatus::Running,
        "killed mid-run"
    );

    // Node B finds the job silent, takes it again and finishes it; every item is there exactly once.
    let b = start_with(dir_b.path(), &url, &fast);
    let started = Instant::now();
    let ticket = loop {
        let t: Value = b
            .http
            .get(api(&b, &format!("/jobs/{job_id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if t["jobStatus"] == "completed" || t["jobStatus"] == "failed" {
            break t;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "node B never finished the job: {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ticket["jobStatus"], "completed", "{ticket}");
    let results: Value =
        b.http.get(ticket["_links"]["result"]["url"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(results.as_array().unwrap().len(), crate::crash::ITEMS);
    let after = store.get_dataset(&ds.id).await.unwrap().unwrap();
    assert_eq!(after.item_count as usize, crate::crash::ITEMS);
    let (mut rows, mut after_seq) = (0, 0);
    loop {
        let page = store.item_page(&ds, after_seq, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        rows += page.len();
    }
    assert_eq!(rows, crate::crash::ITEMS, "applied exactly once");
    b.kill();
    store.close().await;
}
