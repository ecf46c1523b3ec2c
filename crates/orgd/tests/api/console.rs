//! The web console in a real headless Chromium (Debian's chromium + chromium-driver; `.ci/run` installs
//! them, and under CI a missing browser fails the tests instead of skipping them), plus the HTTP-level
//! guards (cookies, CSRF, roles, other tenants). Screenshots go to `target/console-screenshots/`.

use crate::helpers::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use orgd_core::model::TokenKind;
use orgd_core::store::Store;
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("admin@demo.test", "Demo-Admin-2024!");
const READER: (&str, &str) = ("reader@demo.test", "Demo-Reader-2024!");

const SEED: &str = r#"
orgs:
  - tenant_id: DEMO
    name: Demo Holding
    users:
      - {user_id: admin@demo.test, password: Demo-Admin-2024!, role: administrator, token_access: true}
      - {user_id: reader@demo.test, password: Demo-Reader-2024!, role: user, email: reader@demo.test}
    datasets:
      - name: People
        type: PEOPLE
        autoId: Employee ID
        labelId: Name
        properties:
          - {key: Employee ID, type: number, isRequired: true}
          - {key: Name, type: text, isRequired: true}
        items:
          - {Employee ID: 1, Name: Ana}
  - tenant_id: DEMO_EU
    name: Demo EU
    parent: DEMO
  - tenant_id: OTHER
    name: Other Inc
    users:
      - {user_id: admin@other.test, password: Other-Admin-2024!, role: administrator}
"#;

struct Browser {
    driver: Child,
    client: Client,
    base: String,
    shots: PathBuf,
}

/// chromedriver runs in a process group of its own, so ending the group ends the Chromium it started too
/// (killing chromedriver alone leaves the browser running).
impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = std::process::Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

fn chromedriver() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/chromedriver");
    if p.exists() {
        return Some(p);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join("chromedriver")).find(|p| p.exists())
}

/// A headless Chromium driving `app`; `None` (skip) only outside CI when no browser is installed.
async fn browser(app: &TestApp, test: &str) -> Option<Browser> {
    let Some(driver_bin) = chromedriver() else {
        let group = format!("the browser part of {test}");
        orgd_store::testing::skipped(&group, "chromedriver is not installed (Debian: chromium and chromium-driver)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = Command::new(driver_bin)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert("acceptInsecureCerts".into(), json!(true));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,1100"]}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session starts");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    Some(Browser { driver, client, base: app.url.clone(), shots })
}

impl Browser {
    async fn go(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn path(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("no {selector}: {e}"))
    }

    async fn text(&self, selector: &str) -> String {
        self.css(selector).await.text().await.unwrap()
    }

    async fn fill(&self, selector: &str, value: &str) {
        let el = self.css(selector).await;
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    async fn click(&self, selector: &str) {
        self.css(selector).await.click().await.unwrap();
    }

    /// Click something that loads a new page, and wait until the new page has loaded.
    async fn navigate(&self, selector: &str) {
        self.client.execute("window.__orgdStale = true;", vec![]).await.unwrap();
        self.click(selector).await;
        self.loaded(selector).await;
    }

    /// Press Enter in a form field, and wait until the page its form loads has loaded.
    async fn enter(&self, selector: &str) {
        self.client.execute("window.__orgdStale = true;", vec![]).await.unwrap();
        self.css(selector).await.send_keys("\u{E007}").await.unwrap();
        self.loaded(selector).await;
    }

    async fn loaded(&self, selector: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done = self
                .client
                .execute("return window.__orgdStale === undefined && document.readyState === 'complete';", vec![])
                .await;
            if matches!(done, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            assert!(Instant::now() < deadline, "{selector} loaded no page");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, (user, password): (&str, &str)) {
        self.go("/login").await;
        self.fill("#user_id", user).await;
        self.fill("#password", password).await;
        self.navigate("#sign-in").await;
        assert_eq!(self.path().await, "/tokens", "signed in as {user}");
    }

    async fn sign_out(&self) {
        self.navigate("form.signout button").await;
        assert_eq!(self.path().await, "/login?signed_out=1");
    }
}

#[tokio::test]
async fn a_user_gets_token_access_makes_a_token_for_its_ip_uses_and_revokes_it() {
    let app = TestApp::builder().seed(SEED).spawn().await;
    let Some(b) = browser(&app, "the token flow").await else { return };
    b.go("/tokens").await;
    assert_eq!(b.path().await, "/login?next=%2Ftokens", "pages need a session");
    b.shot("login").await;

    b.sign_in(READER).await;
    let why = b.text("#no-token-access").await;
    assert!(why.contains("TokenAccess") && why.contains("admin@demo.test"), "{why}");
    b.shot("tokens-without-access").await;
    b.sign_out().await;

    b.sign_in(ADMIN).await;
    b.go("/app/configui").await;
    b.shot("settings").await;
    assert_eq!(b.text("tr[data-user-id='reader@demo.test'] .token-access").await, "off");
    b.navigate("a[aria-label='Edit reader@demo.test']").await;
    b.click("#token_access").await;
    b.shot("user-edit").await;
    b.navigate("#save-user").await;
    assert!(b.path().await.starts_with("/app/configui?tenant=DEMO&saved="));
    assert_eq!(b.text("tr[data-user-id='reader@demo.test'] .token-access").await, "on");
    b.sign_out().await;

    b.sign_in(READER).await;
    assert_eq!(b.text("#current-ip").await, "127.0.0.1");
    b.navigate("#use-ip").await;
    assert_eq!(b.css("#subnets").await.prop("value").await.unwrap().as_deref(), Some("127.0.0.1/32"));
    b.fill("#label", "browser").await;
    b.navigate("#create-token").await;
    let secret = b.text("#token-secret").await;
    assert!(orgd_core::token::lookup_id(&secret).is_some(), "a whole token is shown: {secret}");
    b.click("#copy-token").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.text(".secret .copied").await.is_empty() {
        assert!(Instant::now() < deadline, "the copy button reports nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.shot("token-created").await;
    let token_id = orgd_core::token::lookup_id(&secret).unwrap().to_string();
    let row = format!("tr[data-token-id='{token_id}']");
    assert_eq!(b.text(&format!("{row} td:nth-child(5)")).await, "127.0.0.1/32");
    assert_eq!(b.text(&format!("{row} .status")).await, "active");

    assert_eq!(app.get_bearer("/api/v1/DEMO/datasets", &secret).await.status(), 200);
    b.go("/tokens").await;
    b.navigate(&format!("{row} button.danger")).await;
    assert_eq!(b.path().await, format!("/tokens?revoked={token_id}"));
    assert_eq!(b.text(&format!("{row} .status")).await, "revoked");
    b.shot("token-revoked").await;
    assert_eq!(app.get_bearer("/api/v1/DEMO/datasets", &secret).await.status(), 401);

    // Enter in a field creates the token (the form's default action), whatever other buttons it has.
    b.fill("#label", "by enter").await;
    b.fill("#subnets", "10.0.0.0/8").await;
    b.enter("#subnets").await;
    let secret = b.text("#token-secret").await;
    let row = format!("tr[data-token-id='{}']", orgd_core::token::lookup_id(&secret).expect("a token was made"));
    assert_eq!(b.text(&format!("{row} td:nth-child(5)")).await, "10.0.0.0/8", "the typed subnet, not the IP");
    b.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_admin_finds_a_dataset_id_edits_org_settings_and_lists_tenants() {
    let app = TestApp::builder().seed(SEED).spawn().await;
    let Some(b) = browser(&app, "the settings flow").await else { return };
    b.sign_in(ADMIN).await;
    b.go("/app/configui").await;
    b.navigate("#dataset-list a").await;
    let id = b.text("#dataset-id").await;
    assert_eq!(id, orgd_core::data::derived_id("orgd-seed-dataset/DEMO/People"));
    assert!(b.text("#property-list").await.contains("Employee ID"));
    b.shot("dataset").await;

    b.go("/app/configui/organization").await;
    b.fill("#session_timeout_in_minutes", "ten").await;
    b.navigate("#save-org").await;
    let err = b.text("#error-session_timeout_in_minutes").await;
    assert!(!err.is_empty(), "the bad value is named");
    b.shot("organization-error").await;
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "DEMO").await.unwrap();
    assert_ne!(org.settings["session_timeout_in_minutes"], "ten", "nothing was saved");
    b.fill("#session_timeout_in_minutes", "45").await;
    b.navigate("#save-org").await;
    assert_eq!(b.text(".notice").await, "Saved.");
    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "DEMO").await.unwrap();
    assert_eq!(org.settings["session_timeout_in_minutes"], 45);
    assert!(b.text("#affiliated-list").await.contains("DEMO_EU"));
    b.shot("organization").await;

    // The change history shows who saved the setting, from where, and what changed; its filters work.
    b.go("/app/configui").await;
    b.navigate("#events-link").await;
    let list = b.text("#event-list").await;
    assert!(list.contains("org.updated") && list.contains("settings.session_timeout_in_minutes"), "{list}");
    assert!(list.contains("user admin@demo.test") && list.contains("127.0.0.1"), "{list}");
    b.fill("#kind", "user.signed_in").await;
    b.enter("#kind").await;
    let list = b.text("#event-list").await;
    assert!(list.contains("user.signed_in") && !list.contains("org.updated"), "{list}");
    b.fill("#from", "yesterday").await;
    b.enter("#from").await;
    assert!(b.text("#filter-error").await.contains("from"), "a bad filter is named");
    b.shot("events").await;

    b.go("/tenants/tenants").await;
    let tenants = b.text("#tenant-list").await;
    assert!(tenants.contains("DEMO_EU") && tenants.contains(&format!("{}/api/v1/DEMO", app.url)), "{tenants}");
    assert!(!tenants.contains("OTHER"), "only tenants the user may act in");
    b.shot("tenants").await;
    b.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_admin_hides_a_dataset_from_plain_users_on_its_page() {
    let app = TestApp::builder().seed(SEED).spawn().await;
    let Some(b) = browser(&app, "the permissions form").await else { return };
    let ds = orgd_core::data::derived_id("orgd-seed-dataset/DEMO/People");
    let stored = || async {
        let id = orgd_core::ids::DatasetId::parse(&ds).unwrap();
        app.store.get_dataset(&id).await.unwrap().unwrap().grants
    };
    b.sign_in(ADMIN).await;
    b.go(&format!("/app/configui/datasets/{ds}")).await;
    b.css("#grant-user").await.select_by_value("none").await.unwrap();
    b.fill("#grant-users", "reader@demo.test = nobody").await;
    b.navigate("#save-permissions").await;
    let errors = b.text("#permission-errors").await;
    assert!(errors.contains("users.reader@demo.test"), "the bad level is named: {errors}");
    assert_eq!(stored().await, orgd_core::data::grants::Grants::default(), "nothing was saved");
    b.shot("dataset-permissions-error").await;
    b.css("#grant-user").await.select_by_value("none").await.unwrap();
    b.fill("#grant-users", "reader@demo.test = update").await;
    b.navigate("#save-permissions").await;
    assert_eq!(b.text(".notice").await, "Permissions saved.");
    let g = stored().await;
    assert_eq!(g.user, orgd_core::data::grants::Level::None);
    assert_eq!(g.users.values().copied().collect::<Vec<_>>(), [orgd_core::data::grants::Level::Update]);
    let shown = b.css("#grant-users").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(shown.trim(), "reader@demo.test = update", "the page shows what is stored");
    b.fill("#grant-rows", "user = {Name").await;
    b.navigate("#save-permissions").await;
    assert!(b.text("#permission-errors").await.contains("row rules, line 1"), "a rule that is not JSON is named");
    b.fill("#grant-rows", r#"user = {"Name": {"$ne": "Nobody"}}"#).await;
    b.navigate("#save-permissions").await;
    assert_eq!(b.text(".notice").await, "Permissions saved.");
    assert_eq!(stored().await.rows.user, Some(serde_json::json!({"Name": {"$ne": "Nobody"}})));
    assert_eq!(stored().await.users.len(), 1, "the levels stay");
    let shown = b.css("#grant-rows").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(shown.trim(), r#"user = {"Name":{"$ne":"Nobody"}}"#, "the page shows the stored rule");
    b.shot("dataset-permissions").await;
    b.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_admin_adds_and_removes_a_property_on_a_datasets_page() {
    let app = TestApp::builder().seed(SEED).spawn().await;
    let Some(b) = browser(&app, "the properties form").await else { return };
    let ds = orgd_core::data::derived_id("orgd-seed-dataset/DEMO/People");
    let keys = || async {
        let id = orgd_core::ids::DatasetId::parse(&ds).unwrap();
        let d = app.store.get_dataset(&id).await.unwrap().unwrap();
        d.properties.into_iter().map(|p| p.key).collect::<Vec<_>>()
    };
    b.sign_in(ADMIN).await;
    b.go(&format!("/app/configui/datasets/{ds}")).await;
    b.fill("#property-key", "Name").await;
    b.navigate("#save-property").await;
    assert!(b.text("#property-errors").await.contains("repeats the key"), "a taken key is named");
    b.fill("#property-key", "Site").await;
    b.css("#property-type").await.select_by_value("text").await.unwrap();
    b.fill("#property-name", "Office site").await;
    b.navigate("#save-property").await;
    assert_eq!(b.text(".notice").await, "Properties saved.");
    assert_eq!(keys().await, ["Employee ID", "Name", "Site"]);
    assert!(b.text("#property-list").await.contains("Office site"));
    b.shot("dataset-properties").await;
    assert!(
        b.client.find_all(Locator::Css(".remove-property")).await.unwrap().len() == 1,
        "only the property that is not the autoId or label may go"
    );
    b.click(".remove-property[data-key='Site']").await;
    b.client.dismiss_alert().await.unwrap();
    assert_eq!(keys().await, ["Employee ID", "Name", "Site"], "a dismissed confirmation removes nothing");
    b.client.execute("window.__orgdStale = true;", vec![]).await.unwrap();
    b.click(".remove-property[data-key='Site']").await;
    b.client.accept_alert().await.unwrap();
    b.loaded(".remove-property").await;
    assert_eq!(b.text(".notice").await, "Properties saved.");
    assert_eq!(keys().await, ["Employee ID", "Name"]);
    b.client.clone().close().await.unwrap();
}

/// A console session for HTTP-level tests: (session cookie, CSRF token of its forms).
pub async fn session(app: &TestApp, (user, password): (&str, &str)) -> (String, String) {
    let r = app.get("/login").send().await.unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let login_csrf = set.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let r = app
        .request(reqwest::Method::POST, "/login")
        .header("cookie", format!("orgd_login_csrf={login_csrf}"))
        .form(&[("csrf", login_csrf.as_str()), ("user_id", user), ("password", password), ("next", "/tokens")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("orgd_session="))
        .unwrap();
    assert!(cookie.contains("Secure; HttpOnly; SameSite=Strict"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = app.get("/tokens").header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    (cookie, csrf)
}

#[tokio::test]
async fn console_forms_need_their_csrf_token_and_the_right_role_and_tenant() {
    let app = TestApp::builder().seed(SEED).spawn().await;
    let r = app
        .request(reqwest::Method::POST, "/login")
        .form(&[("user_id", ADMIN.0), ("password", ADMIN.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "sign-in without the form's CSRF cookie is refused");

    let (cookie, csrf) = session(&app, ADMIN).await;
    let post = |path: &str, form: Vec<(&str, &str)>| {
        app.request(reqwest::Method::POST, path).header("cookie", &cookie).form(&form).send()
    };
    let r = post("/tokens", vec![("label", "x")]).await.unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = post("/tokens", vec![("label", "x"), ("csrf", "0123456789abcdef0123456789abcdef")]).await.unwrap();
    assert_eq!(r.status(), 403, "a wrong CSRF token");
    let r = post("/tokens", vec![("label", "x"), ("csrf", &csrf), ("subnets", "10.0.0.0/33")]).await.unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("Subnets:") && !page.contains("token-secret"), "a bad subnet is named, nothing made");
    let r = post("/tokens", vec![("label", "x"), ("csrf", &csrf), ("ends_at", "2020-01-01")]).await.unwrap();
    assert!(r.text().await.unwrap().contains("ends_at"), "the core's window rule is shown");
    let demo = orgd_core::cases::orgs::load(app.store.as_ref(), "DEMO").await.unwrap();
    let tokens = app.store.list_tokens(&demo.org_id, None).await.unwrap();
    assert!(tokens.iter().all(|t| t.kind != TokenKind::Api), "no API token was made by refused forms");

    let get = |path: String| app.get(&path).header("cookie", &cookie).send();
    assert_eq!(get("/app/configui?tenant=DEMO_EU".into()).await.unwrap().status(), 200, "an affiliated org");
    assert_eq!(get("/app/configui?tenant=OTHER".into()).await.unwrap().status(), 404, "another tree");
    let other_ds = orgd_core::data::derived_id("orgd-seed-dataset/OTHER/People");
    assert_eq!(get(format!("/app/configui/datasets/{other_ds}")).await.unwrap().status(), 404);
    assert_eq!(get("/app/configui/datasets/not-a-uuid".into()).await.unwrap().status(), 404, "no dataset has it");
    let people = orgd_core::data::derived_id("orgd-seed-dataset/DEMO/People");
    let grants = format!("/app/configui/datasets/{people}/permissions");
    let r = post(&grants, vec![("user", "none"), ("user_manager", "read")]).await.unwrap();
    assert_eq!(r.status(), 403, "the permissions form needs its CSRF token");
    let r = post(&format!("/app/configui/datasets/{other_ds}/permissions"), vec![("csrf", &csrf), ("user", "none")]);
    assert_eq!(r.await.unwrap().status(), 404, "another tree's dataset");
    let people_id = orgd_core::ids::DatasetId::parse(&people).unwrap();
    let g = app.store.get_dataset(&people_id).await.unwrap().unwrap().grants;
    assert_eq!(g, orgd_core::data::grants::Grants::default(), "refused forms changed nothing");

    let (reader, _) = session(&app, READER).await;
    let r = app.get("/app/configui").header("cookie", &reader).send().await.unwrap();
    assert_eq!(r.status(), 403, "the Settings app is for administrators");
    let r = app
        .get("/tokens")
        .header("cookie", "orgd_session=orgd_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "an unknown session goes to sign-in");

    let r = post("/logout", vec![("csrf", &csrf)]).await.unwrap();
    assert_eq!(r.headers()["location"], "/login?signed_out=1");
    let r = app.get("/tokens").header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 303, "the session ends with sign-out");
}

#[tokio::test]
async fn the_api_reference_page_renders_every_operation_from_the_bundled_script() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app.get("/openapi.json").send().await.unwrap().json().await.unwrap();
    let operations: usize = doc["paths"].as_object().unwrap().values().map(|i| i.as_object().unwrap().len()).sum();
    let Some(b) = browser(&app, "the API reference").await else { return };
    b.go("/docs").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.client.find_all(Locator::Css(".docs-op")).await.unwrap().len() < operations {
        assert!(Instant::now() < deadline, "the page did not render every operation: {}", b.text("#docs-status").await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(b.text("#docs-status").await.contains(&format!("{operations} operations")));
    b.click(".docs-op summary").await;
    assert!(b.text(".docs-op").await.contains("Credential: Authorization: Bearer or X-TOKEN"));
    let schemas = doc["components"]["schemas"].as_object().unwrap().len();
    assert_eq!(b.client.find_all(Locator::Css(".docs-schema")).await.unwrap().len(), schemas, "every schema is listed");
    b.click("#schema-DatasetDefinition summary").await;
    let fields = b.text("#schema-DatasetDefinition").await;
    assert!(fields.contains("autoId") && fields.contains("properties: array of PropertyDefinition"), "{fields}");
    assert!(fields.contains("name: string required"), "required fields are marked: {fields}");
    b.shot("api-reference").await;
}

const CHART_SEED: &str = r#"
orgs:
  - tenant_id: DEMO
    name: Demo Holding
    users:
      - {user_id: admin@demo.test, password: Demo-Admin-2024!, role: administrator, token_access: true}
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
          - {key: grade, type: number}
        items:
          - {id: 1, name: Boss}
          - {id: 2, name: Ana Lima, boss: 1}
          - {id: 3, name: Bob Berg, boss: 1}
          - {id: 4, name: Cy Dahl, boss: 2}
          - {id: 5, name: Dee Ek, boss: 4}
          - {id: 6, name: Eve Fox, boss: 3, grade: 2}
        drafts:
          - name: Reorg 2027
            actions:
              - {_action: update, id: 4, boss: 3}
              - {_action: create, id: 7, name: Gil New, boss: 3}
              - {_action: update, id: 6, grade: 3}
              - {_action: delete, id: 2}
"#;

#[tokio::test]
async fn a_draft_is_reviewed_as_an_org_chart_beside_its_changes() {
    let app = TestApp::builder().seed(CHART_SEED).spawn().await;
    // Without JavaScript: the chart is SVG in the page itself.
    let (cookie, _) = session(&app, ADMIN).await;
    let ds = orgd_core::data::derived_id("orgd-seed-dataset/DEMO/People");
    let draft = orgd_core::data::derived_id("orgd-seed-draft/DEMO/People/Reorg 2027");
    let page = |q: String| {
        let (app, cookie, ds) = (&app, cookie.clone(), ds.clone());
        async move {
            let r = app
                .get(&format!("/app/configui/datasets/{ds}/chart{q}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, html) = page(format!("?draft={draft}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<svg id=\"org-chart\""), "{html}");
    for (class, label) in [("moved", "Cy Dahl"), ("added", "Gil New"), ("changed", "Eve Fox"), ("removed", "Ana Lima")]
    {
        let marked =
            html.split("<g class=\"node ").any(|g| g.starts_with(class) && g.contains(&format!("<title>{label}")));
        assert!(marked, "{label} is marked {class}: {html}");
    }
    assert!(html.contains("boss: 2 → 3"), "the diff beside the chart");
    let (_, as_is) = page(String::new()).await;
    assert!(!as_is.contains("node moved") && as_is.contains("<title>Cy Dahl"), "the as-is chart has no marks");
    let (_, shallow) = page("?depth=2".into()).await;
    assert!(shallow.contains("+2 below") && !shallow.contains("<title>Cy Dahl"), "collapsed below level 2: {shallow}");
    assert_eq!(page("?depth=zero".into()).await.0, 400);
    assert_eq!(page(format!("?draft={ds}")).await.0, 404, "not a draft of this dataset");

    let Some(b) = browser(&app, "the org chart").await else { return };
    b.sign_in(ADMIN).await;
    b.go(&format!("/app/configui/datasets/{ds}")).await;
    assert!(b.text("#draft-list").await.contains("Reorg 2027"));
    b.navigate("#draft-list a").await;
    assert!(b.text("#draft-diff").await.contains("removed"));
    let boxes = b.client.find_all(Locator::Css("#org-chart g.node")).await.unwrap();
    assert_eq!(boxes.len(), 6, "Boss, the removed Ana, Bob; then Cy, Gil and Eve under Bob (Dee below level 3)");
    b.shot("org-chart-draft").await;
    b.fill("#depth", "5").await;
    b.navigate("#show-depth").await;
    assert_eq!(b.client.find_all(Locator::Css("#org-chart g.node")).await.unwrap().len(), 7, "Dee shows at level 4");
    b.shot("org-chart-draft-deep").await;
    b.go(&format!("/app/configui/datasets/{ds}")).await;
    b.navigate("#as-is-chart").await;
    b.shot("org-chart-as-is").await;
    b.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_admin_subscribes_a_webhook_reads_its_deliveries_and_redelivers_one() {
    let app = TestApp::builder().seed(SEED).outbound_http().spawn().await;
    let Some(b) = browser(&app, "the webhooks pages").await else { return };
    let hooks = crate::webhooks::Hooks::start().await;
    b.sign_in(ADMIN).await;
    b.go("/app/configui").await;
    b.navigate("#webhooks-link").await;
    assert!(b.text("#no-webhooks").await.contains("No webhooks"));
    b.fill("#url", "https://hooks.example.com/x").await;
    b.fill("#events", "user.eaten").await;
    b.navigate("#create-webhook").await;
    assert!(b.text(".error").await.contains("user.eaten"), "the bad kind is named");
    b.fill("#url", &format!("{}/ok/console", hooks.url)).await;
    b.fill("#events", "user.*, org.updated").await;
    b.fill("#description", "HR sync").await;
    b.navigate("#create-webhook").await;
    let secret = b.text("#webhook-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let list = b.text("#webhook-list").await;
    assert!(list.contains("/ok/console") && list.contains("user.*, org.updated") && list.contains("active"), "{list}");
    b.shot("webhooks").await;

    let org = orgd_core::cases::orgs::load(app.store.as_ref(), "DEMO").await.unwrap();
    app.user(&org, "hooked@demo.test", orgd_core::model::Role::User).await;
    let got = hooks.wait_for("/ok/console", 1).await;
    assert_eq!(got[0].body["type"], "user.created");
    b.navigate("#webhook-list a").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.text("#delivery-list").await.contains("delivered") {
        assert!(Instant::now() < deadline, "the delivery never showed as delivered");
        b.go(&b.path().await).await;
    }
    assert!(b.text("#delivery-list").await.contains("user.created"));
    b.navigate("#delivery-list button").await;
    assert!(b.text(".notice").await.contains("queued again"));
    hooks.wait_for("/ok/console", 2).await;
    b.shot("webhook-deliveries").await;

    b.go("/app/configui/webhooks?tenant=DEMO").await;
    b.navigate("#webhook-list button.danger").await;
    assert!(b.text(".notice").await.contains("deleted"));
    assert!(b.text("#no-webhooks").await.contains("No webhooks"));
    b.client.clone().close().await.unwrap();
}
