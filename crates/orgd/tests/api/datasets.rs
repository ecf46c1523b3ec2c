//! Datasets: create, describe, import with every action, raw items, and the five export formats.

use crate::helpers::{orgvue_error, TestApp};
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::Role;
use reqwest::Method;
use serde_json::{json, Value};

fn people_schema() -> Value {
    json!({"name":"People","type":"PEOPLE","autoId":"Employee ID","labelId":"Full Name","treeId":"Employee ID",
     "treeParentId":"Manager ID","tags":["hris"],"properties":[{"key":"Employee ID","type":"number","isRequired":true},
     {"key":"Manager ID","type":"number","isRequired":true},{"key":"Full Name","type":"text","isRequired":true},
     {"key":"Start Date","name":"Start Date","type":"date"},{"key":"Active","type":"boolean"}]})
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = app.request(method, path).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// A tenant with a PEOPLE dataset holding a small tree; returns (app, token, dataset path).
async fn people_app() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let r = send(&app, Method::POST, "/api/v1/ACME/datasets", &token, Some(people_schema())).await;
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let meta: Value = r.json().await.unwrap();
    let path = format!("/api/v1/ACME/datasets/{}", meta["datasetId"].as_str().unwrap());
    assert_eq!(loc, format!("{}{path}", app.url));
    let actions = json!([
        {"_action":"create","Employee ID":1000,"Full Name":"Boss","Start Date":"2010-01-01","Active":true},
        {"_action":"create","Employee ID":1001,"Full Name":"Ana Lima","Manager ID":1000,"Start Date":"2020-03-01"},
        {"_action":"create","Employee ID":1002,"Full Name":"Bob, \"B\"","Manager ID":1000,"Active":"false"},
        {"_action":"create","Employee ID":1003,"Full Name":"Cy","Manager ID":1001}
    ]);
    let r = send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(actions)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    (app, token, path)
}

#[tokio::test]
async fn datasets_are_created_listed_and_described() {
    let (app, token, path) = people_app().await;
    let meta: Value = send(&app, Method::GET, &path, &token, None).await.json().await.unwrap();
    assert_eq!(meta["itemCount"], 4);
    assert_eq!(
        meta["properties"][0],
        json!({"key":"Employee ID","type":"number","name":"Employee ID","isRequired":true,"isAutoId":true,"isTreeId":true,"isCore":true})
    );
    assert_eq!(meta["properties"][3], json!({"key":"Start Date","type":"date","name":"Start Date","isRequired":false}));
    assert_eq!(meta["cacheKey"].as_str().unwrap().len(), 32);
    let again: Value = send(&app, Method::GET, &path, &token, None).await.json().await.unwrap();
    assert_eq!(again["cacheKey"], meta["cacheKey"], "stable without changes");
    let list: Value = send(&app, Method::GET, "/api/v1/ACME/datasets", &token, None).await.json().await.unwrap();
    assert_eq!(list[0]["name"], "People");
    assert_eq!(list[0]["isPermissionedView"], false);
    assert_eq!(list[0]["_links"]["dataset:retrieve"]["url"], format!("{}{path}", app.url));
    assert_eq!(list[0]["_links"]["dataset:export"]["method"], "POST");
    // An update changes the cache key; a no-op import does not.
    let r = send(
        &app,
        Method::PUT,
        &format!("{path}/items?autoId=true"),
        &token,
        Some(json!([{"_action":"noop","Employee ID":1000}])),
    )
    .await;
    assert_eq!(r.status(), 200);
    let same: Value = send(&app, Method::GET, &path, &token, None).await.json().await.unwrap();
    assert_eq!(same["cacheKey"], meta["cacheKey"]);
    send(
        &app,
        Method::PUT,
        &format!("{path}/items?autoId=true"),
        &token,
        Some(json!([{"_action":"update","Employee ID":1000,"Active":false}])),
    )
    .await;
    let changed: Value = send(&app, Method::GET, &path, &token, None).await.json().await.unwrap();
    assert_ne!(changed["cacheKey"], meta["cacheKey"]);
    // Names are unique in a tenant.
    let (s, c, _) =
        orgvue_error(send(&app, Method::POST, "/api/v1/ACME/datasets", &token, Some(people_schema())).await).await;
    assert_eq!((s, c.as_str()), (409, "409001"));
    let r = send(&app, Method::DELETE, &path, &token, None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(orgvue_error(send(&app, Method::GET, &path, &token, None).await).await.1, "404001");
}

#[tokio::test]
async fn the_contract_import_example_and_raw_items() {
    let (app, token, path) = people_app().await;
    let body = json!([
        {"_action":"createOrUpdate","Employee ID":"1001","Full Name":"Ana Lima","Manager ID":1000,"Start Date":"01/03/2021"},
        {"_action":"delete","Employee ID":1009}
    ]);
    let q = "?autoId=true&dateFormat=DD/MM/YYYY&implicitDelete=true&onActionValidationFailure=skip";
    let results: Value =
        send(&app, Method::PUT, &format!("{path}/items{q}"), &token, Some(body)).await.json().await.unwrap();
    assert_eq!(results[0]["_action"], "createOrUpdate");
    assert_eq!(results[0]["_status"], "success");
    assert_eq!(results[1]["_status"], "failed");
    assert_eq!(
        results[1]["errors"][0],
        json!({"name":"RequestBodyInvalid","code":"400802","message":"No item matches this identifier.","path":"[1]","actionIndex":1,"reason":"itemNotFound"})
    );
    let implicit: Vec<&Value> = results.as_array().unwrap().iter().filter(|r| r["_implicit"] == true).collect();
    assert_eq!(implicit.len(), 3);
    let items: Value = send(&app, Method::GET, &format!("{path}/items"), &token, None).await.json().await.unwrap();
    assert_eq!(items.as_array().unwrap().len(), 1);
    let ana = &items[0];
    assert_eq!(ana["Start Date"], "2021-03-01T00:00:00.000Z");
    assert_eq!(ana["_id"], results[0]["_id"]);
    assert!(ana.get("Active").is_none(), "only keys that hold a value");
    let one: Value =
        send(&app, Method::GET, &format!("{path}/items/{}", ana["_id"].as_str().unwrap().to_lowercase()), &token, None)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(one, *ana);
    let missing = format!("{path}/items/00000000-0000-0000-0000-000000000000");
    assert_eq!(orgvue_error(send(&app, Method::GET, &missing, &token, None).await).await.1, "404002");
    // Raw items can be filtered by raw properties and _id.
    let r: Value = send(
        &app,
        Method::POST,
        &format!("{path}/items"),
        &token,
        Some(json!({"filter": {"Full Name": {"$ne": "Ana Lima"}}})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r, json!([]));
    let (s, c, _) = orgvue_error(
        send(&app, Method::POST, &format!("{path}/items"), &token, Some(json!({"filter": {"_depth": 1}}))).await,
    )
    .await;
    assert_eq!((s, c.as_str()), (400, "400802"), "no generated keys on raw items");
}

#[tokio::test]
async fn exports_in_every_format_with_filters_projections_and_hierarchy() {
    let (app, token, path) = people_app().await;
    let r = send(&app, Method::GET, &format!("{path}/export/jsonRows"), &token, None).await;
    assert_eq!(r.headers()["content-type"], "application/json; charset=UTF-8");
    let rows: Value = r.json().await.unwrap();
    assert_eq!(rows["headers"].as_array().unwrap().len(), 5);
    assert_eq!(rows["rows"][0], json!([1000, null, "Boss", "2010-01-01T00:00:00.000Z", true]));
    assert_eq!(rows["rows"].as_array().unwrap().len(), 4);
    let cols: Value =
        send(&app, Method::GET, &format!("{path}/export/jsonColumns"), &token, None).await.json().await.unwrap();
    assert_eq!(cols["columns"][0], json!([1000, 1001, 1002, 1003]));
    let objs: Value =
        send(&app, Method::GET, &format!("{path}/export/jsonObjects"), &token, None).await.json().await.unwrap();
    assert_eq!(objs[2]["Full Name"], "Bob, \"B\"");
    assert_eq!(objs[2]["Active"], false);
    let r = send(&app, Method::GET, &format!("{path}/export/csv"), &token, None).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=UTF-8");
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with(
            "Employee ID,Manager ID,Full Name,Start Date,Active\r\n1000,,Boss,2010-01-01T00:00:00.000Z,true\r\n"
        ),
        "{csv}"
    );
    assert!(csv.contains("1002,1000,\"Bob, \"\"B\"\"\",,false\r\n"));
    let tsv = send(&app, Method::GET, &format!("{path}/export/tsv?lineEndings=unix"), &token, None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(tsv.lines().count(), 5);
    assert!(!tsv.contains('\r'));
    // Filter and projection (sync: values 1, listed order).
    let body = json!({"query":{"output":{"filter":{"Manager ID":1000,"Start Date":{"$gte":"2015-01-01"}},
        "projection":{"Full Name":1,"_id":1,"_depth":1}}}});
    let r: Value =
        send(&app, Method::POST, &format!("{path}/export/jsonRows"), &token, Some(body)).await.json().await.unwrap();
    let keys: Vec<&str> = r["headers"].as_array().unwrap().iter().map(|h| h["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["Full Name", "_id", "_depth"]);
    assert_eq!(r["rows"].as_array().unwrap().len(), 1);
    assert_eq!(r["rows"][0][0], "Ana Lima");
    assert_eq!(r["rows"][0][2], 2);
    // Generated hierarchy properties.
    let g: Value = send(&app, Method::GET, &format!("{path}/export/jsonObjects?generated=true"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(g[0]["_depth"], 1);
    assert_eq!(g[0]["_children"], 2);
    assert_eq!(g[0]["_descendants"], 3);
    assert_eq!(g[3]["_depth"], 3);
    assert_eq!(g[3]["_is_leaf"], true);
    assert_eq!(g[3]["_is_orphan"], false);
    assert_eq!(g[3]["_change"], "none");
    let f = json!({"query":{"output":{"filter":{"_is_leaf":true}}}});
    let leaves: Value =
        send(&app, Method::POST, &format!("{path}/export/jsonObjects"), &token, Some(f)).await.json().await.unwrap();
    assert_eq!(leaves.as_array().unwrap().len(), 2);
    // gzip on request: the whole body arrives and unpacks to the plain export.
    let plain = send(&app, Method::GET, &format!("{path}/export/csv"), &token, None).await.bytes().await.unwrap();
    let r = app
        .request(Method::GET, &format!("{path}/export/csv"))
        .bearer_auth(&token)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let packed = r.bytes().await.expect("the gzipped export arrives whole");
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, plain.to_vec());
    // safeCsv=true neutralises what a spreadsheet would run as a formula; by default the data is as stored.
    let formula = json!([{"_action": "update", "Employee ID": 1001, "Full Name": "=HYPERLINK(\"x\")"}]);
    assert_eq!(
        send(&app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(formula)).await.status(),
        200
    );
    for (query, cell) in [("?safeCsv=true", "\"'=HYPERLINK(\"\"x\"\")\""), ("", "\"=HYPERLINK(\"\"x\"\")\"")] {
        let csv =
            send(&app, Method::GET, &format!("{path}/export/csv{query}"), &token, None).await.text().await.unwrap();
        assert!(csv.contains(&format!("1001,1000,{cell},")), "{query}: {csv}");
    }
    let r = send(&app, Method::GET, &format!("{path}/export/csv?safeCsv=yes"), &token, None).await;
    assert_eq!(orgvue_error(r).await.1, "400701");
}

#[tokio::test]
async fn links_datasets_join_two_datasets() {
    let (app, token, people) = people_app().await;
    let positions = json!({"name":"Positions","type":"POSITIONS","autoId":"Position ID","labelId":"Title",
        "properties":[{"key":"Position ID","type":"text","isRequired":true},{"key":"Title","type":"text","isRequired":true}]});
    let pos: Value =
        send(&app, Method::POST, "/api/v1/ACME/datasets", &token, Some(positions)).await.json().await.unwrap();
    let pos_path = format!("/api/v1/ACME/datasets/{}", pos["datasetId"].as_str().unwrap());
    send(
        &app,
        Method::PUT,
        &format!("{pos_path}/items?autoId=true"),
        &token,
        Some(json!([{"_action":"create","Position ID":"P1","Title":"CEO"}])),
    )
    .await;
    let people_id = people.rsplit('/').next().unwrap();
    let links = json!({"name":"Assignments","type":"LINKS","fromDatasetId":people_id,"toDatasetId":pos["datasetId"],
        "properties":[{"key":"Since","type":"date"}]});
    let r = send(&app, Method::POST, "/api/v1/ACME/datasets", &token, Some(links)).await;
    assert_eq!(r.status(), 201);
    let meta: Value = r.json().await.unwrap();
    let keys: Vec<&str> = meta["properties"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["from_id", "to_id", "link_id", "Since"]);
    assert_eq!(meta["properties"][0]["type"], "number", "typed like the from dataset's autoId");
    let lpath = format!("/api/v1/ACME/datasets/{}", meta["datasetId"].as_str().unwrap());
    let r: Value = send(
        &app,
        Method::PUT,
        &format!("{lpath}/items"),
        &token,
        Some(json!([
        {"_action":"create","from_id":1000,"to_id":"P1","Since":"2020-01-01"},
        {"_action":"create","from_id":4242,"to_id":"P1"}])),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["errors"][0]["reason"], "linkEndNotFound");
    assert_eq!(r["errors"][0]["actionIndex"], 1);
    send(
        &app,
        Method::PUT,
        &format!("{lpath}/items"),
        &token,
        Some(json!([{"_action":"create","from_id":1000,"to_id":"P1"}])),
    )
    .await;
    let items: Value = send(&app, Method::GET, &format!("{lpath}/items"), &token, None).await.json().await.unwrap();
    assert_eq!(items[0]["link_id"], "[1000,\"P1\"]");
    let (s, c, _) =
        orgvue_error(send(&app, Method::PUT, &format!("{lpath}/items?autoId=true"), &token, Some(json!([]))).await)
            .await;
    assert_eq!((s, c.as_str()), (400, "400701"));
    let (s, c, _) = orgvue_error(send(&app, Method::DELETE, &people, &token, None).await).await;
    assert_eq!((s, c.as_str()), (409, "409001"), "still linked");
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let (app, token, path) = people_app().await;
    let before: Value = send(&app, Method::GET, &path, &token, None).await.json().await.unwrap();
    let import = |q: &'static str, body: Value| {
        let p = format!("{path}/items{q}");
        let app = &app;
        let token = token.clone();
        async move { send(app, Method::PUT, &p, &token, Some(body)).await }
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("?autoId=true", json!([{"_action":"update","Employee ID":1000,"Nickname":"B"}]), "unknownProperty"),
        ("?autoId=true", json!([{"_action":"update","Full Name":"B"}]), "missingIdentifier"),
        ("?autoId=true", json!([{"_action":"upsert","Employee ID":1000}]), "invalidAction"),
        ("?autoId=true", json!([{"_action":"create","Employee ID":1000,"Full Name":"Again"}]), "itemAlreadyExists"),
        ("?autoId=true", json!([{"_action":"update","Employee ID":1000,"Active":"maybe"}]), "invalidValue"),
        (
            "?autoId=true&dateFormat=DD/MM/YYYY",
            json!([{"_action":"update","Employee ID":1000,"Start Date":"2020-03-01"}]),
            "invalidValue",
        ),
    ];
    for (q, body, reason) in cases {
        let r = import(q, body).await;
        let status = r.status().as_u16();
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["errors"][0]["reason"], reason, "{b}");
        let want = if reason == "itemAlreadyExists" { 409 } else { 400 };
        assert_eq!(status, want, "{reason}");
    }
    // A batch with one bad action applies none of it.
    let r = import(
        "?autoId=true",
        json!([{"_action":"update","Employee ID":1000,"Full Name":"Changed"},{"_action":"delete","Employee ID":77}]),
    )
    .await;
    assert_eq!(r.status(), 400);
    let (s, c, b) = orgvue_error(import("?idKey=Full Name,Employee ID", json!([])).await).await;
    assert_eq!((s, c.as_str()), (400, "400701"));
    assert_eq!(b["errors"][0]["queryParameter"], "idKey");
    let (s, c, _) = orgvue_error(import("", json!({"not": "an array"})).await).await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    let r = app
        .request(Method::PUT, &format!("{path}/items"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("[\n{")
        .send()
        .await
        .unwrap();
    let (_, c, b) = orgvue_error(r).await;
    assert_eq!(c, "400801");
    let message = b["errors"][0]["message"].as_str().unwrap();
    assert_eq!(message, "The request body is not valid JSON: EOF while parsing an object at line 2 column 1.");
    let big = format!("[{}]", vec![r#"{"_action":"noop","Employee ID":1000}"#; 200_000].join(","));
    let r = app
        .request(Method::PUT, &format!("{path}/items?autoId=true"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let (s, c, _) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (413, "413001"));
    // Export faults.
    let bad_filter = json!({"query":{"output":{"filter":{"Employee ID":{"$exists":true}}}}});
    let (s, c, b) =
        orgvue_error(send(&app, Method::POST, &format!("{path}/export/jsonRows"), &token, Some(bad_filter)).await)
            .await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    assert_eq!(b["errors"][0]["path"], "query.output.filter.Employee ID.$exists");
    let bad_proj = json!({"query":{"output":{"projection":{"Full Name":2}}}});
    let (s, c, _) =
        orgvue_error(send(&app, Method::POST, &format!("{path}/export/jsonRows"), &token, Some(bad_proj)).await).await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    let (s, c, b) = orgvue_error(send(&app, Method::GET, &format!("{path}/export/xml"), &token, None).await).await;
    assert_eq!((s, c.as_str()), (400, "400604"));
    assert_eq!(b["errors"][0]["pathParameter"], "{format}");
    let (s, c, b) = orgvue_error(send(&app, Method::GET, "/api/v1/ACME/datasets/not-a-uuid", &token, None).await).await;
    assert_eq!((s, c.as_str()), (400, "400603"));
    assert_eq!(b["errors"][0]["message"], "Path parameter {datasetId} must be a UUID string.");
    assert_eq!(b["errors"][0]["pathParameter"], "{datasetId}");
    // Another tenant's dataset is not found, and not told apart from a missing one.
    let (_o, _a, other) = app.tenant_with_admin("OTHER").await;
    let theirs = path.replace("/ACME/", "/OTHER/");
    assert_eq!(orgvue_error(send(&app, Method::GET, &theirs, &other, None).await).await.1, "404001");
    assert_eq!(
        orgvue_error(send(&app, Method::PUT, &format!("{theirs}/items"), &other, Some(json!([]))).await).await.1,
        "404001"
    );
    let after: Value = send(&app, Method::GET, &path, &token, None).await.json().await.unwrap();
    assert_eq!(before["cacheKey"], after["cacheKey"], "nothing changed");
    assert_eq!(before["itemCount"], after["itemCount"]);
}

#[tokio::test]
async fn readers_read_and_by_default_only_administrators_write() {
    let (app, _token, path) = people_app().await;
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let reader = app.user(&org, "reader", Role::User).await;
    let t = app.token(&reader, NewToken::default()).await;
    assert_eq!(send(&app, Method::GET, &format!("{path}/export/csv"), &t, None).await.status(), 200);
    assert_eq!(send(&app, Method::GET, &format!("{path}/items"), &t, None).await.status(), 200);
    let (s, c, _) = orgvue_error(send(&app, Method::PUT, &format!("{path}/items"), &t, Some(json!([]))).await).await;
    assert_eq!((s, c.as_str()), (403, "40332"), "a dataset's own permission refuses");
    let (s, c, _) =
        orgvue_error(send(&app, Method::POST, "/api/v1/ACME/datasets", &t, Some(people_schema())).await).await;
    assert_eq!((s, c.as_str()), (403, "40331"), "creating datasets is the administrator role's");
    assert_eq!(orgvue_error(send(&app, Method::DELETE, &path, &t, None).await).await.1, "40332");
}

#[tokio::test]
async fn dataset_lists_show_changes_here_at_once_and_from_elsewhere_within_a_second() {
    let app = TestApp::spawn().await;
    let (org, _, token) = app.tenant_with_admin("LISTS").await;
    async fn names(app: &TestApp, token: String) -> Vec<String> {
        let list: Vec<Value> = app.get_bearer("/api/v1/LISTS/datasets", &token).await.json().await.unwrap();
        list.iter().map(|d| d["name"].as_str().unwrap().to_string()).collect()
    }
    assert!(names(&app, token.clone()).await.is_empty());
    let def = |name: &str| {
        json!({"name": name, "type": "POSITIONS", "autoId": "k", "labelId": "k",
            "properties": [{"key": "k", "type": "text", "isRequired": true}]})
    };
    let r = app
        .request(Method::POST, "/api/v1/LISTS/datasets")
        .bearer_auth(&token)
        .json(&def("Here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let here: Value = r.json().await.unwrap();
    assert_eq!(names(&app, token.clone()).await, ["Here"], "a creation on this node shows at once");
    orgd_core::data::ops::create(app.store.as_ref(), &org.org_id, &def("Elsewhere"), 0).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while names(&app, token.clone()).await.len() < 2 {
        assert!(std::time::Instant::now() < deadline, "another writer's dataset did not show within a second");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let id = here["datasetId"].as_str().unwrap();
    let r =
        app.request(Method::DELETE, &format!("/api/v1/LISTS/datasets/{id}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(names(&app, token).await, ["Elsewhere"], "a deletion on this node shows at once");
}
