//! SQLite's write-ahead log is copied back into the database file by a thread of its own, so that no
//! commit waits for it. By default SQLite checkpoints inside the commit that takes the log past 1,000
//! pages: a 1M-item import's commit then copied 300 MB and synced the file before it returned, and the
//! next small commit of another connection could pay the same. Here every connection runs with
//! [`CONNECTION_PRAGMAS`] (automatic checkpoints off, the log file cut back once it restarts), and the
//! checkpointer runs a `PASSIVE` checkpoint, which never blocks readers or writers, when a large write
//! commits and every [`INTERVAL`] for the commits it is not told of (small ones, another process's).

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
    /// Start the checkpointer of the SQLite file at `path`.
    pub(crate) fn start(path: PathBuf) -> Checkpointer {
        let (wake, woken) = sync_channel(1);
        let spawned = std::thread::Builder::new().name("orgd-checkpoint".into()).spawn(move || {
            let mut conn: Option<rusqlite::Connection> = None;
            loop {
                match woken.recv_timeout(INTERVAL) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if conn.is_none() {
                    conn = open(&path)
                        .map_err(|e| tracing::warn!(error = %e, "cannot open the checkpoint connection"))
                        .ok();
                }
                if let Some(c) = &conn {
                    if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "checkpoint failed; retrying");
                        conn = None;
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the checkpoint thread");
        }
        Checkpointer { wake }
    }

    /// Ask for a checkpoint now (after a large commit); never waits.
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
        let checkpoints = Checkpointer::start(path.clone());
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
