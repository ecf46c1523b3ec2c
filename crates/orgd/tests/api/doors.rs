//! One use case, one outcome, whichever door it comes through: the same change of a user asked through the
//! Apperian API and through the console's Settings form is allowed or refused alike and stores the same
//! user; an org's subnet rule and API switch hold on the Settings pages as they do on the API.

use crate::console::session;
use crate::helpers::{apperian_error, TestApp};
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::{Role, User};
use orgd_core::net::CidrList;
use orgd_core::store::Store;
use serde_json::{json, Value};

const ADMIN: (&str, &str) = ("admin@demo.test", "Demo-Admin-2024!");

const SEED: &str = r#"
orgs:
  - tenant_id: DEMO
    name: Demo Holding
    users:
      - {user_id: admin@demo.test, password: Demo-Admin-2024!, role: administrator, token_access: true}
      - {user_id: jane@demo.test, password: Demo-Jane-2024!, role: user, email: jane@demo.test}
  - tenant_id: DEMO_EU
    name: Demo EU
    parent: DEMO
"#;

/// Who a case changes.
#[derive(Clone, Copy)]
enum Whom {
    Myself,
    Jane,
}

/// A change as the API body names it, and as the console form changes its fields.
struct Case {
    name: &'static str,
    whom: Whom,
    api: Value,
    form: &'static [(&'static str, &'static str)],
    allowed: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "keeping one's own account enabled is no change",
            whom: Whom::Myself,
            api: json!({"disabled": false}),
            form: &[("enabled", "on")],
            allowed: true,
        },
        Case {
            name: "nobody disables their own account",
            whom: Whom::Myself,
            api: json!({"disabled": true}),
            form: &[("enabled", "")],
            allowed: false,
        },
        Case {
            name: "nobody changes their own role",
            whom: Whom::Myself,
            api: json!({"role": "user"}),
            form: &[("role", "user")],
            allowed: false,
        },
        Case {
            name: "an administrator makes another user an administrator",
            whom: Whom::Jane,
            api: json!({"role": "administrator"}),
            form: &[("role", "administrator")],
            allowed: true,
        },
        Case {
            name: "an administrator switches TokenAccess on",
            whom: Whom::Jane,
            api: json!({"token_access": true}),
            form: &[("token_access", "on")],
            allowed: true,
        },
        Case {
            name: "a subnet that does not parse is refused",
            whom: Whom::Jane,
            api: json!({"allowed_subnets": ["10.0.0.0/33"]}),
            form: &[("subnets", "10.0.0.0/33")],
            allowed: false,
        },
        Case {
            name: "an e-mail that is not one is refused",
            whom: Whom::Jane,
            api: json!({"email": "jane at demo"}),
            form: &[("email", "jane at demo")],
            allowed: false,
        },
    ]
}

async fn who(app: &TestApp, whom: Whom) -> User {
    let id = match whom {
        Whom::Myself => ADMIN.0,
        Whom::Jane => "jane@demo.test",
    };
    app.store.find_users(id, None).await.unwrap().remove(0)
}

/// The fields of the console's user form as they stand for `u`, with `changes` applied.
fn form_of(u: &User, csrf: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.into()),
        ("user_id".into(), u.user_id.clone()),
        ("email".into(), u.email.clone()),
        ("first_name".into(), u.first_name.clone()),
        ("last_name".into(), u.last_name.clone()),
        ("role".into(), u.role.as_str().into()),
        ("expires_at".into(), String::new()),
        ("subnets".into(), String::new()),
    ];
    if u.enabled {
        form.push(("enabled".into(), "on".into()));
    }
    if u.token_access {
        form.push(("token_access".into(), "on".into()));
    }
    for (k, v) in changes {
        form.retain(|(f, _)| f != k);
        if !v.is_empty() {
            form.push((k.to_string(), v.to_string()));
        }
    }
    form
}

/// The stored fields a user change can reach.
fn reachable(u: &User) -> (Role, bool, bool, CidrList, String) {
    (u.role, u.enabled, u.token_access, u.allowed_subnets.clone(), u.email.clone())
}

#[tokio::test]
async fn the_same_user_change_through_the_api_and_the_console_has_the_same_outcome() {
    for case in cases() {
        // Through the API.
        let app = TestApp::builder().seed(SEED).spawn().await;
        let admin = who(&app, Whom::Myself).await;
        let token = app.token(&admin, NewToken::default()).await;
        let target = who(&app, case.whom).await;
        let r = app
            .request(reqwest::Method::PUT, &format!("/v1/users/{}", target.psk))
            .header("X-TOKEN", &token)
            .json(&case.api)
            .send()
            .await
            .unwrap();
        let api_allowed = r.status() == 200;
        if !api_allowed {
            let (status, _, _) = apperian_error(r).await;
            assert!((400..500).contains(&status), "{}: a refusal is a client error, got {status}", case.name);
        }
        let through_api = reachable(&who(&app, case.whom).await);

        // Through the console.
        let app = TestApp::builder().seed(SEED).spawn().await;
        let (cookie, csrf) = session(&app, ADMIN).await;
        let target = who(&app, case.whom).await;
        let r = app
            .request(reqwest::Method::POST, &format!("/app/configui/users/{}?tenant=DEMO", target.psk))
            .header("cookie", &cookie)
            .form(&form_of(&target, &csrf, case.form))
            .send()
            .await
            .unwrap();
        let console_allowed = r.status() == 303;
        if !console_allowed {
            let status = r.status();
            let page = r.text().await.unwrap();
            assert!(status == 400 && page.contains("role=\"alert\""), "{}: the form shows why ({status})", case.name);
        }
        let through_console = reachable(&who(&app, case.whom).await);

        assert_eq!((api_allowed, console_allowed), (case.allowed, case.allowed), "{}", case.name);
        assert_eq!(through_api, through_console, "{}: both doors store the same user", case.name);
        if !case.allowed {
            assert_eq!(through_api, reachable(&target), "{}: a refusal changes nothing", case.name);
        }
    }
}

#[tokio::test]
async fn an_orgs_subnet_rule_and_api_switch_hold_on_the_settings_pages_as_on_the_api() {
    let app = TestApp::builder().seed(SEED).spawn().await;
    let admin = who(&app, Whom::Myself).await;
    let token = app.token(&admin, NewToken::default()).await;
    let (cookie, _) = session(&app, ADMIN).await;
    let eu = cases_org(&app, "DEMO_EU").await;
    let api = || app.request(reqwest::Method::GET, "/api/v1/DEMO_EU/datasets").bearer_auth(&token).send();
    let page = || app.get("/app/configui?tenant=DEMO_EU").header("cookie", &cookie).send();
    assert_eq!(api().await.unwrap().status(), 200);
    assert_eq!(page().await.unwrap().status(), 200);

    // The org's API switch off: refused in both doors.
    app.update_org(&eu, OrgPatch { api_enabled: Some(false), ..OrgPatch::default() }).await;
    assert_eq!(api().await.unwrap().status(), 403);
    let r = page().await.unwrap();
    assert_eq!(r.status(), 403, "the Settings page of a switched-off org");
    assert!(r.text().await.unwrap().contains("Access refused"));

    // Back on, but only from an address the caller does not have.
    let elsewhere = CidrList::parse(&["10.9.8.0/24".to_string()], "allowed_subnets").unwrap();
    app.update_org(&eu, OrgPatch { api_enabled: Some(true), allowed_subnets: Some(elsewhere), ..OrgPatch::default() })
        .await;
    assert_eq!(api().await.unwrap().status(), 403);
    let r = page().await.unwrap();
    assert_eq!(r.status(), 403, "the Settings page from outside the org's subnets");
    assert!(r.text().await.unwrap().contains("127.0.0.1"), "the refusal names the address");

    // The home org's own pages are not the affiliated org's.
    assert_eq!(app.get("/app/configui").header("cookie", &cookie).send().await.unwrap().status(), 200);
}

async fn cases_org(app: &TestApp, tenant: &str) -> orgd_core::model::Org {
    (*orgd_core::cases::orgs::load(app.store.as_ref(), tenant).await.unwrap()).clone()
}
