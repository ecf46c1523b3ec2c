//! Hostile and malformed input (the correctness issue): undecodable paths, NUL characters, slow and
//! oversized bodies. Each test failed before its fix.

use crate::helpers::{apperian_error, orgvue_error, TestApp};
use orgd_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

/// A path segment that is not UTF-8 once decoded is refused with the parameter named; it never falls
/// back to the caller's own org.
#[tokio::test]
async fn an_undecodable_path_segment_is_refused_never_retargeted() {
    let app = TestApp::spawn().await;
    let (parent, _admin, token) = app.tenant_with_admin("ACME").await;
    let child = app.org("CHILD", Some(&parent)).await;

    let r = app
        .call(
            Method::PUT,
            &format!("/v3/organizations/{}%FF", child.org_id),
            &token,
            Some(json!({"support_email": "x@evil.test"})),
        )
        .await;
    let (s, _, b) = apperian_error(r).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("org_id"), "{b}");
    let unchanged = app.store.get_org(&parent.org_id).await.unwrap().unwrap();
    assert_ne!(unchanged.settings["support_email"], "x@evil.test", "the caller's org was not changed");

    let body = json!({"name": "Stolen", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r =
        app.request(Method::POST, "/api/v1/CHILD%FF/datasets").bearer_auth(&token).json(&body).send().await.unwrap();
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (400, "400601"), "{b}");
    assert_eq!(b["errors"][0]["pathParameter"], "{tenantId}");
    assert!(app.store.list_datasets(&parent.org_id).await.unwrap().is_empty(), "nothing was created in ACME");

    for path in ["/api/v1/BE%FFTA/datasets", "/api/v1/ACME/datasets/AB%FF", "/api/v1/ACME/jobs/%FF%FE"] {
        let (s, c, b) = orgvue_error(app.get_bearer(path, &token).await).await;
        assert_eq!((s, c.as_str()), (400, "400601"), "{path}: {b}");
    }
    for path in [format!("/v1/org/{}%FF/users", child.org_id), "/v1/users/1%FF".to_string(), "/v1/tokens/%C3".into()] {
        let method = if path.starts_with("/v1/tokens") { Method::DELETE } else { Method::GET };
        let (s, _, b) = apperian_error(app.call(method, &path, &token, None).await).await;
        assert_eq!(s, 400, "{path}: {b}");
    }
}

/// NUL cannot be stored by PostgreSQL: every name and identifier refuses it with a 400 naming the field,
/// on both engines alike, and item text values refuse it as an invalid value.
#[tokio::test]
async fn nul_characters_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_org, admin, token) = app.tenant_with_admin("ACME").await;
    let r = app.login("a\u{0}", "whatever", json!({})).await;
    let (s, _, b) = apperian_error(r).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["details"][0]["field"], "user_id", "{b}");

    let cases = [
        (
            Method::POST,
            "/v1/users".to_string(),
            json!({"user_id": "nul\u{0}@acme.test", "password": "Passw0rd!"}),
            "user_id",
        ),
        (Method::POST, "/v1/users".into(), json!({"user_id": "n@acme.test", "first_name": "A\u{0}"}), "first_name"),
        (Method::PUT, format!("/v1/users/{}", admin.psk), json!({"last_name": "B\u{0}"}), "last_name"),
        (Method::PUT, format!("/v1/users/{}", admin.psk), json!({"email": "b\u{0}@acme.test"}), "email"),
        (Method::POST, "/v1/tokens".into(), json!({"label": "l\u{0}"}), "label"),
        (
            Method::POST,
            "/v1/organizations/".into(),
            json!({"name": "Child\u{0}", "admin": {"user_id": "c@acme.test",
            "email": "c@acme.test", "password": "Child-Pass-2024!"}}),
            "name",
        ),
    ];
    for (method, path, body, field) in cases {
        let (s, _, b) = apperian_error(app.call(method.clone(), &path, &token, Some(body)).await).await;
        assert_eq!(s, 400, "{method} {path}: {b}");
        let fields: Vec<&str> =
            b["error"]["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str()).collect();
        assert!(fields.contains(&field), "{method} {path} names {field}: {b}");
    }
    let ds = json!({"name": "N\u{0}", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = app.request(Method::POST, "/api/v1/ACME/datasets").bearer_auth(&token).json(&ds).send().await.unwrap();
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str(), b["errors"][0]["path"].as_str()), (400, "400802", Some("name")), "{b}");

    let ds = json!({"name": "Teams", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = app.request(Method::POST, "/api/v1/ACME/datasets").bearer_auth(&token).json(&ds).send().await.unwrap();
    let id = r.json::<Value>().await.unwrap()["datasetId"].as_str().unwrap().to_string();
    let r = app
        .request(Method::PUT, &format!("/api/v1/ACME/datasets/{id}/items?autoId=true"))
        .bearer_auth(&token)
        .json(&json!([{"_action": "create", "k": "a\u{0}b"}]))
        .send()
        .await
        .unwrap();
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        (b["errors"][0]["path"].as_str(), b["errors"][0]["reason"].as_str()),
        (Some("[0].k"), Some("invalidValue"))
    );
    assert_eq!(app.store.get_dataset(&id).await.unwrap().unwrap().item_count, 0);
}
