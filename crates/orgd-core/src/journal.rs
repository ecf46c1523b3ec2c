//! The request journal of the stand-in (`GET /_orgd/journal`): the last requests this node answered, in a
//! ring of fixed size, so memory stays bounded however long the server runs.

use crate::clock::iso_millis;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::VecDeque;
use time::OffsetDateTime;

/// The longest path kept in an entry.
const MAX_PATH: usize = 512;

/// One answered request.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When it was answered (the server's clock).
    pub at: OffsetDateTime,
    /// HTTP method.
    pub method: String,
    /// Path (cut to 512 bytes).
    pub path: String,
    /// Matched route template.
    pub route: Option<String>,
    /// `orgvue` or `apperian`.
    pub dialect: &'static str,
    /// Acting tenant.
    pub tenant: Option<String>,
    /// The presented token's id (never the secret).
    pub token_id: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// Error code, if it failed.
    pub error_code: Option<u32>,
    /// Whether an injected fault answered or delayed it.
    pub fault: bool,
    /// Trace id.
    pub trace_id: String,
    /// Time taken until the response head.
    pub micros: u64,
}

/// A bounded journal.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Entry>,
    total: u64,
}

impl Journal {
    /// A journal keeping the last `capacity` requests (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Journal { capacity, inner: Mutex::new(Ring { entries: VecDeque::with_capacity(capacity.min(4096)), total: 0 }) }
    }

    /// How many entries it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Record a request, dropping the oldest when full.
    pub fn record(&self, mut e: Entry) {
        if e.path.len() > MAX_PATH {
            let mut cut = MAX_PATH;
            while !e.path.is_char_boundary(cut) {
                cut -= 1;
            }
            e.path.truncate(cut);
        }
        let mut ring = self.inner.lock();
        if ring.entries.len() == self.capacity {
            ring.entries.pop_front();
        }
        ring.entries.push_back(e);
        ring.total += 1;
    }

    /// Forget every entry.
    pub fn clear(&self) {
        let mut ring = self.inner.lock();
        ring.entries.clear();
        ring.total = 0;
    }

    /// The last `limit` entries, newest first, and how many were recorded in all.
    pub fn last(&self, limit: usize) -> (Vec<Entry>, u64) {
        let ring = self.inner.lock();
        (ring.entries.iter().rev().take(limit).cloned().collect(), ring.total)
    }
}

impl Entry {
    /// The wire form.
    pub fn to_json(&self) -> Value {
        json!({
            "at": iso_millis(self.at), "method": self.method, "path": self.path, "route": self.route,
            "dialect": self.dialect, "tenant": self.tenant, "tokenId": self.token_id, "status": self.status,
            "errorCode": self.error_code, "fault": self.fault, "traceId": self.trace_id, "micros": self.micros,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Entry {
        Entry {
            at: OffsetDateTime::UNIX_EPOCH,
            method: "GET".into(),
            path: format!("/p/{n}"),
            route: None,
            dialect: "orgvue",
            tenant: None,
            token_id: None,
            status: 200,
            error_code: None,
            fault: false,
            trace_id: String::new(),
            micros: 0,
        }
    }

    #[test]
    fn the_journal_keeps_the_newest_within_its_bound() {
        let j = Journal::new(3);
        for n in 0..10 {
            j.record(entry(n));
        }
        let (last, total) = j.last(100);
        assert_eq!(total, 10);
        assert_eq!(last.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["/p/9", "/p/8", "/p/7"]);
        assert_eq!(j.last(1).0[0].path, "/p/9");
        let mut long = entry(0);
        long.path = "é".repeat(600);
        j.record(long);
        assert!(j.last(1).0[0].path.len() <= MAX_PATH);
        j.clear();
        let (empty, total) = j.last(10);
        assert!(empty.is_empty());
        assert_eq!(total, 0);
    }
}
