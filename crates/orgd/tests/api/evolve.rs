//! Schema evolution: properties added, renamed, made required and removed after creation, on a dataset
//! that holds items, with every bad input of the governance issue.

use crate::helpers::{ok_json, orgvue_error, send, TestApp};
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// A People dataset (id, name, grade, team) with two items; returns (app, admin token, dataset path).
async fn people() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let schema = json!({"name":"People","type":"PEOPLE","autoId":"id","labelId":"name",
        "properties":[{"key":"id","type":"number","isRequired":true},{"key":"name","type":"text","isRequired":true},
        {"key":"grade","type":"number"},{"key":"team","type":"text"}]});
    let meta = ok_json(send(&app, Method::POST, "/api/v1/ACME/datasets", &token, Some(schema)).await).await;
    let path = format!("/api/v1/ACME/datasets/{}", meta["datasetId"].as_str().unwrap());
    let items = json!([{"_action":"create","id":1,"name":"Ana","grade":5,"team":"Core"},
        {"_action":"create","id":2,"name":"Bob","grade":7,"team":"Ops"}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(items)).await).await;
    (app, token, path)
}

async fn csv(app: &TestApp, token: &str, path: &str) -> String {
    let r = send(app, Method::GET, &format!("{path}/export/csv?lineEndings=unix"), token, None).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn keys(meta: &Value) -> Vec<String> {
    meta["properties"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn properties_are_added_changed_and_removed_on_a_dataset_with_items() {
    let (app, token, path) = people().await;
    let before = ok_json(send(&app, Method::GET, &path, &token, None).await).await;
    let props = format!("{path}/properties");

    // Add an optional property: the items keep their values and have none for it yet.
    let r =
        send(&app, Method::POST, &props, &token, Some(json!({"key":"start","type":"date","name":"Start date"}))).await;
    assert_eq!(r.status(), 201);
    let meta = ok_json(r).await;
    assert_eq!(keys(&meta), ["id", "name", "grade", "team", "start"]);
    assert_ne!(meta["cacheKey"], before["cacheKey"], "a schema change is a new cacheKey");
    assert_eq!(meta["itemCount"], 2);
    assert_eq!(csv(&app, &token, &path).await, "id,name,grade,team,start\n1,Ana,5,Core,\n2,Bob,7,Ops,\n");
    let fill =
        json!([{"_action":"update","id":1,"start":"2020-03-01"},{"_action":"update","id":2,"start":"2021-01-01"}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(fill)).await).await;

    // Rename, then make required once every item holds a value.
    let p = |k: &str| format!("{props}/{}", k.replace(' ', "%20"));
    let meta = ok_json(send(&app, Method::PATCH, &p("grade"), &token, Some(json!({"name":"Pay grade"}))).await).await;
    assert_eq!(meta["properties"][2]["name"], "Pay grade");
    let meta = ok_json(send(&app, Method::PATCH, &p("team"), &token, Some(json!({"isRequired":true}))).await).await;
    assert_eq!(meta["properties"][3]["isRequired"], true);

    // Remove a property: its values go with it, and a property added later never sees them.
    let meta = ok_json(send(&app, Method::DELETE, &p("team"), &token, None).await).await;
    assert_eq!(keys(&meta), ["id", "name", "grade", "start"]);
    let meta = ok_json(send(&app, Method::DELETE, &p("start"), &token, None).await).await;
    assert_eq!(keys(&meta), ["id", "name", "grade"]);
    ok_json(send(&app, Method::POST, &props, &token, Some(json!({"key":"site","type":"text"}))).await).await;
    assert_eq!(csv(&app, &token, &path).await, "id,name,grade,site\n1,Ana,5,\n2,Bob,7,\n");

    // Imports and lookups work on the changed schema, by autoId and by an idKey over a moved column.
    let more = json!([{"_action":"create","id":3,"name":"Cy","grade":5,"site":"Lyon"},
        {"_action":"update","id":1,"site":"Paris"}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(more)).await).await;
    let by_key = json!([{"_action":"update","name":"Bob","grade":8}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?idKey=name"), &token, Some(by_key)).await).await;
    assert_eq!(
        csv(&app, &token, &path).await,
        "id,name,grade,site\n1,Ana,5,Paris\n2,Bob,8,\n3,Cy,5,Lyon\n",
        "every value in its place"
    );
}

#[tokio::test]
async fn bad_schema_changes_name_the_fault_and_change_nothing() {
    let (app, token, path) = people().await;
    let props = format!("{path}/properties");
    let before = ok_json(send(&app, Method::GET, &path, &token, None).await).await;
    for (body, field) in [
        (json!({"key":"name","type":"text"}), "key"),
        (json!({"key":"_x","type":"text"}), "key"),
        (json!({"key":"x","type":"money"}), "type"),
        (json!({"key":"x","type":"text","isRequired":true}), "isRequired"),
        (json!({"key":"x","type":"text","extra":1}), "extra"),
        (json!(["x"]), "body"),
    ] {
        let (s, c, b) = orgvue_error(send(&app, Method::POST, &props, &token, Some(body.clone())).await).await;
        assert_eq!((s, c.as_str()), (400, "400802"), "{body}: {b}");
        assert_eq!(b["errors"][0]["path"], field, "{body}: {b}");
    }
    let p = |k: &str| format!("{props}/{k}");
    let (s, _, b) =
        orgvue_error(send(&app, Method::PATCH, &p("id"), &token, Some(json!({"isRequired":false}))).await).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("isRequired")), "the autoId stays required");
    let (s, _, b) =
        orgvue_error(send(&app, Method::PATCH, &p("grade"), &token, Some(json!({"type":"money"}))).await).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("type")), "{b}");
    let (s, _, b) = orgvue_error(send(&app, Method::PATCH, &p("id"), &token, Some(json!({"type":"text"}))).await).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("type")), "the autoId keeps its type: {b}");
    ok_json(
        send(
            &app,
            Method::PUT,
            &format!("{path}/items?autoId=true"),
            &token,
            Some(json!([{"_action":"create","id":3,"name":"Cy"}])),
        )
        .await,
    )
    .await;
    let (s, _, b) =
        orgvue_error(send(&app, Method::PATCH, &p("grade"), &token, Some(json!({"isRequired":true}))).await).await;
    assert_eq!(s, 400);
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("1 item(s) have no grade"), "{b}");
    for key in ["id", "name"] {
        let (s, c, b) = orgvue_error(send(&app, Method::DELETE, &p(key), &token, None).await).await;
        assert_eq!((s, c.as_str(), b["errors"][0]["pathParameter"].as_str()), (400, "400601", Some("{key}")), "{b}");
    }
    let (s, c, _) = orgvue_error(send(&app, Method::DELETE, &p("nope"), &token, None).await).await;
    assert_eq!((s, c.as_str()), (404, "404008"));
    let after = ok_json(send(&app, Method::GET, &path, &token, None).await).await;
    assert_eq!(after["properties"], before["properties"], "nothing changed");

    // Only who manages the dataset changes its schema; who may not read it does not learn it exists.
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let user = app.user(&org, "editor", Role::User).await;
    let t = app.token(&user, NewToken::default()).await;
    let (s, c, _) =
        orgvue_error(send(&app, Method::POST, &props, &t, Some(json!({"key":"x","type":"text"}))).await).await;
    assert_eq!((s, c.as_str()), (403, "40332"));
    ok_json(
        send(&app, Method::PUT, &format!("{path}/permissions"), &token, Some(json!({"roles":{"user":"none"}}))).await,
    )
    .await;
    let (s, c, _) = orgvue_error(send(&app, Method::DELETE, &p("grade"), &t, None).await).await;
    assert_eq!((s, c.as_str()), (404, "404001"));
}

#[tokio::test]
async fn a_type_change_converts_every_value_reports_what_it_cannot_and_clears_only_when_forced() {
    let (app, token, path) = people().await;
    let p = |k: &str, q: &str| format!("{path}/properties/{k}{q}");
    // number → text → number: every value converts, in place, and lookups by the property still work.
    let meta = ok_json(send(&app, Method::PATCH, &p("grade", ""), &token, Some(json!({"type":"text"}))).await).await;
    assert_eq!(meta["properties"][2]["type"], "text");
    let rows = ok_json(send(&app, Method::GET, &format!("{path}/items"), &token, None).await).await;
    assert_eq!((rows[0]["grade"].clone(), rows[1]["grade"].clone()), (json!("5"), json!("7")), "{rows}");
    ok_json(send(&app, Method::PATCH, &p("grade", ""), &token, Some(json!({"type":"number"}))).await).await;
    let by_key = json!([{"_action":"update","grade":7,"team":"Ops 2"}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?idKey=grade"), &token, Some(by_key)).await).await;
    assert_eq!(csv(&app, &token, &path).await, "id,name,grade,team\n1,Ana,5,Core\n2,Bob,7,Ops 2\n");

    // text → number: a dry run reports the values that would not convert, by item; nothing changes.
    let fix = json!([{"_action":"update","id":1,"team":"12"}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(fix)).await).await;
    let before = ok_json(send(&app, Method::GET, &path, &token, None).await).await;
    let report =
        ok_json(send(&app, Method::PATCH, &p("team", "?dryRun=true"), &token, Some(json!({"type":"number"}))).await)
            .await;
    assert_eq!((report["unconvertible"].clone(), report["to"].clone()), (json!(1), json!("number")), "{report}");
    assert_eq!(report["items"][0]["value"], "Ops 2", "{report}");
    let r = send(&app, Method::PATCH, &p("team", ""), &token, Some(json!({"type":"number"}))).await;
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!(s, 400);
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("\"Ops 2\" does not convert to number"), "{b}");
    assert_eq!(ok_json(send(&app, Method::GET, &path, &token, None).await).await, before, "nothing changed");
    // force: what converts is kept, what does not is cleared.
    let meta =
        ok_json(send(&app, Method::PATCH, &p("team", "?force=true"), &token, Some(json!({"type":"number"}))).await)
            .await;
    assert_eq!(meta["properties"][3]["type"], "number");
    assert_ne!(meta["cacheKey"], before["cacheKey"]);
    assert_eq!(csv(&app, &token, &path).await, "id,name,grade,team\n1,Ana,5,12\n2,Bob,7,\n");
    let (s, _, _) =
        orgvue_error(send(&app, Method::PATCH, &p("team", "?force=maybe"), &token, Some(json!({}))).await).await;
    assert_eq!(s, 400, "a flag that does not read is refused, never defaulted");
}
