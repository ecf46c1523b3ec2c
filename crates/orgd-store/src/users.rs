//! Users in SQL.

use crate::{bool_int, events, json, map_err, ms, user_from_row, SqlStore};
use orgd_core::clock::to_millis;
use orgd_core::error::StoreError;
use orgd_core::events::{login_kind, user_changes, Actor, Event};
use orgd_core::ids::OrgId;
use orgd_core::model::User;
use orgd_core::store::StoreResult;

pub(crate) const USER_COLS: &str = "psk, org_id, user_id, email, first_name, last_name, mobile_phone, role, enabled, \
    expires_at, token_access, allowed_subnets, password_hash, password_changed_at, password_history, \
    custom_metadata, failed_login_count, last_failed_login_at, locked_until, locked_permanently, created_at, \
    modified_at, last_login_at";

impl SqlStore {
    pub(crate) async fn insert_user_impl(&self, u: &User) -> StoreResult<User> {
        let mut tx = self.auth_tx().await?;
        let row: (i64,) = sqlx::query_as(
            "INSERT INTO users (org_id, user_id, user_key, email, first_name, last_name, mobile_phone, role, \
             enabled, expires_at, token_access, allowed_subnets, password_hash, password_changed_at, \
             password_history, custom_metadata, failed_login_count, last_failed_login_at, locked_until, \
             locked_permanently, created_at, modified_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) RETURNING psk",
        )
        .bind(u.org_id.as_str())
        .bind(&u.user_id)
        .bind(u.user_id.to_lowercase())
        .bind(&u.email)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(u.mobile_phone.clone())
        .bind(u.role.as_str())
        .bind(bool_int(u.enabled))
        .bind(ms(u.expires_at))
        .bind(bool_int(u.token_access))
        .bind(json(&u.allowed_subnets.to_strings()))
        .bind(u.password_hash.clone())
        .bind(ms(u.password_changed_at))
        .bind(json(&u.password_history))
        .bind(json(&u.custom_metadata))
        .bind(u.failed_login_count as i64)
        .bind(ms(u.last_failed_login_at))
        .bind(ms(u.locked_until))
        .bind(bool_int(u.locked_permanently))
        .bind(to_millis(u.created_at))
        .bind(to_millis(u.modified_at))
        .bind(ms(u.last_login_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match map_err(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("user_id '{}' already exists in the org", u.user_id))
            }
            other => other,
        })?;
        let detail = serde_json::json!({"role": u.role.as_str(), "email": u.email});
        events::record(&mut tx, &Event::new(&u.org_id, "user", &u.user_id, "user.created").detail(detail)).await?;
        tx.commit().await?;
        Ok(User { psk: row.0, ..u.clone() })
    }

    pub(crate) async fn record_login_impl(&self, u: &User) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // A write first: on SQLite it takes the write lock before the read.
        sqlx::query("UPDATE users SET psk = psk WHERE psk = $1")
            .bind(u.psk)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let before = self.user_in(&mut tx, u.psk).await?;
        sqlx::query(
            "UPDATE users SET failed_login_count = $2, last_failed_login_at = $3, locked_until = $4, \
             locked_permanently = $5, last_login_at = $6 WHERE psk = $1",
        )
        .bind(u.psk)
        .bind(u.failed_login_count as i64)
        .bind(ms(u.last_failed_login_at))
        .bind(ms(u.locked_until))
        .bind(bool_int(u.locked_permanently))
        .bind(ms(u.last_login_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(kind) = before.as_ref().and_then(|b| login_kind(b, u)) {
            // A sign-in is made by the user signing in, whoever the request is (it has no token yet).
            let mut e = Event::new(&u.org_id, "user", &u.user_id, kind);
            if e.actor.kind == orgd_core::events::ActorKind::System {
                e.actor = Actor::user(u, None);
            }
            events::record(&mut tx, &e).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    /// The stored user `psk`, read in a transaction.
    async fn user_in(&self, tx: &mut sqlx::AnyConnection, psk: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE psk = $1"))
            .bind(psk)
            .fetch_optional(tx)
            .await
            .map_err(map_err)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    pub(crate) async fn update_user_impl(&self, u: &User) -> StoreResult<()> {
        let mut tx = self.auth_tx().await?;
        let before = self.user_in(&mut tx, u.psk).await?;
        sqlx::query(
            "UPDATE users SET email = $2, first_name = $3, last_name = $4, mobile_phone = $5, role = $6, \
             enabled = $7, expires_at = $8, token_access = $9, allowed_subnets = $10, password_hash = $11, \
             password_changed_at = $12, password_history = $13, custom_metadata = $14, failed_login_count = $15, \
             last_failed_login_at = $16, locked_until = $17, locked_permanently = $18, modified_at = $19, \
             last_login_at = $20 WHERE psk = $1",
        )
        .bind(u.psk)
        .bind(&u.email)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(u.mobile_phone.clone())
        .bind(u.role.as_str())
        .bind(bool_int(u.enabled))
        .bind(ms(u.expires_at))
        .bind(bool_int(u.token_access))
        .bind(json(&u.allowed_subnets.to_strings()))
        .bind(u.password_hash.clone())
        .bind(ms(u.password_changed_at))
        .bind(json(&u.password_history))
        .bind(json(&u.custom_metadata))
        .bind(u.failed_login_count as i64)
        .bind(ms(u.last_failed_login_at))
        .bind(ms(u.locked_until))
        .bind(bool_int(u.locked_permanently))
        .bind(to_millis(u.modified_at))
        .bind(ms(u.last_login_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let changes = before.as_ref().map(|b| user_changes(b, u)).unwrap_or_default();
        if !changes.is_empty() {
            events::record(&mut tx, &Event::new(&u.org_id, "user", &u.user_id, "user.updated").changes(changes))
                .await?;
        }
        tx.commit().await
    }

    pub(crate) async fn get_user_impl(&self, psk: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE psk = $1"))
            .bind(psk)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    pub(crate) async fn find_users_impl(&self, user_id: &str, org_id: Option<&OrgId>) -> StoreResult<Vec<User>> {
        let rows = match org_id {
            Some(org) => {
                sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE user_key = $1 AND org_id = $2"))
                    .bind(user_id.to_lowercase())
                    .bind(org.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE user_key = $1 ORDER BY psk"))
                    .bind(user_id.to_lowercase())
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(user_from_row).collect()
    }

    pub(crate) async fn list_users_impl(&self, org_id: &OrgId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE org_id = $1 ORDER BY psk"))
            .bind(org_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(user_from_row).collect()
    }

    pub(crate) async fn delete_user_impl(&self, psk: i64) -> StoreResult<bool> {
        let mut tx = self.auth_tx().await?;
        let Some(before) = self.user_in(&mut tx, psk).await? else { return Ok(false) };
        sqlx::query("DELETE FROM tokens WHERE user_psk = $1").bind(psk).execute(&mut *tx).await.map_err(map_err)?;
        let done =
            sqlx::query("DELETE FROM users WHERE psk = $1").bind(psk).execute(&mut *tx).await.map_err(map_err)?;
        events::record(&mut tx, &Event::new(&before.org_id, "user", &before.user_id, "user.deleted")).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
