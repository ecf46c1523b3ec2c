//! `TestApp`: the real server on a real TLS socket (port 0) over a fresh database per test.

use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::model::{Org, Role, UsagePlan, User};
use orgd_core::net::CidrList;
use orgd_core::store::Store;
use orgd_server::{start, Server, ServerConfig};
use orgd_store::testing::{fresh_postgres_database, postgres_server};
use orgd_store::SqlStore;
use std::sync::Arc;
use tempfile::TempDir;
use time::OffsetDateTime;

/// Which database a test app runs on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub server: Server,
    pub url: String,
    /// Speaks HTTP/2 (negotiated by ALPN, as curl and browsers do over TLS).
    pub client: reqwest::Client,
    /// Speaks HTTP/1.1 only.
    pub client_h1: reqwest::Client,
    pub store: Arc<SqlStore>,
    pub database_url: String,
    pub _dir: TempDir,
}

pub struct Builder {
    db: Db,
    trusted_proxies: Vec<ipnet::IpNet>,
    outbound_allow_http: bool,
    seed: Option<String>,
    control_token: Option<String>,
    journal_size: Option<usize>,
    database: Option<String>,
    shared_limits: Option<String>,
    body_timeout: Option<std::time::Duration>,
    gzip_expanded_limit: Option<u64>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    /// A builder; the database is SQLite unless `ORGD_TEST_DB=postgres` runs the suite on PostgreSQL.
    pub fn builder() -> Builder {
        let db = match std::env::var("ORGD_TEST_DB").as_deref() {
            Ok("postgres") => Db::Postgres,
            _ => Db::Sqlite,
        };
        Builder {
            db,
            trusted_proxies: vec![],
            outbound_allow_http: false,
            seed: None,
            control_token: None,
            journal_size: None,
            database: None,
            shared_limits: None,
            body_timeout: None,
            gzip_expanded_limit: None,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        SystemClock::default().now()
    }

    /// A root org (or a child with `parent`), with an unlimited daily quota unless changed later.
    pub async fn org(&self, tenant: &str, parent: Option<&Org>) -> Org {
        let input = NewOrg {
            tenant_id: Some(tenant.into()),
            name: format!("{tenant} org"),
            parent: parent.map(|p| p.tenant_id.to_string()),
            ..NewOrg::default()
        };
        cases::orgs::create(self.store.as_ref(), input, &UsagePlan::default(), self.now()).await.unwrap()
    }

    pub async fn user(&self, org: &Org, user_id: &str, role: Role) -> User {
        let fields = UserFields {
            role: Some(role),
            token_access: Some(true),
            email: Some(format!("{}@test.example", user_id.replace('@', "."))),
            password: Some("Passw0rd!".into()),
            ..UserFields::default()
        };
        cases::users::create(self.store.as_ref(), org, user_id, fields, self.now()).await.unwrap()
    }

    pub async fn update_user(&self, org: &Org, user: &User, fields: UserFields) -> User {
        let fresh = self.store.get_user(user.psk).await.unwrap().unwrap();
        cases::users::save(self.store.as_ref(), org, fresh, fields, self.now()).await.unwrap()
    }

    pub async fn update_org(&self, org: &Org, patch: OrgPatch) -> Org {
        cases::orgs::update(self.store.as_ref(), org.tenant_id.as_str(), patch).await.unwrap()
    }

    pub async fn token(&self, user: &User, input: NewToken) -> String {
        cases::tokens::create_api(self.store.as_ref(), user, input, self.now()).await.unwrap().0
    }

    /// An org with an administrator and a ready token: the common start of a test.
    pub async fn tenant_with_admin(&self, tenant: &str) -> (Org, User, String) {
        let org = self.org(tenant, None).await;
        let admin = self.user(&org, &format!("admin@{}", tenant.to_lowercase()), Role::Administrator).await;
        let token = self.token(&admin, NewToken::default()).await;
        (org, admin, token)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{}", self.url, path))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{}", self.url, path))
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.get(path).bearer_auth(token).send().await.unwrap()
    }
}

impl Builder {
    pub fn db(mut self, db: Db) -> Self {
        self.db = db;
        self
    }

    /// Let jobs and webhooks call the test's plain-http loopback receivers.
    pub fn outbound_http(mut self) -> Self {
        self.outbound_allow_http = true;
        self
    }

    pub fn trusted_proxy(mut self, cidr: &str) -> Self {
        self.trusted_proxies.push(cidr.parse().unwrap());
        self
    }

    /// Apply this seed file text at start (and on reset).
    pub fn seed(mut self, yaml: &str) -> Self {
        self.seed = Some(yaml.to_string());
        self
    }

    /// Turn the control API on with this secret.
    pub fn control(mut self, token: &str) -> Self {
        self.control_token = Some(token.to_string());
        self
    }

    /// Use this database (another node's) instead of a fresh one.
    pub fn database(mut self, url: &str) -> Self {
        self.database = Some(url.to_string());
        self
    }

    /// Keep usage counters in this Redis database (shared by the nodes given the same URL).
    pub fn shared_limits(mut self, url: &str) -> Self {
        self.shared_limits = Some(url.to_string());
        self
    }

    /// How long a request body may take to arrive.
    pub fn body_timeout(mut self, t: std::time::Duration) -> Self {
        self.body_timeout = Some(t);
        self
    }

    /// The most a gzip import file may unpack to.
    pub fn gzip_expanded_limit(mut self, n: u64) -> Self {
        self.gzip_expanded_limit = Some(n);
        self
    }

    pub fn journal_size(mut self, n: usize) -> Self {
        self.journal_size = Some(n);
        self
    }

    pub async fn spawn(self) -> TestApp {
        self.try_spawn().await.unwrap()
    }

    pub async fn try_spawn(self) -> anyhow::Result<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::for_data_dir(dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.trusted_proxies = self.trusted_proxies;
        config.outbound_allow_http = self.outbound_allow_http;
        config.outbound_allow_internal = self.outbound_allow_http;
        config.webhook_poll = std::time::Duration::from_millis(50);
        config.webhook_timeout = std::time::Duration::from_millis(1500);
        config.control_token = self.control_token.map(orgd_server::Secret);
        config.shared_limits = self.shared_limits.map(orgd_server::Secret);
        if let Some(n) = self.journal_size {
            config.journal_size = n;
        }
        if let Some(t) = self.body_timeout {
            config.body_timeout = t;
        }
        if let Some(n) = self.gzip_expanded_limit {
            config.gzip_expanded_limit = n;
        }
        if let Some(text) = &self.seed {
            let path = dir.path().join("seed.yaml");
            std::fs::write(&path, text).unwrap();
            let seed = orgd_core::seed::parse(&path, text)
                .map_err(|e| anyhow::anyhow!(e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))?;
            config.seed = Some(Arc::new(seed));
        }
        if let Some(url) = &self.database {
            config.database_url = url.clone();
        } else if self.db == Db::Postgres {
            let server = postgres_server("the API suite on PostgreSQL (ORGD_TEST_DB=postgres)").expect(
                "ORGD_TEST_DB=postgres needs a PostgreSQL server: set ORGD_TEST_POSTGRES_URL or install PostgreSQL",
            );
            config.database_url = fresh_postgres_database(&server).await;
        }
        let database_url = config.database_url.clone();
        let store = Arc::new(SqlStore::open(&database_url).await.unwrap());
        let server = start(config, store.clone()).await?;
        let pem = std::fs::read(server.cert_path.as_ref().unwrap()).unwrap();
        let client = || {
            reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
                .resolve("localhost", server.addr)
                .redirect(reqwest::redirect::Policy::none())
        };
        let client_h1 = client().http1_only().build().unwrap();
        let client = client().build().unwrap();
        let url = server.public_url.clone();
        Ok(TestApp { server, url, client, client_h1, store, database_url, _dir: dir })
    }
}

/// The Orgvue error of a response: (status, code, name, message, whole body).
pub async fn orgvue_error(r: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    let code = body["errors"][0]["code"].as_str().unwrap_or_else(|| panic!("not an Orgvue error: {body}")).to_string();
    (status, code, body)
}

/// The Apperian error of a response: (status, code, body).
pub async fn apperian_error(r: reqwest::Response) -> (u16, i64, serde_json::Value) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    let code = body["error"]["code"].as_i64().unwrap_or_else(|| panic!("not an Apperian error: {body}"));
    (status, code, body)
}

pub fn cidrs(s: &str) -> CidrList {
    CidrList::parse_comma(s, "subnets").unwrap()
}

impl TestApp {
    /// Send a JSON request with a token in X-TOKEN.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut r = self.request(method, path).header("X-TOKEN", token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// A presigned file from `POST /api/v1/{tenant}/files/generate`: its ticket, with the PUT and GET URLs.
    pub async fn generate_file(&self, tenant: &str, token: &str, kind: &str, encoding: &str) -> serde_json::Value {
        let r = self
            .request(reqwest::Method::POST, &format!("/api/v1/{tenant}/files/generate"))
            .bearer_auth(token)
            .json(&serde_json::json!({"targetType": kind, "targetEncoding": encoding}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "files/generate");
        r.json().await.unwrap()
    }

    /// Sign in; returns the response.
    pub async fn login(&self, user_id: &str, password: &str, extra: serde_json::Value) -> reqwest::Response {
        let mut body = serde_json::json!({"user_id": user_id, "password": password});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        self.request(reqwest::Method::POST, "/users/authenticate").json(&body).send().await.unwrap()
    }
}

/// One received request: method, path and query, body.
pub type Received = (String, String, Vec<u8>);

/// A plain-HTTP receiver on loopback that records every request (method, path and query, body).
pub struct Receiver {
    pub url: String,
    pub seen: Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let seen: Arc<std::sync::Mutex<Vec<Received>>> = Arc::default();
        let s2 = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let seen = s2.clone();
            async move {
                let method = req.method().to_string();
                let uri = req.uri().to_string();
                let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap().to_vec();
                seen.lock().unwrap().push((method, uri, body));
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, seen }
    }

    /// Wait until `n` requests arrived (at most 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = std::time::Instant::now();
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if seen.len() >= n {
                return seen;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "only {} requests arrived", seen.len());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The Redis URL the tests of `group` use: `ORGD_TEST_REDIS_URL`, or else a private `redis-server` this test
/// process starts once on a free port (stopped when the process ends). `None` when neither: `group` is
/// reported as skipped (a failure under CI).
pub fn redis_server(group: &str) -> Option<String> {
    if let Ok(url) = std::env::var("ORGD_TEST_REDIS_URL") {
        if !url.is_empty() {
            return Some(url);
        }
    }
    static PRIVATE: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    match PRIVATE.get_or_init(private_redis) {
        Ok(url) => Some(url.clone()),
        Err(why) => {
            orgd_store::testing::skipped(group, &format!("ORGD_TEST_REDIS_URL is not set and {why}"));
            None
        }
    }
}

fn private_redis() -> Result<String, String> {
    let bin =
        orgd_store::testing::installed("redis-server").ok_or("redis-server is not installed (Debian: redis-server)")?;
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let child = std::process::Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server did not start: {e}"))?;
    orgd_store::testing::after_exit(&format!("kill {}", child.id()));
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(format!("redis://127.0.0.1:{port}/0"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err("redis-server did not answer within 5 s".into())
}

/// Send `method path` with a bearer token and an optional JSON body.
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut r = app.request(method, path).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// The JSON body of a successful answer (any other status fails the test with the body).
pub async fn ok_json(r: reqwest::Response) -> serde_json::Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}
