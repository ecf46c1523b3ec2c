//! Tenant isolation, generated from the route table (`orgd_server::routes::api`): for every operation of
//! both dialects, an administrator of tenant A aimed at tenant B's ids gets 404 and B's data stays
//! exactly as it was. A route added to the table is in this matrix without anyone editing it.

use crate::helpers::TestApp;
use orgd_server::route_table::Endpoint;
use orgd_server::routes;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Fill a path template with the given parameter values.
fn fill(path: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = path.to_string();
    for (name, v) in values {
        out = out.replace(&format!("{{{name}}}"), v);
    }
    assert!(!out.contains('{'), "no value for a parameter of {path}");
    out
}

fn params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

#[tokio::test]
async fn the_route_table_is_exactly_what_the_server_routes() {
    let app = TestApp::spawn().await;
    let table = routes::api();
    let dummy: BTreeMap<&str, String> =
        table.endpoints().iter().flat_map(|e| params(&e.path)).map(|p| (p, "0".to_string())).collect();
    let mut paths: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in table.endpoints() {
        paths.entry(e.path.clone()).or_default().insert(e.method.to_string());
    }
    assert!(paths.len() >= 25, "both dialects are in the table: {}", paths.len());
    for (path, listed) in &paths {
        let url = fill(path, &dummy);
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let status = app.request(method.clone(), &url).send().await.unwrap().status().as_u16();
            if listed.contains(method.as_str()) {
                assert!(status != 405 && status != 404, "{method} {path} is listed but answers {status}");
            } else {
                assert_eq!(status, 405, "{method} {path} is not listed, so it must not be routed");
            }
        }
    }
}

/// What tenant B holds, read with B's own token: changes to any of it fail the test.
async fn snapshot(app: &TestApp, token: &str, b: &BTreeMap<&str, String>) -> Vec<Value> {
    let mut out = Vec::new();
    let reads = [
        format!("/api/v1/{}/datasets", b["tenantId"]),
        format!("/api/v1/{}/datasets/{}/items", b["tenantId"], b["datasetId"]),
        format!("/api/v1/{}/jobs/{}", b["tenantId"], b["jobId"]),
        format!("/api/v1/{}/drafts", b["tenantId"]),
        format!("/api/v1/{}/drafts/{}/diff", b["tenantId"], b["draftId"]),
        format!("/v3/organizations/{}", b["org_id"]),
        "/v1/users/".to_string(),
        "/v1/tokens/".to_string(),
    ];
    for path in reads {
        let r = app.get(&path).bearer_auth(token).header("X-TOKEN", token).send().await.unwrap();
        assert_eq!(r.status(), 200, "B reads {path}");
        let mut v: Value = r.json().await.unwrap();
        // Reading the job ticket presigns fresh URLs; the rest must be identical.
        if let Some(links) = v.get_mut("_links") {
            *links = Value::Null;
        }
        out.push(v);
    }
    out
}

#[tokio::test]
async fn a_tenant_never_reaches_another_tenants_ids_on_any_route() {
    let app = TestApp::spawn().await;
    let (_a_org, _a_admin, a_token) = app.tenant_with_admin("ALPHA").await;
    let (b_org, b_admin, b_token) = app.tenant_with_admin("BRAVO").await;
    // B holds one of everything: a dataset with an item, a job, a draft with a change, a second user and a
    // token.
    let def = json!({"name": "People", "type": "PEOPLE", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let ds: Value = app
        .request(Method::POST, "/api/v1/BRAVO/datasets")
        .bearer_auth(&b_token)
        .json(&def)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ds_id = ds["datasetId"].as_str().unwrap().to_string();
    let items = format!("/api/v1/BRAVO/datasets/{ds_id}/items");
    let r = app.request(Method::PUT, &items).bearer_auth(&b_token).json(&json!([{"_action": "create", "k": "x"}]));
    let created: Value = r.send().await.unwrap().json().await.unwrap();
    let item_id = created[0]["_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    let r = app.request(Method::POST, &format!("/api/v1/BRAVO/datasets/{ds_id}/export?exportFormat=csv"));
    let job: Value = r.bearer_auth(&b_token).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let job_id = job["jobId"].as_str().unwrap().to_string();
    let r = app.request(Method::POST, "/api/v1/BRAVO/drafts").bearer_auth(&b_token);
    let draft: Value =
        r.json(&json!({"name": "Reorg", "datasetId": ds_id})).send().await.unwrap().json().await.unwrap();
    let draft_id = draft["draftId"].as_str().unwrap_or_else(|| panic!("{draft}")).to_string();
    let r = app.request(Method::PUT, &format!("/api/v1/BRAVO/drafts/{draft_id}/items")).bearer_auth(&b_token);
    assert_eq!(r.json(&json!([{"_action": "create", "k": "y"}])).send().await.unwrap().status(), 200);
    let b_user = app.user(&b_org, "other@bravo", orgd_core::model::Role::User).await;
    // A webhook of B's, with the delivery of its own creation.
    let r = app.request(Method::POST, "/api/v1/BRAVO/webhooks").bearer_auth(&b_token);
    let hook: Value = r
        .json(&json!({"url": "https://hooks.example.com/bravo", "events": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_id = hook["webhook"]["webhookId"].as_str().unwrap_or_else(|| panic!("{hook}")).to_string();
    let deliveries: Value =
        app.get_bearer(&format!("/api/v1/BRAVO/webhooks/{hook_id}/deliveries"), &b_token).await.json().await.unwrap();
    let delivery_id = deliveries["deliveries"][0]["deliveryId"].as_str().unwrap().to_string();
    let b = BTreeMap::from([
        ("webhookId", hook_id),
        ("deliveryId", delivery_id),
        ("tenantId", "BRAVO".to_string()),
        ("org_id", b_org.org_id.to_string()),
        ("datasetId", ds_id),
        ("itemId", item_id),
        ("jobId", job_id),
        ("draftId", draft_id),
        ("token_id", orgd_core::token::lookup_id(&b_token).unwrap().to_string()),
        ("psk", b_user.psk.to_string()),
        ("format", "csv".to_string()),
        ("key", "k".to_string()),
    ]);
    // Let the export finish so the snapshot is stable.
    for _ in 0..200 {
        let t: Value =
            app.get_bearer(&format!("/api/v1/BRAVO/jobs/{}", b["jobId"]), &b_token).await.json().await.unwrap();
        if t["jobStatus"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let before = snapshot(&app, &b_token, &b).await;

    let own = |p: &str| match p {
        "tenantId" => "ALPHA".to_string(),
        "org_id" => _a_org.org_id.to_string(),
        other => b[other].clone(),
    };
    let table = routes::api();
    let mut checked = 0;
    for Endpoint { method, path, .. } in table.endpoints() {
        let names = params(path);
        if names.is_empty() || names == ["format"] {
            continue; // caller-scoped routes: checked below by what they show
        }
        let mut variants = vec![fill(path, &b)];
        let scoped = names.iter().any(|n| *n == "tenantId" || *n == "org_id");
        if scoped && names.len() > 1 {
            let mixed: BTreeMap<&str, String> = names.iter().map(|n| (*n, own(n))).collect();
            variants.push(fill(path, &mixed)); // A's own tenant, B's objects
        }
        for url in variants {
            let mut req = app.request(method.clone(), &url).bearer_auth(&a_token).header("X-TOKEN", &a_token);
            if *method == Method::POST || *method == Method::PUT {
                req = req.json(&json!({}));
            }
            let status = req.send().await.unwrap().status().as_u16();
            assert_eq!(status, 404, "A's token on {method} {url} ({path})");
            checked += 1;
        }
    }
    assert!(checked >= 40, "the matrix covers the table: {checked} requests");

    // Caller-scoped routes show A's own things only.
    for Endpoint { method, path, .. } in table.endpoints() {
        if *method != Method::GET || !params(path).is_empty() {
            continue;
        }
        let r = app.get(path).bearer_auth(&a_token).header("X-TOKEN", &a_token).send().await.unwrap();
        let body = r.text().await.unwrap();
        for (name, id) in [("org", b["org_id"].as_str()), ("user", "other@bravo"), ("admin", b_admin.user_id.as_str())]
        {
            assert!(!body.contains(id), "GET {path} shows B's {name} to A: {body}");
        }
    }

    assert_eq!(snapshot(&app, &b_token, &b).await, before, "B's data is unchanged");
    let hook = app.get_bearer(&format!("/api/v1/BRAVO/webhooks/{}", b["webhookId"]), &b_token).await;
    assert_eq!(hook.status(), 200, "B's webhook is still there");
}

/// Inside one tenant: a user whose role may not read a dataset gets 404 on every route that names the
/// dataset or one of its drafts (walked from the route table), and the dataset stays as it was.
#[tokio::test]
async fn a_user_who_may_not_read_a_dataset_never_reaches_it_on_any_route() {
    let app = TestApp::spawn().await;
    let (org, _admin, admin) = app.tenant_with_admin("BRAVO").await;
    let def = json!({"name": "Pay", "type": "PEOPLE", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let send = |method: Method, path: String, body: Value| {
        let r = app.request(method, &path).bearer_auth(&admin).json(&body);
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ds = send(Method::POST, "/api/v1/BRAVO/datasets".into(), def).await;
    let ds_id = ds["datasetId"].as_str().unwrap().to_string();
    let created =
        send(Method::PUT, format!("/api/v1/BRAVO/datasets/{ds_id}/items"), json!([{"_action": "create", "k": "x"}]))
            .await;
    let draft = send(Method::POST, "/api/v1/BRAVO/drafts".into(), json!({"name": "Reorg", "datasetId": ds_id})).await;
    let hidden = json!({"roles": {"user": "none", "user_manager": "none"}});
    send(Method::PUT, format!("/api/v1/BRAVO/datasets/{ds_id}/permissions"), hidden).await;
    let items = format!("/api/v1/BRAVO/datasets/{ds_id}/items");
    let before: Value = app.get_bearer(&items, &admin).await.json().await.unwrap();
    assert_eq!(before.as_array().map(Vec::len), Some(1), "{before}");
    let b = BTreeMap::from([
        ("tenantId", "BRAVO".to_string()),
        ("datasetId", ds_id.clone()),
        ("itemId", created[0]["_id"].as_str().unwrap().to_string()),
        ("draftId", draft["draftId"].as_str().unwrap().to_string()),
        ("format", "csv".to_string()),
        ("key", "k".to_string()),
    ]);
    let mut checked = 0;
    for role in [orgd_core::model::Role::User, orgd_core::model::Role::UserManager] {
        let user = app.user(&org, &format!("{role:?}@bravo"), role).await;
        let token = app.token(&user, orgd_core::cases::tokens::NewToken::default()).await;
        for Endpoint { method, path, .. } in routes::api().endpoints() {
            let names = params(path);
            if !names.iter().any(|n| *n == "datasetId" || *n == "draftId") {
                continue;
            }
            let mut req = app.request(method.clone(), &fill(path, &b)).bearer_auth(&token);
            if *method == Method::POST || *method == Method::PUT {
                req = req.json(&json!({"layers": [{"draftId": b["draftId"], "layerKey": "default"}]}));
            }
            let status = req.send().await.unwrap().status().as_u16();
            assert_eq!(status, 404, "{role:?} on {method} {path}");
            checked += 1;
        }
        let list: Value = app.get_bearer("/api/v1/BRAVO/datasets", &token).await.json().await.unwrap();
        assert_eq!(list, json!([]), "{role:?} does not see it listed");
        let drafts: Value = app.get_bearer("/api/v1/BRAVO/drafts", &token).await.json().await.unwrap();
        assert_eq!(drafts, json!([]), "{role:?} does not see its drafts");
    }
    assert!(checked >= 30, "the matrix covers the table: {checked} requests");
    let after: Value = app.get_bearer(&items, &admin).await.json().await.unwrap();
    assert_eq!(after, before, "nothing changed");
}

/// Inside one tenant: a property restricted to administrators, and an item outside a row rule, never
/// reach a user who reads the dataset, on any route that answers about the dataset or its drafts (walked
/// from the route table), nor in an async export's result.
#[tokio::test]
async fn a_restricted_property_or_item_never_reaches_who_may_not_read_it_on_any_route() {
    let app = TestApp::spawn().await;
    let (org, _admin, admin) = app.tenant_with_admin("BRAVO").await;
    let def = json!({"name": "Pay", "type": "PEOPLE", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}, {"key": "secret", "type": "text"}]});
    let send = |method: Method, path: String, body: Value| {
        let r = app.request(method, &path).bearer_auth(&admin).json(&body);
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ds = send(Method::POST, "/api/v1/BRAVO/datasets".into(), def).await;
    let ds_id = ds["datasetId"].as_str().unwrap().to_string();
    let items = format!("/api/v1/BRAVO/datasets/{ds_id}/items");
    let created = send(
        Method::PUT,
        items,
        json!([{"_action": "create", "k": "x", "secret": "TOPSECRET-1"}, {"_action": "create", "k": "HIDDENROW"}]),
    )
    .await;
    let draft = send(Method::POST, "/api/v1/BRAVO/drafts".into(), json!({"name": "Reorg", "datasetId": ds_id})).await;
    let draft_id = draft["draftId"].as_str().unwrap().to_string();
    let staged = json!([{"_action": "create", "k": "y", "secret": "TOPSECRET-2"}]);
    send(Method::PUT, format!("/api/v1/BRAVO/drafts/{draft_id}/items"), staged).await;
    // Plain users neither read `secret` nor see the item whose `k` is HIDDENROW (a row rule).
    let only_admins = json!({"properties": {"secret": {"roles": []}},
        "rows": {"roles": {"user": {"k": {"$ne": "HIDDENROW"}}}}});
    send(Method::PUT, format!("/api/v1/BRAVO/datasets/{ds_id}/permissions"), only_admins).await;
    let b = BTreeMap::from([
        ("tenantId", "BRAVO".to_string()),
        ("datasetId", ds_id.clone()),
        ("itemId", created[0]["_id"].as_str().unwrap().to_string()),
        ("draftId", draft_id),
        ("key", "k".to_string()),
    ]);
    let user = app.user(&org, "reader@bravo", orgd_core::model::Role::User).await;
    let token = app.token(&user, orgd_core::cases::tokens::NewToken::default()).await;
    let mut answered = 0;
    let table = routes::api();
    let reads = table.endpoints().iter().filter(|e| e.method == Method::GET || e.path.contains("export"));
    for Endpoint { method, path, .. } in reads {
        let names = params(path);
        if !names.iter().any(|n| *n == "datasetId" || *n == "draftId") {
            continue;
        }
        let mut values = b.clone();
        let formats: Vec<&str> = if names.contains(&"format") {
            vec!["jsonRows", "jsonColumns", "jsonObjects", "csv", "tsv"]
        } else {
            vec![""]
        };
        for format in formats {
            values.insert("format", format.to_string());
            let url = fill(path, &values);
            for url in [url.clone(), format!("{url}?draftId={}", b["draftId"])] {
                let r = app.request(method.clone(), &url).bearer_auth(&token).send().await.unwrap();
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                assert!(!body.contains("TOPSECRET") && !body.contains("secret"), "{method} {url} shows it: {body}");
                assert!(!body.contains("HIDDENROW"), "{method} {url} shows an item outside the rule: {body}");
                if status == 200 || status == 202 {
                    answered += 1;
                }
                if status == 202 {
                    let ticket: Value = serde_json::from_str(&body).unwrap();
                    let job = format!("/api/v1/BRAVO/jobs/{}", ticket["jobId"].as_str().unwrap());
                    let done = loop {
                        let t: Value = app.get_bearer(&job, &token).await.json().await.unwrap();
                        if t["jobStatus"] == "completed" || t["jobStatus"] == "failed" {
                            break t;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                    };
                    let link = done["_links"]["result"]["url"].as_str().unwrap_or_else(|| panic!("{done}"));
                    let result = app.client.get(link).send().await.unwrap().text().await.unwrap();
                    assert!(result.contains("\"x\"") || result.contains("x"), "the export has the item: {result}");
                    assert!(!result.contains("TOPSECRET") && !result.contains("secret"), "{url}: {result}");
                    assert!(!result.contains("HIDDENROW"), "{url}: {result}");
                }
            }
        }
    }
    assert!(answered >= 15, "the reader was answered on the routes it may use: {answered}");
    let hidden = format!("/api/v1/BRAVO/datasets/{ds_id}/items/{}", created[1]["_id"].as_str().unwrap());
    assert_eq!(app.get_bearer(&hidden, &token).await.status(), 404, "an item outside the rule is not found");
    assert_eq!(app.get_bearer(&hidden, &admin).await.status(), 200);
    let everything: Value =
        app.get_bearer(&format!("/api/v1/BRAVO/datasets/{ds_id}/items"), &admin).await.json().await.unwrap();
    assert_eq!(everything[0]["secret"], "TOPSECRET-1", "administrators read it");
    assert_eq!(everything[1]["k"], "HIDDENROW", "administrators see every item");
}
