//! A PostgreSQL restart under load: while the database is down, requests that need it fail cleanly with
//! 503 in their dialect's envelope (never a 500, never a hang); when it is back, orgd recovers on its own.
//! The test runs its own PostgreSQL cluster (initdb in a temporary folder), so it can stop and start it.

use crate::helpers::{apperian_error, orgvue_error, TestApp};
use orgd_core::cases::orgs::OrgPatch;
use orgd_store::testing::PgCluster;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_postgres_restart_answers_503_while_down_then_recovers_without_restarting_orgd() {
    let cluster = match PgCluster::create() {
        Ok(c) => c,
        Err(why) => return orgd_store::testing::skipped("the PostgreSQL outage test", &why),
    };
    let app = TestApp::builder().database(&cluster.url()).spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("OUTAGE").await;
    let unlimited = OrgPatch { rate_per_second: Some(100_000), burst: Some(100_000), ..OrgPatch::default() };
    let org = app.update_org(&org, unlimited).await;
    let def = json!({"name": "People", "type": "PEOPLE", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = app.request(reqwest::Method::POST, "/api/v1/OUTAGE/datasets").bearer_auth(&token).json(&def);
    let ds: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
    let items = format!("/api/v1/OUTAGE/datasets/{}/items", ds["datasetId"].as_str().unwrap());
    let users = format!("/v1/org/{}/users/", org.org_id);
    assert_eq!(app.get_bearer(&items, &token).await.status(), 200);
    assert_eq!(app.get(&users).header("X-TOKEN", &token).send().await.unwrap().status(), 200);

    // Load throughout: eight clients asking without pause, every answer recorded.
    let app = std::sync::Arc::new(app);
    let stop_load = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (app, stop, items, token) = (app.clone(), stop_load.clone(), items.clone(), token.clone());
            tokio::spawn(async move {
                let mut seen = std::collections::BTreeMap::<u16, usize>::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let status = app.get_bearer(&items, &token).await.status().as_u16();
                    *seen.entry(status).or_default() += 1;
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    cluster.stop();
    // The first requests may wait for a connection (bounded by the pool's acquire timeout); once the
    // background poll has seen the database gone, every API request is refused at once.
    for round in 0..3 {
        let asked = Instant::now();
        let (status, code, _) = orgvue_error(app.get_bearer(&items, &token).await).await;
        assert_eq!((status, code.as_str()), (503, "503001"), "round {round}: the Orgvue dialect says 503");
        assert!(asked.elapsed() < Duration::from_secs(10), "round {round}: it answered, it did not hang");
        let r = app.get(&users).header("X-TOKEN", &token).send().await.unwrap();
        assert_eq!(r.headers()["retry-after"], "1", "round {round}: clients are told when to try again");
        let (status, code, _) = apperian_error(r).await;
        assert_eq!((status, code), (503, 503001), "round {round}: the Apperian dialect says 503");
    }
    assert_eq!(app.get("/readyz").send().await.unwrap().status(), 503, "not ready while the database is down");

    cluster.start();
    let back = Instant::now();
    loop {
        let r = app.get_bearer(&items, &token).await;
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503, "only 503 while reconnecting");
        assert!(back.elapsed() < Duration::from_secs(30), "orgd did not recover after PostgreSQL came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get(&users).header("X-TOKEN", &token).send().await.unwrap().status(), 200);
    assert_eq!(app.get("/readyz").send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_load.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut seen = std::collections::BTreeMap::<u16, usize>::new();
    for l in load {
        for (status, n) in l.await.unwrap() {
            *seen.entry(status).or_default() += n;
        }
    }
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), [200, 503], "under load only 200 and 503: {seen:?}");
}
