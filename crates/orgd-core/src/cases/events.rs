//! The audit trail's use case: read an org's events with filters and a cursor, for administrators of the
//! org or an org above it (the doors check the role; the target org is the one the caller acts in). Both
//! dialects, the console and `orgd admin events` read it through [`list`].

use crate::clock::{from_millis, iso_millis, parse_date_or_datetime, to_millis};
use crate::error::ApiError;
use crate::events::{Event, EventQuery};
use crate::ids::OrgId;
use crate::query::one;
use crate::store::Store;
use base64::Engine;
use serde_json::{json, Value};

/// Events per page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most events one page holds.
pub const MAX_LIMIT: i64 = 1000;

/// One page of the trail, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The events.
    pub events: Vec<Event>,
    /// The cursor of the next (older) page, when there may be one.
    pub next_cursor: Option<String>,
}

/// The filters of a query string: `from`, `to` (a date or an RFC 3339 time; `from` inclusive, `to`
/// exclusive), `actor`, `object`, `kind` (`user.updated`, or `user` for every kind of user change),
/// `cursor` (from a page's `nextCursor`) and `limit` (1–1000); of one org, or (the stand-in's control API)
/// of every org.
pub fn query(org: Option<&OrgId>, params: &[(String, String)]) -> Result<EventQuery, ApiError> {
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        one(params, name)?
            .map(|v| {
                parse_date_or_datetime(v)
                    .map(to_millis)
                    .ok_or_else(|| ApiError::invalid_query(name, "must be a date (YYYY-MM-DD) or an RFC 3339 time"))
            })
            .transpose()
    };
    let (from, to) = (time("from")?, time("to")?);
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            return Err(ApiError::invalid_query("to", "must be later than from"));
        }
    }
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match one(params, name)? {
            Some("") => Err(ApiError::invalid_query(name, "must not be empty")),
            v => Ok(v.map(str::to_string)),
        }
    };
    let before = one(params, "cursor")?.map(decode_cursor).transpose()?;
    let limit = crate::query::limit(params, DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(EventQuery {
        org_id: org.cloned(),
        from,
        to,
        actor: text("actor")?,
        object: text("object")?,
        kind: text("kind")?,
        trace_id: text("traceId")?,
        before,
        limit,
    })
}

/// The lease of the retention run: one node at a time does it.
pub const RETENTION_LEASE: &str = "events-retention";

/// Enforce every org's `events_retention_days` (of its events and its item versions) at `now` (ms) if this node (`holder`) takes the
/// retention lease for `every` ms; `None` when another node holds it, else the events deleted.
pub async fn enforce_retention(store: &dyn Store, holder: &str, now: i64, every: i64) -> Result<Option<u64>, ApiError> {
    // The lease ends a little before the next run so that a node's next tick finds it free.
    if !store.claim_lease(RETENTION_LEASE, holder, now, now + every * 9 / 10).await? {
        return Ok(None);
    }
    let mut deleted = 0;
    for org in store.list_orgs().await? {
        let days = crate::org_settings::OrgSettings::of(&org.settings).events_retention_days;
        deleted += store.purge_events(&org.org_id, now - days * 86_400_000).await?;
        deleted += store.purge_versions(&org.org_id, now - days * 86_400_000).await?;
    }
    Ok(Some(deleted))
}

/// A page of the events `q` selects.
pub async fn list(store: &dyn Store, q: &EventQuery) -> Result<Page, ApiError> {
    let mut rows = store.list_events(&EventQuery { limit: q.limit + 1, ..q.clone() }).await?;
    let more = rows.len() as i64 > q.limit;
    rows.truncate(q.limit as usize);
    let next_cursor = if more { rows.last().map(|(seq, _)| encode_cursor(*seq)) } else { None };
    Ok(Page { events: rows.into_iter().map(|(_, e)| e).collect(), next_cursor })
}

fn encode_cursor(seq: i64) -> String {
    encode_cursor_of("events", seq)
}

fn decode_cursor(s: &str) -> Result<i64, ApiError> {
    decode_cursor_of("events", s)
        .ok_or_else(|| ApiError::invalid_query("cursor", "is not a cursor this server gave; start again without it"))
}

/// The cursor of a page of `what` that goes on below position `seq`.
pub fn encode_cursor_of(what: &str, seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{what}:{seq}"))
}

/// The position in a cursor of `what` made by [`encode_cursor_of`].
pub fn decode_cursor_of(what: &str, s: &str) -> Option<i64> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.strip_prefix(what).and_then(|r| r.strip_prefix(':')).and_then(|n| n.parse::<i64>().ok()))
        .filter(|n| *n > 0)
}

/// An event as both dialects show it: its stored form with the time as RFC 3339 too.
pub fn to_json(e: &Event) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    v["time"] = json!(iso_millis(from_millis(e.at)));
    v
}

/// The page as JSON: `{"events": [...], "nextCursor": ...}`.
pub fn page_json(page: &Page) -> Value {
    json!({"events": page.events.iter().map(to_json).collect::<Vec<_>>(), "nextCursor": page.next_cursor})
}

/// The CSV header of [`csv_row`].
pub const CSV_HEADER: &str = "time,kind,actorType,actor,tokenId,ip,traceId,objectType,objectId,changes,detail\r\n";

/// One event as a CSV row (RFC 4180 quoting; the changes and details as JSON).
pub fn csv_row(e: &Event) -> String {
    let cells = [
        iso_millis(from_millis(e.at)),
        e.kind.clone(),
        e.actor.kind.to_string(),
        e.actor.id.clone(),
        e.actor.token_id.clone().unwrap_or_default(),
        e.ip.clone().unwrap_or_default(),
        e.trace_id.clone().unwrap_or_default(),
        e.object_type.clone(),
        e.object_id.clone(),
        serde_json::to_string(&e.changes).unwrap_or_default(),
        if e.detail.is_null() { String::new() } else { e.detail.to_string() },
    ];
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| if c.contains([',', '"', '\n', '\r']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.clone() })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn bad_filters_name_their_parameter() {
        let org = OrgId::generate();
        let name = |p: &[(&str, &str)]| query(Some(&org), &params(p)).unwrap_err().context["queryParameter"].clone();
        assert_eq!(name(&[("cursor", "nonsense")]), "cursor");
        assert_eq!(name(&[("from", "2026-03-02"), ("to", "2026-03-01")]), "to");
        assert_eq!(name(&[("from", "yesterday")]), "from");
        assert_eq!(name(&[("limit", "0")]), "limit");
        assert_eq!(name(&[("limit", "1001")]), "limit");
        assert_eq!(name(&[("actor", "")]), "actor");
        let q = query(Some(&org), &params(&[("cursor", &encode_cursor(42)), ("kind", "user")])).unwrap();
        assert_eq!((q.before, q.kind.as_deref(), q.limit), (Some(42), Some("user"), DEFAULT_LIMIT));
    }
}
