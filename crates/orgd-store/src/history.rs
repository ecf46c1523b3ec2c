//! Item versions in SQL: kept by the items' writes ([`INSERT_VERSION`]), read per item and, for a dataset
//! as it was, as the first version of each item changed since a time.

use crate::{map_err, SqlStore};
use orgd_core::data::history::Version;
use orgd_core::ids::{DatasetId, OrgId};
use orgd_core::store::StoreResult;

/// The insert of one version, `$1…$8`: dataset, item id, item seq, time, event, actor, before, after.
pub(crate) const INSERT_VERSION: &str = "INSERT INTO item_versions \
     (dataset_id, item_id, item_seq, at, event_id, actor_id, before_json, after_json) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const COLS: &str = "v.item_id, v.item_seq, v.at, v.event_id, v.actor_id, v.before_json, v.after_json";

type VersionRow = (String, i64, i64, String, String, Option<String>, Option<String>);

fn version((item_id, item_seq, at, event_id, actor, before, after): VersionRow) -> Version {
    Version { item_id, item_seq, at, event_id, actor, before, after }
}

impl SqlStore {
    pub(crate) async fn item_versions_impl(
        &self,
        dataset_id: &DatasetId,
        item_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<Version>> {
        let rows: Vec<VersionRow> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM item_versions v WHERE v.dataset_id = $1 AND v.item_id = $2 \
             ORDER BY v.vseq DESC LIMIT {}",
            limit.max(0)
        ))
        .bind(dataset_id.as_str())
        .bind(item_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(version).collect())
    }

    pub(crate) async fn versions_after_impl(&self, dataset_id: &DatasetId, at: i64) -> StoreResult<Vec<Version>> {
        let rows: Vec<VersionRow> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM item_versions v JOIN (SELECT item_id, MIN(vseq) AS first FROM item_versions \
             WHERE dataset_id = $1 AND at > $2 GROUP BY item_id) f ON v.vseq = f.first ORDER BY v.item_seq, v.vseq"
        ))
        .bind(dataset_id.as_str())
        .bind(at)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(version).collect())
    }

    pub(crate) async fn purge_versions_impl(&self, org_id: &OrgId, before: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM item_versions WHERE at < $2 AND dataset_id IN (SELECT dataset_id FROM datasets WHERE org_id = $1)",
        )
        .bind(org_id.as_str())
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
