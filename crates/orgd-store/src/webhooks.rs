//! Webhooks in SQL: subscriptions with their kind patterns, and the deliveries that events queue (the engine
//! queues them inside each event's insert: the migration `delivery_queue`); nodes take due
//! deliveries with one atomic update each, so a delivery is sent by one node at a time.

use crate::{events, map_err, SqlStore};
use orgd_core::error::StoreError;
use orgd_core::events::Event;
use orgd_core::ids::{OrgId, WebhookId};
use orgd_core::store::StoreResult;
use orgd_core::webhooks::{Attempt, Delivery, DeliveryState, Due, Subscription};
use sqlx::Row;

const WEBHOOK_COLS: &str = "webhook_id, org_id, url, kinds, include_descendants, description, created_at, \
                            created_by, consecutive_failures, last_attempt_at";

const DELIVERY_COLS: &str = "d.seq, d.webhook_id, d.event_id, d.kind, d.object_id, d.state, d.attempts, d.next_at, \
                             d.created_at, d.last_status, d.last_error, d.last_attempt_at, d.delivered_at";

fn bad(what: &str) -> StoreError {
    StoreError::Other(format!("a stored webhook row does not read: {what}"))
}

fn webhook_from_row(r: &sqlx::any::AnyRow) -> StoreResult<Subscription> {
    let id: String = r.try_get("webhook_id").map_err(map_err)?;
    let org: String = r.try_get("org_id").map_err(map_err)?;
    let kinds: String = r.try_get("kinds").map_err(map_err)?;
    Ok(Subscription {
        id: WebhookId::parse(&id).ok_or_else(|| bad("webhook_id"))?,
        org_id: OrgId::parse(&org).ok_or_else(|| bad("org_id"))?,
        url: r.try_get("url").map_err(map_err)?,
        kinds: serde_json::from_str(&kinds).map_err(|_| bad("kinds"))?,
        include_descendants: r.try_get::<i64, _>("include_descendants").map_err(map_err)? != 0,
        description: r.try_get("description").map_err(map_err)?,
        created_at: r.try_get("created_at").map_err(map_err)?,
        created_by: r.try_get("created_by").map_err(map_err)?,
        consecutive_failures: r.try_get("consecutive_failures").map_err(map_err)?,
        last_attempt_at: r.try_get("last_attempt_at").map_err(map_err)?,
    })
}

fn delivery_from_row(r: &sqlx::any::AnyRow) -> StoreResult<Delivery> {
    let id: String = r.try_get("webhook_id").map_err(map_err)?;
    let state: String = r.try_get("state").map_err(map_err)?;
    Ok(Delivery {
        id: r.try_get("seq").map_err(map_err)?,
        webhook_id: WebhookId::parse(&id).ok_or_else(|| bad("webhook_id"))?,
        event_id: r.try_get("event_id").map_err(map_err)?,
        kind: r.try_get("kind").map_err(map_err)?,
        object_id: r.try_get("object_id").map_err(map_err)?,
        state: DeliveryState::parse(&state).ok_or_else(|| bad("state"))?,
        attempts: r.try_get("attempts").map_err(map_err)?,
        next_at: r.try_get("next_at").map_err(map_err)?,
        created_at: r.try_get("created_at").map_err(map_err)?,
        last_status: r.try_get("last_status").map_err(map_err)?,
        last_error: r.try_get("last_error").map_err(map_err)?,
        last_attempt_at: r.try_get("last_attempt_at").map_err(map_err)?,
        delivered_at: r.try_get("delivered_at").map_err(map_err)?,
    })
}

fn webhook_detail(s: &Subscription) -> serde_json::Value {
    serde_json::json!({"url": s.url, "events": s.kinds, "includeDescendants": s.include_descendants})
}

impl SqlStore {
    pub(crate) async fn insert_webhook_impl(&self, s: &Subscription) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(&format!("INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
            .bind(s.id.as_str())
            .bind(s.org_id.as_str())
            .bind(&s.url)
            .bind(crate::json(&s.kinds))
            .bind(s.include_descendants as i64)
            .bind(&s.description)
            .bind(s.created_at)
            .bind(&s.created_by)
            .bind(s.consecutive_failures)
            .bind(s.last_attempt_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        for k in &s.kinds {
            sqlx::query("INSERT INTO webhook_kinds (webhook_id, pattern) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(s.id.as_str())
                .bind(k)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        let e = Event::new(&s.org_id, "webhook", s.id.as_str(), "webhook.created").detail(webhook_detail(s));
        events::record(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn list_webhooks_impl(&self, org_id: Option<&OrgId>) -> StoreResult<Vec<Subscription>> {
        let rows = match org_id {
            Some(org) => {
                sqlx::query(&format!(
                    "SELECT {WEBHOOK_COLS} FROM webhooks WHERE org_id = $1 ORDER BY created_at, webhook_id"
                ))
                .bind(org.as_str())
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!("SELECT {WEBHOOK_COLS} FROM webhooks ORDER BY created_at, webhook_id"))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub(crate) async fn get_webhook_impl(&self, id: &WebhookId) -> StoreResult<Option<Subscription>> {
        let row = sqlx::query(&format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE webhook_id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    pub(crate) async fn delete_webhook_impl(&self, id: &WebhookId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // Writes first, so that SQLite takes its write lock before the read (see `wipe`).
        for sql in
            ["DELETE FROM webhook_deliveries WHERE webhook_id = $1", "DELETE FROM webhook_kinds WHERE webhook_id = $1"]
        {
            sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await.map_err(map_err)?;
        }
        let row = sqlx::query(&format!("DELETE FROM webhooks WHERE webhook_id = $1 RETURNING {WEBHOOK_COLS}"))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(false) };
        let s = webhook_from_row(&row)?;
        let e = Event::new(&s.org_id, "webhook", s.id.as_str(), "webhook.deleted").detail(webhook_detail(&s));
        events::record(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn list_deliveries_impl(
        &self,
        id: &WebhookId,
        state: Option<DeliveryState>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries d WHERE d.webhook_id = $1 AND d.seq < $2 \
             AND ($3 = '' OR d.state = $3) ORDER BY d.seq DESC LIMIT {}",
            limit.max(0)
        ))
        .bind(id.as_str())
        .bind(before.unwrap_or(i64::MAX))
        .bind(state.map(DeliveryState::as_str).unwrap_or(""))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(delivery_from_row).collect()
    }

    pub(crate) async fn get_delivery_impl(&self, id: &WebhookId, delivery_id: i64) -> StoreResult<Option<Delivery>> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries d WHERE d.webhook_id = $1 AND d.seq = $2"
        ))
        .bind(id.as_str())
        .bind(delivery_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    pub(crate) async fn claim_deliveries_impl(&self, now: i64, until: i64, limit: i64) -> StoreResult<Vec<Due>> {
        // One statement: the candidates and the claim are atomic on SQLite, and on PostgreSQL a row another
        // node claimed meanwhile fails the re-checked `claimed_until` and is skipped.
        let claimed: Vec<(i64,)> = sqlx::query_as(&format!(
            "UPDATE webhook_deliveries SET claimed_until = $1 WHERE claimed_until <= $2 AND seq IN (\
             SELECT d.seq FROM webhook_deliveries d WHERE d.state = 'pending' AND d.next_at <= $2 \
             AND d.claimed_until <= $2 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
             WHERE e.webhook_id = d.webhook_id AND e.object_id = d.object_id AND e.seq < d.seq \
             AND e.state = 'pending') ORDER BY d.seq LIMIT {}) RETURNING seq",
            limit.max(0)
        ))
        .bind(until)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = claimed.iter().map(|(s,)| s.to_string()).collect();
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLS}, w.url, e.body FROM webhook_deliveries d \
             JOIN webhooks w ON w.webhook_id = d.webhook_id LEFT JOIN events e ON e.event_id = d.event_id \
             WHERE d.seq IN ({}) ORDER BY d.seq",
            ids.join(", ")
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let body: Option<String> = r.try_get("body").map_err(map_err)?;
                Ok(Due {
                    delivery: delivery_from_row(r)?,
                    url: r.try_get("url").map_err(map_err)?,
                    event: match body {
                        None => Err("the event is no longer kept (past its org's retention)".to_string()),
                        Some(b) => serde_json::from_str(&b).map_err(|e| format!("the stored event does not read: {e}")),
                    },
                })
            })
            .collect()
    }

    pub(crate) async fn finish_deliveries_impl(&self, attempts: &[(i64, Attempt)]) -> StoreResult<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // Per subscription: the latest attempt's time, and the batch's successes and failures. The attempts
        // of a batch ran at once: a success among them restarts the count of consecutive failures, to which
        // the batch's failures then add.
        let mut seen: std::collections::BTreeMap<String, (i64, i64, i64)> = Default::default();
        for (delivery_id, a) in attempts {
            let (state, next_at) = match (&a.error, a.retry_at) {
                (None, _) => (DeliveryState::Delivered, a.at),
                (Some(_), Some(next)) => (DeliveryState::Pending, next),
                (Some(_), None) => (DeliveryState::Failed, a.at),
            };
            let webhook: Option<(String,)> = sqlx::query_as(
                "UPDATE webhook_deliveries SET state = $1, next_at = $2, attempts = attempts + 1, claimed_until = 0, \
                 last_status = $3, last_error = $4, last_attempt_at = $5, delivered_at = $6 WHERE seq = $7 \
                 RETURNING webhook_id",
            )
            .bind(state.as_str())
            .bind(next_at)
            .bind(a.status)
            .bind(a.error.clone())
            .bind(a.at)
            .bind(a.error.is_none().then_some(a.at))
            .bind(delivery_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            if let Some((webhook,)) = webhook {
                let e = seen.entry(webhook).or_insert((a.at, 0, 0));
                e.0 = e.0.max(a.at);
                if a.error.is_some() {
                    e.2 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
        for (webhook, (at, successes, failures)) in seen {
            let from = if successes > 0 { "0" } else { "consecutive_failures" };
            sqlx::query(&format!(
                "UPDATE webhooks SET consecutive_failures = {from} + $1, last_attempt_at = $2 WHERE webhook_id = $3"
            ))
            .bind(failures)
            .bind(at)
            .bind(webhook)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn redeliver_impl(&self, id: &WebhookId, delivery_id: i64, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let event: Option<(String,)> = sqlx::query_as(
            "UPDATE webhook_deliveries SET state = 'pending', next_at = $1, created_at = $1, claimed_until = 0 \
             WHERE webhook_id = $2 AND seq = $3 RETURNING event_id",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(delivery_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some((event,)) = event else { return Ok(false) };
        let org: (String,) = sqlx::query_as("SELECT org_id FROM webhooks WHERE webhook_id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let org = OrgId::parse(&org.0).ok_or_else(|| bad("org_id"))?;
        let detail = serde_json::json!({"deliveryId": delivery_id.to_string(), "eventId": event});
        events::record(&mut tx, &Event::new(&org, "webhook", id.as_str(), "webhook.redelivered").detail(detail))
            .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}
