//! Async exports and imports: tickets, presigned URLs, temporary files, locations and callbacks.

use crate::helpers::{orgvue_error, Receiver, TestApp};
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

async fn setup(app: &TestApp) -> (String, String) {
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let schema = json!({"name":"People","type":"PEOPLE","autoId":"id","labelId":"name","treeId":"id","treeParentId":"boss",
        "properties":[{"key":"id","type":"number","isRequired":true},{"key":"name","type":"text","isRequired":true},
        {"key":"boss","type":"number","isRequired":true},{"key":"grade","type":"number"}]});
    let meta: Value =
        send(app, Method::POST, "/api/v1/ACME/datasets", &token, Some(schema)).await.json().await.unwrap();
    let path = format!("/api/v1/ACME/datasets/{}", meta["datasetId"].as_str().unwrap());
    let actions = json!([{"_action":"create","id":1,"name":"Ana","grade":5},{"_action":"create","id":2,"name":"Bob","boss":1,"grade":3}]);
    assert_eq!(send(app, Method::PUT, &format!("{path}/items?autoId=true"), &token, Some(actions)).await.status(), 200);
    (token, path)
}

/// A presigned file to upload to (`files/generate`), of `target_type` without compression.
async fn new_file(app: &TestApp, token: &str, target_type: &str) -> Value {
    let body = json!({"targetType": target_type, "targetEncoding": "identity"});
    send(app, Method::POST, "/api/v1/ACME/files/generate", token, Some(body)).await.json().await.unwrap()
}

/// Start an async import (by autoId) of the uploaded file `f` into the dataset at `path`; returns the ticket.
async fn import_file(app: &TestApp, token: &str, path: &str, f: &Value) -> Value {
    let body = json!({"importLocation": {"method": "GET", "url": f["_links"]["get"]["url"]}});
    send(app, Method::PUT, &format!("{path}/items/import?autoId=true"), token, Some(body)).await.json().await.unwrap()
}

/// Poll a job until it is final; returns the ticket.
async fn finished(app: &TestApp, token: &str, job_id: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let t: Value =
            send(app, Method::GET, &format!("/api/v1/ACME/jobs/{job_id}"), token, None).await.json().await.unwrap();
        if t["jobStatus"] == "completed" || t["jobStatus"] == "failed" {
            return t;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "job never finished: {t}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn async_exports_end_with_a_presigned_result() {
    let app = TestApp::spawn().await;
    let (token, path) = setup(&app).await;
    let body = json!({"query":{"output":{"projection":{"name":1,"_depth":2,"grade":0},"projectionMode":"add"}}});
    let r =
        send(&app, Method::POST, &format!("{path}/export?exportFormat=csv&lineEndings=unix"), &token, Some(body)).await;
    assert_eq!(r.status(), 202);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["jobStatus"], "created");
    assert_eq!(t["_createdBy"], "admin@acme");
    let id = t["jobId"].as_str().unwrap().to_string();
    let done = finished(&app, &token, &id).await;
    assert_eq!(done["jobStatus"], "completed");
    let url = done["_links"]["result"]["url"].as_str().unwrap();
    assert_eq!(done["_links"]["result"]["contentType"], "text/csv; charset=UTF-8");
    // No credential needed; the numeric projection order puts listed keys first.
    let csv = app.client.get(url).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv, "name,_depth,id,boss\nAna,1,1,\nBob,2,2,1\n");
    let ticket: Value =
        app.client.get(done["_links"]["self"]["url"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(ticket["jobId"], id.as_str());
    // A tampered or re-purposed URL is refused.
    let tampered = format!("{}x", &url[..url.len() - 1]);
    let (s, c, _) = orgvue_error(app.client.get(&tampered).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (403, "40350"));
    let (s, c, _) = orgvue_error(app.client.delete(url).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (403, "40350"));
    // exportFormat is required; replace mode starts from nothing.
    let (s, c, b) = orgvue_error(send(&app, Method::POST, &format!("{path}/export"), &token, None).await).await;
    assert_eq!((s, c.as_str()), (400, "400701"));
    assert_eq!(b["errors"][0]["queryParameter"], "exportFormat");
    // A repeated single-valued parameter is refused like every other one, never read as its first value.
    let r = send(&app, Method::POST, &format!("{path}/export?exportFormat=csv&exportFormat=tsv"), &token, None).await;
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str(), b["errors"][0]["queryParameter"].as_str()), (400, "400701", Some("exportFormat")));
    // The body's shape is checked as the sync export checks it: an output that is not an object is refused.
    let body = json!({"query":{"output":"everything"}});
    let r = send(&app, Method::POST, &format!("{path}/export?exportFormat=csv"), &token, Some(body)).await;
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    assert_eq!(b["errors"][0]["path"], "query.output", "{b}");
    let body = json!({"query":{"output":{"projection":{"grade":1},"projectionMode":"replace"}}});
    let t: Value = send(&app, Method::POST, &format!("{path}/export?exportFormat=jsonRows"), &token, Some(body))
        .await
        .json()
        .await
        .unwrap();
    let done = finished(&app, &token, t["jobId"].as_str().unwrap()).await;
    let rows: Value =
        app.client.get(done["_links"]["result"]["url"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(rows["rows"], json!([[5], [3]]));
}

#[tokio::test]
async fn async_imports_read_uploaded_files() {
    let app = TestApp::spawn().await;
    let (token, path) = setup(&app).await;
    let (s, c, _) = orgvue_error(
        send(&app, Method::POST, "/api/v1/ACME/files/generate", &token, Some(json!({"targetType":"xml"}))).await,
    )
    .await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    let f: Value = new_file(&app, &token, "csv").await;
    let put = f["_links"]["put"]["url"].as_str().unwrap();
    let csv = "_action,id,name,boss,grade\ncreate,3,Cy,1,4\nupdate,2,Bobby,,\n";
    assert_eq!(app.client.put(put).body(csv).send().await.unwrap().status(), 200);
    let (s, c, _) = orgvue_error(app.client.put(put).body(csv).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (409, "409001"), "one upload per file");
    let get = f["_links"]["get"]["url"].as_str().unwrap();
    assert_eq!(app.client.get(get).send().await.unwrap().text().await.unwrap(), csv);
    let body = json!({"importLocation": {"method": "GET", "url": get}});
    let r = send(&app, Method::PUT, &format!("{path}/items/import?autoId=true"), &token, Some(body)).await;
    assert_eq!(r.status(), 202);
    let t: Value = r.json().await.unwrap();
    let done = finished(&app, &token, t["jobId"].as_str().unwrap()).await;
    assert_eq!(done["jobStatus"], "completed", "{done}");
    let results: Value =
        app.client.get(done["_links"]["result"]["url"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(results.as_array().unwrap().len(), 2);
    let items: Value = send(&app, Method::GET, &format!("{path}/items"), &token, None).await.json().await.unwrap();
    assert_eq!(items.as_array().unwrap().len(), 3);
    assert_eq!(items[1]["name"], "Bobby");
    // A failing file fails the job with its errors, and nothing changes.
    let f: Value = new_file(&app, &token, "json").await;
    app.client
        .put(f["_links"]["put"]["url"].as_str().unwrap())
        .body(r#"[{"_action":"create","id":1,"name":"Dup"}]"#)
        .send()
        .await
        .unwrap();
    let t = import_file(&app, &token, &path, &f).await;
    let done = finished(&app, &token, t["jobId"].as_str().unwrap()).await;
    assert_eq!(done["jobStatus"], "failed");
    assert_eq!(done["errorCount"], 1);
    assert_eq!(done["errors"][0]["reason"], "itemAlreadyExists");
    assert!(done["_links"].get("result").is_none());
    // importLocation is required.
    let (s, c, b) =
        orgvue_error(send(&app, Method::PUT, &format!("{path}/items/import"), &token, Some(json!({}))).await).await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    assert_eq!(b["errors"][0]["path"], "importLocation");
}

#[tokio::test]
async fn jobs_deliver_to_locations_and_call_back() {
    let app = TestApp::builder().outbound_http().spawn().await;
    let (token, path) = setup(&app).await;
    let sink = Receiver::start().await;
    let body = json!({"exportLocation": {"method": "PUT", "url": format!("{}/upload/people.json?sig=1", sink.url)},
        "callback": {"method": "GET", "urlTemplate": format!("{}/cb?status={{{{jobStatus}}}}&tenant={{{{tenantId}}}}&trace={{{{traceId}}}}", sink.url)}});
    let r = send(&app, Method::POST, &format!("{path}/export?exportFormat=jsonObjects"), &token, Some(body)).await;
    let t: Value = r.json().await.unwrap();
    let seen = sink.wait_for(2).await;
    assert_eq!(seen[0].0, "PUT");
    assert_eq!(seen[0].1, "/upload/people.json?sig=1");
    let delivered: Value = serde_json::from_slice(&seen[0].2).unwrap();
    assert_eq!(delivered[0]["name"], "Ana");
    assert_eq!(seen[1].0, "GET");
    assert!(seen[1].1.starts_with("/cb?status=completed&tenant=ACME&trace=Root%3D1-"), "{}", seen[1].1);
    let done = finished(&app, &token, t["jobId"].as_str().unwrap()).await;
    assert!(done["_links"].get("result").is_none(), "the result went to the client's location");
    // Plain http locations are refused unless the server allows them.
    let strict = TestApp::spawn().await;
    let (token2, path2) = setup(&strict).await;
    let body = json!({"callback": {"method": "GET", "urlTemplate": "http://127.0.0.1:9/cb"}});
    let (s, c, b) = orgvue_error(
        send(&strict, Method::POST, &format!("{path2}/export?exportFormat=csv"), &token2, Some(body)).await,
    )
    .await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    assert_eq!(b["errors"][0]["path"], "callback.urlTemplate");
}

#[tokio::test]
async fn jobs_are_seen_by_their_creator_and_administrators_only() {
    let app = TestApp::spawn().await;
    let (token, path) = setup(&app).await;
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let reader = app.user(&org, "reader", Role::User).await;
    let t_reader = app.token(&reader, NewToken::default()).await;
    let t: Value =
        send(&app, Method::POST, &format!("{path}/export?exportFormat=csv"), &token, None).await.json().await.unwrap();
    let id = t["jobId"].as_str().unwrap();
    let (s, c, _) =
        orgvue_error(send(&app, Method::GET, &format!("/api/v1/ACME/jobs/{id}"), &t_reader, None).await).await;
    assert_eq!((s, c.as_str()), (404, "404003"));
    let mine: Value = send(&app, Method::POST, &format!("{path}/export?exportFormat=csv"), &t_reader, None)
        .await
        .json()
        .await
        .unwrap();
    let r = send(&app, Method::GET, &format!("/api/v1/ACME/jobs/{}", mine["jobId"].as_str().unwrap()), &t_reader, None)
        .await;
    assert_eq!(r.status(), 200);
    let (s, c, _) =
        orgvue_error(send(&app, Method::PUT, &format!("{path}/items/import"), &t_reader, Some(json!({}))).await).await;
    assert_eq!((s, c.as_str()), (403, "40332"));
}

#[tokio::test]
async fn an_import_job_taken_again_after_its_commit_applies_nothing_twice() {
    let app = TestApp::spawn().await;
    let (_token, path) = setup(&app).await;
    let ds_id = orgd_core::ids::DatasetId::parse(path.rsplit('/').next().unwrap()).unwrap();
    let ds = app.store.get_dataset(&ds_id).await.unwrap().unwrap();
    let job_id = orgd_core::ids::JobId::generate();
    let job = orgd_core::data::jobs::Job {
        id: job_id.clone(),
        org_id: ds.org_id.clone(),
        dataset_id: ds.id.clone(),
        kind: orgd_core::data::jobs::JobKind::Import,
        status: orgd_core::data::jobs::JobStatus::Running,
        created_by: "admin".into(),
        created_by_psk: 1,
        trace_id: "t".into(),
        request: json!({}),
        result_type: None,
        result_kept: true,
        errors: None,
        error_count: 0,
        created_at: 0,
        modified_at: 0,
        finished_at: None,
    };
    app.store.insert_job(&job).await.unwrap();
    let opts = orgd_core::data::ops::import_options(&ds, &[("autoId".into(), "true".into())]).unwrap();
    let import = |n| {
        let (ds, opts, job_id) = (ds.clone(), opts.clone(), job_id.clone());
        let store = app.store.clone();
        async move {
            let actions = vec![json!({"_action":"create","id":7,"name":"Gil","boss":1})];
            let mut source = orgd_core::data::source::InMemory::new(actions);
            let run =
                orgd_core::data::import::Run { now_ms: n, cache_key: "k".into(), results: true, job: Some(&job_id) };
            orgd_core::data::import::run(store.as_ref(), &ds, &mut source, &opts, run, &mut |_| {}).await
        }
    };
    let first = import(1_000).await.unwrap();
    assert!(!first.kept);
    let kept = app.store.chunks(&orgd_core::data::jobs::ChunkOwner::Job(job_id.to_string()), 0, 10).await.unwrap();
    let results: Value = serde_json::from_slice(&kept.into_iter().flat_map(|(_, c)| c).collect::<Vec<u8>>()).unwrap();
    assert_eq!(results[0]["_status"], "success", "the results are kept with the changes: {results}");
    let again = import(2_000).await.unwrap();
    assert!(again.kept, "the second attempt finds the kept outcome and applies nothing");
    assert_eq!(app.store.get_dataset(&ds_id).await.unwrap().unwrap().item_count, 3, "Gil is there once");
}

/// An import job's results that fill many chunks come back whole and in order: the chunks are stored while
/// the import goes on (beside its transaction on PostgreSQL) and kept with its commit.
#[tokio::test]
async fn an_async_import_keeps_results_of_many_chunks_in_order() {
    let app = TestApp::spawn().await;
    let (token, path) = setup(&app).await;
    let f: Value = new_file(&app, &token, "csv").await;
    let mut csv = String::from("_action,id,name,boss\n");
    for i in 10..5010 {
        csv.push_str(&format!("create,{i},Person {i},1\n"));
    }
    assert_eq!(
        app.client.put(f["_links"]["put"]["url"].as_str().unwrap()).body(csv).send().await.unwrap().status(),
        200
    );
    let t = import_file(&app, &token, &path, &f).await;
    let job_id = t["jobId"].as_str().unwrap();
    let done = finished(&app, &token, job_id).await;
    assert_eq!(done["jobStatus"], "completed", "{done}");
    let owner = orgd_core::data::jobs::ChunkOwner::Job(job_id.to_string());
    assert!(app.store.chunks(&owner, 0, 100).await.unwrap().len() > 3, "the results span several chunks");
    let results: Value =
        app.client.get(done["_links"]["result"]["url"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 5000);
    assert!(results.iter().all(|r| r["_status"] == "success" && r["_action"] == "create"));
    let items: Value = send(&app, Method::GET, &format!("{path}/items"), &token, None).await.json().await.unwrap();
    let ids: Vec<&str> = items.as_array().unwrap()[2..].iter().map(|i| i["_id"].as_str().unwrap()).collect();
    let answered: Vec<&str> = results.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    assert_eq!(answered, ids, "one result per action, in the order of the file");
}
