//! Drafts: model changes beside a dataset, read the to-be view and the diff, export the actions, apply
//! with conflict checks, and every bad input of the issue.

use crate::helpers::{orgvue_error, TestApp};
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::Role;
use orgd_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = app.request(method, path).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn json_of(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Boss ← Ana ← Cy, Boss ← Bob: a PEOPLE dataset of tenant ACME; returns (token, dataset id).
async fn people(app: &TestApp, tenant: &str) -> (String, String) {
    let (_org, _admin, token) = app.tenant_with_admin(tenant).await;
    let schema = json!({"name":"People","type":"PEOPLE","autoId":"id","labelId":"name","treeId":"id","treeParentId":"boss",
        "properties":[{"key":"id","type":"number","isRequired":true},{"key":"name","type":"text","isRequired":true},
        {"key":"boss","type":"number"},{"key":"grade","type":"number"}]});
    let meta =
        json_of(send(app, Method::POST, &format!("/api/v1/{tenant}/datasets"), &token, Some(schema)).await).await;
    let id = meta["datasetId"].as_str().unwrap().to_string();
    let actions = json!([{"_action":"create","id":1,"name":"Boss","grade":9},{"_action":"create","id":2,"name":"Ana","boss":1,"grade":5},
        {"_action":"create","id":3,"name":"Bob","boss":1,"grade":5},{"_action":"create","id":4,"name":"Cy","boss":2,"grade":3}]);
    let r = send(app, Method::PUT, &format!("/api/v1/{tenant}/datasets/{id}/items?autoId=true"), &token, Some(actions))
        .await;
    json_of(r).await;
    (token, id)
}

async fn new_draft(app: &TestApp, token: &str, ds: &str) -> String {
    let r =
        send(app, Method::POST, "/api/v1/ACME/drafts", token, Some(json!({"name":"Reorg 2027","datasetId": ds}))).await;
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let d = json_of(r).await;
    let id = d["draftId"].as_str().unwrap().to_string();
    assert_eq!(loc, format!("{}/api/v1/ACME/drafts/{id}", app.url));
    id
}

/// Move Cy under Bob, add Dee under Bob, remove Ana.
async fn reorg(app: &TestApp, token: &str, draft: &str) -> Value {
    let actions = json!([{"_action":"update","id":4,"boss":3},{"_action":"create","id":5,"name":"Dee","boss":3},
        {"_action":"delete","id":2}]);
    json_of(
        send(app, Method::PUT, &format!("/api/v1/ACME/drafts/{draft}/items?autoId=true"), token, Some(actions)).await,
    )
    .await
}

async fn export(app: &TestApp, token: &str, ds: &str, query: &str, body: Option<Value>) -> reqwest::Response {
    let path = format!("/api/v1/ACME/datasets/{ds}/export/{query}");
    send(app, if body.is_some() { Method::POST } else { Method::GET }, &path, token, body).await
}

async fn finished(app: &TestApp, token: &str, ticket: Value) -> Value {
    let id = ticket["jobId"].as_str().unwrap_or_else(|| panic!("not a ticket: {ticket}")).to_string();
    let started = std::time::Instant::now();
    loop {
        let t = json_of(send(app, Method::GET, &format!("/api/v1/ACME/jobs/{id}"), token, None).await).await;
        if t["jobStatus"] == "completed" || t["jobStatus"] == "failed" {
            return t;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "job never finished: {t}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn result_of(app: &TestApp, ticket: &Value) -> Value {
    let url = ticket["_links"]["result"]["url"].as_str().unwrap_or_else(|| panic!("no result: {ticket}"));
    app.client.get(url).send().await.unwrap().json().await.unwrap()
}

async fn apply(app: &TestApp, token: &str, ds: &str, body: Value) -> Value {
    let r = send(app, Method::POST, &format!("/api/v1/ACME/datasets/{ds}/drafts/apply"), token, Some(body)).await;
    assert_eq!(r.status(), 202);
    let t = r.json().await.unwrap();
    finished(app, token, t).await
}

#[tokio::test]
async fn a_draft_models_a_reorganisation_beside_the_dataset() {
    let app = TestApp::spawn().await;
    let (token, ds) = people(&app, "ACME").await;
    let draft = new_draft(&app, &token, &ds).await;
    let results = reorg(&app, &token, &draft).await;
    assert_eq!(results.as_array().unwrap().iter().filter(|r| r["_status"] == "success").count(), 3, "{results}");
    // The dataset is untouched.
    let as_is = json_of(export(&app, &token, &ds, "jsonRows", None).await).await;
    assert_eq!(as_is["rows"].as_array().unwrap().len(), 4);
    let meta = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/datasets/{ds}"), &token, None).await).await;
    assert_eq!(meta["itemCount"], 4);
    // The draft counts its changes; lists show it, filtered by dataset too.
    let d = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}"), &token, None).await).await;
    assert_eq!(d["counts"], json!({"added":1,"updated":1,"removed":1}));
    assert_eq!((d["name"].as_str(), d["_createdBy"].as_str()), (Some("Reorg 2027"), Some("admin@acme")));
    let list = json_of(send(&app, Method::GET, "/api/v1/ACME/drafts", &token, None).await).await;
    assert_eq!(list[0]["draftId"], draft.as_str());
    let other = "00000000-0000-7000-8000-000000000000";
    let none =
        json_of(send(&app, Method::GET, &format!("/api/v1/ACME/drafts?datasetId={other}"), &token, None).await).await;
    assert_eq!(none, json!([]));
    // The to-be view: the removed item stays, marked; the hierarchy follows the modelled tree.
    let body = json!({"query":{"output":{"projection":{"name":1,"boss":1,"_change":1,"_depth":1,"_children":1,"_descendants":1}}}});
    let tobe = json_of(export(&app, &token, &ds, &format!("jsonRows?draftId={draft}"), Some(body)).await).await;
    assert_eq!(
        tobe["rows"],
        json!([
            ["Boss", null, "none", 1, 1, 3],
            ["Ana", 1, "removed", null, null, null],
            ["Bob", 1, "none", 2, 2, 2],
            ["Cy", 3, "updated", 3, 0, 0],
            ["Dee", 3, "added", 3, 0, 0]
        ])
    );
    // Every format reads through the draft, with filters on _change; jsonColumns too.
    let csv = export(
        &app,
        &token,
        &ds,
        &format!("csv?draftId={draft}&lineEndings=unix"),
        Some(json!({"query":{"output":{
        "filter":{"_change":{"$ne":"none"}},"projection":{"id":1,"_change":1}}}})),
    )
    .await;
    assert_eq!(csv.text().await.unwrap(), "id,_change\n2,removed\n4,updated\n5,added\n");
    let cols = json_of(
        export(
            &app,
            &token,
            &ds,
            &format!("jsonColumns?draftId={draft}"),
            Some(json!({"query":{"output":{
        "projection":{"name":1,"_change":1}}}})),
        )
        .await,
    )
    .await;
    assert_eq!(cols["columns"][0], json!(["Boss", "Ana", "Bob", "Cy", "Dee"]));
    assert_eq!(cols["columns"][1], json!(["none", "removed", "none", "updated", "added"]));
    // The async export reads through the draft as well.
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/ACME/datasets/{ds}/export?exportFormat=jsonObjects&draftId={draft}"),
        &token,
        Some(json!({"query":{"output":{"projection":{"name":1,"_change":1},"projectionMode":"replace"}}})),
    )
    .await;
    let done = finished(&app, &token, r.json().await.unwrap()).await;
    assert_eq!(result_of(&app, &done).await[4], json!({"name":"Dee","_change":"added"}));
    // The diff: per changed item, its key and each changed property.
    let diff = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}/diff"), &token, None).await).await;
    let changes = diff["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0]["change"], "removed");
    assert_eq!(changes[0]["key"], json!({"id": 2}));
    assert_eq!(changes[1]["properties"], json!([{"key":"boss","baseline":2,"draft":3}]));
    assert_eq!((changes[1]["label"].as_str(), changes[2]["change"].as_str()), (Some("Cy"), Some("added")));
    // Staging on top of staging: changing Dee again keeps her added; reverting Cy drops the change.
    let again = json!([{"_action":"update","id":5,"grade":2},{"_action":"update","id":4,"boss":2}]);
    json_of(
        send(&app, Method::PUT, &format!("/api/v1/ACME/drafts/{draft}/items?autoId=true"), &token, Some(again)).await,
    )
    .await;
    let d = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}"), &token, None).await).await;
    assert_eq!(d["counts"], json!({"added":1,"updated":0,"removed":1}));
    // Clear keeps the draft, empty; delete removes it.
    let cleared =
        json_of(send(&app, Method::DELETE, &format!("/api/v1/ACME/drafts/{draft}/items"), &token, None).await).await;
    assert_eq!(cleared["counts"], json!({"added":0,"updated":0,"removed":0}));
    let tobe = json_of(export(&app, &token, &ds, &format!("jsonRows?draftId={draft}"), None).await).await;
    assert_eq!(tobe["rows"], as_is["rows"]);
    assert_eq!(send(&app, Method::DELETE, &format!("/api/v1/ACME/drafts/{draft}"), &token, None).await.status(), 204);
    let (s, c, _) =
        orgvue_error(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}"), &token, None).await).await;
    assert_eq!((s, c.as_str()), (404, "404007"));
}

#[tokio::test]
async fn staging_follows_the_import_rules_and_keeps_the_draft_on_failure() {
    let app = TestApp::spawn().await;
    let (token, ds) = people(&app, "ACME").await;
    let draft = new_draft(&app, &token, &ds).await;
    reorg(&app, &token, &draft).await;
    let path = format!("/api/v1/ACME/drafts/{draft}/items?autoId=true");
    // A create of a key the baseline holds fails as on import (409), one the draft added too, and
    // nothing of the request is kept.
    for taken in [1, 5] {
        let actions = json!([{"_action":"update","id":3,"grade":1},{"_action":"create","id":taken,"name":"Twin"}]);
        let (s, c, b) = orgvue_error(send(&app, Method::PUT, &path, &token, Some(actions)).await).await;
        assert_eq!((s, c.as_str()), (409, "409001"), "{b}");
        assert_eq!(b["errors"][0]["actionIndex"], 1);
    }
    // A removed item is gone in the draft; its key is free there.
    let actions = json!([{"_action":"update","id":2,"grade":1}]);
    let (s, _, b) = orgvue_error(send(&app, Method::PUT, &path, &token, Some(actions)).await).await;
    assert_eq!((s, b["errors"][0]["reason"].as_str()), (400, Some("itemNotFound")));
    let d = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}"), &token, None).await).await;
    assert_eq!(d["counts"], json!({"added":1,"updated":1,"removed":1}), "failed stagings kept nothing");
    // The same validation as an import names the field at fault.
    let actions = json!([{"_action":"create","id":"x","name":"Bad"}]);
    let (s, _, b) = orgvue_error(send(&app, Method::PUT, &path, &token, Some(actions)).await).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("[0].id")));
    // implicitDelete is refused, naming the parameter.
    let r = send(&app, Method::PUT, &format!("{path}&implicitDelete=true"), &token, Some(json!([]))).await;
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str(), b["errors"][0]["queryParameter"].as_str()), (400, "400701", Some("implicitDelete")));
    // Identification by _id works on the overlay too: the added item's _id is its to-be _id.
    let tobe = json_of(
        export(
            &app,
            &token,
            &ds,
            &format!("jsonObjects?draftId={draft}"),
            Some(json!({"query":{"output":{
        "projection":{"_id":1,"id":1}}}})),
        )
        .await,
    )
    .await;
    let dee = tobe.as_array().unwrap().iter().find(|o| o["id"] == 5).unwrap()["_id"].as_str().unwrap().to_string();
    let actions = json!([{"_action":"update","_id": dee,"name":"Dee Dee"}]);
    json_of(send(&app, Method::PUT, &format!("/api/v1/ACME/drafts/{draft}/items"), &token, Some(actions)).await).await;
    let diff = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}/diff"), &token, None).await).await;
    assert_eq!(diff["changes"][2]["label"], "Dee Dee");
}

#[tokio::test]
async fn a_draft_applies_once_reports_conflicts_and_exports_its_actions() {
    let app = TestApp::spawn().await;
    let (token, ds) = people(&app, "ACME").await;
    let draft = new_draft(&app, &token, &ds).await;
    reorg(&app, &token, &draft).await;
    let layers = json!([{"draftId": draft, "layerKey": "default"}]);
    // Export draft: the changes as item actions, deletions first.
    let r = send(&app, Method::POST, "/api/v1/ACME/drafts/actions", &token, Some(json!({"layers": layers}))).await;
    assert_eq!(r.status(), 202);
    let done = finished(&app, &token, r.json().await.unwrap()).await;
    let actions = result_of(&app, &done).await;
    assert_eq!(actions[0]["_action"], "delete");
    assert_eq!(actions[1].as_object().unwrap().len(), 3, "update by _id with the changed value: {actions}");
    assert_eq!((actions[1]["_action"].as_str(), actions[1]["boss"].as_i64()), (Some("update"), Some(3)));
    assert_eq!(actions[2], json!({"_action":"create","id":5,"name":"Dee","boss":3}));
    // The baseline moves after the draft changed Cy: apply reports the conflict and applies nothing.
    let changed = json!([{"_action":"update","id":4,"grade":4}]);
    json_of(
        send(&app, Method::PUT, &format!("/api/v1/ACME/datasets/{ds}/items?autoId=true"), &token, Some(changed)).await,
    )
    .await;
    let done = apply(&app, &token, &ds, json!({"layers": layers, "foldScheme": "distinct"})).await;
    assert_eq!(done["jobStatus"], "failed", "{done}");
    assert_eq!(done["errors"][0]["reason"], "baselineChanged");
    assert_eq!(done["errors"][0]["code"], "409001");
    let meta = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/datasets/{ds}"), &token, None).await).await;
    assert_eq!(meta["itemCount"], 4, "nothing applied");
    // With force the draft's values win; the dataset becomes the to-be view.
    let tobe = json_of(
        export(
            &app,
            &token,
            &ds,
            &format!("jsonRows?draftId={draft}"),
            Some(json!({"query":{"output":{
        "filter":{"_change":{"$ne":"removed"}},"projection":{"_id":1,"id":1,"name":1,"boss":1,"grade":1}}}})),
        )
        .await,
    )
    .await;
    let done = apply(&app, &token, &ds, json!({"layers": layers, "force": true})).await;
    assert_eq!(done["jobStatus"], "completed", "{done}");
    assert_eq!(result_of(&app, &done).await, json!({"added":1,"updated":1,"removed":1,"unchanged":0}));
    let after = json_of(
        export(
            &app,
            &token,
            &ds,
            "jsonRows",
            Some(json!({"query":{"output":{
        "projection":{"_id":1,"id":1,"name":1,"boss":1,"grade":1}}}})),
        )
        .await,
    )
    .await;
    assert_eq!(after["rows"], tobe["rows"], "applied items keep their to-be _id");
    // Applying again changes nothing and says so; the draft is still there.
    let done = apply(&app, &token, &ds, json!({"layers": layers})).await;
    assert_eq!(result_of(&app, &done).await, json!({"added":0,"updated":0,"removed":0,"unchanged":3}));
    let meta = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/datasets/{ds}"), &token, None).await).await;
    assert_eq!(meta["itemCount"], 4);
    // A unique key taken in the dataset since the draft staged it is a conflict force cannot override.
    let d2 = new_draft(&app, &token, &ds).await;
    let add = json!([{"_action":"create","id":6,"name":"Eve"}]);
    json_of(
        send(&app, Method::PUT, &format!("/api/v1/ACME/drafts/{d2}/items?autoId=true"), &token, Some(add.clone()))
            .await,
    )
    .await;
    json_of(send(&app, Method::PUT, &format!("/api/v1/ACME/datasets/{ds}/items?autoId=true"), &token, Some(add)).await)
        .await;
    let done = apply(&app, &token, &ds, json!({"layers": [{"draftId": d2}], "force": true})).await;
    assert_eq!(
        (done["jobStatus"].as_str(), done["errors"][0]["reason"].as_str()),
        (Some("failed"), Some("duplicateKey"))
    );
}

#[tokio::test]
async fn bad_draft_requests_are_refused_in_the_envelope() {
    let app = TestApp::spawn().await;
    let (token, ds) = people(&app, "ACME").await;
    let (other_token, other_ds) = people(&app, "OTHER").await;
    let draft = new_draft(&app, &token, &ds).await;
    let error = |r| async { orgvue_error(r).await };
    // Unknown draft, a malformed id, a draft of another tenant: 404 without telling them apart.
    let unknown = "00000000-0000-7000-8000-000000000000";
    for path in [format!("/api/v1/ACME/drafts/{unknown}"), format!("/api/v1/OTHER/drafts/{draft}")] {
        let t = if path.contains("OTHER") { &other_token } else { &token };
        let (s, c, _) = error(send(&app, Method::GET, &path, t, None).await).await;
        assert_eq!((s, c.as_str()), (404, "404007"), "{path}");
    }
    let r =
        send(&app, Method::PUT, &format!("/api/v1/OTHER/drafts/{draft}/items"), &other_token, Some(json!([]))).await;
    assert_eq!(error(r).await.0, 404);
    let (s, c, b) = error(send(&app, Method::GET, "/api/v1/ACME/drafts/nope", &token, None).await).await;
    assert_eq!((s, c.as_str(), b["errors"][0]["pathParameter"].as_str()), (400, "400603", Some("{draftId}")));
    // A draft of another tenant's dataset cannot be made.
    let r =
        send(&app, Method::POST, "/api/v1/ACME/drafts", &token, Some(json!({"name":"x","datasetId": other_ds}))).await;
    let (s, _, b) = error(r).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("datasetId")), "{b}");
    let r = send(&app, Method::POST, "/api/v1/ACME/drafts", &token, Some(json!({"datasetId": ds, "extra": 1}))).await;
    let (s, _, b) = error(r).await;
    let fields: Vec<&str> = b["errors"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!((s, fields), (400, vec!["extra", "name"]));
    // layers: empty, another layer key, unknown draft, a draft of another dataset for apply.
    for (body, field) in [
        (json!({"layers": []}), "layers"),
        (json!({"layers": [{"draftId": draft, "layerKey": "scenario-b"}]}), "layers[0].layerKey"),
        (json!({}), "layers"),
    ] {
        let (s, c, b) =
            error(send(&app, Method::POST, "/api/v1/ACME/drafts/actions", &token, Some(body.clone())).await).await;
        assert_eq!((s, c.as_str(), b["errors"][0]["path"].as_str()), (400, "400802", Some(field)), "{body}");
        let r = send(&app, Method::POST, &format!("/api/v1/ACME/datasets/{ds}/drafts/apply"), &token, Some(body)).await;
        assert_eq!(error(r).await.0, 400);
    }
    let r =
        send(&app, Method::POST, "/api/v1/ACME/drafts/actions", &token, Some(json!({"layers":[{"draftId": unknown}]})))
            .await;
    assert_eq!(error(r).await.1, "404007");
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/ACME/datasets/{ds}/drafts/apply"),
        &token,
        Some(json!({"layers":[{"draftId": draft}], "foldScheme": "merge"})),
    )
    .await;
    assert_eq!(error(r).await.2["errors"][0]["path"], "foldScheme");
    // An export through a draft of another dataset, or an unknown one.
    let schema = json!({"name":"Roles","type":"ROLES","autoId":"code","labelId":"code","properties":[{"key":"code","type":"text","isRequired":true}]});
    let roles = json_of(send(&app, Method::POST, "/api/v1/ACME/datasets", &token, Some(schema)).await).await;
    let roles = roles["datasetId"].as_str().unwrap();
    let (s, c, b) = error(export(&app, &token, roles, &format!("csv?draftId={draft}"), None).await).await;
    assert_eq!((s, c.as_str(), b["errors"][0]["queryParameter"].as_str()), (400, "400701", Some("draftId")));
    let (s, c, _) = error(export(&app, &token, &ds, &format!("csv?draftId={unknown}"), None).await).await;
    assert_eq!((s, c.as_str()), (404, "404007"));
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/ACME/datasets/{roles}/drafts/apply"),
        &token,
        Some(json!({"layers":[{"draftId": draft}]})),
    )
    .await;
    assert_eq!(error(r).await.2["errors"][0]["path"], "layers[0].draftId");
    // A deleted dataset takes its drafts with it: applying one is a clear 404.
    assert_eq!(send(&app, Method::DELETE, &format!("/api/v1/ACME/datasets/{ds}"), &token, None).await.status(), 204);
    let (s, c, _) = error(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}"), &token, None).await).await;
    assert_eq!((s, c.as_str()), (404, "404007"));
    let r =
        send(&app, Method::POST, "/api/v1/ACME/drafts/actions", &token, Some(json!({"layers":[{"draftId": draft}]})))
            .await;
    assert_eq!(error(r).await.1, "404007");
    let apply = format!("/api/v1/ACME/datasets/{ds}/drafts/apply");
    let r = send(&app, Method::POST, &apply, &token, Some(json!({"layers":[{"draftId": draft}]}))).await;
    assert_eq!(error(r).await.1, "404001", "applying to the deleted dataset: the dataset is not found");
}

#[tokio::test]
async fn readers_read_drafts_and_only_administrators_change_them() {
    let app = TestApp::spawn().await;
    let (token, ds) = people(&app, "ACME").await;
    let draft = new_draft(&app, &token, &ds).await;
    reorg(&app, &token, &draft).await;
    let org = app.store.get_org_by_tenant(&orgd_core::ids::TenantId::parse("ACME").unwrap()).await.unwrap().unwrap();
    let reader = app.user(&org, "reader@acme", Role::User).await;
    let rt = app.token(&reader, NewToken::default()).await;
    for path in [
        format!("/api/v1/ACME/drafts/{draft}"),
        format!("/api/v1/ACME/drafts/{draft}/diff"),
        "/api/v1/ACME/drafts".into(),
        format!("/api/v1/ACME/datasets/{ds}/export/csv?draftId={draft}"),
    ] {
        assert_eq!(send(&app, Method::GET, &path, &rt, None).await.status(), 200, "{path}");
    }
    let layers = json!({"layers":[{"draftId": draft}]});
    for (method, path, body) in [
        (Method::POST, "/api/v1/ACME/drafts".to_string(), json!({"name":"x","datasetId": ds})),
        (Method::PUT, format!("/api/v1/ACME/drafts/{draft}/items"), json!([])),
        (Method::DELETE, format!("/api/v1/ACME/drafts/{draft}/items"), json!(null)),
        (Method::DELETE, format!("/api/v1/ACME/drafts/{draft}"), json!(null)),
        (Method::POST, format!("/api/v1/ACME/datasets/{ds}/drafts/apply"), layers),
    ] {
        let (s, c, _) = orgvue_error(send(&app, method.clone(), &path, &rt, Some(body)).await).await;
        assert_eq!((s, c.as_str()), (403, "40332"), "{method} {path}");
    }
}

const SEED: &str = r#"
orgs:
  - tenant_id: ACME
    name: Acme
    users:
      - {user_id: admin@acme.test, password: Acme-Admin-2024!, role: administrator, token_access: true,
         tokens: [{secret: orgd_acmeseededtokenx_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG}]}
    datasets:
      - name: People
        type: PEOPLE
        autoId: id
        labelId: name
        treeId: id
        treeParentId: boss
        properties:
          - {key: id, type: number, isRequired: true}
          - {key: name, type: text, isRequired: true}
          - {key: boss, type: number}
        items:
          - {id: 1, name: Boss}
          - {id: 2, name: Ana, boss: 1}
        drafts:
          - name: Reorg
            actions:
              - {_action: create, id: 3, name: Cy, boss: 2}
              - {_action: update, id: 2, name: Ana Lima}
"#;

#[tokio::test]
async fn seed_files_declare_drafts_and_reset_restores_them() {
    let app = TestApp::builder().seed(SEED).control("control-secret-1").spawn().await;
    let token = "orgd_acmeseededtokenx_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
    let list = json_of(send(&app, Method::GET, "/api/v1/ACME/drafts", token, None).await).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let draft = list[0]["draftId"].as_str().unwrap().to_string();
    assert_eq!(draft, orgd_core::data::derived_id("orgd-seed-draft/ACME/People/Reorg"));
    assert_eq!(
        (list[0]["counts"].clone(), list[0]["_createdBy"].as_str()),
        (json!({"added":1,"updated":1,"removed":0}), Some("orgd seed"))
    );
    let ds = list[0]["datasetId"].as_str().unwrap().to_string();
    let tobe = json_of(
        send(&app, Method::GET, &format!("/api/v1/ACME/datasets/{ds}/export/jsonObjects?draftId={draft}"), token, None)
            .await,
    )
    .await;
    let cy_id = tobe[2]["_id"].clone();
    // Cleared, then reset: the draft is back with the same ids.
    json_of(send(&app, Method::DELETE, &format!("/api/v1/ACME/drafts/{draft}/items"), token, None).await).await;
    let r = app.request(Method::POST, "/_orgd/reset").bearer_auth("control-secret-1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let d = json_of(send(&app, Method::GET, &format!("/api/v1/ACME/drafts/{draft}"), token, None).await).await;
    assert_eq!(d["counts"], json!({"added":1,"updated":1,"removed":0}));
    let tobe = json_of(
        send(&app, Method::GET, &format!("/api/v1/ACME/datasets/{ds}/export/jsonObjects?draftId={draft}"), token, None)
            .await,
    )
    .await;
    assert_eq!(tobe[2]["_id"], cy_id, "added items get derived ids");
    assert_eq!(tobe[1]["name"], "Ana Lima");
}

#[test]
fn a_seed_draft_that_fails_to_stage_names_the_action() {
    let bad = SEED.replace("{_action: update, id: 2, name: Ana Lima}", "{_action: update, id: 9, name: Nobody}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.yaml");
    std::fs::write(&path, bad).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["seed", path.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("orgs[0].datasets[0].drafts[0].actions[1]"), "{err}");
}

#[tokio::test]
async fn draft_jobs_deliver_to_result_locations_and_call_back() {
    let app = TestApp::builder().outbound_http().spawn().await;
    let (token, ds) = people(&app, "ACME").await;
    let draft = new_draft(&app, &token, &ds).await;
    reorg(&app, &token, &draft).await;
    let sink = crate::helpers::Receiver::start().await;
    let callback =
        json!({"method": "GET", "urlTemplate": format!("{}/cb?status={{{{jobStatus}}}}&job={{{{jobId}}}}", sink.url)});
    let body = json!({"layers": [{"draftId": draft, "layerKey": "default"}],
        "resultLocation": {"method": "PUT", "url": format!("{}/hris/actions.json", sink.url)}, "callback": callback});
    let r = send(&app, Method::POST, "/api/v1/ACME/drafts/actions", &token, Some(body)).await;
    assert_eq!(r.status(), 202);
    let seen = sink.wait_for(2).await;
    assert_eq!((seen[0].0.as_str(), seen[0].1.as_str()), ("PUT", "/hris/actions.json"));
    let delivered: Value = serde_json::from_slice(&seen[0].2).unwrap();
    assert_eq!(delivered.as_array().map(Vec::len), Some(3), "{delivered}");
    assert!(seen[1].1.starts_with("/cb?status=completed&job="), "{}", seen[1].1);
    let body = json!({"layers": [{"draftId": draft}], "resultLocation": {"method": "POST", "url": format!("{}/applied", sink.url)},
        "callback": callback});
    let r = send(&app, Method::POST, &format!("/api/v1/ACME/datasets/{ds}/drafts/apply"), &token, Some(body)).await;
    let done = finished(&app, &token, r.json().await.unwrap()).await;
    assert!(done["_links"].get("result").is_none(), "the result went to the client's location: {done}");
    let seen = sink.wait_for(4).await;
    assert_eq!(seen[2].0, "POST");
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[2].2).unwrap(),
        json!({"added":1,"updated":1,"removed":1,"unchanged":0})
    );
}

#[tokio::test]
async fn a_draft_and_its_jobs_leave_their_events() {
    let app = TestApp::spawn().await;
    let (token, ds) = people(&app, "ACME").await;
    let draft = new_draft(&app, &token, &ds).await;
    reorg(&app, &token, &draft).await;
    let done = apply(&app, &token, &ds, json!({"layers": [{"draftId": draft}]})).await;
    assert_eq!(done["jobStatus"], "completed", "{done}");
    let r = send(&app, Method::DELETE, &format!("/api/v1/ACME/drafts/{draft}"), &token, None).await;
    assert_eq!(r.status(), 204);
    let page = json_of(send(&app, Method::GET, "/api/v1/ACME/events?limit=7", &token, None).await).await;
    let kinds: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "draft.deleted",
            "job.completed",
            "draft.applied",
            "job.queued",
            "draft.staged",
            "draft.created",
            "items.imported"
        ],
        "newest first"
    );
    let applied = &page["events"][2];
    assert_eq!((applied["detail"]["added"].as_u64(), applied["detail"]["removed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(applied["traceId"], page["events"][3]["traceId"], "a job's changes carry the trace id that queued it");
    assert_eq!(applied["actor"]["id"], page["events"][3]["actor"]["id"]);
}
