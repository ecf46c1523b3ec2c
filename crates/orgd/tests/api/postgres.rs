//! The server on PostgreSQL: the same pipeline over the other store.

use crate::helpers::{orgvue_error, Db, TestApp};
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::Role;

#[tokio::test]
async fn the_pipeline_runs_on_postgres() {
    if orgd_store::testing::postgres_server("the PostgreSQL API test").is_none() {
        return;
    }
    let app = TestApp::builder().db(Db::Postgres).spawn().await;
    let root = app.org("ROOT", None).await;
    let child = app.org("CHILD", Some(&root)).await;
    let admin = app.user(&root, "boss", Role::Administrator).await;
    let token = app.token(&admin, NewToken::default()).await;
    assert_eq!(app.get_bearer("/api/v1/CHILD/datasets", &token).await.status(), 200);
    let tenants: Vec<serde_json::Value> = app.get_bearer("/api/v1/tenants", &token).await.json().await.unwrap();
    assert_eq!(tenants.len(), 2);
    app.update_org(&child, OrgPatch { api_enabled: Some(false), ..OrgPatch::default() }).await;
    let (s, c, _) = orgvue_error(app.get_bearer("/api/v1/CHILD/datasets", &token).await).await;
    assert_eq!((s, c.as_str()), (403, "40345"));
    app.update_org(&root, OrgPatch { daily_quota: Some(Some(1)), ..OrgPatch::default() }).await;
    assert_eq!(app.get_bearer("/api/v1/ROOT/datasets", &token).await.status(), 200);
    let (s, c, _) = orgvue_error(app.get_bearer("/api/v1/ROOT/datasets", &token).await).await;
    assert_eq!((s, c.as_str()), (429, "42902"));
    let id = orgd_core::token::lookup_id(&token).unwrap();
    orgd_core::cases::tokens::revoke(app.store.as_ref(), id, app.now()).await.unwrap();
    let started = std::time::Instant::now();
    while app.get_bearer("/api/v1/CHILD/datasets", &token).await.status() != 401 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
