//! Item history: with the org setting on, each item change is a version; an item's versions answer its
//! history, and exports read the dataset as it was at a time (`asOf`), sync and async.

use crate::helpers::{ok_json, orgvue_error, send, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const CONTROL: &str = "history-control";

/// Move the server's clock on, so that each step has a time of its own.
async fn later(app: &TestApp, seconds: i64) -> String {
    let r = app
        .request(Method::PUT, "/_orgd/clock")
        .bearer_auth(CONTROL)
        .json(&json!({"advanceSeconds": seconds}))
        .send()
        .await
        .unwrap();
    let c: Value = r.json().await.unwrap();
    c["now"].as_str().unwrap().to_string()
}

/// The names of the dataset's items, by id, as an export reads them.
async fn names(app: &TestApp, token: &str, path: &str, query: &str) -> Vec<(i64, String)> {
    let r = send(app, Method::GET, &format!("{path}/export/jsonObjects?{query}"), token, None).await;
    let body = ok_json(r).await;
    let mut out: Vec<(i64, String)> = body
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|i| (i["id"].as_i64().unwrap(), i["name"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

fn pairs(p: &[(i64, &str)]) -> Vec<(i64, String)> {
    p.iter().map(|(i, n)| (*i, n.to_string())).collect()
}

#[tokio::test]
async fn item_history_keeps_each_change_and_exports_read_the_dataset_as_it_was() {
    let app = TestApp::builder().control(CONTROL).spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("HIST").await;
    let schema = json!({"name":"People","type":"PEOPLE","autoId":"id","labelId":"name",
        "properties":[{"key":"id","type":"number","isRequired":true},{"key":"name","type":"text","isRequired":true}]});
    let meta = ok_json(send(&app, Method::POST, "/api/v1/HIST/datasets", &token, Some(schema)).await).await;
    let path = format!("/api/v1/HIST/datasets/{}", meta["datasetId"].as_str().unwrap());
    let import = |actions: Value| {
        let (app, path, token) = (&app, &path, &token);
        async move {
            ok_json(send(app, Method::PUT, &format!("{path}/items?autoId=true"), token, Some(actions)).await).await
        }
    };
    import(json!([{"_action":"create","id":1,"name":"Ana"},{"_action":"create","id":2,"name":"Bob"},
        {"_action":"create","id":3,"name":"Cy"}]))
    .await;
    let items = ok_json(send(&app, Method::GET, &format!("{path}/items"), &token, None).await).await;
    let id_of = |n: i64| {
        items.as_array().unwrap().iter().find(|i| i["id"] == n).map(|i| i["_id"].as_str().unwrap().to_string()).unwrap()
    };
    let (ana, bob) = (id_of(1), id_of(2));
    let now = later(&app, 1).await;

    // Off: asOf is refused by name.
    let (status, code, body) =
        orgvue_error(send(&app, Method::GET, &format!("{path}/export/csv?asOf={now}"), &token, None).await).await;
    assert_eq!(
        (status, code.as_str(), &body["errors"][0]["queryParameter"]),
        (400, "400701", &json!("asOf")),
        "{body}"
    );
    assert!(body.to_string().contains("item_history"), "says which setting: {body}");

    // On, through the org's settings; the start is shown.
    let org_path = format!("/v3/organizations/{}", org.org_id);
    let r = app.call(Method::PUT, &org_path, &token, Some(json!({"item_history": true}))).await;
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["organization"]["item_history"], true, "{updated}");
    let since = updated["organization"]["item_history_since"].as_str().unwrap().to_string();
    let t_on = later(&app, 60).await;
    let (status, _, body) =
        orgvue_error(send(&app, Method::GET, &format!("{path}/export/csv?asOf={now}"), &token, None).await).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains(&since), "before the start is refused, naming it: {body}");

    // Two writes: Ana renamed, Bob deleted, Dee created; then Ana renamed again.
    import(json!([{"_action":"update","id":1,"name":"Anna"},{"_action":"delete","id":2},{"_action":"create","id":4,"name":"Dee"}]))
        .await;
    let t_first = later(&app, 60).await;
    import(json!([{"_action":"update","id":1,"name":"Annabel"}])).await;
    later(&app, 60).await;

    assert_eq!(names(&app, &token, &path, "").await, pairs(&[(1, "Annabel"), (3, "Cy"), (4, "Dee")]));
    assert_eq!(
        names(&app, &token, &path, &format!("asOf={t_on}")).await,
        pairs(&[(1, "Ana"), (2, "Bob"), (3, "Cy")]),
        "as it was when history began: Bob back, Dee not yet"
    );
    assert_eq!(
        names(&app, &token, &path, &format!("asOf={t_first}")).await,
        pairs(&[(1, "Anna"), (3, "Cy"), (4, "Dee")])
    );

    // An item's history, newest first, with who and what.
    let h = ok_json(send(&app, Method::GET, &format!("{path}/items/{ana}/history"), &token, None).await).await;
    let versions = h["versions"].as_array().unwrap();
    let seen: Vec<(&str, &str)> =
        versions.iter().map(|v| (v["change"].as_str().unwrap(), v["item"]["name"].as_str().unwrap())).collect();
    assert_eq!(seen, [("updated", "Annabel"), ("updated", "Anna")]);
    assert_eq!(versions[0]["actor"], "admin@hist");
    let trail: Value =
        app.get_bearer("/api/v1/HIST/events?kind=items.imported&limit=1", &token).await.json().await.unwrap();
    assert_eq!(versions[0]["eventId"], trail["events"][0]["id"], "a version names the import's event");

    // A deleted item keeps its history; its id is gone from the dataset.
    let trail: Value =
        app.get_bearer("/api/v1/HIST/events?kind=items.imported&limit=2", &token).await.json().await.unwrap();
    assert_eq!(trail["events"].as_array().unwrap().len(), 2);
    assert_eq!(send(&app, Method::GET, &format!("{path}/items/{bob}"), &token, None).await.status(), 404);
    let h = ok_json(send(&app, Method::GET, &format!("{path}/items/{bob}/history"), &token, None).await).await;
    assert_eq!((h["versions"][0]["change"].as_str(), &h["versions"][0]["item"]), (Some("deleted"), &Value::Null));

    // The async export reads the same past.
    let r =
        send(&app, Method::POST, &format!("{path}/export?exportFormat=jsonObjects&asOf={t_on}"), &token, None).await;
    assert_eq!(r.status(), 202);
    let job = r.json::<Value>().await.unwrap()["jobId"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let done = loop {
        let t: Value = app.get_bearer(&format!("/api/v1/HIST/jobs/{job}"), &token).await.json().await.unwrap();
        if t["jobStatus"] == "completed" || t["jobStatus"] == "failed" {
            break t;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{t}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(done["jobStatus"], "completed", "{done}");
    let result: Value =
        app.client.get(done["_links"]["result"]["url"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let mut got: Vec<&str> = result.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    got.sort();
    assert_eq!(got, ["Ana", "Bob", "Cy"]);

    // Refusals name what is wrong.
    let far = "2999-01-01";
    let draft = "0190A2B4-1C2D-7E3F-8A4B-5C6D7E8F9A0B";
    for (q, why) in [
        (format!("asOf={far}"), "future"),
        ("asOf=last+week".to_string(), "date"),
        (format!("asOf={t_on}&draftId={draft}"), "draftId"),
    ] {
        let (status, code, body) =
            orgvue_error(send(&app, Method::GET, &format!("{path}/export/csv?{q}"), &token, None).await).await;
        assert_eq!((status, code.as_str()), (400, "400701"), "{q}");
        assert!(body.to_string().contains(why), "{q}: {body}");
    }
    let unknown = "0190A2B4-1C2D-7E3F-8A4B-5C6D7E8F9A0C";
    let (status, code, _) =
        orgvue_error(send(&app, Method::GET, &format!("{path}/items/{unknown}/history"), &token, None).await).await;
    assert_eq!((status, code.as_str()), (404, "404002"));
    let (status, _, _) =
        orgvue_error(send(&app, Method::GET, &format!("{path}/items/nope/history"), &token, None).await).await;
    assert_eq!(status, 400);

    // Off again: the past is no longer read.
    app.call(Method::PUT, &org_path, &token, Some(json!({"item_history": false}))).await;
    let (status, _, _) =
        orgvue_error(send(&app, Method::GET, &format!("{path}/export/csv?asOf={t_on}"), &token, None).await).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_applied_draft_leaves_versions_by_who_applied_it() {
    let app = TestApp::builder().control(CONTROL).spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("HDRAFT").await;
    let org_path = format!("/v3/organizations/{}", org.org_id);
    app.call(Method::PUT, &org_path, &token, Some(json!({"item_history": true}))).await;
    let schema = json!({"name":"People","type":"PEOPLE","autoId":"id","labelId":"name",
        "properties":[{"key":"id","type":"number","isRequired":true},{"key":"name","type":"text","isRequired":true}]});
    let meta = ok_json(send(&app, Method::POST, "/api/v1/HDRAFT/datasets", &token, Some(schema)).await).await;
    let ds = meta["datasetId"].as_str().unwrap().to_string();
    let path = format!("/api/v1/HDRAFT/datasets/{ds}");
    let made = ok_json(
        send(
            &app,
            Method::PUT,
            &format!("{path}/items?autoId=true"),
            &token,
            Some(json!([{"_action":"create","id":1,"name":"Ana"}])),
        )
        .await,
    )
    .await;
    let ana = made[0]["_id"].as_str().or(made["results"][0]["_id"].as_str()).map(str::to_string);
    let before = later(&app, 60).await;
    let d = ok_json(
        send(&app, Method::POST, "/api/v1/HDRAFT/drafts", &token, Some(json!({"name": "Rename", "datasetId": ds})))
            .await,
    )
    .await;
    let draft = d["draftId"].as_str().unwrap();
    ok_json(
        send(
            &app,
            Method::PUT,
            &format!("/api/v1/HDRAFT/drafts/{draft}/items?autoId=true"),
            &token,
            Some(json!([{"_action":"update","id":1,"name":"Ann"}])),
        )
        .await,
    )
    .await;
    assert_eq!(
        names(&app, &token, &path, &format!("asOf={before}")).await,
        pairs(&[(1, "Ana")]),
        "staging is not a change"
    );
    let r = send(
        &app,
        Method::POST,
        &format!("{path}/drafts/apply"),
        &token,
        Some(json!({"layers": [{"draftId": draft, "layerKey": "default"}]})),
    )
    .await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let started = std::time::Instant::now();
    while names(&app, &token, &path, "").await != pairs(&[(1, "Ann")]) {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the draft never applied");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(names(&app, &token, &path, &format!("asOf={before}")).await, pairs(&[(1, "Ana")]));
    let items = ok_json(send(&app, Method::GET, &format!("{path}/items"), &token, None).await).await;
    let ana = ana.unwrap_or_else(|| items[0]["_id"].as_str().unwrap().to_string());
    let h = ok_json(send(&app, Method::GET, &format!("{path}/items/{ana}/history"), &token, None).await).await;
    let changes: Vec<&str> = h["versions"].as_array().unwrap().iter().map(|v| v["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["updated", "created"]);
    assert_eq!(h["versions"][0]["item"]["name"], "Ann");
    assert_eq!(h["versions"][0]["actor"], "admin@hdraft");
}

#[tokio::test]
async fn a_stored_version_that_does_not_read_is_an_error_not_a_wrong_past() {
    let app = TestApp::builder().control(CONTROL).spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("HBAD").await;
    app.call(Method::PUT, &format!("/v3/organizations/{}", org.org_id), &token, Some(json!({"item_history": true})))
        .await;
    let schema = json!({"name":"People","type":"PEOPLE","autoId":"id","labelId":"name",
        "properties":[{"key":"id","type":"number","isRequired":true},{"key":"name","type":"text","isRequired":true}]});
    let meta = ok_json(send(&app, Method::POST, "/api/v1/HBAD/datasets", &token, Some(schema)).await).await;
    let path = format!("/api/v1/HBAD/datasets/{}", meta["datasetId"].as_str().unwrap());
    let made = json!([{"_action":"create","id":1,"name":"Ana"}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(made)).await).await;
    let before = later(&app, 60).await;
    let change = json!([{"_action":"update","id":1,"name":"Ann"}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(change)).await).await;
    let items = ok_json(send(&app, Method::GET, &format!("{path}/items"), &token, None).await).await;
    let ana = items[0]["_id"].as_str().unwrap().to_string();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    sqlx::query("UPDATE item_versions SET before_json = 'not json' WHERE before_json IS NOT NULL")
        .execute(&pool)
        .await
        .unwrap();
    for url in [format!("{path}/export/jsonObjects?asOf={before}"), format!("{path}/items/{ana}/history")] {
        let r = send(&app, Method::GET, &url, &token, None).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 500, "{url}: not Ana missing from the past, nor a version without values: {body}");
        assert!(!body.contains("Ann"), "{body}");
    }
}
