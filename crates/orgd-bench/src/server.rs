//! A release `orgd serve` process on loopback with a fresh database, a tenant, an admin and a token.

use anyhow::{anyhow, Context};
use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::model::{Role, UsagePlan};
use orgd_store::SqlStore;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The server under test.
/// The password of the bench tenant's administrator, `bench@bench.test` (console scenarios sign in).
pub const ADMIN_PASSWORD: &str = "Bench-Admin-2024!";

pub struct Bench {
    child: Child,
    /// Base URL.
    pub url: String,
    /// HTTPS client trusting the server's certificate.
    pub client: reqwest::Client,
    /// Bearer token of the tenant's administrator.
    pub token: String,
    /// Bearer token of a plain user of the tenant, `reader@bench.test` (governance scenarios).
    pub reader_token: String,
    /// Database URL (for baselines and seeding).
    pub database: String,
    /// Data folder.
    pub _dir: tempfile::TempDir,
    /// Server process id (for RSS).
    pub pid: u32,
    /// The `orgd` binary serving (and importing with the CLI).
    pub binary: std::path::PathBuf,
    /// Flags of `orgd serve` beyond the harness's own.
    extra: Vec<String>,
}

/// A user of `org` with the bench password and a token; answers the token.
async fn user_with_token(
    store: &SqlStore,
    org: &orgd_core::model::Org,
    user_id: &str,
    role: Role,
    now: time::OffsetDateTime,
) -> anyhow::Result<String> {
    let fields = UserFields {
        role: Some(role),
        token_access: Some(true),
        email: Some(user_id.into()),
        password: Some(ADMIN_PASSWORD.into()),
        ..UserFields::default()
    };
    let user = cases::users::create(store, org, user_id, fields, now).await.map_err(|e| anyhow!(e.to_string()))?;
    let (token, _) =
        cases::tokens::create_api(store, &user, NewToken::default(), now).await.map_err(|e| anyhow!(e.to_string()))?;
    Ok(token)
}

/// A usage plan no benchmark reaches, so that only the measured work limits a figure.
pub fn unlimited() -> OrgPatch {
    OrgPatch {
        rate_per_second: Some(1_000_000),
        burst: Some(1_000_000),
        max_concurrent: Some(10_000),
        daily_quota: Some(None),
        ..OrgPatch::default()
    }
}

pub fn orgd_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe.parent().ok_or_else(|| anyhow!("no parent"))?.join("orgd");
    if p.exists() {
        Ok(p)
    } else {
        Err(anyhow!("{} is missing: run `cargo build --release -p orgd` first (bench/run.sh does)", p.display()))
    }
}

/// Start `binary serve` on a data folder and database, with `extra` flags; returns the process and its port.
/// X-Forwarded-For from loopback is trusted, so load tools can present many client addresses (sign-in
/// limits are per address).
fn spawn(
    binary: &std::path::Path,
    dir: &std::path::Path,
    database: &str,
    extra: &[String],
) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1/32", "--data-dir"])
        .arg(dir)
        .args(["--database", database])
        .args(extra)
        .env("ORGD_LOG", "warn,orgd_server::startup=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut err = BufReader::new(child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?);
    let addr = loop {
        let mut line = String::new();
        if err.read_line(&mut line)? == 0 {
            return Err(anyhow!("orgd exited before listening"));
        }
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap_or_default().to_string();
        }
    };
    std::thread::spawn(move || for _ in err.lines() {});
    let port = addr.rsplit(':').next().unwrap_or_default().to_string();
    Ok((child, port))
}

/// A fresh PostgreSQL database on the server at `server_url` (one more each call).
pub async fn fresh_pg(server_url: &str) -> anyhow::Result<String> {
    use sqlx::{Connection, Executor};
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("orgd_bench_{}_{n}", std::process::id());
    let mut c = sqlx::PgConnection::connect(server_url).await.context("ORGD_BENCH_POSTGRES_URL")?;
    let _ = c.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await;
    c.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let base = server_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(server_url);
    Ok(format!("{base}/{name}"))
}

impl Bench {
    /// Prepare the database and start the server.
    pub async fn start(pg: Option<&str>) -> anyhow::Result<Bench> {
        let dir = tempfile::tempdir()?;
        let database = match pg {
            Some(server) => fresh_pg(server).await?,
            None => format!("sqlite://{}/orgd.db", dir.path().display()),
        };
        let store = SqlStore::open(&database).await?;
        let now = SystemClock::default().now();
        let org = cases::orgs::create(
            &store,
            NewOrg { tenant_id: Some("BENCH".into()), name: "Bench".into(), ..NewOrg::default() },
            &UsagePlan::default(),
            now,
        )
        .await
        .map_err(|e| anyhow!(e.to_string()))?;
        cases::orgs::update(&store, "BENCH", unlimited()).await.map_err(|e| anyhow!(e.to_string()))?;
        let token = user_with_token(&store, &org, "bench@bench.test", Role::Administrator, now).await?;
        let reader_token = user_with_token(&store, &org, "reader@bench.test", Role::User, now).await?;
        store.close().await;
        Bench::serve(orgd_binary()?, dir, database, token, reader_token, Vec::new())
    }

    /// Start `binary` on a fresh database holding `seed` (YAML), applied by `binary seed` itself, so that a
    /// build of another commit gets the schema of its own migrations. `token` is a token the seed gives
    /// the tenant's administrator; `extra` are further flags of `serve`.
    pub async fn seeded(
        binary: &std::path::Path,
        pg: Option<&str>,
        seed: &str,
        token: &str,
        extra: &[&str],
    ) -> anyhow::Result<Bench> {
        let dir = tempfile::tempdir()?;
        let database = match pg {
            Some(server) => fresh_pg(server).await?,
            None => format!("sqlite://{}/orgd.db", dir.path().display()),
        };
        let file = dir.path().join("seed.yaml");
        std::fs::write(&file, seed)?;
        let out = Command::new(binary).arg("seed").arg(&file).args(["--database", &database]).output()?;
        anyhow::ensure!(
            out.status.success(),
            "{} seed failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let extra = extra.iter().map(|s| s.to_string()).collect();
        Bench::serve(binary.to_path_buf(), dir, database, token.into(), token.into(), extra)
    }

    fn serve(
        binary: std::path::PathBuf,
        dir: tempfile::TempDir,
        database: String,
        token: String,
        reader_token: String,
        extra: Vec<String>,
    ) -> anyhow::Result<Bench> {
        let (child, port) = spawn(&binary, dir.path(), &database, &extra)?;
        let pem = std::fs::read(dir.path().join("tls/cert.pem"))?;
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .pool_max_idle_per_host(64)
            .build()?;
        let pid = child.id();
        let url = format!("https://localhost:{port}");
        Ok(Bench { child, url, client, token, reader_token, database, _dir: dir, pid, binary, extra })
    }

    /// Stop the server (as a crash would) until [`Bench::restart_until_ready`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kill the server and start it again on the same database; milliseconds from the start of the new
    /// process to its first successful `/readyz` (its port changes).
    pub async fn restart_until_ready(&mut self) -> anyhow::Result<f64> {
        self.kill();
        let t0 = std::time::Instant::now();
        let (child, port) = spawn(&self.binary, self._dir.path(), &self.database, &self.extra)?;
        self.pid = child.id();
        self.child = child;
        self.url = format!("https://localhost:{port}");
        loop {
            if self.client.get(format!("{}/readyz", self.url)).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(t0.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::ensure!(t0.elapsed().as_secs() < 60, "orgd did not get ready in 60 s");
        }
    }

    /// Resident memory of the server now, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    }

    /// Stop the server.
    pub fn stop(self) {}
}

/// The server never outlives the harness, whether a scenario finished or failed.
impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
