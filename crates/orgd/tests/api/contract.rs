//! The OpenAPI document against the server that serves it: a tour calls every operation of the route
//! table (and the system endpoints) through its success path, plus error paths of both dialects, and
//! checks each answer's status and body against what `/openapi.json` says that operation answers. An
//! operation the tour does not reach fails the test, so a new route needs its contract and a call here.

use crate::helpers::TestApp;
use orgd_core::cases::tokens::NewToken;
use orgd_core::events::EventQuery;
use orgd_core::model::Role;
use orgd_core::store::Store;
use orgd_server::routes;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What a call sends.
enum Send {
    Nothing,
    Json(Value),
    Form(reqwest::multipart::Form),
}

/// A status and the body, parsed when JSON.
struct Answer {
    status: u16,
    body: Value,
}

struct Tour<'a> {
    app: &'a TestApp,
    doc: Value,
    /// (method, path template) answered with a documented success.
    reached: BTreeSet<(String, String)>,
    checked: usize,
    /// Each call that could change something: method, path template, status, and the kinds of the events
    /// its request wrote (found by its trace id).
    changes: Vec<(String, String, u16, Vec<String>)>,
}

impl<'a> Tour<'a> {
    async fn new(app: &'a TestApp) -> Tour<'a> {
        let doc: Value = app.get("/openapi.json").send().await.unwrap().json().await.unwrap();
        Tour { app, doc, reached: BTreeSet::new(), checked: 0, changes: Vec::new() }
    }

    /// Call `template` (a documented path, perhaps with a query string) filled with `values`, presenting `token` in both dialects' headers, and check
    /// the answer against the document.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        values: &[(&str, &str)],
        token: &str,
        send: Send,
    ) -> Answer {
        let mut path = template.to_string();
        for (name, v) in values {
            path = path.replace(&format!("{{{name}}}"), v);
        }
        assert!(!path.contains('{'), "no value for a parameter of {template}");
        let mut req = self.app.request(method.clone(), &path);
        if !token.is_empty() {
            req = req.bearer_auth(token).header("X-TOKEN", token);
        }
        req = match send {
            Send::Nothing => req,
            Send::Json(v) => req.json(&v),
            Send::Form(f) => req.multipart(f),
        };
        let operation = template.split('?').next().unwrap_or(template);
        let answer = self.check(method, operation, req.send().await.unwrap()).await;
        if let Some(last) = self.changes.last_mut().filter(|c| c.1 == operation) {
            last.1 = template.to_string();
        }
        answer
    }

    /// Call an absolute URL (a presigned link) without a credential.
    async fn call_url(&mut self, method: Method, template: &str, url: &str, body: Option<Vec<u8>>) -> Answer {
        let mut req = self.app.client.request(method.clone(), url);
        if let Some(b) = body {
            req = req.body(b);
        }
        self.check(method, template, req.send().await.unwrap()).await
    }

    async fn check(&mut self, method: Method, template: &str, r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let trace = r.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let media = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
        let text = r.text().await.unwrap();
        let what = format!("{method} {template} → {status}");
        let op = &self.doc["paths"][template][method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        let responses = &op["responses"];
        let range = format!("{}XX", status / 100);
        let documented = [status.to_string(), range].into_iter().find(|k| responses.get(k).is_some());
        let Some(key) = documented else { panic!("{what} is not a documented status: {text}") };
        let response = &responses[&key];
        match response.get("content").and_then(Value::as_object) {
            None => assert!(text.is_empty(), "{what} documents no body but has one: {text}"),
            Some(content) => {
                let media = media.unwrap_or_else(|| panic!("{what} has no content type"));
                let entry = content.get(&media).or_else(|| content.get("*/*"));
                let Some(entry) = entry else { panic!("{what} answers {media}, documented {:?}", content.keys()) };
                if media == "application/json" {
                    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
                    let schema = orgd_server::openapi::standalone(&self.doc, &entry["schema"]);
                    let validator = jsonschema::draft202012::new(&schema).unwrap();
                    let faults: Vec<String> =
                        validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
                    assert!(faults.is_empty(), "{what} breaks its documented schema:\n{}\n{body:#}", faults.join("\n"));
                }
            }
        }
        self.checked += 1;
        if let (Some(trace), false) = (trace, method == Method::GET) {
            // The events the request itself wrote (a job's later ones carry its trace id but no address).
            let q = EventQuery { trace_id: Some(trace), limit: 100, ..Default::default() };
            let events = self.app.store.list_events(&q).await.unwrap();
            let kinds = events.into_iter().filter(|(_, e)| e.ip.is_some()).map(|(_, e)| e.kind).collect();
            self.changes.push((method.to_string(), template.to_string(), status, kinds));
        }
        if (200..300).contains(&status) {
            self.reached.insert((method.to_string(), template.to_string()));
        }
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body }
    }

    /// Poll a job ticket until it is final.
    async fn finished(&mut self, tenant: &str, job: &str, token: &str) -> Value {
        let started = Instant::now();
        loop {
            let a = self
                .call(
                    Method::GET,
                    "/api/v1/{tenantId}/jobs/{jobId}",
                    &[("tenantId", tenant), ("jobId", job)],
                    token,
                    Send::Nothing,
                )
                .await;
            assert_eq!(a.status, 200);
            if a.body["jobStatus"] == "completed" || a.body["jobStatus"] == "failed" {
                return a.body;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the job never finished: {}", a.body);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_operation_answers_what_the_openapi_document_says() {
    let app = TestApp::builder().outbound_http().spawn().await;
    let (org, admin, token) = app.tenant_with_admin("ACME").await;
    let member = app.user(&org, "member@acme", Role::User).await;
    let member_token = app.token(&member, NewToken::default()).await;
    let mut t = Tour::new(&app).await;
    let acme = [("tenantId", "ACME")];

    // System endpoints.
    for path in ["/healthz", "/readyz", "/metrics", "/info", "/openapi.json"] {
        assert_eq!(t.call(Method::GET, path, &[], "", Send::Nothing).await.status, 200, "{path}");
    }

    // Orgvue: datasets (hierarchical people, a lookup, links between them, one to delete).
    assert_eq!(t.call(Method::GET, "/api/v1/tenants", &[], &token, Send::Nothing).await.status, 200);
    let people = json!({"name": "People", "type": "PEOPLE", "autoId": "Employee ID", "labelId": "Full Name",
        "treeId": "Employee ID", "treeParentId": "Manager ID", "tags": ["hris"],
        "properties": [{"key": "Employee ID", "type": "number", "isRequired": true},
            {"key": "Manager ID", "type": "number", "isRequired": true},
            {"key": "Full Name", "type": "text", "isRequired": true},
            {"key": "Start Date", "type": "date"}, {"key": "Active", "type": "boolean"}]});
    let a = t.call(Method::POST, "/api/v1/{tenantId}/datasets", &acme, &token, Send::Json(people)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let people_id = s(&a.body["datasetId"]);
    let teams = json!({"name": "Teams", "type": "LOOKUP", "autoId": "Team", "labelId": "Team",
        "properties": [{"key": "Team", "type": "text", "isRequired": true}]});
    let a = t.call(Method::POST, "/api/v1/{tenantId}/datasets", &acme, &token, Send::Json(teams)).await;
    let teams_id = s(&a.body["datasetId"]);
    let links = json!({"name": "Memberships", "type": "LINKS", "fromDatasetId": people_id, "toDatasetId": teams_id,
        "properties": [{"key": "Since", "type": "date"}]});
    let a = t.call(Method::POST, "/api/v1/{tenantId}/datasets", &acme, &token, Send::Json(links)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let links_id = s(&a.body["datasetId"]);
    let a = t
        .call(
            Method::GET,
            "/api/v1/{tenantId}/datasets/{datasetId}",
            &[("tenantId", "ACME"), ("datasetId", &links_id)],
            &token,
            Send::Nothing,
        )
        .await;
    assert_eq!(a.body["fromDatasetId"], json!(people_id), "a LINKS dataset's metadata");
    assert_eq!(t.call(Method::GET, "/api/v1/{tenantId}/datasets", &acme, &token, Send::Nothing).await.status, 200);
    let ds = [("tenantId", "ACME"), ("datasetId", people_id.as_str())];
    let a = t.call(Method::GET, "/api/v1/{tenantId}/datasets/{datasetId}", &ds, &member_token, Send::Nothing).await;
    assert_eq!(a.status, 200);

    // Schema changes: a property added, renamed, removed.
    let props = "/api/v1/{tenantId}/datasets/{datasetId}/properties";
    let a = t.call(Method::POST, props, &ds, &token, Send::Json(json!({"key": "Nickname", "type": "text"}))).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let prop = [("tenantId", "ACME"), ("datasetId", people_id.as_str()), ("key", "Nickname")];
    let a =
        t.call(Method::PATCH, &format!("{props}/{{key}}"), &prop, &token, Send::Json(json!({"name": "Nick"}))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let dry = format!("{props}/{{key}}?dryRun=true");
    let a = t.call(Method::PATCH, &dry, &prop, &token, Send::Json(json!({"name": "N", "type": "number"}))).await;
    assert_eq!((a.status, &a.body["unconvertible"]), (200, &json!(0)), "{}", a.body);
    let a = t.call(Method::PATCH, &dry, &prop, &token, Send::Json(json!({"isRequired": false}))).await;
    assert_eq!(a.status, 200, "a dry run without a type change answers the metadata to be: {}", a.body);
    let a = t.call(Method::DELETE, &format!("{props}/{{key}}"), &prop, &token, Send::Nothing).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Permissions: read, then a change that leaves every role reading.
    let perms = "/api/v1/{tenantId}/datasets/{datasetId}/permissions";
    let a = t.call(Method::GET, perms, &ds, &token, Send::Nothing).await;
    assert_eq!(a.body["roles"]["user"], "read", "{}", a.body);
    let a = t.call(Method::PUT, perms, &ds, &token, Send::Json(json!({"roles": {"user_manager": "update"}}))).await;
    assert_eq!((a.status, &a.body["roles"]["user_manager"]), (200, &json!("update")), "{}", a.body);

    // A permissioned view of the dataset: made, then read like a dataset.
    let views = "/api/v1/{tenantId}/datasets/{datasetId}/views";
    let view = json!({"name": "Active people", "projection": ["Full Name", "Active"], "filter": {"Active": true},
        "permissions": {"roles": {"user": "read"}}});
    let a = t.call(Method::POST, views, &ds, &token, Send::Json(view)).await;
    assert_eq!((a.status, &a.body["isPermissionedView"]), (201, &json!(true)), "{}", a.body);
    let view_id = s(&a.body["datasetId"]);
    let v = [("tenantId", "ACME"), ("datasetId", view_id.as_str())];
    let a = t.call(Method::GET, "/api/v1/{tenantId}/datasets/{datasetId}", &v, &member_token, Send::Nothing).await;
    assert_eq!((a.status, &a.body["view"]["filter"]), (200, &json!({"Active": true})), "{}", a.body);

    // Imports: applied, then skipped failures and implicit deletions.
    let items = "/api/v1/{tenantId}/datasets/{datasetId}/items";
    let actions = json!([
        {"_action": "create", "Employee ID": 1, "Full Name": "Ana Lima", "Start Date": "2020-03-01", "Active": true},
        {"_action": "create", "Employee ID": 2, "Manager ID": 1, "Full Name": "Bob Berg"},
        {"_action": "create", "Employee ID": 3, "Manager ID": 1, "Full Name": "Cy Dahl"},
    ]);
    let a = t.call(Method::PUT, &format!("{items}?autoId=true"), &ds, &token, Send::Json(actions)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let ana = s(&a.body[0]["_id"]);
    let mixed = json!([{"_action": "update", "Employee ID": 1, "Active": false},
        {"_action": "update", "Employee ID": 2, "Full Name": "Bob"}, {"_action": "delete", "Employee ID": 99}]);
    let q = "?autoId=true&onActionValidationFailure=skip&implicitDelete=true";
    let a = t.call(Method::PUT, &format!("{items}{q}"), &ds, &token, Send::Json(mixed)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body[2]["_status"], "failed");
    assert_eq!(a.body[3]["_implicit"], true, "{}", a.body);
    let bad = json!([{"_action": "update", "Employee ID": 1, "Nope": 1}]);
    let a = t.call(Method::PUT, &format!("{items}?autoId=true"), &ds, &token, Send::Json(bad)).await;
    assert_eq!(a.status, 400, "under fail a failing action is the request's error");
    assert_eq!(a.body["errors"][0]["reason"], "unknownProperty");
    let link = json!([{"_action": "create", "from_id": 1, "to_id": "Core", "Since": "2021-01-01"}]);
    let teams_ds = [("tenantId", "ACME"), ("datasetId", teams_id.as_str())];
    let core = json!([{"_action": "create", "Team": "Core"}]);
    assert_eq!(
        t.call(Method::PUT, &format!("{items}?autoId=true"), &teams_ds, &token, Send::Json(core)).await.status,
        200
    );
    let links_ds = [("tenantId", "ACME"), ("datasetId", links_id.as_str())];
    assert_eq!(t.call(Method::PUT, items, &links_ds, &token, Send::Json(link)).await.status, 200);

    // Raw items and one item.
    assert_eq!(t.call(Method::GET, items, &ds, &token, Send::Nothing).await.status, 200);
    let filter = json!({"filter": {"Employee ID": {"$in": [1, 2]}, "Active": {"$ne": null}}});
    let a = t.call(Method::POST, items, &ds, &token, Send::Json(filter)).await;
    assert_eq!(a.body.as_array().map(Vec::len), Some(1), "{}", a.body);
    let one = [("tenantId", "ACME"), ("datasetId", people_id.as_str()), ("itemId", ana.as_str())];
    let item = "/api/v1/{tenantId}/datasets/{datasetId}/items/{itemId}";
    assert_eq!(t.call(Method::GET, item, &one, &token, Send::Nothing).await.status, 200);
    let history = t.call(Method::GET, &format!("{item}/history"), &one, &token, Send::Nothing).await;
    assert_eq!((history.status, &history.body["versions"]), (200, &json!([])), "history is off: {}", history.body);

    // Sync exports in every format, with generated values, filter and projection.
    let export = "/api/v1/{tenantId}/datasets/{datasetId}/export/{format}";
    for format in ["jsonRows", "jsonColumns", "jsonObjects", "csv", "tsv"] {
        let fds = [("tenantId", "ACME"), ("datasetId", people_id.as_str()), ("format", format)];
        let a = t.call(Method::GET, &format!("{export}?generated=true"), &fds, &token, Send::Nothing).await;
        assert_eq!(a.status, 200, "{format}");
        let body =
            json!({"query": {"output": {"filter": {"Manager ID": 1}, "projection": {"Full Name": 1, "_id": 1}}}});
        assert_eq!(t.call(Method::POST, export, &fds, &token, Send::Json(body)).await.status, 200);
    }
    let lds = [("tenantId", "ACME"), ("datasetId", links_id.as_str()), ("format", "jsonRows")];
    assert_eq!(t.call(Method::GET, export, &lds, &token, Send::Nothing).await.status, 200);

    // An async export: its ticket while queued and when done, the presigned ticket and result.
    let body = json!({"query": {"output": {"projection": {"_depth": 1, "Start Date": 0}, "projectionMode": "add"}}});
    let path = "/api/v1/{tenantId}/datasets/{datasetId}/export";
    let a = t.call(Method::POST, &format!("{path}?exportFormat=csv"), &ds, &token, Send::Json(body)).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let done = t.finished("ACME", &s(&a.body["jobId"]), &token).await;
    assert_eq!(done["jobStatus"], "completed", "{done}");
    t.call_url(Method::GET, "/signed/v1/jobs/{jobId}", &s(&done["_links"]["self"]["url"]), None).await;
    let a = t.call_url(Method::GET, "/signed/v1/jobs/{jobId}/result", &s(&done["_links"]["result"]["url"]), None).await;
    assert!(s(&a.body).starts_with("_depth,Employee ID"), "{}", a.body);

    // A draft: made, staged, read, diffed, exported through, its actions exported, applied, cleared, deleted.
    let drafts = "/api/v1/{tenantId}/drafts";
    let a =
        t.call(Method::POST, drafts, &acme, &token, Send::Json(json!({"name": "Reorg", "datasetId": people_id}))).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let draft_id = s(&a.body["draftId"]);
    let dr = [("tenantId", "ACME"), ("draftId", draft_id.as_str())];
    let staged = json!([{"_action": "update", "Employee ID": 2, "Full Name": "Bob B"},
        {"_action": "create", "Employee ID": 4, "Manager ID": 2, "Full Name": "Dee"}]);
    let a =
        t.call(Method::PUT, &format!("{drafts}/{{draftId}}/items?autoId=true"), &dr, &token, Send::Json(staged)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(t.call(Method::GET, drafts, &acme, &member_token, Send::Nothing).await.status, 200);
    let a = t.call(Method::GET, &format!("{drafts}/{{draftId}}"), &dr, &member_token, Send::Nothing).await;
    assert_eq!(a.body["counts"], json!({"added": 1, "updated": 1, "removed": 0}));
    let a = t.call(Method::GET, &format!("{drafts}/{{draftId}}/diff"), &dr, &member_token, Send::Nothing).await;
    assert_eq!(a.body["changes"].as_array().map(Vec::len), Some(2), "{}", a.body);
    let fds = [("tenantId", "ACME"), ("datasetId", people_id.as_str()), ("format", "jsonRows")];
    let a =
        t.call(Method::GET, &format!("{export}?generated=true&draftId={draft_id}"), &fds, &token, Send::Nothing).await;
    assert_eq!(a.body["rows"].as_array().map(Vec::len), Some(3), "the to-be view: {}", a.body);
    let layers = json!({"layers": [{"draftId": draft_id, "layerKey": "default"}]});
    let a = t.call(Method::POST, &format!("{drafts}/actions"), &acme, &member_token, Send::Json(layers.clone())).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let done = t.finished("ACME", &s(&a.body["jobId"]), &member_token).await;
    assert_eq!(done["jobStatus"], "completed", "{done}");
    let apply = "/api/v1/{tenantId}/datasets/{datasetId}/drafts/apply";
    let a = t.call(Method::POST, apply, &ds, &token, Send::Json(layers)).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let done = t.finished("ACME", &s(&a.body["jobId"]), &token).await;
    assert_eq!(done["jobStatus"], "completed", "{done}");
    let a = t.call(Method::DELETE, &format!("{drafts}/{{draftId}}/items"), &dr, &token, Send::Nothing).await;
    assert_eq!(a.body["counts"]["added"], 0);
    assert_eq!(t.call(Method::DELETE, &format!("{drafts}/{{draftId}}"), &dr, &token, Send::Nothing).await.status, 204);
    let a = t.call(Method::GET, &format!("{drafts}/{{draftId}}"), &dr, &token, Send::Nothing).await;
    assert_eq!((a.status, a.body["errors"][0]["code"].as_str()), (404, Some("404007")));

    // A temporary file, uploaded and read back, imported by an async job; a failing one ends failed.
    let generate = "/api/v1/{tenantId}/files/generate";
    for (actions, status) in [
        (json!([{"_action": "update", "Employee ID": 2, "Full Name": "Bo"}]), "completed"),
        (json!([{"_action": "update", "Employee ID": 2, "Wrong": "x"}]), "failed"),
    ] {
        let file = json!({"targetType": "json", "targetEncoding": "identity"});
        let f = t.call(Method::POST, generate, &acme, &token, Send::Json(file)).await.body;
        let bytes = serde_json::to_vec(&actions).unwrap();
        let a = t.call_url(Method::PUT, "/signed/v1/files/{fileId}", &s(&f["_links"]["put"]["url"]), Some(bytes)).await;
        assert_eq!(a.status, 200);
        t.call_url(Method::GET, "/signed/v1/files/{fileId}", &s(&f["_links"]["get"]["url"]), None).await;
        let body = json!({"importLocation": {"method": "GET", "url": f["_links"]["get"]["url"]}});
        let a = t.call(Method::PUT, &format!("{items}/import?autoId=true"), &ds, &token, Send::Json(body)).await;
        assert_eq!(a.status, 202, "{}", a.body);
        let done = t.finished("ACME", &s(&a.body["jobId"]), &token).await;
        assert_eq!(done["jobStatus"], status, "{done}");
    }

    // A dataset deleted; error answers of the dataset API.
    let a = t.call(Method::POST, "/api/v1/{tenantId}/datasets", &acme, &token, Send::Json(json!({"name": "Scratch",
        "type": "LOOKUP", "autoId": "k", "labelId": "k", "properties": [{"key": "k", "type": "text", "isRequired": true}]}))).await;
    let scratch = [("tenantId", "ACME"), ("datasetId", a.body["datasetId"].as_str().unwrap())];
    assert_eq!(
        t.call(Method::DELETE, "/api/v1/{tenantId}/datasets/{datasetId}", &scratch, &token, Send::Nothing).await.status,
        204
    );
    let meta = "/api/v1/{tenantId}/datasets/{datasetId}";
    for (values, tok, status) in [
        (scratch, token.as_str(), 404),
        ([("tenantId", "ACME"), ("datasetId", "not-a-uuid")], token.as_str(), 400),
        ([("tenantId", "ACME"), ("datasetId", people_id.as_str())], "orgd_nope", 401),
        ([("tenantId", "OTHER"), ("datasetId", people_id.as_str())], token.as_str(), 404),
    ] {
        assert_eq!(t.call(Method::GET, meta, &values, tok, Send::Nothing).await.status, status);
    }
    let bad = json!({"name": "", "type": "NOPE", "properties": "x"});
    let a = t.call(Method::POST, "/api/v1/{tenantId}/datasets", &acme, &token, Send::Json(bad)).await;
    assert_eq!(a.status, 400);
    let a = t.call(Method::POST, "/api/v1/{tenantId}/datasets", &acme, &member_token, Send::Nothing).await;
    assert_eq!(a.status, 403, "a member may not create datasets");

    // Apperian: sign-in on every path, then the org tree, child orgs and the org object.
    let sign_in = json!({"user_id": admin.user_id, "password": "Passw0rd!"});
    let mut sessions = Vec::new();
    for path in ["/users/authenticate", "/v2/users/authenticate", "/v1/users/authenticate", "/users/authenticate"] {
        let a = t.call(Method::POST, path, &[], "", Send::Json(sign_in.clone())).await;
        assert_eq!(a.status, 200, "{}", a.body);
        sessions.push(s(&a.body["token"]));
    }
    let wrong = json!({"user_id": admin.user_id, "password": "wrong"});
    assert_eq!(t.call(Method::POST, "/v2/users/authenticate", &[], "", Send::Json(wrong)).await.status, 401);
    let session = sessions[0].clone();
    let own = org.org_id.to_string();
    let prefixed = |p: &str| [format!("/v1{p}"), format!("/v1/org/{{org_id}}{p}")];
    let me = [("org_id", own.as_str())];

    for (i, path) in prefixed("/organizations").iter().enumerate() {
        assert_eq!(t.call(Method::GET, path, &me, &session, Send::Nothing).await.status, 200);
        let child = json!({"name": format!("Acme Child {i}"), "admin": {"user_id": format!("boss{i}@acme.test"),
            "email": format!("boss{i}@acme.test"), "first_name": "Bo", "last_name": "Ss", "password": "Child-Admin-1!"}});
        let a = t.call(Method::POST, path, &me, &session, Send::Json(child)).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let child_tree = t.call(Method::GET, "/v1/organizations", &[], &session, Send::Nothing).await.body;
    assert_eq!(child_tree["sub_orgs"].as_array().map(Vec::len), Some(2), "{child_tree}");
    let v3 = "/v3/organizations/{org_id}";
    assert_eq!(t.call(Method::GET, v3, &me, &session, Send::Nothing).await.status, 200);
    let a = t.call(Method::GET, v3, &me, &member_token, Send::Nothing).await;
    assert!(a.body["organization"].get("admin_branded").is_none(), "the reduced object for a member");
    let change = json!({"support_email": "help@acme.test", "name": "Other", "colour": "red",
        "password_complexity": {"password_complexity_for_users": {"min_length": 6}},
        "user_custom_metadata_template": {"city": {"label": "City", "type": "select", "default": "1",
            "options": [{"label": "Boston", "value": "0"}, {"label": "Valladolid", "value": "1"}]},
            "remote": {"label": "Remote", "type": "checkbox", "default": false}},
        "kryptowire_settings": {"api_key": "k-123"}, "cors_domain_whitelist": ["https://app.acme.test"]});
    let a = t.call(Method::PUT, v3, &me, &session, Send::Json(change)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["warnings"].as_array().map(Vec::len), Some(2), "{}", a.body);
    let form = reqwest::multipart::Form::new()
        .text("data", r#"{"support_email": "push@acme.test"}"#)
        .part("push_cert_file", reqwest::multipart::Part::bytes(vec![0x30, 0x03, 0x02, 0x01, 0x01]).file_name("c.p12"));
    let a = t.call(Method::PUT, v3, &me, &session, Send::Form(form)).await;
    assert_eq!(a.body["organization"]["apple_push_cert"], true, "{}", a.body);
    let a = t.call(Method::PUT, v3, &me, &session, Send::Json(json!({"session_timeout_in_minutes": 0}))).await;
    assert_eq!((a.status, a.body["error"]["details"][0]["field"].clone()), (400, json!("session_timeout_in_minutes")));
    let a = t.call(Method::GET, v3, &[("org_id", "AAAAAAAAAAAAAAAAAAAAAA")], &session, Send::Nothing).await;
    assert_eq!(a.status, 404);
    assert_eq!(t.call(Method::GET, v3, &me, "orgd_nope", Send::Nothing).await.status, 401);
    // Affiliated orgs are deleted on every path; an org never deletes itself.
    assert_eq!(t.call(Method::DELETE, v3, &me, &session, Send::Nothing).await.status, 409);
    for (i, path) in ["/v1/organizations/{org_id}", v3, "/organizations/{org_id}"].into_iter().enumerate() {
        let child = json!({"name": format!("Gone {i}"), "admin": {"user_id": format!("gone{i}@acme.test"),
            "email": format!("gone{i}@acme.test"), "first_name": "Go", "last_name": "Ne"}});
        let made = t.call(Method::POST, "/v1/organizations", &[], &session, Send::Json(child)).await;
        let id = made.body["organization"]["id"].as_str().unwrap().to_string();
        let a = t.call(Method::DELETE, path, &[("org_id", &id)], &session, Send::Nothing).await;
        assert_eq!((a.status, &a.body["deleted_org_ids"]), (200, &json!([id])), "{path}");
    }

    // Users on every prefix: list, add, read, change, delete; the signed-in user.
    for (i, base) in ["/v1/users", "/v1/org/{org_id}/users", "/users"].iter().enumerate() {
        assert_eq!(t.call(Method::GET, base, &me, &session, Send::Nothing).await.status, 200);
        let new = json!({"user_id": format!("new{i}@acme.test"), "email": format!("new{i}@acme.test"),
            "first_name": "New", "last_name": "User", "role": "user", "password": "Newbie-2026!", "phone": "+1 555",
            "until_date": "2030-01-01", "token_access": true, "allowed_subnets": ["10.0.0.0/8"], "send_invite": false});
        let a = t.call(Method::POST, base, &me, &session, Send::Json(new)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let psk = a.body["user_psk"].to_string();
        let user = format!("{base}/{{psk}}");
        let values = [("org_id", own.as_str()), ("psk", psk.as_str())];
        assert_eq!(t.call(Method::GET, &user, &values, &session, Send::Nothing).await.status, 200);
        let change = json!({"first_name": "Renamed", "disabled": true, "locked": false});
        assert_eq!(t.call(Method::PUT, &user, &values, &session, Send::Json(change)).await.status, 200);
        assert_eq!(t.call(Method::DELETE, &user, &values, &session, Send::Nothing).await.status, 200);
        assert_eq!(t.call(Method::GET, &user, &values, &session, Send::Nothing).await.status, 404);
    }
    let bad = json!({"user_id": "x@acme.test", "role": "king", "wat": 1});
    assert_eq!(t.call(Method::POST, "/v1/users", &[], &session, Send::Json(bad)).await.status, 400);
    assert_eq!(t.call(Method::GET, "/v1/users", &[], &member_token, Send::Nothing).await.status, 403);
    for path in ["/v2/users/info", "/v2/org/{org_id}/users/info"] {
        assert_eq!(t.call(Method::GET, path, &me, &session, Send::Nothing).await.status, 200);
    }

    // API tokens and the session on both prefixes.
    for (i, path) in prefixed("/tokens").iter().enumerate() {
        assert_eq!(t.call(Method::GET, path, &me, &session, Send::Nothing).await.status, 200);
        let new = json!({"label": format!("ci {i}"), "starts_at": "2026-01-01", "ends_at": "2099-01-01T00:00:00Z",
            "subnets": ["0.0.0.0/0", "::/0"]});
        let a = t.call(Method::POST, path, &me, &session, Send::Json(new)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let id = s(&a.body["api_token"]["token_id"]);
        let one = format!("{path}/{{token_id}}");
        let values = [("org_id", own.as_str()), ("token_id", id.as_str())];
        assert_eq!(t.call(Method::DELETE, &one, &values, &session, Send::Nothing).await.status, 200);
        assert_eq!(t.call(Method::DELETE, &one, &values, &session, Send::Nothing).await.status, 404);
    }
    let psk = admin.psk.to_string();
    assert_eq!(
        t.call(Method::GET, &format!("/v1/tokens?user_psk={psk}"), &[], &session, Send::Nothing).await.status,
        200
    );
    let bad = json!({"label": "", "ends_at": "yesterday", "subnets": ["300.0.0.0/8"]});
    assert_eq!(t.call(Method::POST, "/v1/tokens", &[], &session, Send::Json(bad)).await.status, 400);
    for (i, path) in prefixed("/session").iter().enumerate() {
        for tok in [&session, &token] {
            assert_eq!(t.call(Method::GET, path, &me, tok, Send::Nothing).await.status, 200);
            assert_eq!(t.call(Method::PUT, path, &me, tok, Send::Nothing).await.status, 200);
        }
        let ending = &sessions[i + 2];
        assert_eq!(t.call(Method::DELETE, path, &me, ending, Send::Nothing).await.status, 200);
        assert_eq!(t.call(Method::GET, path, &me, ending, Send::Nothing).await.status, 401);
    }

    // The change history of everything above, on every prefix of both dialects.
    for path in prefixed("/events") {
        let a = t.call(Method::GET, &format!("{path}?limit=5"), &me, &session, Send::Nothing).await;
        assert_eq!((a.status, a.body["events"].as_array().map(Vec::len)), (200, Some(5)), "{}", a.body);
    }
    let a = t
        .call(Method::GET, "/api/v1/{tenantId}/events?kind=items", &[("tenantId", "ACME")], &token, Send::Nothing)
        .await;
    assert_eq!((a.status, &a.body["events"][0]["kind"]), (200, &json!("items.imported")), "{}", a.body);

    // Webhooks on every prefix of both dialects: subscribe (to every kind, so that its own creation is its
    // first delivery), list, read, its deliveries, redeliver, delete.
    let mut bases = prefixed("/webhooks").to_vec();
    bases.push("/api/v1/{tenantId}/webhooks".into());
    for base in &bases {
        let here = [("org_id", own.as_str()), ("tenantId", "ACME")];
        let new = json!({"url": "https://hooks.example.com/orgd", "events": ["*"], "includeDescendants": true,
            "description": "tour"});
        let a = t.call(Method::POST, base, &here, &session, Send::Json(new)).await;
        assert_eq!(a.status, 201, "{}", a.body);
        let id = s(&a.body["webhook"]["webhookId"]);
        assert_eq!(t.call(Method::GET, base, &here, &session, Send::Nothing).await.status, 200);
        let one = format!("{base}/{{webhookId}}");
        let values = [("org_id", own.as_str()), ("tenantId", "ACME"), ("webhookId", id.as_str())];
        assert_eq!(t.call(Method::GET, &one, &values, &session, Send::Nothing).await.status, 200);
        let d = t.call(Method::GET, &format!("{one}/deliveries?limit=5"), &values, &session, Send::Nothing).await;
        assert_eq!((d.status, &d.body["deliveries"][0]["kind"]), (200, &json!("webhook.created")), "{}", d.body);
        let delivery = s(&d.body["deliveries"][0]["deliveryId"]);
        let again = format!("{one}/deliveries/{{deliveryId}}/redeliver");
        let values4 = [("org_id", own.as_str()), ("tenantId", "ACME"), ("webhookId", &id), ("deliveryId", &delivery)];
        assert_eq!(t.call(Method::POST, &again, &values4, &session, Send::Nothing).await.status, 202);
        assert_eq!(t.call(Method::DELETE, &one, &values, &session, Send::Nothing).await.status, 204);
        assert_eq!(t.call(Method::DELETE, &one, &values, &session, Send::Nothing).await.status, 404);
    }
    let bad = json!({"url": "http://hooks.example.com/", "events": ["nothing"]});
    assert_eq!(t.call(Method::POST, "/v1/webhooks", &[], &session, Send::Json(bad)).await.status, 400);

    // Every change leaves exactly its events, written by its own request; a refused request leaves none.
    let mut wrong = Vec::new();
    for (method, path, status, kinds) in &t.changes {
        let resource = orgd_server::openapi::contract::resource(path.split('?').next().unwrap_or(path));
        let expected: &[&str] = match (status, method.as_str(), resource) {
            // A refused sign-in of a known user is an event of its own; every other refusal leaves none.
            (401, "POST", "/users/authenticate") if kinds == &["user.sign_in_failed"] => &["user.sign_in_failed"],
            (400.., _, _) => &[],
            (_, "PATCH", _) if path.contains("dryRun=true") => &[],
            (
                _,
                "POST",
                "/{tenantId}/datasets/{datasetId}/items" | "/{tenantId}/datasets/{datasetId}/export/{format}",
            ) => &[],
            (_, "POST", "/{tenantId}/files/generate") | (_, "PUT", "/signed/v1/files/{fileId}" | "/session") => &[],
            (_, "POST", "/organizations") => &["user.created", "org.created"],
            _ => &["*"],
        };
        let fits = match expected {
            ["*"] => kinds.len() == 1,
            e => kinds.iter().map(String::as_str).collect::<Vec<_>>() == e,
        };
        if !fits {
            wrong.push(format!("{method} {path} → {status}: {kinds:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "calls with other events than their change's:\n{}", wrong.join("\n"));

    // Every operation of the route table was answered with its documented success.
    let missing: Vec<String> = routes::api()
        .endpoints()
        .iter()
        .map(|e| (e.method.to_string(), e.path.clone()))
        .filter(|k| !t.reached.contains(k))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(missing.is_empty(), "the tour did not reach: {missing:#?}");
    for system in ["/signed/v1/jobs/{jobId}", "/signed/v1/jobs/{jobId}/result", "/signed/v1/files/{fileId}", "/healthz"]
    {
        assert!(t.reached.iter().any(|(_, p)| p == system), "{system}");
    }
    assert!(t.checked > 100, "answers checked: {}", t.checked);
}
