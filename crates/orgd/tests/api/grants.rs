//! Dataset permissions: grants by role and by user, one decision for every route, no leak of a dataset
//! a caller may not read, and every bad input of the governance issue.

use crate::helpers::{ok_json, orgvue_error, send, TestApp};
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::Role;
use orgd_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

struct Team {
    app: TestApp,
    org: orgd_core::model::Org,
    admin: String,
    reader: String,
    editor: String,
    author: String,
    manager: String,
    /// `/api/v1/ACME/datasets/{id}` of the Salaries dataset.
    path: String,
    id: String,
}

/// Tenant ACME with a Salaries dataset of two items, an administrator, two plain users (`reader`,
/// `editor`), a plain user `author` and a user manager, each with a token.
async fn team() -> Team {
    let app = TestApp::spawn().await;
    let (org, _admin, admin) = app.tenant_with_admin("ACME").await;
    let mut tokens = Vec::new();
    for (id, role) in
        [("reader", Role::User), ("editor", Role::User), ("author", Role::User), ("manager", Role::UserManager)]
    {
        let u = app.user(&org, id, role).await;
        tokens.push(app.token(&u, NewToken::default()).await);
    }
    let schema = json!({"name":"Salaries","type":"PEOPLE","autoId":"id","labelId":"id",
        "properties":[{"key":"id","type":"number","isRequired":true},{"key":"salary","type":"number"}]});
    let meta = ok_json(send(&app, Method::POST, "/api/v1/ACME/datasets", &admin, Some(schema)).await).await;
    let id = meta["datasetId"].as_str().unwrap().to_string();
    let path = format!("/api/v1/ACME/datasets/{id}");
    let items = json!([{"_action":"create","id":1,"salary":50000},{"_action":"create","id":2,"salary":70000}]);
    ok_json(send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &admin, Some(items)).await).await;
    let [reader, editor, author, manager] = <[String; 4]>::try_from(tokens).unwrap();
    Team { app, org, admin, reader, editor, author, manager, path, id }
}

/// An autoId import into Salaries with extra query parameters `q`.
async fn import_as(t: &Team, token: &str, q: &str, body: Value) -> reqwest::Response {
    send(&t.app, Method::PUT, &format!("{}/items?autoId=true{q}", t.path), token, Some(body)).await
}

/// The ticket of job path `job` once it has completed or failed, polled with `token`.
async fn finished(app: &TestApp, job: &str, token: &str) -> Value {
    loop {
        let j = ok_json(send(app, Method::GET, job, token, None).await).await;
        if j["jobStatus"] == "completed" || j["jobStatus"] == "failed" {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn listed(app: &TestApp, token: &str) -> Vec<String> {
    let list = ok_json(send(app, Method::GET, "/api/v1/ACME/datasets", token, None).await).await;
    list.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn grants_decide_who_sees_and_changes_a_dataset_and_hidden_ones_do_not_leak() {
    let t = team().await;
    let (app, path) = (&t.app, t.path.as_str());
    // Today's behaviour until someone changes it: every role reads, administrators do the rest.
    let shown = ok_json(send(app, Method::GET, &format!("{path}/permissions"), &t.admin, None).await).await;
    assert_eq!(
        shown,
        json!({"roles":{"administrator":"manage","user_manager":"read","user":"read"},"users":{},"properties":{}})
    );
    assert_eq!(listed(app, &t.reader).await, ["Salaries"]);

    let grants = json!({"roles":{"user":"none","user_manager":"read"},"users":{"editor":"update","author":"modify"}});
    let set = ok_json(send(app, Method::PUT, &format!("{path}/permissions"), &t.admin, Some(grants)).await).await;
    assert_eq!(set["users"], json!({"author":"modify","editor":"update"}));
    assert_eq!(set["roles"]["user"], "none");
    let again = ok_json(send(app, Method::GET, &format!("{path}/permissions"), &t.admin, None).await).await;
    assert_eq!(again, set, "what PUT answered is what is stored");

    // A plain user without a grant: the dataset does not exist for it, on every route.
    assert!(listed(app, &t.reader).await.is_empty(), "the list drops it at once");
    assert_eq!(listed(app, &t.admin).await, ["Salaries"], "administrators see everything");
    assert_eq!(listed(app, &t.manager).await, ["Salaries"]);
    for (method, p) in [
        (Method::GET, path.to_string()),
        (Method::GET, format!("{path}/items")),
        (Method::POST, format!("{path}/items")),
        (Method::GET, format!("{path}/export/csv")),
        (Method::POST, format!("{path}/export?exportFormat=csv")),
        (Method::GET, format!("{path}/permissions")),
        (Method::DELETE, path.to_string()),
    ] {
        let (s, c, _) = orgvue_error(send(app, method.clone(), &p, &t.reader, None).await).await;
        assert_eq!((s, c.as_str()), (404, "404001"), "{method} {p}");
    }
    let unknown = format!("/api/v1/ACME/datasets/{}", orgd_core::ids::DatasetId::generate());
    let (_, _, hidden) = orgvue_error(send(app, Method::GET, path, &t.reader, None).await).await;
    let (_, _, missing) = orgvue_error(send(app, Method::GET, &unknown, &t.reader, None).await).await;
    assert_eq!(hidden["errors"][0]["message"], missing["errors"][0]["message"], "told apart from nothing");

    // update: change existing items, never create or delete them.
    let update = json!([{"_action":"update","id":1,"salary":52000}]);
    let r = ok_json(send(app, Method::PUT, &format!("{path}/items?autoId=true"), &t.editor, Some(update)).await).await;
    assert!(r[0]["_id"].is_string(), "{r}");
    for actions in [json!([{"_action":"create","id":3,"salary":1}]), json!([{"_action":"delete","id":2}])] {
        let r = send(app, Method::PUT, &format!("{path}/items?autoId=true"), &t.editor, Some(actions)).await;
        let (s, c, b) = orgvue_error(r).await;
        assert_eq!((s, c.as_str()), (403, "40332"), "{b}");
        assert_eq!(b["errors"][0]["reason"], "itemAccessDenied", "{b}");
    }
    let r =
        send(app, Method::PUT, &format!("{path}/items?autoId=true&implicitDelete=true"), &t.editor, Some(json!([])))
            .await;
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (403, "40332"));
    assert_eq!(b["errors"][0]["queryParameter"], "implicitDelete");
    let skip = json!([{"_action":"create","id":3,"salary":1},{"_action":"update","id":2,"salary":71000}]);
    let q = format!("{path}/items?autoId=true&onActionValidationFailure=skip");
    let r = ok_json(send(app, Method::PUT, &q, &t.editor, Some(skip)).await).await;
    assert_eq!(r[0]["errors"][0]["reason"], "itemAccessDenied", "skip mode reports it: {r}");
    assert!(r[1]["_id"].is_string(), "and applies the rest: {r}");
    for (method, p) in [(Method::DELETE, path.to_string()), (Method::GET, format!("{path}/permissions"))] {
        let (s, c, _) = orgvue_error(send(app, method.clone(), &p, &t.editor, None).await).await;
        assert_eq!((s, c.as_str()), (403, "40332"), "{method} {p}");
    }

    // modify: create and delete too; a role's own grant never lowers a user's.
    let r = send(
        app,
        Method::PUT,
        &format!("{path}/items?autoId=true"),
        &t.author,
        Some(json!([
        {"_action":"create","id":3,"salary":1},{"_action":"delete","id":3}])),
    )
    .await;
    ok_json(r).await;
    let items = ok_json(send(app, Method::GET, &format!("{path}/items"), &t.admin, None).await).await;
    let salaries: Vec<i64> = items.as_array().unwrap().iter().map(|i| i["salary"].as_i64().unwrap()).collect();
    assert_eq!(salaries, [52000, 71000], "only the permitted changes landed");

    // Giving the role read back shows the dataset again at once.
    let open = json!({"users":{"editor":"update"}});
    ok_json(send(app, Method::PUT, &format!("{path}/permissions"), &t.admin, Some(open)).await).await;
    assert_eq!(listed(app, &t.reader).await, ["Salaries"]);
    assert_eq!(send(app, Method::GET, &format!("{path}/export/csv"), &t.reader, None).await.status(), 200);
}

#[tokio::test]
async fn drafts_follow_their_dataset_grants() {
    let t = team().await;
    let (app, path) = (&t.app, t.path.as_str());
    let d = ok_json(
        send(app, Method::POST, "/api/v1/ACME/drafts", &t.admin, Some(json!({"name":"2027","datasetId": t.id}))).await,
    )
    .await;
    let draft = d["draftId"].as_str().unwrap().to_string();
    let dp = format!("/api/v1/ACME/drafts/{draft}");
    let grants = json!({"roles":{"user":"none"},"users":{"author":"manage"}});
    ok_json(send(app, Method::PUT, &format!("{path}/permissions"), &t.admin, Some(grants)).await).await;
    let (s, c, _) = orgvue_error(send(app, Method::GET, &dp, &t.reader, None).await).await;
    assert_eq!((s, c.as_str()), (404, "404007"), "a draft of a hidden dataset does not exist for the caller");
    let drafts = ok_json(send(app, Method::GET, "/api/v1/ACME/drafts", &t.reader, None).await).await;
    assert_eq!(drafts, json!([]));
    let r =
        send(app, Method::POST, "/api/v1/ACME/drafts", &t.reader, Some(json!({"name":"x","datasetId": t.id}))).await;
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("datasetId")), "{b}");
    // A plain user who manages the dataset models it.
    let stage = json!([{"_action":"update","id":2,"salary":1}]);
    ok_json(send(app, Method::PUT, &format!("{dp}/items?autoId=true"), &t.author, Some(stage)).await).await;
    let mine = ok_json(
        send(app, Method::POST, "/api/v1/ACME/drafts", &t.author, Some(json!({"name":"mine","datasetId": t.id}))).await,
    )
    .await;
    assert_eq!(mine["_createdBy"], "author");
    let (s, c, _) = orgvue_error(send(app, Method::DELETE, &dp, &t.editor, None).await).await;
    assert_eq!((s, c.as_str()), (404, "404007"));
}

#[tokio::test]
async fn bad_grants_name_the_field_and_change_nothing() {
    let t = team().await;
    let (app, path) = (&t.app, t.path.as_str());
    let p = format!("{path}/permissions");
    let before = ok_json(send(app, Method::GET, &p, &t.admin, None).await).await;
    for (body, field) in [
        (json!({"roles":{"owner":"read"}}), "roles.owner"),
        (json!({"roles":{"user":"write"}}), "roles.user"),
        (json!({"roles":{"administrator":"read"}}), "roles.administrator"),
        (json!({"users":{"ghost":"read"}}), "users.ghost"),
        (json!({"users":["editor"]}), "users"),
        (json!({"everyone":"read"}), "everyone"),
    ] {
        let (s, c, b) = orgvue_error(send(app, Method::PUT, &p, &t.admin, Some(body.clone())).await).await;
        assert_eq!((s, c.as_str()), (400, "400802"), "{body}: {b}");
        let fields: Vec<&str> = b["errors"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
        assert!(fields.contains(&field), "{body}: {b}");
    }
    assert_eq!(ok_json(send(app, Method::GET, &p, &t.admin, None).await).await, before);
    // A user of another tenant cannot be granted, and another tenant's dataset is not found from there.
    let (other, _, other_admin) = app.tenant_with_admin("BETA").await;
    app.user(&other, "stranger", Role::User).await;
    let (s, _, b) =
        orgvue_error(send(app, Method::PUT, &p, &t.admin, Some(json!({"users":{"stranger":"read"}}))).await).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("users.stranger")));
    let theirs = format!("/api/v1/BETA/datasets/{}/permissions", t.id);
    let (s, c, _) = orgvue_error(send(app, Method::PUT, &theirs, &other_admin, Some(json!({}))).await).await;
    assert_eq!((s, c.as_str()), (404, "404001"));
    // Only who manages the dataset changes its grants.
    let (s, c, _) = orgvue_error(send(app, Method::PUT, &p, &t.manager, Some(json!({}))).await).await;
    assert_eq!((s, c.as_str()), (403, "40332"));
}

#[tokio::test]
async fn an_async_import_runs_with_its_creators_permission() {
    let t = team().await;
    let (app, path) = (&t.app, t.path.as_str());
    ok_json(
        send(app, Method::PUT, &format!("{path}/permissions"), &t.admin, Some(json!({"users":{"editor":"update"}})))
            .await,
    )
    .await;
    let (s, c, _) = orgvue_error(
        send(
            app,
            Method::POST,
            "/api/v1/ACME/files/generate",
            &t.reader,
            Some(json!({"targetType":"json","targetEncoding":"identity"})),
        )
        .await,
    )
    .await;
    assert_eq!((s, c.as_str()), (403, "40332"), "uploads are for who may write some dataset");
    let f = app.generate_file("ACME", &t.editor, "json", "identity").await;
    let put = f["_links"]["put"]["url"].as_str().unwrap();
    let body = json!([{"_action":"create","id":9,"salary":1}]).to_string();
    assert!(app.client.put(put).body(body).send().await.unwrap().status().is_success());
    let req = json!({"importLocation":{"method":"GET","url": f["_links"]["get"]["url"]}});
    let ticket =
        ok_json(send(app, Method::PUT, &format!("{path}/items/import?autoId=true"), &t.editor, Some(req)).await).await;
    let job = format!("/api/v1/ACME/jobs/{}", ticket["jobId"].as_str().unwrap());
    let done = finished(app, &job, &t.editor).await;
    assert_eq!(done["jobStatus"], "failed", "{done}");
    assert_eq!(done["errors"][0]["reason"], "itemAccessDenied", "{done}");
    let meta = ok_json(send(app, Method::GET, path, &t.admin, None).await).await;
    assert_eq!(meta["itemCount"], 2, "nothing was created");
}

const SEED: &str = r#"
orgs:
  - tenant_id: ACME
    name: Acme
    users:
      - {user_id: admin@acme.test, password: Acme-Admin-2024!, role: administrator, token_access: true,
         tokens: [{secret: orgd_grantsadmintoken_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG}]}
      - {user_id: reader@acme.test, password: Acme-Reader-2024!, role: user, token_access: true,
         tokens: [{secret: orgd_grantsreadertokn_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG}]}
    datasets:
      - name: Pay
        type: LOOKUP
        autoId: id
        labelId: id
        properties: [{key: id, type: number, isRequired: true}]
        items: [{id: 1}]
        permissions: {roles: {user: none}}
      - name: Teams
        type: LOOKUP
        autoId: id
        labelId: id
        properties: [{key: id, type: number, isRequired: true}]
"#;

#[tokio::test]
async fn seed_files_declare_grants_and_reset_restores_them() {
    let app = TestApp::builder().seed(SEED).control("control-secret-1").spawn().await;
    let (admin, reader) = (
        "orgd_grantsadmintoken_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
        "orgd_grantsreadertokn_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
    );
    assert_eq!(listed(&app, reader).await, ["Teams"]);
    assert_eq!(listed(&app, admin).await, ["Pay", "Teams"]);
    let pay = orgd_core::data::derived_id("orgd-seed-dataset/ACME/Pay");
    let p = format!("/api/v1/ACME/datasets/{pay}/permissions");
    ok_json(send(&app, Method::PUT, &p, admin, Some(json!({}))).await).await;
    assert_eq!(listed(&app, reader).await, ["Pay", "Teams"]);
    let r = app.request(Method::POST, "/_orgd/reset").bearer_auth("control-secret-1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(listed(&app, reader).await, ["Teams"], "the seed's grants are back");
}

#[test]
fn a_seed_grant_naming_an_unknown_user_names_the_field() {
    let bad = SEED.replace("permissions: {roles: {user: none}}", "permissions: {users: {ghost@acme.test: read}}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.yaml");
    std::fs::write(&path, bad).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["seed", path.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("orgs[0].datasets[0].permissions.users.ghost@acme.test"), "{err}");
}

#[tokio::test]
async fn a_restricted_property_does_not_exist_for_who_may_not_read_it() {
    let t = team().await;
    let (app, path) = (&t.app, t.path.as_str());
    let p = format!("{path}/permissions");
    let (s, _, b) =
        orgvue_error(send(app, Method::PUT, &p, &t.admin, Some(json!({"properties":{"id":{"roles":[]}}}))).await).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("properties.id")), "the autoId stays readable: {b}");
    let set = json!({"properties":{"salary":{"roles":["user_manager"],"users":["editor"]}}});
    let shown = ok_json(send(app, Method::PUT, &p, &t.admin, Some(set)).await).await;
    assert_eq!(shown["properties"], json!({"salary":{"roles":["user_manager"],"users":["editor"]}}));

    let keys = |meta: &Value| -> Vec<String> {
        meta["properties"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap().to_string()).collect()
    };
    for (who, token, sees) in [
        ("admin", &t.admin, true),
        ("editor", &t.editor, true),
        ("manager", &t.manager, true),
        ("reader", &t.reader, false),
    ] {
        let meta = ok_json(send(app, Method::GET, path, token, None).await).await;
        assert_eq!(keys(&meta).contains(&"salary".to_string()), sees, "{who}: metadata {meta}");
        let csv = send(app, Method::GET, &format!("{path}/export/csv?lineEndings=unix"), token, None).await;
        let csv = csv.text().await.unwrap();
        assert_eq!(csv.contains("salary") || csv.contains("50000"), sees, "{who}: export {csv}");
        let items = ok_json(send(app, Method::GET, &format!("{path}/items"), token, None).await).await;
        assert_eq!(items[0].get("salary").is_some(), sees, "{who}: items {items}");
    }
    // No inference by filtering or projecting, and no writing what cannot be read.
    let filter = json!({"query":{"output":{"filter":{"salary":{"$gt":60000}}}}});
    let r = send(app, Method::POST, &format!("{path}/export/jsonRows"), &t.reader, Some(filter.clone())).await;
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!(s, 400, "a filter on a hidden property is refused as unknown: {b}");
    let r = send(app, Method::POST, &format!("{path}/export/jsonRows"), &t.editor, Some(filter)).await;
    assert_eq!(r.status(), 200, "who reads it filters on it");
    let items = json!({"filter":{"salary":{"$gt":60000}}});
    assert_eq!(send(app, Method::POST, &format!("{path}/items"), &t.reader, Some(items)).await.status(), 400);
    let projection = json!({"query":{"output":{"projection":{"salary":1}}}});
    let r = send(app, Method::POST, &format!("{path}/export/csv"), &t.reader, Some(projection)).await;
    assert_eq!(r.status(), 400);
    ok_json(
        send(
            app,
            Method::PUT,
            &format!("{path}/permissions"),
            &t.admin,
            Some(json!({
        "users":{"reader":"update"},"properties":{"salary":{"users":["editor"]}}})),
        )
        .await,
    )
    .await;
    let r = send(
        app,
        Method::PUT,
        &format!("{path}/items?autoId=true"),
        &t.reader,
        Some(json!([
        {"_action":"update","id":1,"salary":1}])),
    )
    .await;
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!((s, b["errors"][0]["reason"].as_str()), (403, Some("propertyAccessDenied")), "{b}");
    assert_eq!(b["errors"][0]["path"], "[0].salary", "the action fails naming the property: {b}");
    let updated = json!([{"_action":"update","id":1,"id":1}]);
    ok_json(send(app, Method::PUT, &format!("{path}/items?autoId=true"), &t.reader, Some(updated)).await).await;
    let items = ok_json(send(app, Method::GET, &format!("{path}/items"), &t.admin, None).await).await;
    assert_eq!(items[0]["salary"], 50000, "a write through the caller's view keeps what it cannot see");
}

#[tokio::test]
async fn on_property_access_denied_skip_ignores_and_reports_and_a_hidden_required_property_blocks_creation() {
    let t = team().await;
    let (app, path) = (&t.app, t.path.as_str());
    let grants = json!({"users":{"reader":"modify"},"properties":{"salary":{"users":["editor"]}}});
    ok_json(send(app, Method::PUT, &format!("{path}/permissions"), &t.admin, Some(grants)).await).await;
    let r = import_as(
        &t,
        &t.reader,
        "&onPropertyAccessDenied=skip",
        json!([{"_action":"update","id":1,"salary":1},{"_action":"create","id":3,"salary":9}]),
    )
    .await;
    let results = ok_json(r).await;
    assert_eq!(results[0]["_status"], "success", "{results}");
    assert_eq!(results[0]["_skippedProperties"], json!(["salary"]), "the ignored value is reported: {results}");
    assert_eq!(results[1]["_skippedProperties"], json!(["salary"]));
    let items = ok_json(send(app, Method::GET, &format!("{path}/items"), &t.admin, None).await).await;
    assert_eq!((items[0]["salary"].clone(), items.as_array().unwrap().len()), (json!(50000), 3), "{items}");
    assert!(items[2].get("salary").is_none(), "the skipped value was not written: {items}");
    let r = import_as(&t, &t.reader, "&onPropertyAccessDenied=sometimes", json!([])).await;
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!((s, b["errors"][0]["queryParameter"].as_str()), (400, Some("onPropertyAccessDenied")), "{b}");

    // A required property the caller may not write: it may change items, never create one.
    let fill = json!([{"_action":"update","id":3,"salary":1}]);
    ok_json(import_as(&t, &t.admin, "", fill).await).await;
    let req = json!({"isRequired": true});
    ok_json(send(app, Method::PATCH, &format!("{path}/properties/salary?force=true"), &t.admin, Some(req)).await).await;
    let r = import_as(&t, &t.reader, "", json!([{"_action":"update","id":1},{"_action":"create","id":4}])).await;
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!(
        (s, b["errors"][0]["reason"].as_str(), b["errors"][0]["path"].as_str()),
        (403, Some("propertyAccessDenied"), Some("[1].salary")),
        "{b}"
    );
    let n = ok_json(send(app, Method::GET, &format!("{path}/items"), &t.admin, None).await).await;
    assert_eq!(n.as_array().unwrap().len(), 3, "fail mode wrote nothing");
}

/// Salaries with a department per item, and plain users that hold `modify` under a row rule that binds
/// each to the items of its own department.
async fn departments(t: &Team) {
    let app = &t.app;
    let add = json!({"key":"department","type":"text"});
    let r = send(app, Method::POST, &format!("{}/properties", t.path), &t.admin, Some(add)).await;
    assert_eq!(r.status(), 201);
    let items = json!([{"_action":"update","id":1,"department":"Sales"},{"_action":"update","id":2,"department":"Ops"},
        {"_action":"create","id":3,"department":"Sales","salary":60000}]);
    ok_json(send(app, Method::PUT, &format!("{}/items?autoId=true", t.path), &t.admin, Some(items)).await).await;
    let org = &t.org;
    for (id, dept) in [("reader", Some("Sales")), ("editor", None)] {
        let u = app.store.find_users(id, Some(&org.org_id)).await.unwrap().remove(0);
        let md = match dept {
            Some(d) => json!({"department": d}),
            None => json!({}),
        };
        let fields = orgd_core::cases::users::UserFields { custom_metadata: Some(md), ..Default::default() };
        app.update_user(org, &u, fields).await;
    }
    let grants = json!({"roles":{"user":"modify"},
        "rows":{"roles":{"user":{"department":"$user.custom_metadata.department"}}}});
    let shown = ok_json(send(app, Method::PUT, &format!("{}/permissions", t.path), &t.admin, Some(grants)).await).await;
    assert_eq!(shown["rows"], json!({"roles":{"user":{"department":"$user.custom_metadata.department"}},"users":{}}));
}

#[tokio::test]
async fn a_row_rule_limits_the_items_a_user_sees_and_changes() {
    let t = team().await;
    departments(&t).await;
    let (app, path) = (&t.app, t.path.as_str());
    let ids = |v: &Value| -> Vec<i64> { v.as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect() };
    let items = |token: &str| {
        let token = token.to_string();
        async move { ok_json(send(app, Method::GET, &format!("{path}/items"), &token, None).await).await }
    };
    assert_eq!(ids(&items(&t.admin).await), [1, 2, 3]);
    assert_eq!(ids(&items(&t.reader).await), [1, 3], "only Sales for a Sales user");
    assert!(ids(&items(&t.editor).await).is_empty(), "a rule that cannot be bound lets nothing through");
    let count = |token: &str| {
        let token = token.to_string();
        async move { ok_json(send(app, Method::GET, path, &token, None).await).await["itemCount"].clone() }
    };
    assert_eq!((count(&t.admin).await, count(&t.reader).await, count(&t.editor).await), (json!(3), json!(2), json!(0)));
    let csv = send(app, Method::GET, &format!("{path}/export/csv?lineEndings=unix"), &t.reader, None).await;
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "header and two rows: {csv}");
    assert!(!csv.contains("Ops"), "{csv}");
    let body = json!({"query":{"output":{"filter":{"id":2}}}});
    let r = send(app, Method::POST, &format!("{path}/export/csv?lineEndings=unix"), &t.reader, Some(body)).await;
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 1, "the header only: a filter cannot widen the rule: {csv}");
    let ops_id = items(&t.admin).await[1]["_id"].as_str().unwrap().to_string();
    let r = send(app, Method::GET, &format!("{path}/items/{ops_id}"), &t.reader, None).await;
    assert_eq!(r.status(), 404, "an item outside the rule does not exist for the caller");
    assert_eq!(send(app, Method::GET, &format!("{path}/items/{ops_id}"), &t.admin, None).await.status(), 200);

    // Writes: only items inside the rule, and none moved or created outside it.
    for (action, why) in [
        (json!({"_action":"update","id":2,"salary":1}), "an item outside the rule"),
        (json!({"_action":"update","id":1,"department":"Ops"}), "moving an item out of the rule"),
        (json!({"_action":"create","id":9,"department":"Ops"}), "creating outside the rule"),
        (json!({"_action":"delete","id":2}), "deleting outside the rule"),
    ] {
        let (s, _, b) = orgvue_error(import_as(&t, &t.reader, "", json!([action])).await).await;
        assert_eq!((s, b["errors"][0]["reason"].as_str()), (403, Some("itemAccessDenied")), "{why}: {b}");
    }
    let batch = json!([{"_action":"update","id":2,"salary":1},{"_action":"update","id":1,"salary":51000},
        {"_action":"create","id":5,"department":"Sales"}]);
    let results = ok_json(import_as(&t, &t.reader, "&onItemAccessDenied=skip", batch).await).await;
    let statuses: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["_status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["skipped", "success", "success"], "{results}");
    assert_eq!(results[0]["errors"][0]["reason"], "itemAccessDenied");
    let all = items(&t.admin).await;
    assert_eq!(ids(&all), [1, 2, 3, 5]);
    assert_eq!((all[0]["salary"].clone(), all[1]["salary"].clone()), (json!(51000), json!(70000)));
    let (s, _, b) = orgvue_error(import_as(&t, &t.reader, "&implicitDelete=true", json!([])).await).await;
    assert_eq!((s, b["errors"][0]["queryParameter"].as_str()), (403, Some("implicitDelete")), "{b}");
}

#[tokio::test]
async fn bad_row_rules_name_the_field_and_change_nothing() {
    let t = team().await;
    let (app, p) = (&t.app, format!("{}/permissions", t.path));
    let before = ok_json(send(app, Method::GET, &p, &t.admin, None).await).await;
    let bad = json!({"properties":{"salary":{"roles":[]}},"rows":{
        "roles":{"administrator":{"id":1},"owner":{"id":1},"user":{"nope":1},"user_manager":{"salary":{"$gt":1}}},
        "users":{"ghost":{"id":1},"reader":{"id":"$user.phone"}},"extra":{}}});
    let (s, _, b) = orgvue_error(send(app, Method::PUT, &p, &t.admin, Some(bad)).await).await;
    assert_eq!(s, 400, "{b}");
    let paths: Vec<&str> = b["errors"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
    for f in [
        "rows.roles.administrator",
        "rows.roles.owner",
        "rows.roles.user.nope",
        "rows.users.ghost",
        "rows.users.reader.id",
        "rows.extra",
        "rows",
    ] {
        assert!(paths.contains(&f), "{f} in {paths:?}");
    }
    assert_eq!(ok_json(send(app, Method::GET, &p, &t.admin, None).await).await, before, "nothing changed");
}

#[tokio::test]
async fn a_permissioned_view_shows_a_projection_and_filter_of_its_dataset_under_its_own_grants() {
    let t = team().await;
    let (app, path) = (&t.app, t.path.as_str());
    let hide = json!({"roles":{"user":"none","user_manager":"manage"},"properties":{"salary":{"roles":[]}}});
    ok_json(send(app, Method::PUT, &format!("{path}/permissions"), &t.admin, Some(hide)).await).await;
    let views = format!("{path}/views");
    let bad = json!({"name":"Small","projection":["id"],"filter":{"salary":{"$lt":60000}}});
    let (s, _, b) = orgvue_error(send(app, Method::POST, &views, &t.admin, Some(bad)).await).await;
    assert_eq!(
        (s, b["errors"][0]["path"].as_str()),
        (400, Some("filter.salary")),
        "a view filters on what it shows: {b}"
    );
    let body = json!({"name":"Small salaries","projection":["salary"],"filter":{"salary":{"$lt":60000}},
        "permissions":{"roles":{"user":"read"}}});
    let r = send(app, Method::POST, &views, &t.admin, Some(body.clone())).await;
    assert_eq!(r.status(), 201);
    let meta = ok_json(r).await;
    assert_eq!((meta["isPermissionedView"].clone(), meta["view"]["datasetId"].clone()), (json!(true), json!(t.id)));
    let vpath = format!("/api/v1/ACME/datasets/{}", meta["datasetId"].as_str().unwrap());
    let (s, _, _) = orgvue_error(send(app, Method::POST, &views, &t.admin, Some(body)).await).await;
    assert_eq!(s, 409, "view names share the datasets' namespace");

    // A plain user reads the view, never the dataset behind it.
    let list = ok_json(send(app, Method::GET, "/api/v1/ACME/datasets", &t.reader, None).await).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        (list[0]["name"].clone(), list[0]["isPermissionedView"].clone()),
        (json!("Small salaries"), json!(true))
    );
    let seen = ok_json(send(app, Method::GET, &vpath, &t.reader, None).await).await;
    assert_eq!(seen["itemCount"], 1, "{seen}");
    let csv = send(app, Method::GET, &format!("{vpath}/export/csv?lineEndings=unix"), &t.reader, None).await;
    let csv = csv.text().await.unwrap();
    assert_eq!(csv, "id,salary\n1,50000\n");
    let r = send(app, Method::POST, &format!("{vpath}/export?exportFormat=csv"), &t.reader, None).await;
    let job = format!("/api/v1/ACME/jobs/{}", ok_json(r).await["jobId"].as_str().unwrap());
    let done = finished(app, &job, &t.reader).await;
    let link = done["_links"]["result"]["url"].as_str().unwrap_or_else(|| panic!("{done}"));
    let result = app.client.get(link).send().await.unwrap().text().await.unwrap();
    assert_eq!(result.replace("\r\n", "\n"), "id,salary\n1,50000\n", "an async export of the view");
    assert_eq!(send(app, Method::GET, path, &t.reader, None).await.status(), 404);
    let all = ok_json(send(app, Method::GET, &format!("{path}/items"), &t.admin, None).await).await;
    let big = all[1]["_id"].as_str().unwrap();
    assert_eq!(send(app, Method::GET, &format!("{vpath}/items/{big}"), &t.reader, None).await.status(), 404);

    // Read-only, for everyone, on every writing route.
    let one = json!([{"_action":"update","id":1,"salary":1}]);
    for token in [&t.reader, &t.admin] {
        let r = send(app, Method::PUT, &format!("{vpath}/items?autoId=true"), token, Some(one.clone())).await;
        assert_eq!(r.status(), 403);
    }
    let prop = json!({"key":"x","type":"text"});
    assert_eq!(send(app, Method::POST, &format!("{vpath}/properties"), &t.admin, Some(prop)).await.status(), 403);
    assert_eq!(
        send(app, Method::POST, &format!("{vpath}/views"), &t.admin, Some(json!({"name":"V2"}))).await.status(),
        403
    );
    let draft = json!({"name":"D","datasetId":meta["datasetId"]});
    assert_eq!(send(app, Method::POST, "/api/v1/ACME/drafts", &t.admin, Some(draft)).await.status(), 403);

    // It follows its dataset's data.
    let before = seen["cacheKey"].clone();
    let more = json!([{"_action":"create","id":3,"salary":10000}]);
    ok_json(import_as(&t, &t.admin, "", more).await).await;
    let seen = ok_json(send(app, Method::GET, &vpath, &t.reader, None).await).await;
    assert_eq!(seen["itemCount"], 2);
    assert_ne!(seen["cacheKey"], before);

    // A manager who may not read salary cannot show it through a view; its view is its own.
    let mine = json!({"name":"Mine","projection":["salary"]});
    let (s, _, b) = orgvue_error(send(app, Method::POST, &views, &t.manager, Some(mine)).await).await;
    assert_eq!((s, b["errors"][0]["path"].as_str()), (400, Some("projection[0]")), "{b}");
    let r = send(app, Method::POST, &views, &t.manager, Some(json!({"name":"Mine"}))).await;
    assert_eq!(r.status(), 201);
    assert_eq!(listed(app, &t.manager).await, ["Mine", "Salaries", "Small salaries"]);
    assert_eq!(listed(app, &t.reader).await, ["Small salaries"]);

    // The dataset goes after its views.
    let (s, _, b) = orgvue_error(send(app, Method::DELETE, path, &t.admin, None).await).await;
    assert_eq!(s, 409, "{b}");
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("permissioned view"), "{b}");
    assert_eq!(send(app, Method::DELETE, &vpath, &t.reader, None).await.status(), 403);
    assert_eq!(send(app, Method::DELETE, &vpath, &t.admin, None).await.status(), 204);
    let rest = ok_json(send(app, Method::GET, "/api/v1/ACME/datasets", &t.admin, None).await).await;
    let mine = rest.as_array().unwrap().iter().find(|d| d["name"] == "Mine").unwrap()["datasetId"].clone();
    let mine = format!("/api/v1/ACME/datasets/{}", mine.as_str().unwrap());
    assert_eq!(send(app, Method::DELETE, &mine, &t.manager, None).await.status(), 204);
    assert_eq!(send(app, Method::DELETE, path, &t.admin, None).await.status(), 204);
}
