//! Isolated databases for tests: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database on the
//! server named by `ORGD_TEST_POSTGRES_URL`, or else on a private cluster the test process starts itself.

use sqlx::{Connection, Executor, PgConnection};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Whether the tests run under CI (`CI=true`), where a test that cannot run fails instead of skipping.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Say on the terminal (past the test harness's capture) that a group of tests did not run, and why;
/// under CI that is a failure.
pub fn skipped(group: &str, why: &str) {
    if under_ci() {
        panic!("CI=true but {group} cannot run: {why}");
    }
    let _ = writeln!(std::io::stderr(), "\nSKIPPED: {group}: {why}");
}

/// The PostgreSQL server the tests of `group` use: `ORGD_TEST_POSTGRES_URL`, or else a private cluster this
/// test process starts once on a free port (initdb in a temporary folder; stopped and removed when the
/// process ends) when this machine has PostgreSQL's programs. `None` when neither: `group` is reported as
/// [`skipped`] (a failure under CI).
pub fn postgres_server(group: &str) -> Option<String> {
    if let Ok(url) = std::env::var("ORGD_TEST_POSTGRES_URL") {
        if !url.is_empty() {
            return Some(url);
        }
    }
    static PRIVATE: OnceLock<Result<String, String>> = OnceLock::new();
    match PRIVATE.get_or_init(|| PgCluster::create().map(PgCluster::keep_until_exit)) {
        Ok(url) => Some(url.clone()),
        Err(why) => {
            skipped(group, &format!("ORGD_TEST_POSTGRES_URL is not set and {why}"));
            None
        }
    }
}

/// A private PostgreSQL cluster in a temporary folder, on a free port of 127.0.0.1 (run by the `postgres`
/// system user when the tests run as root, as PostgreSQL refuses root); stopped when dropped.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_root: bool,
}

impl PgCluster {
    /// Make and start one; why not, when this machine cannot (no `pg_config`/`initdb`).
    pub fn create() -> Result<PgCluster, String> {
        let bindir = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .map_err(|_| "pg_config is not installed (Debian: postgresql)".to_string())?;
        let bin = PathBuf::from(String::from_utf8_lossy(&bindir.stdout).trim());
        if !bin.join("initdb").exists() {
            return Err(format!("{} has no initdb", bin.display()));
        }
        let as_root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
        let dir = std::env::temp_dir().join(format!("orgd-test-pg-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        if as_root && !Command::new("chown").arg("postgres").arg(&dir).status().is_ok_and(|s| s.success()) {
            return Err("the postgres system user is missing".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let c = PgCluster { bin, dir, port, as_root };
        let init = c.command("initdb").args(["-A", "trust", "-U", "postgres", "-D"]).arg(c.data()).output();
        match init {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Err(format!("initdb failed: {}", String::from_utf8_lossy(&o.stderr))),
            Err(e) => return Err(format!("initdb did not run: {e}")),
        }
        c.try_start()?;
        Ok(c)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(program));
            c
        } else {
            Command::new(self.bin.join(program))
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let out = self.command("pg_ctl").arg("-D").arg(self.data()).args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("pg_ctl {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn try_start(&self) -> Result<(), String> {
        let socket_dir = self.data().display().to_string();
        let opts = format!("-p {} -c listen_addresses=127.0.0.1 -k {socket_dir} -c fsync=off", self.port);
        self.pg_ctl(&["-w", "-l", &format!("{socket_dir}/log"), "-o", &opts, "start"])
    }

    /// Start it again after [`PgCluster::stop`].
    pub fn start(&self) {
        self.try_start().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Stop it (fast shutdown).
    pub fn stop(&self) {
        self.pg_ctl(&["-w", "-m", "fast", "stop"]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Its URL, as the `postgres` superuser.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Keep it running until this process ends, then stop and remove it; its URL.
    fn keep_until_exit(self) -> String {
        let url = self.url();
        let pg_ctl = self.command("pg_ctl");
        let stop = format!(
            "{} -D '{}' -m immediate stop; rm -rf '{}'",
            shell_words(&pg_ctl),
            self.data().display(),
            self.dir.display()
        );
        after_exit(&stop);
        std::mem::forget(self);
        url
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn shell_words(c: &Command) -> String {
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `script` with `sh` once this process has ended (a watcher polls for it every second), to stop what
/// a test process started for all its tests.
pub fn after_exit(script: &str) {
    let me = std::process::id();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("while kill -0 {me} 2>/dev/null; do sleep 1; done; {script}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// A program's path, when it is installed.
pub fn installed(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

/// Create a new, empty database on the server at `server_url` and return its URL.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    let name = format!("orgd_test_{}", rand_suffix());
    let mut conn = PgConnection::connect(server_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server_url} (ORGD_TEST_POSTGRES_URL): {e}"));
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("CREATE DATABASE");
    let _ = conn.close().await;
    let base = server_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(server_url);
    format!("{base}/{name}")
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}{:04x}{:x}", nanos, std::process::id() & 0xffff, N.fetch_add(1, Ordering::Relaxed))
}
