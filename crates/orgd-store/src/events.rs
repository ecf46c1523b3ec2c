//! Events in SQL: the row of a change, written by the transaction of the change, and the audit trail's
//! reads (newest first, by position).

use crate::{json, map_err, SqlStore};
use orgd_core::error::StoreError;
use orgd_core::events::{Event, EventQuery};
use orgd_core::ids::OrgId;
use orgd_core::store::StoreResult;

/// The insert of one event; `$1…$8` in order, so the rusqlite path of imports binds it by position too.
pub(crate) const INSERT_EVENT: &str =
    "INSERT INTO events (event_id, at, org_id, actor_id, object_id, kind, trace_id, body) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The values of [`INSERT_EVENT`].
pub(crate) type Values = (String, i64, String, String, String, String, Option<String>, String);

/// The values of [`INSERT_EVENT`].
pub(crate) fn values(e: &Event) -> Values {
    let (id, org, actor, object, kind) =
        (e.id.clone(), e.org_id.clone(), e.actor.id.clone(), e.object_id.clone(), e.kind.clone());
    (id, e.at, org, actor, object, kind, e.trace_id.clone(), json(e))
}

/// Write `e` in the transaction of its change; the engine queues its deliveries (the migration
/// `delivery_queue`).
pub(crate) async fn record(conn: &mut sqlx::AnyConnection, e: &Event) -> StoreResult<()> {
    let (id, at, org, actor, object, kind, trace, body) = values(e);
    sqlx::query(INSERT_EVENT)
        .bind(id)
        .bind(at)
        .bind(org)
        .bind(actor)
        .bind(object)
        .bind(kind)
        .bind(trace)
        .bind(body)
        .execute(conn)
        .await
        .map_err(map_err)?;
    Ok(())
}

impl SqlStore {
    pub(crate) async fn list_events_impl(&self, q: &EventQuery) -> StoreResult<Vec<(i64, Event)>> {
        let mut sql = String::from("SELECT seq, body FROM events WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        let mut ints: Vec<(usize, i64)> = Vec::new();
        let mut n = 0;
        let text = |sql: &mut String, col: &str, v: &str, args: &mut Vec<String>, n: &mut usize| {
            *n += 1;
            sql.push_str(&format!(" AND {col} ${n}"));
            args.push(v.to_string());
        };
        if let Some(org) = &q.org_id {
            text(&mut sql, "org_id =", org.as_str(), &mut args, &mut n);
        }
        if let Some(a) = &q.actor {
            text(&mut sql, "actor_id =", a, &mut args, &mut n);
        }
        if let Some(o) = &q.object {
            text(&mut sql, "object_id =", o, &mut args, &mut n);
        }
        if let Some(t) = &q.trace_id {
            text(&mut sql, "trace_id =", t, &mut args, &mut n);
        }
        if let Some(k) = &q.kind {
            if k.contains('.') {
                text(&mut sql, "kind =", k, &mut args, &mut n);
            } else {
                text(&mut sql, "kind LIKE", &format!("{k}.%"), &mut args, &mut n);
            }
        }
        for (col, v) in [("at >=", q.from), ("at <", q.to), ("seq <", q.before)] {
            if let Some(v) = v {
                n += 1;
                sql.push_str(&format!(" AND {col} ${n}"));
                ints.push((n, v));
            }
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", q.limit.max(0)));
        // Text arguments come first in the numbering, then the numbers, as they were pushed.
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for a in args {
            query = query.bind(a);
        }
        for (_, v) in ints {
            query = query.bind(v);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.into_iter()
            .map(|(seq, body)| {
                serde_json::from_str(&body)
                    .map(|e| (seq, e))
                    .map_err(|e| StoreError::Other(format!("event {seq}: {e}")))
            })
            .collect()
    }

    pub(crate) async fn purge_events_impl(&self, org_id: &OrgId, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM events WHERE org_id = $1 AND at < $2")
            .bind(org_id.as_str())
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn claim_lease_impl(&self, name: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
             SET holder = excluded.holder, until_ms = excluded.until_ms WHERE leases.until_ms <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
