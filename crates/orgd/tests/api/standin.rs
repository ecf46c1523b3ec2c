//! orgd as a stand-in for integration tests: seed files, reset, the clock, fault rules and the journal.

use crate::helpers::{apperian_error, orgvue_error, TestApp};
use orgd_core::model::UsagePlan;
use orgd_core::seed::{self, Memo};
use orgd_core::store::Store;
use orgd_store::SqlStore;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const CONTROL: &str = "control-secret-1";
/// A token valid from the seed's application on.
const LIVE: &str = "orgd_acmeadminlivexxx_LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL";
/// A token valid only in January 2030.
const JANUARY_2030: &str = "orgd_acmeadminjanxxxx_JJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJ";
/// The other tenant's token.
const OTHER: &str = "orgd_otheradminxxxxxx_OOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOO";

const SEED: &str = r#"
orgs:
  - tenant_id: ACME
    name: Acme Ltd
    usage_plan: {rate_per_second: 1000, burst: 1000}
    settings: {session_timeout_in_minutes: 45}
    users:
      - user_id: admin@acme.test
        password: Acme-Admin-2024!
        role: administrator
        token_access: true
        first_name: Ada
        tokens:
          - {secret: orgd_acmeadminlivexxx_LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL, label: live}
          - secret: orgd_acmeadminjanxxxx_JJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJ
            label: january
            starts_at: 2030-01-01
            ends_at: 2030-02-01
      - user_id: reader@acme.test
        password: Acme-Reader-2024!
        role: user
    datasets:
      - name: People
        type: PEOPLE
        autoId: Employee ID
        labelId: Name
        properties:
          - {key: Employee ID, type: number, isRequired: true}
          - {key: Name, type: text, isRequired: true}
          - {key: Start, type: date}
        items:
          - {Employee ID: 1, Name: Ana, Start: 2020-01-31}
          - {Employee ID: 2, Name: Bob}
      - name: Positions
        type: POSITIONS
        autoId: Position ID
        labelId: Position ID
        properties:
          - {key: Position ID, type: text, isRequired: true}
        items:
          - {Position ID: P1}
      - name: Assignments
        type: LINKS
        fromDatasetId: People
        toDatasetId: Positions
        properties: []
        items:
          - {from_id: 1, to_id: P1}
  - tenant_id: ACME_EU
    name: Acme EU
    parent: ACME
  - tenant_id: OTHER
    name: Other Inc
    users:
      - user_id: admin@other.test
        password: Other-Admin-2024!
        role: administrator
        token_access: true
        tokens:
          - {secret: orgd_otheradminxxxxxx_OOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOO}
"#;

async fn standin() -> TestApp {
    TestApp::builder().seed(SEED).control(CONTROL).spawn().await
}

impl TestApp {
    fn control(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.request(method, &format!("/_orgd{path}")).bearer_auth(CONTROL)
    }

    async fn control_json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.control(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    async fn set_faults(&self, rules: Value) {
        self.control_json(reqwest::Method::PUT, "/faults", Some(json!({ "rules": rules }))).await;
    }

    async fn datasets_status(&self, tenant: &str, token: &str) -> u16 {
        self.get_bearer(&format!("/api/v1/{tenant}/datasets"), token).await.status().as_u16()
    }
}

/// Everything the store holds, in a stable order.
async fn snapshot(store: &SqlStore) -> String {
    let mut out = String::new();
    let mut orgs = store.list_orgs().await.unwrap();
    orgs.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id));
    for o in orgs {
        out += &format!("{o:?}\n");
        for u in store.list_users(&o.org_id).await.unwrap() {
            out += &format!("{u:?}\n");
        }
        for t in store.list_tokens(&o.org_id, None).await.unwrap() {
            out += &format!("{t:?}\n");
        }
        let mut datasets = store.list_datasets(&o.org_id).await.unwrap();
        datasets.sort_by(|a, b| a.id.cmp(&b.id));
        for d in datasets {
            out += &format!("{d:?}\n");
            for i in store.item_page(&d, 0, 10_000).await.unwrap() {
                out += &format!("{i:?}\n");
            }
        }
    }
    out
}

#[tokio::test]
async fn a_seed_applies_once_and_again_changes_nothing() {
    let app = standin().await;
    assert_eq!(app.datasets_status("ACME", LIVE).await, 200);
    assert_eq!(app.datasets_status("OTHER", OTHER).await, 200);
    assert_eq!(app.datasets_status("ACME", OTHER).await, 404, "seeded tenants are isolated");
    let body: Value = app.get_bearer("/api/v1/ACME/datasets", LIVE).await.json().await.unwrap();
    let people = body.as_array().unwrap().iter().find(|d| d["name"] == "People").unwrap()["datasetId"].clone();
    assert_eq!(people, orgd_core::data::derived_id("orgd-seed-dataset/ACME/People"), "ids are derived from the seed");
    let csv = app
        .get_bearer(&format!("/api/v1/ACME/datasets/{}/export/csv", people.as_str().unwrap()), LIVE)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("1,Ana,2020-01-31") && csv.contains("2,Bob,"), "{csv}");
    let orgs: Value = app.get("/v1/organizations/").header("X-TOKEN", LIVE).send().await.unwrap().json().await.unwrap();
    assert!(orgs.to_string().contains("Acme EU"), "the child org is in the tree: {orgs}");
    let login = app.login("admin@acme.test", "Acme-Admin-2024!", json!({})).await;
    assert_eq!(login.status(), 200, "seeded passwords sign in");

    let before = snapshot(&app.store).await;
    let seed = seed::parse(Path::new("seed.yaml"), SEED).unwrap();
    let mut memo = Memo::new(app.now());
    let report = seed::apply(app.store.as_ref(), &seed, &UsagePlan::default(), &mut memo).await.unwrap();
    assert_eq!((report.created, report.updated), (0, 0), "{report:?}");
    assert_eq!(report.unchanged, 3 + 3 + 3 + 3);
    let after = snapshot(&app.store).await;
    assert_eq!(before.replace("last_used", ""), after.replace("last_used", ""));

    let conflicting = SEED.replace("    name: Other Inc", "    name: Other Inc\n    org_id: AAAAAAAAAAAAAAAAAAAAAA");
    let seed = seed::parse(Path::new("seed.yaml"), &conflicting).unwrap();
    let errors = seed::apply(app.store.as_ref(), &seed, &UsagePlan::default(), &mut memo).await.unwrap_err();
    assert_eq!(errors[0].field, "orgs[2].org_id");
    assert!(errors[0].message.contains("already exists with org_id"), "{errors:?}");
    assert_eq!(errors[0].line, Some(54));
}

#[tokio::test]
async fn reset_restores_the_seed_exactly() {
    let app = standin().await;
    let seeded = snapshot(&app.store).await;
    let people = orgd_core::data::derived_id("orgd-seed-dataset/ACME/People");
    let r = app
        .request(reqwest::Method::PUT, &format!("/api/v1/ACME/datasets/{people}/items?autoId=true"))
        .bearer_auth(LIVE)
        .json(&json!([{"_action": "create", "Employee ID": 3, "Name": "Cy"}, {"_action": "delete", "Employee ID": 1}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = app
        .request(reqwest::Method::POST, "/api/v1/ACME/datasets")
        .bearer_auth(LIVE)
        .json(&json!({"name": "Scratch", "type": "POSITIONS", "autoId": "k", "labelId": "k",
            "properties": [{"key": "k", "type": "text", "isRequired": true}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for _ in 0..3 {
        app.login("reader@acme.test", "wrong", json!({})).await;
    }
    let r = app
        .request(reqwest::Method::DELETE, "/v1/tokens/acmeadminlivexxx")
        .header("X-TOKEN", LIVE)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "the live token is revoked: {}", r.status());
    assert_eq!(app.datasets_status("ACME", LIVE).await, 401);
    assert_ne!(snapshot(&app.store).await, seeded);

    let r = app.control_json(reqwest::Method::POST, "/reset", None).await;
    assert_eq!(r["reset"], true);
    assert!(r["millis"].as_f64().is_some());
    assert_eq!(snapshot(&app.store).await, seeded, "reset gives back exactly what the seed made");
    assert_eq!(app.datasets_status("ACME", LIVE).await, 200, "the revoked token works again at once");
}

#[tokio::test]
async fn the_clock_moves_a_token_through_its_window_without_waiting() {
    let app = standin().await;
    let (status, code, _) = orgvue_error(app.get_bearer("/api/v1/ACME/datasets", JANUARY_2030).await).await;
    assert_eq!((status, code.as_str()), (403, "40301"));
    let c = app
        .control_json(reqwest::Method::PUT, "/clock", Some(json!({"now": "2030-01-15T12:00:00Z", "frozen": true})))
        .await;
    assert_eq!(c, json!({"now": "2030-01-15T12:00:00.000Z", "offsetMs": c["offsetMs"], "frozen": true}));
    assert_eq!(app.datasets_status("ACME", JANUARY_2030).await, 200);
    let c = app.control_json(reqwest::Method::PUT, "/clock", Some(json!({"advanceSeconds": 17 * 86400}))).await;
    assert_eq!(c["now"], "2030-02-01T12:00:00.000Z", "advancing a frozen clock keeps it frozen at the new instant");
    let (status, code, _) = orgvue_error(app.get_bearer("/api/v1/ACME/datasets", JANUARY_2030).await).await;
    assert_eq!((status, code.as_str()), (403, "40302"));
    let c = app.control_json(reqwest::Method::GET, "/clock", None).await;
    assert_eq!(c["frozen"], true);
    let c = app.control_json(reqwest::Method::DELETE, "/clock", None).await;
    assert_eq!((c["frozen"].clone(), c["offsetMs"].clone()), (json!(false), json!(0)));
    let (_, code, _) = orgvue_error(app.get_bearer("/api/v1/ACME/datasets", JANUARY_2030).await).await;
    assert_eq!(code, "40301", "back to real time");

    let c = app.control_json(reqwest::Method::PUT, "/clock", Some(json!({"offsetSeconds": 3600}))).await;
    assert_eq!(c["frozen"], false);
    assert!((c["offsetMs"].as_i64().unwrap() - 3_600_000).abs() < 5_000);
    for bad in [json!({}), json!({"now": "soon"}), json!({"now": "2030-01-01", "offsetSeconds": 1}), json!({"tick": 1})]
    {
        let r = app.control(reqwest::Method::PUT, "/clock").json(&bad).send().await.unwrap();
        let (status, code, body) = orgvue_error(r).await;
        assert_eq!((status, code.as_str()), (400, "400802"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn fault_rules_answer_with_documented_errors_in_each_dialect() {
    let app = standin().await;
    app.set_faults(json!([{"tenant": "ACME", "error": 42901, "retryAfter": 7, "count": 2}])).await;
    for _ in 0..2 {
        let r = app.get_bearer("/api/v1/ACME/datasets", LIVE).await;
        assert_eq!(r.headers()["retry-after"], "7");
        let (status, code, _) = orgvue_error(r).await;
        assert_eq!((status, code.as_str()), (429, "42901"));
    }
    assert_eq!(app.datasets_status("ACME", LIVE).await, 200, "count 2 is used up");
    assert_eq!(app.datasets_status("OTHER", OTHER).await, 200, "another tenant is never matched");
    let shown = app.control_json(reqwest::Method::GET, "/faults", None).await;
    assert_eq!((shown["rules"][0]["fired"].clone(), shown["rules"][0]["remaining"].clone()), (json!(2), json!(0)));

    app.set_faults(json!([{"dialect": "apperian", "method": "GET", "path": "/v1/organizations/*", "error": 40345}]))
        .await;
    let r = app.get("/v1/organizations/").header("X-TOKEN", LIVE).send().await.unwrap();
    let (status, code, _) = apperian_error(r).await;
    assert_eq!((status, code), (403, 40345));
    assert_eq!(app.datasets_status("ACME", LIVE).await, 200, "the orgvue dialect is not matched");

    app.set_faults(json!([{"route": "/api/v1/{tenantId}/datasets", "error": 500001, "probability": 1}])).await;
    let (status, code, _) = orgvue_error(app.get_bearer("/api/v1/ACME/datasets", LIVE).await).await;
    assert_eq!((status, code.as_str()), (500, "500001"));
    app.set_faults(json!([{"route": "/api/v1/{tenantId}/datasets", "error": 500001, "probability": 0}])).await;
    assert_eq!(app.datasets_status("ACME", LIVE).await, 200, "probability 0 never fires");

    app.set_faults(json!([{"path": "/api/v1/ACME/datasets", "latencyMs": 300}])).await;
    let started = Instant::now();
    assert_eq!(app.datasets_status("ACME", LIVE).await, 200, "latency alone delays, then answers");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let journal = app.control_json(reqwest::Method::GET, "/journal?limit=1", None).await;
    assert_eq!(journal["requests"][0]["fault"], true);

    let r = app.control(reqwest::Method::DELETE, "/faults").send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.control_json(reqwest::Method::GET, "/faults", None).await, json!({"rules": []}));

    let r = app.control(reqwest::Method::PUT, "/faults").json(&json!({"rules": [{"error": 1}]})).send().await.unwrap();
    let (status, code, body) = orgvue_error(r).await;
    assert_eq!((status, code.as_str()), (400, "400802"));
    assert!(body.to_string().contains("rules[0].error"), "{body}");
}

#[tokio::test]
async fn the_journal_keeps_the_last_requests_within_its_bound() {
    let app = TestApp::builder().seed(SEED).control(CONTROL).journal_size(5).spawn().await;
    for _ in 0..6 {
        app.datasets_status("ACME", LIVE).await;
    }
    assert_eq!(app.datasets_status("ACME", OTHER).await, 404);
    app.get("/api/v1/ACME/datasets")
        .bearer_auth("orgd_nosuchtokenxxxxx_NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN")
        .send()
        .await
        .unwrap();
    let j = app.control_json(reqwest::Method::GET, "/journal?limit=50", None).await;
    assert_eq!((j["capacity"].clone(), j["recorded"].clone()), (json!(5), json!(8)));
    let requests = j["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 5, "control calls are not journaled and the bound holds");
    assert_eq!(requests[0]["tokenId"], "nosuchtokenxxxxx");
    assert_eq!((requests[0]["status"].clone(), requests[0]["errorCode"].clone()), (json!(401), json!(40102)));
    assert_eq!(requests[1]["errorCode"], 40401);
    assert_eq!(requests[2]["route"], "/api/v1/{tenantId}/datasets");
    assert_eq!(
        (requests[2]["tenant"].clone(), requests[2]["tokenId"].clone()),
        (json!("ACME"), json!("acmeadminlivexxx"))
    );
    let text = j.to_string();
    assert!(!text.contains(LIVE) && !text.contains("LLLLLLLLLL"), "secrets never reach the journal");
    let j = app.control_json(reqwest::Method::GET, "/journal?limit=2", None).await;
    assert_eq!(j["requests"].as_array().unwrap().len(), 2);
    let r = app.control(reqwest::Method::GET, "/journal?limit=0").send().await.unwrap();
    assert_eq!(orgvue_error(r).await.1, "400701");
    let r = app.control(reqwest::Method::DELETE, "/journal").send().await.unwrap();
    assert_eq!(r.status(), 204);
    let j = app.control_json(reqwest::Method::GET, "/journal", None).await;
    assert_eq!(j["requests"], json!([]));
}

#[tokio::test]
async fn the_control_api_needs_its_secret_and_is_absent_unless_enabled() {
    let app = standin().await;
    let r = app.request(reqwest::Method::POST, "/_orgd/reset").send().await.unwrap();
    assert_eq!(orgvue_error(r).await.1, "40101");
    let r = app.request(reqwest::Method::POST, "/_orgd/reset").bearer_auth("control-secret-2").send().await.unwrap();
    assert_eq!(orgvue_error(r).await.1, "40102");
    let r = app.request(reqwest::Method::POST, "/_orgd/reset").bearer_auth(LIVE).send().await.unwrap();
    assert_eq!(orgvue_error(r).await.1, "40102", "an API token is not the control secret");
    let index = app.control_json(reqwest::Method::GET, "/", None).await;
    assert!(index["endpoints"]["POST /_orgd/reset"].is_string(), "{index}");

    let plain = TestApp::builder().seed(SEED).spawn().await;
    assert_eq!(plain.datasets_status("ACME", LIVE).await, 200, "a seed works without the control API");
    for (method, path) in [(reqwest::Method::POST, "/_orgd/reset"), (reqwest::Method::GET, "/_orgd/journal")] {
        let r = plain.request(method, path).bearer_auth(CONTROL).send().await.unwrap();
        let (status, code, _) = orgvue_error(r).await;
        assert_eq!((status, code.as_str()), (404, "404000"));
    }
}

#[tokio::test]
async fn a_faulty_seed_stops_the_start_naming_line_and_field() {
    let bad = SEED.replace("role: user\n", "role: reader\n");
    let Err(e) = TestApp::builder().seed(&bad).spawn_checked().await else { panic!("a bad seed must not start") };
    assert!(e.contains("seed.yaml:21: orgs[0].users[1].role: must be administrator, user_manager or user"), "{e}");
    let weak = SEED.replace("Acme-Reader-2024!", "x");
    let Err(e) = TestApp::builder().seed(&weak).spawn_checked().await else { panic!("a weak password must not start") };
    assert!(e.contains("seed.yaml:20: orgs[0].users[1].password"), "{e}");
}

impl crate::helpers::Builder {
    async fn spawn_checked(self) -> Result<TestApp, String> {
        self.try_spawn().await.map_err(|e| format!("{e:#}"))
    }
}

#[tokio::test]
async fn the_control_api_lists_what_a_client_changed() {
    let app = standin().await;
    let acme = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let path = format!("/v3/organizations/{}", acme.org_id);
    let r = app.call(reqwest::Method::PUT, &path, LIVE, Some(json!({"support_email": "help@acme.test"}))).await;
    assert_eq!(r.status(), 200);
    let trace = r.headers()["x-amzn-trace-id"].to_str().unwrap().to_string();
    let all = app.control_json(reqwest::Method::GET, "/events?kind=org.updated&actor=admin@acme.test", None).await;
    assert_eq!(all["events"].as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all["events"][0]["changes"][0]["after"], "help@acme.test");
    let r = app.control(reqwest::Method::GET, "/events").query(&[("traceId", &trace)]).send().await.unwrap();
    let by_trace: Value = r.json().await.unwrap();
    assert_eq!(by_trace["events"][0]["kind"], "org.updated");
    let other = app.control_json(reqwest::Method::GET, "/events?tenant=OTHER&actor=admin@acme.test", None).await;
    assert_eq!(other["events"], json!([]), "scoped to one tenant");
    let r = app.control(reqwest::Method::GET, "/events?tenant=NOPE").send().await.unwrap();
    let (status, code, body) = orgvue_error(r).await;
    assert_eq!((status, code.as_str(), &body["errors"][0]["queryParameter"]), (400, "400701", &json!("tenant")));
    let r = app.control(reqwest::Method::POST, "/reset").send().await.unwrap();
    assert!(r.status().is_success());
    let after = app.control_json(reqwest::Method::GET, "/events?actor=admin@acme.test", None).await;
    assert_eq!(after["events"], json!([]), "a reset forgets the history (the seed's own changes are system's)");
}
