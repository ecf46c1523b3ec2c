//! Webhooks: subscriptions in both dialects, signed deliveries in order, retries with backoff, receivers
//! that fail, redirect or hang, refused targets and strangers, and one delivery per event across nodes.

use crate::helpers::{apperian_error, orgvue_error, TestApp};
use orgd_core::model::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One delivery as a receiver got it: its path, headers and JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    path: String,
    headers: BTreeMap<String, String>,
    raw: Vec<u8>,
    pub(crate) body: Value,
}

/// A loopback receiver: `/ok…` answers 204, `/fail…` 500, `/redirect…` 302, `/slow…` answers after 5 s.
pub(crate) struct Hooks {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Hooks {
    pub(crate) async fn start() -> Hooks {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let g = got.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let got = g.clone();
            async move {
                let path = req.uri().path().to_string();
                let headers =
                    req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
                let raw = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap().to_vec();
                let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                got.lock().unwrap().push(Got { path: path.clone(), headers, raw, body });
                let status = if path.starts_with("/ok") {
                    204
                } else if path.starts_with("/redirect") {
                    302
                } else if path.starts_with("/slow") {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    204
                } else {
                    500
                };
                axum::response::Response::builder()
                    .status(status)
                    .header("location", "https://elsewhere.example/")
                    .body(axum::body::Body::empty())
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Hooks { url, got }
    }

    /// What arrived at `path`.
    pub(crate) fn at(&self, path: &str) -> Vec<Got> {
        self.got.lock().unwrap().iter().filter(|g| g.path == path).cloned().collect()
    }

    /// Wait until `n` deliveries arrived at `path` (at most 20 s).
    pub(crate) async fn wait_for(&self, path: &str, n: usize) -> Vec<Got> {
        let started = std::time::Instant::now();
        loop {
            let got = self.at(path);
            if got.len() >= n {
                return got;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "only {} deliveries arrived at {path}", got.len());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Subscribe through `base` (`/v1` or `/api/v1/T`) with an administrator's token; the created webhook.
async fn subscribe(app: &TestApp, base: &str, token: &str, body: Value) -> Value {
    let r = app.request(Method::POST, &format!("{base}/webhooks")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    assert_eq!(r.headers()["cache-control"], "no-store", "the answer carries the secret");
    r.json::<Value>().await.unwrap()["webhook"].clone()
}

/// Wait until `check` holds of a webhook's deliveries (at most 20 s); returns them.
async fn deliveries_until(
    app: &TestApp,
    base: &str,
    token: &str,
    id: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let page: Value =
            app.get_bearer(&format!("{base}/webhooks/{id}/deliveries"), token).await.json().await.unwrap();
        let list = page["deliveries"].as_array().unwrap().clone();
        if check(&list) {
            return list;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "deliveries never got there: {list:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verify(secret: &str, g: &Got) -> bool {
    let ts: i64 = g.headers["webhook-timestamp"].parse().unwrap();
    orgd_core::webhooks::verify(secret, &g.headers["webhook-id"], ts, &g.raw, &g.headers["webhook-signature"])
}

#[tokio::test]
async fn a_subscriber_gets_each_change_signed_and_in_order_in_both_dialects() {
    let app = TestApp::builder().outbound_http().spawn().await;
    let hooks = Hooks::start().await;
    let (org, _admin, token) = app.tenant_with_admin("HOOK").await;
    let child = app.org("HOOK_KID", Some(&org)).await;
    let kid_admin = app.user(&child, "admin@kid.test", Role::Administrator).await;
    let kid_token = app.token(&kid_admin, Default::default()).await;

    let users = subscribe(
        &app,
        "/v1",
        &token,
        json!({"url": format!("{}/ok/users", hooks.url),
        "events": ["user.*"], "description": "HR sync"}),
    )
    .await;
    let secret = users["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{users}");
    assert_eq!((users["status"].as_str(), users["includeDescendants"].as_bool()), (Some("active"), Some(false)));
    let below = subscribe(
        &app,
        "/api/v1/HOOK",
        &token,
        json!({"url": format!("{}/ok/below", hooks.url),
        "events": ["user.created"], "includeDescendants": true}),
    )
    .await;
    assert_ne!(below["secret"], users["secret"], "each subscription has its own secret");

    // A refused change queues nothing; three changes of one user arrive in order, signed.
    let refused = app.request(Method::POST, "/v1/users").header("X-TOKEN", &token).json(&json!({"user_id": ""}));
    assert_eq!(refused.send().await.unwrap().status(), 400);
    let r = app
        .request(Method::POST, "/v1/users")
        .header("X-TOKEN", &token)
        .json(&json!({"user_id": "jane@hook.test", "password": "Jane-pass-1", "first_name": "Jane",
            "last_name": "Doe", "email": "jane@hook.test", "role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let psk = r.json::<Value>().await.unwrap()["user_psk"].as_i64().unwrap();
    for name in ["Janet", "Jan"] {
        let r = app
            .request(Method::PUT, &format!("/v1/users/{psk}"))
            .header("X-TOKEN", &token)
            .json(&json!({"first_name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let got = hooks.wait_for("/ok/users", 3).await;
    let kinds: Vec<&str> = got.iter().map(|g| g.body["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["user.created", "user.updated", "user.updated"]);
    let firsts: Vec<&str> = got[1..].iter().map(|g| g.body["data"]["changes"][0]["after"].as_str().unwrap()).collect();
    assert_eq!(firsts, ["Janet", "Jan"], "one object's changes arrive in the order they were made");
    for g in &got {
        assert!(verify(&secret, g), "signed with the subscription's secret: {:?}", g.headers);
        assert!(!verify(below["secret"].as_str().unwrap(), g), "and no other");
        assert_eq!(g.headers["webhook-id"], g.body["data"]["id"].as_str().unwrap(), "webhook-id is the event id");
        assert_eq!(g.headers["content-type"], "application/json");
        assert_eq!(g.body["data"]["actor"]["id"], "admin@hook");
        assert!(g.headers["user-agent"].starts_with("orgd-webhooks/"));
    }
    assert_eq!(got[0].headers["orgd-delivery-attempt"], "1");

    // The org-level subscription with descendants hears a user made below; the other does not.
    let r = app
        .request(Method::POST, "/v1/users")
        .header("X-TOKEN", &kid_token)
        .json(&json!({"user_id": "kid@kid.test", "password": "Kid-pass-12", "first_name": "Kid",
            "last_name": "Doe", "email": "kid@kid.test", "role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let below_got = hooks.wait_for("/ok/below", 2).await;
    let orgs: Vec<&str> = below_got.iter().map(|g| g.body["data"]["orgId"].as_str().unwrap()).collect();
    assert_eq!(orgs, [org.org_id.as_str(), child.org_id.as_str()]);
    let id = users["webhookId"].as_str().unwrap();
    let delivered =
        deliveries_until(&app, "/v1", &token, id, |l| l.len() == 3 && l.iter().all(|d| d["state"] == "delivered"))
            .await;
    assert_eq!(hooks.at("/ok/users").len(), 3, "a change of another org is not a change of this one");
    assert!(delivered.iter().all(|d| d["attempts"] == 1 && d["lastStatus"] == 204 && d["lastError"].is_null()));
    assert_eq!(delivered[0]["kind"], "user.updated", "newest first");

    // Both dialects list and read it, never with the secret.
    for base in ["/v1", "/api/v1/HOOK", &format!("/v1/org/{}", org.org_id)] {
        let list: Value = app.get_bearer(&format!("{base}/webhooks"), &token).await.json().await.unwrap();
        let ids: Vec<&str> =
            list["webhooks"].as_array().unwrap().iter().map(|w| w["webhookId"].as_str().unwrap()).collect();
        assert_eq!(ids, [id, below["webhookId"].as_str().unwrap()], "{base}");
        assert!(!list.to_string().contains("whsec_"), "{base}");
        let one: Value = app.get_bearer(&format!("{base}/webhooks/{id}"), &token).await.json().await.unwrap();
        assert_eq!(one["webhook"]["description"], "HR sync");
        assert!(one["webhook"].get("secret").is_none());
    }

    // Redelivered by hand: once more, the same event id, a second attempt.
    let first = delivered.last().unwrap();
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/HOOK/webhooks/{id}/deliveries/{}/redeliver", first["deliveryId"].as_str().unwrap()),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let again = hooks.wait_for("/ok/users", 4).await;
    assert_eq!(again[3].headers["webhook-id"], got[0].headers["webhook-id"]);
    assert_eq!(again[3].headers["orgd-delivery-attempt"], "2");

    // Deleted: it and its deliveries go; the trail keeps both changes.
    let r = app.request(Method::DELETE, &format!("/v1/webhooks/{id}")).header("X-TOKEN", &token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (status, code, _) = apperian_error(
        app.request(Method::GET, &format!("/v1/webhooks/{id}")).header("X-TOKEN", &token).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, code), (404, 404009));
    let trail: Value = app.get_bearer("/api/v1/HOOK/events?kind=webhook", &token).await.json().await.unwrap();
    let kinds: Vec<&str> = trail["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["webhook.deleted", "webhook.redelivered", "webhook.created", "webhook.created"]);
}

#[tokio::test]
async fn failing_receivers_are_retried_with_backoff_then_given_up_and_hold_up_no_one() {
    let app = TestApp::builder().outbound_http().control("hooks-control").spawn().await;
    let hooks = Hooks::start().await;
    let (org, _admin, token) = app.tenant_with_admin("RETRY").await;
    let mut ids = BTreeMap::new();
    for path in ["/fail", "/redirect", "/slow", "/ok"] {
        let w =
            subscribe(&app, "/v1", &token, json!({"url": format!("{}{path}", hooks.url), "events": ["user.created"]}))
                .await;
        ids.insert(path, w["webhookId"].as_str().unwrap().to_string());
    }
    app.user(&org, "new@retry.test", Role::User).await;
    hooks.wait_for("/ok", 1).await;
    let one_attempt = |l: &[Value]| l.len() == 1 && l[0]["attempts"] == 1;
    let fail = deliveries_until(&app, "/v1", &token, &ids["/fail"], one_attempt).await;
    assert_eq!((fail[0]["state"].as_str(), fail[0]["lastStatus"].as_i64()), (Some("pending"), Some(500)));
    assert_eq!(fail[0]["lastError"], "answered 500");
    let redirect = deliveries_until(&app, "/v1", &token, &ids["/redirect"], one_attempt).await;
    assert!(redirect[0]["lastError"].as_str().unwrap().contains("do not follow redirects"), "{redirect:?}");
    assert_eq!(redirect[0]["lastStatus"], 302);
    let slow = deliveries_until(&app, "/v1", &token, &ids["/slow"], one_attempt).await;
    assert!(slow[0]["lastError"].as_str().unwrap().starts_with("no answer within"), "{slow:?}");
    let ok = deliveries_until(&app, "/v1", &token, &ids["/ok"], |l| l.len() == 1 && l[0]["state"] == "delivered").await;
    assert_eq!(ok[0]["attempts"], 1, "the healthy receiver got its delivery at once, once");
    let failing: Value = app.get_bearer(&format!("/v1/webhooks/{}", ids["/fail"]), &token).await.json().await.unwrap();
    assert_eq!(
        (failing["webhook"]["status"].as_str(), failing["webhook"]["consecutiveFailures"].as_i64()),
        (Some("failing"), Some(1))
    );
    assert_eq!(hooks.at("/fail").len(), 1, "not tried again before its backoff");

    // 30 s later: tried again. A day later: given up.
    let clock = |secs: i64| {
        app.request(Method::PUT, "/_orgd/clock")
            .bearer_auth("hooks-control")
            .json(&json!({"advanceSeconds": secs}))
            .send()
    };
    assert!(clock(31).await.unwrap().status().is_success());
    hooks.wait_for("/fail", 2).await;
    deliveries_until(&app, "/v1", &token, &ids["/fail"], |l| l[0]["attempts"] == 2).await;
    assert!(clock(86_400).await.unwrap().status().is_success());
    let gone = deliveries_until(&app, "/v1", &token, &ids["/fail"], |l| l[0]["state"] == "failed").await;
    assert_eq!(gone[0]["attempts"], 3);
    assert!(gone[0]["nextAttemptAt"].is_null());
    let failed: Value = app
        .get_bearer(&format!("/v1/webhooks/{}/deliveries?state=failed", ids["/fail"]), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(hooks.at("/ok").len(), 1, "the healthy receiver got nothing twice");
}

#[tokio::test]
async fn bad_targets_bad_queries_and_strangers_are_refused() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("STRICT").await;
    let (_o2, _a2, other) = app.tenant_with_admin("STRANGER").await;
    let post = |base: &str, body: Value| {
        app.request(Method::POST, &format!("{base}/webhooks")).bearer_auth(&token).json(&body).send()
    };
    for (url, why) in [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://[::1]/x", "loopback"),
        ("https://localhost:9/x", "loopback"),
        ("https://user:pw@hooks.example.com/x", "password"),
        ("not a url", "absolute URL"),
    ] {
        let (status, code, body) =
            orgvue_error(post("/api/v1/STRICT", json!({"url": url, "events": ["*"]})).await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "400802"), "{url}");
        assert!(body.to_string().contains("url: "), "the fault names the field: {body}");
        assert!(body.to_string().contains(why), "{url}: {body}");
    }
    let (status, code, body) = apperian_error(
        post("/v1", json!({"url": "https://hooks.example.com/x", "events": ["user.eaten", 3], "colour": "red"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code), (400, 400802));
    for field in ["events[0]", "events[1]", "colour"] {
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
    let (status, _, body) =
        apperian_error(post("/v1", json!({"url": "https://hooks.example.com/x"})).await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("events"), "{body}");

    // Made: a stranger cannot see it, by id or by tenant; a user of the org below administrator neither.
    let w = subscribe(&app, "/v1", &token, json!({"url": "https://hooks.example.com/x", "events": ["*"]})).await;
    let id = w["webhookId"].as_str().unwrap();
    let (status, code, _) = apperian_error(
        app.request(Method::GET, &format!("/v1/webhooks/{id}")).header("X-TOKEN", &other).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, code), (404, 404009));
    let r = app.request(Method::DELETE, &format!("/v1/webhooks/{id}")).header("X-TOKEN", &other).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let (status, _, _) = orgvue_error(app.get_bearer("/api/v1/STRICT/webhooks", &other).await).await;
    assert_eq!(status, 404);
    let plain = app.user(&org, "plain@strict.test", Role::User).await;
    let plain_token = app.token(&plain, Default::default()).await;
    let (status, _, _) = orgvue_error(app.get_bearer("/api/v1/STRICT/webhooks", &plain_token).await).await;
    assert_eq!(status, 403);

    // Bad deliveries queries name their parameter; an unknown delivery is 404.
    for (q, param) in [("cursor=nope", "cursor"), ("state=lost", "state"), ("limit=0", "limit")] {
        let (status, code, body) =
            orgvue_error(app.get_bearer(&format!("/api/v1/STRICT/webhooks/{id}/deliveries?{q}"), &token).await).await;
        assert_eq!((status, code.as_str()), (400, "400701"), "{q}");
        assert!(body.to_string().contains(param), "{q}: {body}");
    }
    let r = app
        .request(Method::POST, &format!("/v1/webhooks/{id}/deliveries/77/redeliver"))
        .header("X-TOKEN", &token)
        .send()
        .await
        .unwrap();
    let (status, code, _) = apperian_error(r).await;
    assert_eq!((status, code), (404, 404010));
    assert_eq!(app.get_bearer("/api/v1/STRICT/webhooks/not-an-id", &token).await.status(), 404);
}

#[tokio::test]
async fn two_nodes_on_one_database_deliver_each_event_once() {
    let first = TestApp::builder().outbound_http().spawn().await;
    let second = TestApp::builder().outbound_http().database(&first.database_url).spawn().await;
    let hooks = Hooks::start().await;
    let (org, _admin, token) = first.tenant_with_admin("TWO").await;
    subscribe(&second, "/v1", &token, json!({"url": format!("{}/ok/two", hooks.url), "events": ["user.*"]})).await;
    for i in 0..20 {
        let node = if i % 2 == 0 { &first } else { &second };
        node.user(&org, &format!("u{i}@two.test"), Role::User).await;
    }
    hooks.wait_for("/ok/two", 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = hooks.at("/ok/two");
    let mut ids: Vec<&str> = got.iter().map(|g| g.headers["webhook-id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (20, 20), "each event once, whichever node took it");
}

#[tokio::test]
async fn seeded_subscriptions_deliver_and_the_control_api_gives_their_secrets() {
    let hooks = Hooks::start().await;
    let token = format!("orgd_seededadminxxxxx_{}", "S".repeat(43));
    let seed = format!(
        r#"
orgs:
  - tenant_id: SEEDED
    name: Seeded
    users:
      - user_id: admin@seeded.test
        password: Seeded-Admin-2024!
        role: administrator
        token_access: true
        tokens:
          - {{secret: {token}}}
    webhooks:
      - url: {}/ok/seeded
        events: [user.created]
        include_descendants: true
        description: the test's receiver
"#,
        hooks.url
    );
    let app = TestApp::builder().outbound_http().seed(&seed).control("hooks-control").spawn().await;
    let control = || app.request(Method::GET, "/_orgd/webhooks?tenant=SEEDED").bearer_auth("hooks-control");
    let r = control().send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let listed: Value = r.json().await.unwrap();
    let w = &listed["webhooks"][0];
    assert_eq!((w["tenantId"].as_str(), w["includeDescendants"].as_bool()), (Some("SEEDED"), Some(true)), "{listed}");
    assert_eq!(w["createdBy"], "orgd seed");
    let secret = w["secret"].as_str().unwrap().to_string();

    let r = app
        .request(Method::POST, "/v1/users")
        .header("X-TOKEN", &token)
        .json(&json!({"user_id": "new@seeded.test", "password": "Seeded-new-1", "first_name": "New",
            "last_name": "Hire", "email": "new@seeded.test", "role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = hooks.wait_for("/ok/seeded", 1).await;
    assert_eq!(got[0].body["type"], "user.created");
    assert!(verify(&secret, &got[0]), "the control API's secret checks the signature");

    // A reset makes the same subscription again: same id, same secret.
    assert!(app
        .request(Method::POST, "/_orgd/reset")
        .bearer_auth("hooks-control")
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let again: Value = control().send().await.unwrap().json().await.unwrap();
    assert_eq!((&again["webhooks"][0]["webhookId"], &again["webhooks"][0]["secret"]), (&w["webhookId"], &w["secret"]));
    let r = app.request(Method::GET, "/_orgd/webhooks?tenant=NOPE").bearer_auth("hooks-control").send().await.unwrap();
    assert_eq!(r.status(), 400);

    // A seed's bad subscription names its place and line.
    let bad = seed.replace("events: [user.created]", "events: [user.eaten]");
    let err = TestApp::builder().seed(&bad).try_spawn().await.err().expect("the seed is refused").to_string();
    assert!(err.contains("orgs[0].webhooks[0].events[0]") && err.contains("seed.yaml:14:"), "{err}");
}

/// The README's Python function, as written there.
fn readme_verifier() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme.find("**Checking a signature.**").expect("the README explains signatures");
    let block = &readme[start..];
    let code = &block[block.find("```python\n").unwrap() + 10..];
    code[..code.find("```").unwrap()].to_string()
}

#[tokio::test]
async fn the_readme_verification_snippet_accepts_a_real_delivery_and_refuses_a_changed_one() {
    let Some(python) = orgd_store::testing::installed("python3") else {
        orgd_store::testing::skipped("the README's webhook snippet", "python3 is not installed");
        return;
    };
    let app = TestApp::builder().outbound_http().spawn().await;
    let hooks = Hooks::start().await;
    let (org, _admin, token) = app.tenant_with_admin("SNIP").await;
    let w = subscribe(&app, "/v1", &token, json!({"url": format!("{}/ok/snip", hooks.url), "events": ["*"]})).await;
    app.user(&org, "snip@snip.test", Role::User).await;
    let got = hooks.wait_for("/ok/snip", 2).await;
    let g = got.iter().find(|g| g.body["type"] == "user.created").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), &g.raw).unwrap();
    let mut tampered = g.raw.clone();
    tampered[0] = b' ';
    std::fs::write(dir.path().join("tampered"), &tampered).unwrap();
    let script = format!(
        "{}\nimport json, sys\nheaders = json.loads(sys.argv[2])\nfor name in ('body', 'tampered'):\n    \
         print(name, verify(sys.argv[1], headers, open(sys.argv[3] + '/' + name, 'rb').read()))\n",
        readme_verifier()
    );
    let headers = serde_json::to_string(&g.headers).unwrap();
    let out = std::process::Command::new(python)
        .args(["-c", &script, w["secret"].as_str().unwrap(), &headers, dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, "body True\ntampered False\n", "{}", String::from_utf8_lossy(&out.stderr));
}
