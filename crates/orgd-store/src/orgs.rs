//! Orgs in SQL: rows, the tree's reads, and an org's deletion with everything below and in it.

use crate::{datasets, events, json, map_err, org_from_row, SqlStore};
use orgd_core::clock::to_millis;
use orgd_core::error::StoreError;
use orgd_core::events::{org_changes, Event};
use orgd_core::ids::{OrgId, TenantId};
use orgd_core::model::Org;
use orgd_core::store::StoreResult;
use sqlx::any::AnyRow;

pub(crate) const ORG_COLS: &str =
    "org_id, tenant_id, parent_id, name, allowed_subnets, usage_plan, settings, created_at";

impl SqlStore {
    async fn one_org(&self, sql: &str, arg: &str) -> StoreResult<Option<Org>> {
        let row: Option<AnyRow> = sqlx::query(sql).bind(arg).fetch_optional(&self.pool).await.map_err(map_err)?;
        row.map(|r| org_from_row(&r)).transpose()
    }

    pub(crate) async fn insert_org_impl(&self, org: &Org) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        sqlx::query(&format!("INSERT INTO orgs ({ORG_COLS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(org.org_id.as_str())
            .bind(org.tenant_id.as_str())
            .bind(org.parent_id.as_ref().map(|p| p.as_str().to_string()))
            .bind(&org.name)
            .bind(json(&org.allowed_subnets.to_strings()))
            .bind(json(&org.usage_plan))
            .bind(json(&org.settings))
            .bind(to_millis(org.created_at))
            .bind(org.name.to_lowercase())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // An org made below another is a change of the org above: its administrators see it.
        let home = org.parent_id.as_ref().unwrap_or(&org.org_id);
        let detail = serde_json::json!({"name": org.name, "tenantId": org.tenant_id.as_str(),
            "parentId": org.parent_id.as_ref().map(|p| p.as_str())});
        events::record(&mut tx, &Event::new(home, "org", org.org_id.as_str(), "org.created").detail(detail)).await?;
        tx.commit().await
    }

    pub(crate) async fn update_org_impl(&self, org: &Org) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        let before: Option<AnyRow> = sqlx::query(&format!("SELECT {ORG_COLS} FROM orgs WHERE org_id = $1"))
            .bind(org.org_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(before) = before.map(|r| org_from_row(&r)).transpose()? else { return Ok(()) };
        sqlx::query(
            "UPDATE orgs SET name = $2, name_key = $3, allowed_subnets = $4, usage_plan = $5, settings = $6 \
             WHERE org_id = $1",
        )
        .bind(org.org_id.as_str())
        .bind(&org.name)
        .bind(org.name.to_lowercase())
        .bind(json(&org.allowed_subnets.to_strings()))
        .bind(json(&org.usage_plan))
        .bind(json(&org.settings))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let changes = org_changes(&before, org);
        if !changes.is_empty() {
            let e = Event::new(&org.org_id, "org", org.org_id.as_str(), "org.updated").changes(changes);
            events::record(&mut tx, &e).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn list_orgs_impl(&self) -> StoreResult<Vec<Org>> {
        let rows = sqlx::query(&format!("SELECT {ORG_COLS} FROM orgs")).fetch_all(&self.pool).await.map_err(map_err)?;
        // Decoding every org with its settings JSON is CPU work (≈ 150 ms for 10,000 orgs): keep it off the
        // async workers, which are serving requests meanwhile.
        tokio::task::spawn_blocking(move || rows.iter().map(org_from_row).collect())
            .await
            .map_err(|e| StoreError::Other(format!("decoding the orgs stopped: {e}")))?
    }

    pub(crate) async fn get_org_impl(&self, org_id: &OrgId) -> StoreResult<Option<Org>> {
        self.one_org(&format!("SELECT {ORG_COLS} FROM orgs WHERE org_id = $1"), org_id.as_str()).await
    }

    pub(crate) async fn get_org_by_tenant_impl(&self, tenant_id: &TenantId) -> StoreResult<Option<Org>> {
        self.one_org(&format!("SELECT {ORG_COLS} FROM orgs WHERE tenant_id = $1"), tenant_id.as_str()).await
    }

    pub(crate) async fn delete_org_impl(&self, org_id: &OrgId, descendants: bool) -> StoreResult<Vec<OrgId>> {
        // Writes first, so that SQLite takes its write lock before the reads (see `wipe`).
        let mut tx = self.auth_tx().await?.with_data().await?;
        let below: Vec<(String, i64)> = sqlx::query_as(
            "WITH RECURSIVE below (org_id, depth) AS (SELECT org_id, 0 FROM orgs WHERE org_id = $1 \
             UNION ALL SELECT o.org_id, b.depth + 1 FROM orgs o JOIN below b ON o.parent_id = b.org_id) \
             SELECT org_id, depth FROM below ORDER BY depth DESC, org_id",
        )
        .bind(org_id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        if below.len() > 1 && !descendants {
            return Err(StoreError::Conflict(format!(
                "the org has {} org(s) below it; delete them first, or delete them with it",
                below.len() - 1
            )));
        }
        let parent: Option<(Option<String>,)> = sqlx::query_as("SELECT parent_id FROM orgs WHERE org_id = $1")
            .bind(org_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some((parent,)) = parent else { return Ok(Vec::new()) };
        let mut deleted = Vec::with_capacity(below.len());
        for (id, _) in below {
            datasets::drop_item_tables(tx.tx(), "WHERE org_id = $1", Some(&id)).await?;
            for sql in [
                "DELETE FROM job_outcomes WHERE job_id IN (SELECT job_id FROM jobs WHERE org_id = $1)",
                "DELETE FROM tokens WHERE user_psk IN (SELECT psk FROM users WHERE org_id = $1)",
                "DELETE FROM users WHERE org_id = $1",
                "DELETE FROM item_versions WHERE dataset_id IN (SELECT dataset_id FROM datasets WHERE org_id = $1)",
                "DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT webhook_id FROM webhooks WHERE org_id = $1)",
                "DELETE FROM webhook_kinds WHERE webhook_id IN (SELECT webhook_id FROM webhooks WHERE org_id = $1)",
                "DELETE FROM webhooks WHERE org_id = $1",
                // Datasets, jobs and files (with their chunks) go by their foreign keys.
                "DELETE FROM orgs WHERE org_id = $1",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *tx).await.map_err(map_err)?;
            }
            deleted.extend(OrgId::parse(&id));
        }
        let home = parent.as_deref().and_then(OrgId::parse).unwrap_or_else(|| org_id.clone());
        let gone: Vec<&str> = deleted.iter().map(|o| o.as_str()).collect();
        let e = Event::new(&home, "org", org_id.as_str(), "org.deleted").detail(serde_json::json!({"deleted": gone}));
        events::record(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
