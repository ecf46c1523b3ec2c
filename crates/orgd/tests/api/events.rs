//! The change history: one event per change, in the change's transaction, with who, from where and the
//! trace id; the audit trail's filters, pages and refusals in both dialects.

use crate::helpers::{apperian_error, orgvue_error, TestApp};
use orgd_core::model::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// Every event of `tenant`, oldest first, read through the trail with an administrator's token.
async fn trail(app: &TestApp, tenant: &str, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/{tenant}/events?limit=1000");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app.get_bearer(&path, token).await.json().await.unwrap();
        all.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    all.reverse();
    all
}

/// Send `req`, then the events it left: exactly one is expected; returns it with the answer's trace id.
async fn one_event(app: &TestApp, tenant: &str, token: &str, req: reqwest::RequestBuilder) -> (Value, Value) {
    let before = trail(app, tenant, token).await.len();
    let r = req.send().await.unwrap();
    let status = r.status();
    let trace = r.headers()["x-amzn-trace-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    let after = trail(app, tenant, token).await;
    assert_eq!(after.len(), before + 1, "one change, one event: {:?}", &after[before..]);
    let e = after[before].clone();
    assert_eq!(e["traceId"], trace, "the event carries the request's trace id");
    (e, body)
}

#[tokio::test]
async fn every_change_leaves_one_event_with_who_from_where_and_what_changed() {
    let app = TestApp::spawn().await;
    let (org, admin, token) = app.tenant_with_admin("EVT").await;
    let bearer = |m: Method, p: &str| app.request(m, p).bearer_auth(&token);
    let xtoken = |m: Method, p: &str| app.request(m, p).header("X-TOKEN", &token);

    let (e, created) = one_event(
        &app,
        "EVT",
        &token,
        xtoken(Method::POST, "/v1/users").json(&json!({
        "user_id": "jane@evt.test", "password": "Jane-pass-1", "first_name": "Jane", "last_name": "Doe",
        "email": "jane@evt.test", "role": "user"})),
    )
    .await;
    assert_eq!((e["kind"].as_str(), e["objectType"].as_str()), (Some("user.created"), Some("user")));
    assert_eq!(e["objectId"], "jane@evt.test");
    assert_eq!(e["actor"]["kind"], "user");
    assert_eq!(e["actor"]["id"], admin.user_id);
    assert!(e["actor"]["tokenId"].as_str().is_some_and(|t| token.starts_with(t) || token.contains(t)));
    assert_eq!(e["ip"], "127.0.0.1");
    assert_eq!(e["orgId"], org.org_id.as_str());
    let psk = created["user_psk"].as_i64().unwrap();

    // Who switched TokenAccess on, and the password: that it changed, never what it is.
    let (e, _) = one_event(
        &app,
        "EVT",
        &token,
        xtoken(Method::PUT, &format!("/v1/users/{psk}"))
            .json(&json!({"token_access": true, "password": "Jane-pass-2"})),
    )
    .await;
    assert_eq!(e["kind"], "user.updated");
    let changes = e["changes"].as_array().unwrap();
    assert!(changes.contains(&json!({"field": "token_access", "before": false, "after": true})), "{changes:?}");
    assert!(changes.contains(&json!({"field": "password", "before": "[redacted]", "after": "[redacted]"})));
    assert!(!e.to_string().contains("Jane-pass-2") && !e.to_string().contains("argon2"), "no secret: {e}");

    let (e, _) = one_event(
        &app,
        "EVT",
        &token,
        xtoken(Method::PUT, &format!("/v3/organizations/{}", org.org_id))
            .json(&json!({"session_timeout_in_minutes": 45})),
    )
    .await;
    assert_eq!(e["kind"], "org.updated");
    assert_eq!(e["changes"][0]["field"], "settings.session_timeout_in_minutes");
    assert_eq!(e["changes"][0]["after"], 45);

    let def = json!({"name": "People", "type": "PEOPLE", "autoId": "Id", "labelId": "Name", "properties": [
        {"key": "Id", "type": "text", "isRequired": true}, {"key": "Name", "type": "text", "isRequired": true}]});
    let (e, ds) = one_event(&app, "EVT", &token, bearer(Method::POST, "/api/v1/EVT/datasets").json(&def)).await;
    assert_eq!(e["kind"], "dataset.created");
    let ds = ds["datasetId"].as_str().unwrap().to_string();
    assert_eq!(e["objectId"], ds);

    let actions =
        json!([{"_action": "create", "Id": "a", "Name": "Ann"}, {"_action": "create", "Id": "b", "Name": "Bo"}]);
    let (e, _) =
        one_event(&app, "EVT", &token, bearer(Method::PUT, &format!("/api/v1/EVT/datasets/{ds}/items")).json(&actions))
            .await;
    assert_eq!(e["kind"], "items.imported");
    assert_eq!((e["detail"]["actions"].as_u64(), e["detail"]["itemCountChange"].as_i64()), (Some(2), Some(2)));

    let (e, _) = one_event(
        &app,
        "EVT",
        &token,
        bearer(Method::POST, &format!("/api/v1/EVT/datasets/{ds}/properties"))
            .json(&json!({"key": "Dept", "type": "text"})),
    )
    .await;
    assert_eq!(e["kind"], "dataset.schema_changed");
    assert_eq!(e["changes"][0]["field"], "properties");

    let (e, _) = one_event(&app, "EVT", &token, xtoken(Method::POST, "/v1/tokens").json(&json!({"label": "ci"}))).await;
    assert_eq!((e["kind"].as_str(), e["detail"]["label"].as_str()), (Some("token.created"), Some("ci")));

    // A sign-in is the signing user's own event; so is a failed one.
    let (e, _) = one_event(
        &app,
        "EVT",
        &token,
        app.request(Method::POST, "/users/authenticate")
            .json(&json!({"user_id": "jane@evt.test", "password": "Jane-pass-2"})),
    )
    .await;
    assert_eq!((e["kind"].as_str(), e["actor"]["id"].as_str()), (Some("user.signed_in"), Some("jane@evt.test")));
    let before = trail(&app, "EVT", &token).await.len();
    let r = app.login("jane@evt.test", "wrong-Pass-1", json!({})).await;
    assert_eq!(r.status(), 401);
    let after = trail(&app, "EVT", &token).await;
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[before]["kind"], "user.sign_in_failed");

    let (e, _) = one_event(&app, "EVT", &token, xtoken(Method::DELETE, &format!("/v1/users/{psk}"))).await;
    assert_eq!(e["kind"], "user.deleted");
    let (e, _) = one_event(&app, "EVT", &token, bearer(Method::DELETE, &format!("/api/v1/EVT/datasets/{ds}"))).await;
    assert_eq!((e["kind"].as_str(), e["detail"]["name"].as_str()), (Some("dataset.deleted"), Some("People")));
}

#[tokio::test]
async fn a_change_that_fails_or_rolls_back_leaves_no_event() {
    let app = TestApp::spawn().await;
    let (_org, admin, token) = app.tenant_with_admin("RB").await;
    let def = json!({"name": "People", "type": "PEOPLE", "autoId": "Id", "labelId": "Name", "properties": [
        {"key": "Id", "type": "text", "isRequired": true}, {"key": "Name", "type": "text", "isRequired": true}]});
    let r = app.request(Method::POST, "/api/v1/RB/datasets").bearer_auth(&token).json(&def).send().await.unwrap();
    let ds = r.json::<Value>().await.unwrap()["datasetId"].as_str().unwrap().to_string();
    let before = trail(&app, "RB", &token).await;
    // A fail-mode import whose second action fails applies nothing, so it records nothing.
    let actions = json!([{"_action": "create", "Id": "a", "Name": "Ann"}, {"_action": "create", "Id": "b"}]);
    let r = app.request(Method::PUT, &format!("/api/v1/RB/datasets/{ds}/items")).bearer_auth(&token).json(&actions);
    assert_eq!(r.send().await.unwrap().status(), 400);
    // A user id that is taken: refused inside the store's transaction.
    let r = app.call(Method::POST, "/v1/users", &token, Some(json!({"user_id": admin.user_id}))).await;
    assert_eq!(r.status(), 409);
    assert_eq!(trail(&app, "RB", &token).await, before, "nothing changed, nothing recorded");
}

#[tokio::test]
async fn the_trail_filters_pages_exports_csv_and_refuses_bad_queries() {
    let app = TestApp::spawn().await;
    let (org, admin, token) = app.tenant_with_admin("TRL").await;
    for i in 0..5 {
        let r = app
            .call(
                Method::PUT,
                &format!("/v3/organizations/{}", org.org_id),
                &token,
                Some(json!({"session_timeout_in_minutes": 30 + i})),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = app.call(Method::POST, "/v1/users", &token, Some(json!({"user_id": "kim@trl.test", "role": "user"}))).await;
    assert_eq!(r.status(), 200);

    // Pages of two, newest first, follow each other without gap or overlap.
    let mut seen = Vec::new();
    let mut path = "/api/v1/TRL/events?kind=org.updated&limit=2".to_string();
    loop {
        let page: Value = app.get_bearer(&path, &token).await.json().await.unwrap();
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 2);
        seen.extend(events.iter().map(|e| e["changes"][0]["after"].as_i64().unwrap_or_else(|| panic!("{e}"))));
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/api/v1/TRL/events?kind=org.updated&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [34, 33, 32, 31, 30]);
    let by_object: Value = app.get_bearer("/api/v1/TRL/events?object=kim@trl.test", &token).await.json().await.unwrap();
    assert_eq!(by_object["events"].as_array().unwrap().len(), 1);
    assert_eq!(by_object["events"][0]["kind"], "user.created");
    let by_actor: Value = app
        .get_bearer(&format!("/api/v1/TRL/events?actor={}&kind=user.created", admin.user_id), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_actor["events"].as_array().unwrap().len(), 1);
    let none: Value =
        app.get_bearer("/api/v1/TRL/events?from=2000-01-01&to=2000-01-02", &token).await.json().await.unwrap();
    assert_eq!(none["events"], json!([]));

    // The same trail in the Apperian dialect, and as CSV.
    let r = app.call(Method::GET, "/v1/events?kind=user", &token, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["events"][0]["objectId"], "kim@trl.test");
    let r = app.get_bearer("/api/v1/TRL/events?kind=org.updated&format=csv&limit=2", &token).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers().contains_key("orgd-next-cursor"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("time,kind,actorType,actor,"));
    assert!(lines[1].contains(",org.updated,user,") && lines[1].contains("settings.session_timeout_in_minutes"));

    // Bad queries: 400 naming the parameter, in each dialect's envelope.
    for (query, param) in [
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("from=last-week", "from"),
        ("limit=5000", "limit"),
        ("format=xml", "format"),
    ] {
        let (s, code, body) = orgvue_error(app.get_bearer(&format!("/api/v1/TRL/events?{query}"), &token).await).await;
        assert_eq!((s, code.as_str()), (400, "400701"), "{query}: {body}");
        assert_eq!(body["errors"][0]["queryParameter"], param, "{query}: {body}");
    }
    let (s, _, body) = apperian_error(app.call(Method::GET, "/v1/events?cursor=x", &token, None).await).await;
    assert_eq!(s, 400, "{body}");
}

#[tokio::test]
async fn only_administrators_of_the_org_or_above_read_its_events() {
    let app = TestApp::spawn().await;
    let (parent, _admin, token) = app.tenant_with_admin("TOP").await;
    let child = app.org("LOW", Some(&parent)).await;
    let (_other, _, stranger) = app.tenant_with_admin("ELSE").await;
    let plain = app.user(&parent, "pat@top.test", Role::User).await;
    let plain = app.token(&plain, Default::default()).await;
    let r = app
        .call(
            Method::PUT,
            &format!("/v3/organizations/{}", child.org_id),
            &token,
            Some(json!({"session_timeout_in_minutes": 20})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = app.get_bearer("/api/v1/LOW/events", &token).await.json().await.unwrap();
    assert_eq!(page["events"][0]["kind"], "org.updated", "an administrator above reads the child's trail");
    let page: Value =
        app.call(Method::GET, &format!("/v1/org/{}/events", child.org_id), &token, None).await.json().await.unwrap();
    assert_eq!(page["events"][0]["kind"], "org.updated");
    let (s, _, _) = orgvue_error(app.get_bearer("/api/v1/LOW/events", &stranger).await).await;
    assert_eq!(s, 404, "another tenant's administrator learns nothing");
    let (s, _, _) = orgvue_error(app.get_bearer("/api/v1/TOP/events", &plain).await).await;
    assert_eq!(s, 403, "a plain user of the org may not read its trail");
}

#[tokio::test]
async fn each_org_keeps_its_events_for_its_retention_and_one_node_enforces_it() {
    let app = TestApp::spawn().await;
    let (short, _, token) = app.tenant_with_admin("SHORT").await;
    let (long, _, long_token) = app.tenant_with_admin("LONG").await;
    let path = format!("/v3/organizations/{}", short.org_id);
    let (s, _, body) =
        apperian_error(app.call(Method::PUT, &path, &token, Some(json!({"events_retention_days": 0}))).await).await;
    assert_eq!(s, 400, "{body}");
    let r = app.call(Method::PUT, &path, &token, Some(json!({"events_retention_days": 30}))).await;
    assert_eq!(r.json::<Value>().await.unwrap()["organization"]["events_retention_days"], 30);

    // A change made 40 days ago in each org.
    let clock = std::sync::Arc::new(orgd_core::clock::SystemClock::default());
    clock.set_offset_ms(-40 * 86_400_000);
    let past = orgd_core::events::Context { clock: Some(clock), ..Default::default() };
    orgd_core::events::scope(past, async {
        app.user(&short, "old@short.test", Role::User).await;
        app.user(&long, "old@long.test", Role::User).await;
    })
    .await;
    let old = |events: &[Value], who: &str| events.iter().any(|e| e["objectId"] == who);
    assert!(old(&trail(&app, "SHORT", &token).await, "old@short.test"));

    // The server took the lease for its own first run at start: these runs come after it ended.
    let hour = 3_600_000;
    let now = orgd_core::clock::to_millis(app.now()) + 2 * hour;
    let store = app.store.as_ref();
    let done = orgd_core::cases::events::enforce_retention(store, "node-1", now, hour).await.unwrap();
    assert_eq!(done, Some(1), "only the short org's old event is past its retention");
    let other = orgd_core::cases::events::enforce_retention(store, "node-2", now + 1000, hour).await.unwrap();
    assert_eq!(other, None, "another node finds the run taken");
    let later = orgd_core::cases::events::enforce_retention(store, "node-2", now + hour, hour).await.unwrap();
    assert_eq!(later, Some(0), "the next run is anyone's, and finds nothing more to delete");
    let short_trail = trail(&app, "SHORT", &token).await;
    assert!(!old(&short_trail, "old@short.test"));
    assert!(short_trail.iter().any(|e| e["kind"] == "org.updated"), "recent events stay");
    assert!(old(&trail(&app, "LONG", &long_token).await, "old@long.test"), "365 days by default");
}
