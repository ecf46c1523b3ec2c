//! Sign-in, sessions, lockout and password rules that act at sign-in.

use crate::helpers::{apperian_error, TestApp};
use orgd_core::model::Role;
use orgd_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn sign_in_issues_a_session_that_slides_and_ends() {
    let app = TestApp::spawn().await;
    let (org, admin, _) = app.tenant_with_admin("ACME").await;
    let r = app.login(&admin.user_id, "Passw0rd!", json!({})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["user"]["psk"], admin.psk);
    assert_eq!(body["user"]["id"], admin.user_id.as_str());
    assert_eq!(body["organization"]["id"], org.org_id.as_str());
    assert_eq!(body["organization"]["tenant_id"], "ACME");
    assert_eq!(body["ttl_in_seconds"], 600);
    let s: Value = app.call(Method::GET, "/v1/session/", &token, None).await.json().await.unwrap();
    assert_eq!(s["token_kind"], "session");
    assert!(s["ttl_in_seconds"].as_i64().unwrap() > 590);
    let r: Value = app.call(Method::PUT, "/v1/session/", &token, None).await.json().await.unwrap();
    assert_eq!(r, json!({"ttl_in_seconds": 600}));
    // The session works on both dialects.
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200);
    // remember_me uses the longer timeout; the v2 path with its trailing slash works too.
    let r = app
        .request(Method::POST, "/v2/users/authenticate/")
        .json(&json!({"user_id": admin.user_id, "password": "Passw0rd!", "remember_me": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["ttl_in_seconds"], 10080 * 60);
    // The EASE Jenkins plugin up to 1.2.12 signs in below /v1.
    let r = app
        .request(Method::POST, "/v1/users/authenticate")
        .json(&json!({"user_id": admin.user_id, "password": "Passw0rd!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["organization"]["tenant_id"], "ACME");
    // The session ends after its timeout.
    app.server.state.clock.set_offset_ms(11 * 60 * 1000);
    let (s, c, _) = apperian_error(app.call(Method::GET, "/v1/session", &token, None).await).await;
    assert_eq!((s, c), (401, 40302));
    app.server.state.clock.set_offset_ms(0);
    let r: Value = app.call(Method::DELETE, "/v1/session", &token, None).await.json().await.unwrap();
    assert_eq!(r, json!({"token_revoked": true}));
    assert_eq!(app.call(Method::GET, "/v1/session", &token, None).await.status(), 401);
}

#[tokio::test]
async fn wrong_password_unknown_user_and_locked_account_look_the_same() {
    let app = TestApp::spawn().await;
    let (_org, admin, token) = app.tenant_with_admin("ACME").await;
    let rules = json!({"password_complexity": {"password_complexity_for_users": {
        "account_lockout_threshold": 2, "account_lockout_duration_in_minutes": 15}}});
    let org_id = app.store.get_user(admin.psk).await.unwrap().unwrap().org_id;
    assert_eq!(app.call(Method::PUT, &format!("/v3/organizations/{org_id}"), &token, Some(rules)).await.status(), 200);
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let user = app.user(&org, "bob", Role::User).await;

    let wrong = app.login("bob", "nope", json!({})).await;
    let unknown = app.login("nobody", "Passw0rd!", json!({})).await;
    let (ws, wb) = (wrong.status(), wrong.text().await.unwrap());
    let (us, ub) = (unknown.status(), unknown.text().await.unwrap());
    assert_eq!((ws.as_u16(), us.as_u16()), (401, 401));
    assert_eq!(wb, ub);
    assert_eq!(
        serde_json::from_str::<Value>(&wb).unwrap(),
        json!({"error":{"code":40111,"message":"Invalid user ID or password"}})
    );
    // Second failure reaches the threshold: even the right password is refused, identically.
    let _ = app.login("bob", "nope", json!({})).await;
    let locked = app.login("bob", "Passw0rd!", json!({})).await;
    assert_eq!(locked.status(), 401);
    assert_eq!(locked.text().await.unwrap(), wb);
    let listed: Value =
        app.call(Method::GET, &format!("/v1/users/{}", user.psk), &token, None).await.json().await.unwrap();
    assert_eq!(listed["user"]["locked"], true);
    // The lock ends after its duration, or when an administrator unlocks.
    let r = app.call(Method::PUT, &format!("/v1/users/{}", user.psk), &token, Some(json!({"locked": false}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.login("bob", "Passw0rd!", json!({})).await.status(), 200);
}

#[tokio::test]
async fn permanent_lockout_and_account_states() {
    let app = TestApp::spawn().await;
    let (org, admin, token) = app.tenant_with_admin("ACME").await;
    let rules = json!({"password_complexity": {"password_complexity_for_users": {
        "account_lockout_threshold": 1, "account_lockout_permanent_lockout": true}}});
    app.call(Method::PUT, &format!("/v3/organizations/{}", org.org_id), &token, Some(rules)).await;
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let _bob = app.user(&org, "bob", Role::User).await;
    let _ = app.login("bob", "wrong", json!({})).await;
    app.server.state.clock.set_offset_ms(365 * 24 * 3600 * 1000);
    assert_eq!(app.login("bob", "Passw0rd!", json!({})).await.status(), 401);
    app.server.state.clock.set_offset_ms(0);
    // A disabled account with the right password answers 40322.
    let carol = app.user(&org, "carol", Role::User).await;
    app.call(Method::PUT, &format!("/v1/users/{}", carol.psk), &token, Some(json!({"disabled": true}))).await;
    let (s, c, _) = apperian_error(app.login("carol", "Passw0rd!", json!({})).await).await;
    assert_eq!((s, c), (403, 40322));
    let _ = admin;
}

#[tokio::test]
async fn the_same_login_in_two_orgs_needs_org_id() {
    let app = TestApp::spawn().await;
    let a = app.org("AAA", None).await;
    let b = app.org("BBB", None).await;
    app.user(&a, "same", Role::User).await;
    let in_b = app.user(&b, "same", Role::User).await;
    let (s, c, _) = apperian_error(app.login("same", "Passw0rd!", json!({})).await).await;
    assert_eq!((s, c), (403, 40321));
    let r: Value = app.login("same", "Passw0rd!", json!({"org_id": b.org_id.as_str()})).await.json().await.unwrap();
    assert_eq!(r["user"]["psk"], in_b.psk);
}

#[tokio::test]
async fn expired_passwords_need_a_new_one_that_follows_the_rules() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let rules = json!({"password_complexity": {"password_complexity_for_users": {
        "password_expiration_in_minutes": 60, "min_length": 10, "password_history": 1}}});
    app.call(Method::PUT, &format!("/v3/organizations/{}", org.org_id), &token, Some(rules)).await;
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let fields = orgd_core::cases::users::UserFields { password: Some("Long-enough-1".into()), ..Default::default() };
    orgd_core::cases::users::create(app.store.as_ref(), &org, "dave", fields, app.now()).await.unwrap();
    app.server.state.clock.set_offset_ms(2 * 3600 * 1000);
    let (s, c, _) = apperian_error(app.login("dave", "Long-enough-1", json!({})).await).await;
    assert_eq!((s, c), (403, 40328));
    let r = app.login("dave", "Long-enough-1", json!({"new_password": "short"})).await;
    let (s, c, b) = apperian_error(r).await;
    assert_eq!((s, c), (400, 400802));
    assert_eq!(b["error"]["details"][0]["field"], "new_password");
    let r = app.login("dave", "Long-enough-1", json!({"new_password": "Long-enough-1"})).await;
    assert_eq!(apperian_error(r).await.1, 400802, "history forbids reusing the current password");
    assert_eq!(app.login("dave", "Long-enough-1", json!({"new_password": "Another-long-2"})).await.status(), 200);
    assert_eq!(app.login("dave", "Another-long-2", json!({})).await.status(), 200);
}
