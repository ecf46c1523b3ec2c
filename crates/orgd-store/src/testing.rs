//! Isolated databases for tests: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database on the
//! server named by `ORGD_TEST_POSTGRES_URL`.

use sqlx::{Connection, Executor, PgConnection};

/// The PostgreSQL server tests should use, if any. Under CI (`CI=true`) the variable is required, so
/// PostgreSQL tests fail instead of being skipped when it is missing.
pub fn postgres_server() -> Option<String> {
    match std::env::var("ORGD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but ORGD_TEST_POSTGRES_URL is not set: the PostgreSQL tests must run in CI")
        }
        _ => None,
    }
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
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}{:04x}", nanos, std::process::id() & 0xffff)
}
