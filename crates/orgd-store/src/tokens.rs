//! API tokens and sessions in SQL.

use crate::{bool_int, events, json, map_err, ms, token_from_row, SqlStore};
use orgd_core::clock::to_millis;
use orgd_core::events::{Actor, Event};
use orgd_core::ids::OrgId;
use orgd_core::model::{TokenRecord, TokenUse};
use orgd_core::store::StoreResult;
use time::OffsetDateTime;

pub(crate) const TOKEN_COLS: &str = "token_id, kind, user_psk, label, starts_at, ends_at, subnets, remember_me, \
    created_at, last_used_at, last_used_ip, revoked_at";

impl SqlStore {
    pub(crate) async fn insert_token_impl(&self, t: &TokenRecord, hash: &[u8; 32]) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO tokens ({TOKEN_COLS}, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        let insert = sqlx::query(&sql)
            .bind(&t.token_id)
            .bind(t.kind.as_str())
            .bind(t.user_psk)
            .bind(&t.label)
            .bind(to_millis(t.starts_at))
            .bind(ms(t.ends_at))
            .bind(json(&t.subnets.to_strings()))
            .bind(bool_int(t.remember_me))
            .bind(to_millis(t.created_at))
            .bind(ms(t.last_used_at))
            .bind(t.last_used_ip.clone())
            .bind(ms(t.revoked_at))
            .bind(hash.to_vec());
        if t.kind == orgd_core::model::TokenKind::Session {
            insert.execute(&self.pool).await.map_err(map_err)?;
            return Ok(());
        }
        let mut tx = self.auth_tx().await?;
        insert.execute(&mut *tx).await.map_err(map_err)?;
        if let Some((org, user)) = owner(&mut tx, &t.token_id).await? {
            let detail = serde_json::json!({"user": user, "label": t.label, "kind": t.kind.as_str()});
            events::record(&mut tx, &Event::new(&org, "token", &t.token_id, "token.created").detail(detail)).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn get_token_impl(&self, token_id: &str) -> StoreResult<Option<(TokenRecord, Vec<u8>)>> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLS}, hash FROM tokens WHERE token_id = $1"))
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            use sqlx::Row;
            let hash: Vec<u8> = r.try_get("hash").map_err(map_err)?;
            Ok((token_from_row(&r)?, hash))
        })
        .transpose()
    }

    pub(crate) async fn list_tokens_impl(
        &self,
        org_id: &OrgId,
        user_psk: Option<i64>,
    ) -> StoreResult<Vec<TokenRecord>> {
        let cols = TOKEN_COLS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
        let base = format!("SELECT {cols} FROM tokens t JOIN users u ON u.psk = t.user_psk WHERE u.org_id = $1");
        let rows = match user_psk {
            Some(psk) => {
                sqlx::query(&format!("{base} AND t.user_psk = $2 ORDER BY t.created_at DESC, t.token_id"))
                    .bind(org_id.as_str())
                    .bind(psk)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(&format!("{base} ORDER BY t.created_at DESC, t.token_id"))
                    .bind(org_id.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(token_from_row).collect()
    }

    pub(crate) async fn revoke_token_impl(&self, token_id: &str, at: OffsetDateTime) -> StoreResult<bool> {
        let mut tx = self.auth_tx().await?;
        let owner = owner(&mut tx, token_id).await?;
        let done = sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL")
            .bind(token_id)
            .bind(to_millis(at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let (Some((org, user)), true) = (owner, done.rows_affected() > 0) {
            let e = Event::new(&org, "token", token_id, "token.revoked").detail(serde_json::json!({"user": user}));
            events::record(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn delete_token_impl(&self, token_id: &str) -> StoreResult<bool> {
        let mut tx = self.auth_tx().await?;
        let owner = owner(&mut tx, token_id).await?;
        let done = sqlx::query("DELETE FROM tokens WHERE token_id = $1")
            .bind(token_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let (Some((org, user)), true) = (owner, done.rows_affected() > 0) {
            let e = Event::new(&org, "token", token_id, "token.deleted").detail(serde_json::json!({"user": user}));
            events::record(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn revoke_sessions_impl(
        &self,
        user_psk: i64,
        except: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = $2 WHERE user_psk = $1 AND kind = 'session' AND revoked_at IS NULL \
             AND token_id <> $3",
        )
        .bind(user_psk)
        .bind(to_millis(at))
        .bind(except.unwrap_or("").to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await
    }

    pub(crate) async fn set_token_end_impl(&self, token_id: &str, ends_at: Option<OffsetDateTime>) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        sqlx::query("UPDATE tokens SET ends_at = $2 WHERE token_id = $1")
            .bind(token_id)
            .bind(ms(ends_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await
    }

    pub(crate) async fn purge_sessions_impl(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM tokens WHERE kind = 'session' AND ((ends_at IS NOT NULL AND ends_at < $1) \
             OR (revoked_at IS NOT NULL AND revoked_at < $1))",
        )
        .bind(to_millis(before))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn record_token_uses_impl(&self, uses: &[TokenUse]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for u in uses {
            // The first use of an API token is an event of its own (made by the token's user).
            let first: Option<(String, String)> = sqlx::query_as(
                "UPDATE tokens SET last_used_ip = last_used_ip WHERE token_id = $1 AND last_used_at IS NULL \
                 AND kind = 'api' RETURNING (SELECT org_id FROM users WHERE psk = user_psk), \
                 (SELECT user_id FROM users WHERE psk = user_psk)",
            )
            .bind(&u.token_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            if let Some((org, user)) = first {
                if let Some(org) = OrgId::parse(&org) {
                    let mut e = Event::new(&org, "token", &u.token_id, "token.first_used");
                    e.actor = Actor {
                        kind: orgd_core::events::ActorKind::User,
                        id: user,
                        org_id: Some(org.as_str().into()),
                        token_id: Some(u.token_id.clone()),
                    };
                    e.ip = u.ip.clone();
                    e.at = to_millis(u.at);
                    events::record(&mut tx, &e).await?;
                }
            }
            sqlx::query("UPDATE tokens SET last_used_at = $2, last_used_ip = $3 WHERE token_id = $1")
                .bind(&u.token_id)
                .bind(to_millis(u.at))
                .bind(u.ip.clone())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}

/// The org and user id of a token's owner.
async fn owner(tx: &mut sqlx::AnyConnection, token_id: &str) -> StoreResult<Option<(OrgId, String)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT u.org_id, u.user_id FROM tokens t JOIN users u ON u.psk = t.user_psk WHERE t.token_id = $1",
    )
    .bind(token_id)
    .fetch_optional(tx)
    .await
    .map_err(map_err)?;
    Ok(row.and_then(|(o, u)| OrgId::parse(&o).map(|o| (o, u))))
}
