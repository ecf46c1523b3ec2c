//! Several `orgd serve` nodes on one PostgreSQL database: what one node changes, the others act on within
//! a second (the auth and data epochs they poll).

use crate::helpers::TestApp;
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
