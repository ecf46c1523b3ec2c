//! Every code of the access pipeline, triggered for real.

use crate::helpers::{apperian_error, cidrs, orgvue_error, TestApp};
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::parse_date_or_datetime;
use orgd_core::model::Role;
use time::Duration;

#[tokio::test]
async fn a_valid_token_lists_datasets_and_tenants() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let r = app.get_bearer("/api/v1/ACME/datasets", &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json; charset=UTF-8");
    assert_eq!(r.headers()["ratelimit-limit"], "500000");
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), serde_json::json!([]));
    let tenants: serde_json::Value = app.get_bearer("/api/v1/tenants", &token).await.json().await.unwrap();
    assert_eq!(tenants[0]["tenantId"], "ACME");
    assert_eq!(tenants[0]["parentTenantId"], serde_json::Value::Null);
}

#[tokio::test]
async fn credentials_missing_wrong_scheme_malformed_unknown_revoked() {
    let app = TestApp::spawn().await;
    let (_org, admin, token) = app.tenant_with_admin("ACME").await;
    let path = "/api/v1/ACME/datasets";
    let (s, c, b) = orgvue_error(app.get(path).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (401, "40101"));
    assert_eq!(b["errors"][0]["name"], "AuthorizationHeaderEmpty");
    let (s, c, _) = orgvue_error(app.get(path).header("Authorization", "Basic dTpw").send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (401, "40103"));
    let (s, c, _) = orgvue_error(app.get_bearer(path, "not-a-token").await).await;
    assert_eq!((s, c.as_str()), (401, "40102"));
    // Right id, wrong secret.
    let last = if token.ends_with('A') { "B" } else { "A" };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let (s, c, _) = orgvue_error(app.get_bearer(path, &forged).await).await;
    assert_eq!((s, c.as_str()), (401, "40102"));
    // The tolerated `Bearer:` form and X-TOKEN both work.
    let r = app.get(path).header("Authorization", format!("Bearer: {token}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.get(path).header("X-TOKEN", &token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Revoked.
    let id = orgd_core::token::lookup_id(&token).unwrap().to_string();
    // Through the core, as every door does: the next request knows it without anyone telling the cache.
    orgd_core::cases::tokens::revoke(app.store.as_ref(), &id, app.now()).await.unwrap();
    let (s, c, _) = orgvue_error(app.get_bearer(path, &token).await).await;
    assert_eq!((s, c.as_str()), (401, "40102"));
    let _ = admin;
}

#[tokio::test]
async fn token_windows_not_yet_active_and_expired() {
    let app = TestApp::spawn().await;
    let (_org, admin, _) = app.tenant_with_admin("ACME").await;
    let now = app.now();
    let future = app.token(&admin, NewToken { starts_at: Some(now + Duration::days(1)), ..NewToken::default() }).await;
    let (s, c, b) = orgvue_error(app.get_bearer("/api/v1/ACME/datasets", &future).await).await;
    assert_eq!((s, c.as_str()), (403, "40301"));
    assert_eq!(b["errors"][0]["message"], "The API Token is not active yet.");
    let past = NewToken {
        starts_at: parse_date_or_datetime("2020-01-01"),
        ends_at: parse_date_or_datetime("2020-01-02"),
        ..NewToken::default()
    };
    let expired = app.token(&admin, past).await;
    let (s, c, _) = orgvue_error(app.get_bearer("/api/v1/ACME/datasets", &expired).await).await;
    assert_eq!((s, c.as_str()), (403, "40302"));
    // The Apperian dialect answers an expired token with 401 and its fixed message.
    let r = app.get("/v1/tokens").header("X-TOKEN", &expired).send().await.unwrap();
    let (s, c, b) = apperian_error(r).await;
    assert_eq!((s, c), (401, 40302));
    assert_eq!(b["error"]["message"], "Missing token or session expired");
}

#[tokio::test]
async fn ip_rules_of_token_user_and_tenant() {
    let app = TestApp::spawn().await;
    let (org, admin, _) = app.tenant_with_admin("ACME").await;
    let path = "/api/v1/ACME/datasets";

    let t = app.token(&admin, NewToken { subnets: cidrs("10.0.0.0/8"), ..NewToken::default() }).await;
    let (s, c, b) = orgvue_error(app.get_bearer(path, &t).await).await;
    assert_eq!((s, c.as_str()), (403, "40303"));
    assert_eq!(b["errors"][0]["message"], "The API Token cannot be used from the current IP address: 127.0.0.1");
    let t = app.token(&admin, NewToken { subnets: cidrs("127.0.0.0/8"), ..NewToken::default() }).await;
    assert_eq!(app.get_bearer(path, &t).await.status(), 200);

    let token = app.token(&admin, NewToken::default()).await;
    let deny = UserFields { allowed_subnets: Some(cidrs("10.0.0.0/8")), ..UserFields::default() };
    app.update_user(&org, &admin, deny).await;
    let (s, c, _) = orgvue_error(app.get_bearer(path, &token).await).await;
    assert_eq!((s, c.as_str()), (403, "40324"));
    let allow = UserFields { allowed_subnets: Some(cidrs("127.0.0.0/8, ::1")), ..UserFields::default() };
    app.update_user(&org, &admin, allow).await;
    assert_eq!(app.get_bearer(path, &token).await.status(), 200);

    app.update_org(&org, OrgPatch { allowed_subnets: Some(cidrs("10.0.0.0/8")), ..OrgPatch::default() }).await;
    let (s, c, _) = orgvue_error(app.get_bearer(path, &token).await).await;
    assert_eq!((s, c.as_str()), (403, "40325"));
    app.update_org(&org, OrgPatch { allowed_subnets: Some(cidrs("127.0.0.0/8")), ..OrgPatch::default() }).await;
    assert_eq!(app.get_bearer(path, &token).await.status(), 200);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let app = TestApp::builder().trusted_proxy("127.0.0.0/8").spawn().await;
    let (_org, admin, _) = app.tenant_with_admin("ACME").await;
    let t = app.token(&admin, NewToken { subnets: cidrs("10.0.0.0/8"), ..NewToken::default() }).await;
    let r =
        app.get("/api/v1/ACME/datasets").bearer_auth(&t).header("X-Forwarded-For", "10.9.8.7").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r =
        app.get("/api/v1/ACME/datasets").bearer_auth(&t).header("X-Forwarded-For", "192.0.2.1").send().await.unwrap();
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (403, "40303"));
    assert!(b["errors"][0]["message"].as_str().unwrap().ends_with("192.0.2.1"));
    // Without a trusted proxy the header is ignored.
    let plain = TestApp::spawn().await;
    let (_org, admin, _) = plain.tenant_with_admin("ACME").await;
    let t = plain.token(&admin, NewToken { subnets: cidrs("10.0.0.0/8"), ..NewToken::default() }).await;
    let r =
        plain.get("/api/v1/ACME/datasets").bearer_auth(&t).header("X-Forwarded-For", "10.9.8.7").send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn disabled_expired_and_token_access_off() {
    let app = TestApp::spawn().await;
    let (org, admin, token) = app.tenant_with_admin("ACME").await;
    let path = "/api/v1/ACME/datasets";
    app.update_user(&org, &admin, UserFields { enabled: Some(false), ..UserFields::default() }).await;
    let (s, c, _) = orgvue_error(app.get_bearer(path, &token).await).await;
    assert_eq!((s, c.as_str()), (403, "40322"));
    app.update_user(&org, &admin, UserFields { enabled: Some(true), ..UserFields::default() }).await;

    let past = Some(parse_date_or_datetime("2021-01-01"));
    app.update_user(&org, &admin, UserFields { expires_at: past, ..UserFields::default() }).await;
    let (s, c, _) = orgvue_error(app.get_bearer(path, &token).await).await;
    assert_eq!((s, c.as_str()), (403, "40323"));
    app.update_user(&org, &admin, UserFields { expires_at: Some(None), ..UserFields::default() }).await;

    app.update_user(&org, &admin, UserFields { token_access: Some(false), ..UserFields::default() }).await;
    let (s, c, _) = orgvue_error(app.get_bearer(path, &token).await).await;
    assert_eq!((s, c.as_str()), (403, "40326"));
    app.update_user(&org, &admin, UserFields { token_access: Some(true), ..UserFields::default() }).await;
    assert_eq!(app.get_bearer(path, &token).await.status(), 200, "works again once TokenAccess is back on");
}

#[tokio::test]
async fn disabled_usage_plan_answers_the_seed_message() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    app.update_org(&org, OrgPatch { api_enabled: Some(false), ..OrgPatch::default() }).await;
    let (s, _, body) = orgvue_error(app.get_bearer("/api/v1/ACME/datasets", &token).await).await;
    assert_eq!(s, 403);
    assert_eq!(
        body,
        serde_json::json!({"errors":[{"name":"TenantUsagePlanNotConfigured","code":"40345",
            "message":"The API Usage Plan for this tenant is not configured. Please contact support to resolve this issue."}]})
    );
    let r = app.get("/v1/tokens").header("X-TOKEN", &token).send().await.unwrap();
    let (s, c, b) = apperian_error(r).await;
    assert_eq!((s, c), (403, 40345));
    assert_eq!(
        b["error"]["message"],
        "The API Usage Plan for this tenant is not configured. Please contact support to resolve this issue."
    );
}

#[tokio::test]
async fn tenants_resolve_down_the_tree_only() {
    let app = TestApp::spawn().await;
    let root = app.org("ROOT", None).await;
    let child = app.org("CHILD", Some(&root)).await;
    let _grand = app.org("GRAND", Some(&child)).await;
    let _sibling = app.org("SIBLING", Some(&root)).await;
    let root_admin = app.user(&root, "boss", Role::Administrator).await;
    let child_admin = app.user(&child, "lead", Role::Administrator).await;
    let child_user = app.user(&child, "worker", Role::User).await;
    let root_token = app.token(&root_admin, NewToken::default()).await;
    let child_token = app.token(&child_admin, NewToken::default()).await;
    let user_token = app.token(&child_user, NewToken::default()).await;

    assert_eq!(app.get_bearer("/api/v1/GRAND/datasets", &root_token).await.status(), 200);
    assert_eq!(app.get_bearer("/api/v1/GRAND/datasets", &child_token).await.status(), 200);
    for (path, token) in [
        ("/api/v1/ROOT/datasets", &child_token),
        ("/api/v1/SIBLING/datasets", &child_token),
        ("/api/v1/GRAND/datasets", &user_token),
        ("/api/v1/NOSUCH/datasets", &root_token),
    ] {
        let (s, c, b) = orgvue_error(app.get_bearer(path, token).await).await;
        assert_eq!((s, c.as_str()), (404, "40401"), "{path}");
        assert_eq!(b["errors"][0]["message"], "Tenant not found.");
    }
    let (s, c, b) = orgvue_error(app.get_bearer("/api/v1/not-valid/datasets", &root_token).await).await;
    assert_eq!((s, c.as_str()), (400, "400601"));
    assert_eq!(b["errors"][0]["pathParameter"], "{tenantId}");
    let message = b["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("Path parameter {tenantId} is invalid: a tenant id matches ^[A-Z]"), "{message}");

    let tenants: Vec<serde_json::Value> = app.get_bearer("/api/v1/tenants", &child_token).await.json().await.unwrap();
    let ids: Vec<&str> = tenants.iter().map(|t| t["tenantId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["CHILD", "GRAND"]);
    let tenants: Vec<serde_json::Value> = app.get_bearer("/api/v1/tenants", &root_token).await.json().await.unwrap();
    assert_eq!(tenants.len(), 4);
    let tenants: Vec<serde_json::Value> = app.get_bearer("/api/v1/tenants", &user_token).await.json().await.unwrap();
    assert_eq!(tenants.len(), 1);

    // The Apperian affiliated-org prefix follows the same rule.
    let grand_id =
        app.store.list_orgs().await.unwrap().into_iter().find(|o| o.tenant_id.as_str() == "GRAND").unwrap().org_id;
    let r = app.get(&format!("/v1/org/{grand_id}/tokens")).header("X-TOKEN", &root_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.get(&format!("/v1/org/{}/tokens", root.org_id)).header("X-TOKEN", &child_token).send().await.unwrap();
    let (s, c, b) = apperian_error(r).await;
    assert_eq!((s, c), (404, 40401));
    assert_eq!(b["error"]["message"], "Organization not found");
    let r = app.get("/v1/org/short/tokens").header("X-TOKEN", &child_token).send().await.unwrap();
    assert_eq!(apperian_error(r).await.1, 40401);
}

use orgd_core::store::Store;

#[tokio::test]
async fn bursts_over_the_rate_are_throttled_with_retry_after() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let patch = OrgPatch { rate_per_second: Some(1), burst: Some(3), daily_quota: Some(None), ..OrgPatch::default() };
    app.update_org(&org, patch).await;
    for _ in 0..3 {
        assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200);
    }
    let r = app.get_bearer("/api/v1/ACME/datasets", &token).await;
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    assert_eq!(r.headers()["ratelimit-limit"], "3");
    let (s, c, _) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (429, "42901"));
}

#[tokio::test]
async fn an_exhausted_daily_quota_answers_42902() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    app.update_org(&org, OrgPatch { daily_quota: Some(Some(3)), ..OrgPatch::default() }).await;
    let mut remaining = vec![];
    for _ in 0..3 {
        let r = app.get_bearer("/api/v1/ACME/datasets", &token).await;
        assert_eq!(r.status(), 200);
        remaining.push(r.headers()["ratelimit-remaining"].to_str().unwrap().to_string());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = app.get_bearer("/api/v1/ACME/datasets", &token).await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    let (s, c, _) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (429, "42902"));
}

#[tokio::test]
async fn insufficient_role_is_refused_after_the_pipeline() {
    let app = TestApp::spawn().await;
    let (org, _admin, _) = app.tenant_with_admin("ACME").await;
    let user = app.user(&org, "reader", Role::User).await;
    let admin2 = app.user(&org, "admin2", Role::Administrator).await;
    let token = app.token(&user, NewToken::default()).await;
    let r = app.get(&format!("/v1/tokens?user_psk={}", admin2.psk)).header("X-TOKEN", &token).send().await.unwrap();
    let (s, c, _) = apperian_error(r).await;
    assert_eq!((s, c), (403, 40331));
}

#[tokio::test]
async fn changes_made_by_another_process_are_seen_within_a_second() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200);
    // A second handle on the same database stands for `orgd admin` running beside the server.
    let other = orgd_store::SqlStore::open(&app.database_url).await.unwrap();
    let id = orgd_core::token::lookup_id(&token).unwrap();
    assert!(other.revoke_token(id, app.now()).await.unwrap());
    let started = std::time::Instant::now();
    loop {
        let status = app.get_bearer("/api/v1/ACME/datasets", &token).await.status();
        if status == 401 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "revocation not seen");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn last_use_is_recorded_in_batches() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let id = orgd_core::token::lookup_id(&token).unwrap();
    for _ in 0..3 {
        assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200);
    }
    // The background task may have written it already; either way at most one write is queued.
    assert!(app.server.state.gate.cache.flush_uses().await.unwrap() <= 1, "three uses, at most one write");
    let (rec, _) = app.store.get_token(id).await.unwrap().unwrap();
    assert!(rec.last_used_at.is_some());
    assert_eq!(rec.last_used_ip.as_deref(), Some("127.0.0.1"));
    for _ in 0..3 {
        assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200);
    }
    assert_eq!(app.server.state.gate.cache.flush_uses().await.unwrap(), 0, "no new write within a minute");
}

#[tokio::test]
async fn after_a_change_the_org_tree_is_loaded_again_before_any_request_asks() {
    let app = TestApp::spawn().await;
    let cache = &app.server.state.gate.cache;
    cache.orgs().await.unwrap();
    let changed = std::time::Instant::now();
    let warm = app.org("WARM", None).await;
    let deadline = changed + std::time::Duration::from_secs(1);
    // A tree loaded after the change began; only the background poll loads one here.
    while cache.org_tree_age().is_none_or(|age| age >= changed.elapsed()) {
        assert!(std::time::Instant::now() < deadline, "the background poll did not load the tree within a second");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(cache.orgs().await.unwrap().by_tenant(&warm.tenant_id).is_some(), "and it holds the new org");
}

#[tokio::test]
async fn an_org_tree_in_use_is_loaded_again_before_its_ttl_runs_out() {
    use orgd_core::auth_cache::{ORG_REFRESH_AHEAD, TTL};
    use std::time::{Duration, Instant};
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let cache = &app.server.state.gate.cache;
    // Take in the setup's changes now, so the poll has no change to drop the tree for.
    cache.refresh_epoch().await.unwrap();
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200, "a request uses the tree");
    let before = cache.orgs().await.unwrap();
    cache.backdate_org_tree(TTL - ORG_REFRESH_AHEAD / 2);
    let deadline = Instant::now() + Duration::from_secs(1);
    while cache.org_tree_age().is_some_and(|age| age > TTL - ORG_REFRESH_AHEAD) {
        assert!(Instant::now() < deadline, "the background poll did not load the tree again within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!std::sync::Arc::ptr_eq(&before, &cache.orgs().await.unwrap()), "the request after it gets the new tree");
}

#[tokio::test]
async fn an_org_tree_nobody_uses_is_not_loaded_again() {
    use orgd_core::auth_cache::TTL;
    use std::time::Duration;
    let app = TestApp::spawn().await;
    let cache = &app.server.state.gate.cache;
    // The start-up loads the tree without a request asking for it; nothing asks for it after.
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while cache.org_tree_age().is_none() {
        assert!(std::time::Instant::now() < deadline, "the start-up did not load the tree");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cache.backdate_org_tree(TTL);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(cache.org_tree_age().unwrap() >= TTL, "an idle server leaves an expired tree alone");
}

/// An org, user and token made elsewhere (the CLI, another node) are usable at once: a tenant the
/// cached org tree does not know is looked up again before 404 is answered.
#[tokio::test]
async fn an_org_made_elsewhere_is_found_at_once_not_404() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    for round in 0..20 {
        assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200, "the tree is cached");
        let store = app.store.as_ref();
        let tenant = format!("FRESH{round}");
        let input = orgd_core::cases::orgs::NewOrg {
            tenant_id: Some(tenant.clone()),
            name: tenant.clone(),
            ..Default::default()
        };
        let plan = orgd_core::model::UsagePlan::default();
        let org = orgd_core::cases::orgs::create(store, input, &plan, app.now()).await.unwrap();
        let fields = UserFields {
            role: Some(Role::Administrator),
            token_access: Some(true),
            email: Some("a@fresh.test".into()),
            ..UserFields::default()
        };
        let user = orgd_core::cases::users::create(store, &org, "a@fresh.test", fields, app.now()).await.unwrap();
        let fresh = orgd_core::cases::tokens::create_api(store, &user, NewToken::default(), app.now()).await.unwrap().0;
        let r = app.get_bearer(&format!("/api/v1/{tenant}/datasets"), &fresh).await;
        assert_eq!(r.status(), 200, "round {round}: {}", r.text().await.unwrap());
        let r = app.get("/v1/organizations/").header("X-TOKEN", &fresh).send().await.unwrap();
        assert_eq!(r.status(), 200, "round {round}");
    }
    let (s, c, _) = orgvue_error(app.get_bearer("/api/v1/NOSUCH/datasets", &token).await).await;
    assert_eq!((s, c.as_str()), (404, "40401"), "a tenant that does not exist is still 404");
}
