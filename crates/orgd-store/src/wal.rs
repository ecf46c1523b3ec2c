//! SQLite's write-ahead log is copied back into the database file by a thread of its own, so that no
//! commit waits for it. By default SQLite checkpoints inside the commit that takes the log past 1,000
//! pages: a 1M-item import's commit then copied 300 MB and synced the file before it returned, and the
//! next small commit of another connection could pay the same. Here every connection runs with
//! [`CONNECTION_PRAGMAS`] (automatic checkpoints off, the log file cut back once it restarts), and the
//! checkpointer runs a `PASSIVE` checkpoint, which never blocks readers or writers, when an item write
//! commits and every [`INTERVAL`] for the commits it is not told of (the other tables', another process's).

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::time::Duration;

/// Set on every connection to the file: no checkpoint inside a commit; a log that restarts is truncated
/// to 64 MiB, so that one big import does not keep its size on disk.
pub(crate) const CONNECTION_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;";

/// How often the checkpointer looks at the log without being woken.
const INTERVAL: Duration = Duration::from_millis(500);

/// The handle of a database file's checkpointer thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Checkpointer {
    wake: SyncSender<()>,
}

impl Checkpointer {
    /// Start the checkpointer of the SQLite file at `path`. A store cannot run without it (no connection
    /// checkpoints by itself), so a thread that cannot start is an error, not a warning.
    pub(crate) fn start(path: PathBuf) -> std::io::Result<Checkpointer> {
        let (wake, woken) = sync_channel(1);
        std::thread::Builder::new().name("orgd-checkpoint".into()).spawn(move || {
            let mut conn: Option<rusqlite::Connection> = None;
            let mut failing = false;
            loop {
                match woken.recv_timeout(INTERVAL) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                // A connection that failed is dropped and opened again next time.
                let done = conn.take().map_or_else(|| open(&path), Ok).and_then(|c| {
                    c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
                    conn = Some(c);
                    Ok(())
                });
                match done {
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; retrying every 500 ms");
                        failing = true;
                    }
                    Ok(()) if failing => {
                        tracing::info!("SQLite checkpoints work again");
                        failing = false;
                    }
                    _ => {}
                }
            }
        })?;
        Ok(Checkpointer { wake })
    }

    /// Ask for a checkpoint now (after an item write commits); never waits.
    pub(crate) fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpointer")
    }
}

fn open(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(5))?;
    c.execute_batch(CONNECTION_PRAGMAS)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_leave_the_log_to_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let c = open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v BLOB)").unwrap();
        c.execute_batch("BEGIN").unwrap();
        for _ in 0..2000 {
            c.execute("INSERT INTO t VALUES (zeroblob(4000))", []).unwrap();
        }
        c.execute_batch("COMMIT").unwrap();
        let file = || std::fs::metadata(&path).unwrap().len();
        assert!(file() < 1 << 20, "the commit of 8 MB did not copy it into the file: {} bytes", file());
        let checkpoints = Checkpointer::start(path.clone()).unwrap();
        checkpoints.wake();
        let start = std::time::Instant::now();
        while file() < 7_000_000 {
            assert!(start.elapsed() < Duration::from_secs(20), "no checkpoint after 20 s: {} bytes", file());
            std::thread::sleep(Duration::from_millis(20));
        }
        let n: i64 = c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2000);
    }
}
