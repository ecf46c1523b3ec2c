//! Several `orgd serve` nodes on one PostgreSQL database: what one node changes, the others act on within
//! a second (the auth and data epochs they poll).

use crate::crash::start_with;
use crate::helpers::{orgvue_error, redis_server, TestApp};
use orgd_core::data::jobs::JobStatus;
use orgd_core::ops::OrgPatch;
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

#[tokio::test]
async fn a_token_revoked_on_one_node_is_refused_by_another_within_a_second() {
    let Some(server) = postgres_server() else {
        eprintln!("ORGD_TEST_POSTGRES_URL is not set: the multi-node test is not run");
        return;
    };
    let url = fresh_postgres_database(&server).await;
    let a = TestApp::builder().database(&url).spawn().await;
    let b = TestApp::builder().database(&url).spawn().await;
    let (_org, _admin, token) = a.tenant_with_admin("NODES").await;
    within_a_second("node B accepting the new token", async || {
        b.get_bearer("/api/v1/NODES/datasets", &token).await.status() == 200
    })
    .await;

    let def = json!({"name": "Shared", "type": "POSITIONS", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r =
        a.request(reqwest::Method::POST, "/api/v1/NODES/datasets").bearer_auth(&token).json(&def).send().await.unwrap();
    assert_eq!(r.status(), 201);
    within_a_second("node B listing node A's dataset", async || {
        let list: Vec<Value> = b.get_bearer("/api/v1/NODES/datasets", &token).await.json().await.unwrap();
        list.len() == 1
    })
    .await;

    let id = orgd_core::token::lookup_id(&token).unwrap().to_string();
    let r =
        a.request(reqwest::Method::DELETE, &format!("/v1/tokens/{id}")).header("X-TOKEN", &token).send().await.unwrap();
    assert!(r.status().is_success(), "revoked through node A: {}", r.status());
    assert_eq!(a.get_bearer("/api/v1/NODES/datasets", &token).await.status(), 401, "node A refuses it at once");
    within_a_second("node B refusing the revoked token", async || {
        b.get_bearer("/api/v1/NODES/datasets", &token).await.status() == 401
    })
    .await;
}

/// Waits (at most a second) until `app` knows `org`'s current usage plan.
async fn knows_plan(app: &TestApp, org: &orgd_core::model::Org) {
    within_a_second("the node learning the new usage plan", async || {
        let orgs = app.server.state.gate.cache.orgs().await.unwrap();
        orgs.get(&org.org_id).is_some_and(|o| o.usage_plan == org.usage_plan)
    })
    .await;
}

#[tokio::test]
async fn a_usage_plan_holds_for_all_nodes_together_through_redis() {
    let (Some(server), Some(redis)) = (postgres_server(), redis_server()) else {
        eprintln!("ORGD_TEST_POSTGRES_URL or ORGD_TEST_REDIS_URL is not set: the shared-limits test is not run");
        return;
    };
    let url = fresh_postgres_database(&server).await;
    let a = TestApp::builder().database(&url).shared_limits(&redis).spawn().await;
    let b = TestApp::builder().database(&url).shared_limits(&redis).spawn().await;

    // Daily quota: 20 requests a day for the org, whichever node answers.
    let (org, _admin, token) = a.tenant_with_admin("QUOTA").await;
    let patch = OrgPatch { daily_quota: Some(Some(20)), ..Default::default() };
    let org = a.update_org(&org, patch).await;
    knows_plan(&a, &org).await;
    knows_plan(&b, &org).await;
    let mut admitted = [0, 0];
    for i in 0..40 {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = node.get_bearer("/api/v1/QUOTA/datasets", &token).await;
        match r.status().as_u16() {
            200 => admitted[i % 2] += 1,
            429 => assert_eq!(orgvue_error(r).await.1, "42902", "request {i}: refused for the quota"),
            s => panic!("request {i}: unexpected status {s}"),
        }
    }
    assert_eq!(admitted, [10, 10], "20 requests a day in all, shared by both nodes");

    // Rate: a bucket of 10 refilled at 1 per second, again for both nodes together.
    let (org, _admin, token) = a.tenant_with_admin("RATE").await;
    let patch = OrgPatch { rate_per_second: Some(1), burst: Some(10), ..Default::default() };
    let org = a.update_org(&org, patch).await;
    knows_plan(&a, &org).await;
    knows_plan(&b, &org).await;
    let started = Instant::now();
    let mut admitted = [0u64, 0];
    for i in 0..40 {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = node.get_bearer("/api/v1/RATE/datasets", &token).await;
        match r.status().as_u16() {
            200 => admitted[i % 2] += 1,
            429 => assert_eq!(orgvue_error(r).await.1, "42901", "request {i}: refused by the rate"),
            s => panic!("request {i}: unexpected status {s}"),
        }
    }
    let refilled = started.elapsed().as_secs() + 1;
    let total = admitted[0] + admitted[1];
    assert!(admitted[0] > 0 && admitted[1] > 0, "both nodes answered: {admitted:?}");
    assert!(
        (10..=10 + refilled).contains(&total),
        "a burst of 10 plus at most {refilled} refilled for both nodes together, not 10 per node: {admitted:?}"
    );
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
    let Some(server) = postgres_server() else {
        eprintln!("ORGD_TEST_POSTGRES_URL is not set: the job failover test is not run");
        return;
    };
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
        let job = store.get_job(&job_id).await.unwrap().unwrap();
        if job.status == JobStatus::Running {
            break;
        }
        assert_eq!(job.status, JobStatus::Created, "node A finished the job before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(20), "node A never took the job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.kill();
    assert_eq!(store.get_job(&job_id).await.unwrap().unwrap().status, JobStatus::Running, "killed mid-run");

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
        let page = store.item_page(&ds.id, after_seq, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        rows += page.len();
    }
    assert_eq!(rows, crate::crash::ITEMS, "applied exactly once");
    b.kill();
    store.close().await;
}
