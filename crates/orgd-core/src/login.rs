//! Password login (model §5) with account lockout (§8.3) and session issue (§8.1).

use crate::access::{Caller, Gate, Target};
use crate::error::{ApiError, ErrorCode, FieldFault};
use crate::model::{Org, Role, TokenKind, TokenRecord, User};
use crate::net::CidrList;
use crate::org_settings::{OrgSettings, PasswordPolicy};
use crate::{cases, password, token};
use std::net::IpAddr;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// What a client sends to log in.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// Login name.
    pub user_id: String,
    /// Password.
    pub password: String,
    /// Use the org's remember-me timeout.
    pub remember_me: bool,
    /// Restrict the match to one org (`org_id`).
    pub org_id: Option<String>,
    /// Set this password first when the current one has expired.
    pub new_password: Option<String>,
}

/// A successful login.
#[derive(Debug)]
pub struct Session {
    /// The session token (shown once).
    pub token: String,
    /// Its record.
    pub record: TokenRecord,
    /// The user, as saved after the login.
    pub user: User,
    /// The user's home org.
    pub org: Arc<Org>,
}

fn rules_for(org: &Org, user: &User) -> PasswordPolicy {
    OrgSettings::of(&org.settings).password_policy(user.role == Role::Administrator).clone()
}

/// Count a failed login on `user` (model §8.3) and lock it when the threshold is reached.
pub fn count_failure(user: &mut User, rules: &PasswordPolicy, now: OffsetDateTime) {
    let reset = rules.account_lockout_reset_timer_in_minutes;
    let stale = reset > 0 && user.last_failed_login_at.is_some_and(|t| now - t > Duration::minutes(reset));
    user.failed_login_count = if stale { 1 } else { user.failed_login_count + 1 };
    user.last_failed_login_at = Some(now);
    let threshold = rules.account_lockout_threshold;
    if threshold > 0 && user.failed_login_count as i64 >= threshold {
        if rules.account_lockout_permanent_lockout {
            user.locked_permanently = true;
            user.failed_login_count = 0;
        } else {
            let minutes = rules.account_lockout_duration_in_minutes;
            if minutes > 0 {
                user.locked_until = Some(now + Duration::minutes(minutes));
                user.failed_login_count = 0;
            }
        }
    }
}

/// Whether the user's password is older than the org allows.
pub fn password_expired(user: &User, org: &Org, now: OffsetDateTime) -> bool {
    let minutes = rules_for(org, user).password_expiration_in_minutes;
    minutes > 0 && user.password_changed_at.is_some_and(|t| now - t > Duration::minutes(minutes))
}

impl Gate {
    /// Log in with a password: the steps of model §5, in order.
    pub async fn login(&self, req: LoginRequest, ip: Option<IpAddr>) -> Result<Session, ApiError> {
        let now = self.clock.now();
        crate::text::storable("user_id", &req.user_id).map_err(|f| ApiError::invalid_fields(vec![f]))?;
        self.logins.attempt(ip, now)?;
        let store = self.cache.store().clone();
        let orgs = self.cache.orgs().await?;
        let invalid = || ApiError::new(ErrorCode::InvalidCredentials);
        let org_filter = match &req.org_id {
            Some(o) => match crate::ids::OrgId::parse(o) {
                Some(id) => Some(id),
                None => {
                    password::dummy_verify_off_thread(&req.password).await;
                    return Err(invalid());
                }
            },
            None => None,
        };
        let candidates = store.find_users(req.user_id.trim(), org_filter.as_ref()).await?;
        if candidates.is_empty() {
            password::dummy_verify_off_thread(&req.password).await;
            return Err(invalid());
        }
        let unlocked: Vec<User> = candidates.iter().filter(|u| !u.is_locked(now)).cloned().collect();
        if unlocked.is_empty() {
            password::dummy_verify_off_thread(&req.password).await;
            tracing::info!(user_id = %req.user_id, "login refused: account locked");
            return Err(invalid());
        }
        let (mut matched, mut failed) = (Vec::new(), Vec::new());
        for u in unlocked {
            let ok = match u.password_hash.as_deref() {
                Some(h) => password::verify_off_thread(&req.password, h).await,
                None => false,
            };
            if ok {
                matched.push(u);
            } else {
                failed.push(u);
            }
        }
        if matched.is_empty() {
            for mut u in failed {
                if let Some(org) = orgs.get(&u.org_id) {
                    let rules = rules_for(org, &u);
                    count_failure(&mut u, &rules, now);
                    store.record_login(&u).await?;
                }
            }
            return Err(invalid());
        }
        if matched.len() > 1 {
            return Err(ApiError::new(ErrorCode::MultipleAccountsFound));
        }
        let mut user = matched.into_iter().next().expect("one match");
        let home = orgs.get(&user.org_id).cloned().ok_or_else(invalid)?;
        crate::access::check_user_state(&user, now, ip)?;
        let mut probe = probe_record(now, req.remember_me);
        probe.user_psk = user.psk;
        let caller = Caller { user: Arc::new(user.clone()), token: Arc::new(probe) };
        let admitted = self.admit(caller, Target::Home, ip).await?;
        drop(admitted);
        let mut password_changed = false;
        if password_expired(&user, &home, now) {
            let Some(new_pw) = &req.new_password else {
                return Err(ErrorCode::PasswordExpired.into());
            };
            let (changing, org, new_pw) = (user, home.clone(), new_pw.clone());
            let (changed, result) = crate::password::off_thread(move || {
                let mut user = changing;
                let result = cases::users::set_password(&mut user, &org, &new_pw, true, now);
                (user, result)
            })
            .await;
            user = changed;
            result.map_err(|f: Vec<FieldFault>| ApiError::invalid_fields(rename(f, "new_password")))?;
            password_changed = true;
        }
        user.failed_login_count = 0;
        user.last_failed_login_at = None;
        user.locked_until = None;
        user.last_login_at = Some(now);
        if password_changed {
            store.update_user(&user).await?;
        } else {
            store.record_login(&user).await?;
        }
        let minutes = OrgSettings::of(&home.settings).session_minutes(req.remember_me);
        let minted = token::mint();
        let mut record = probe_record(now, req.remember_me);
        record.token_id = minted.token_id.clone();
        record.user_psk = user.psk;
        record.label = "session".into();
        record.ends_at = Some(now + Duration::minutes(minutes));
        store.insert_token(&record, &minted.hash).await?;
        self.cache.forget_user(user.psk);
        Ok(Session { token: minted.secret, record, user, org: home })
    }
}

fn probe_record(now: OffsetDateTime, remember_me: bool) -> TokenRecord {
    TokenRecord {
        token_id: String::new(),
        kind: TokenKind::Session,
        user_psk: 0,
        label: String::new(),
        starts_at: now,
        ends_at: None,
        subnets: CidrList::any(),
        remember_me,
        created_at: now,
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
    }
}

fn rename(faults: Vec<FieldFault>, field: &str) -> Vec<FieldFault> {
    faults.into_iter().map(|f| FieldFault { field: field.into(), ..f }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        let org = crate::tree::tests::org_for_tests();
        crate::tree::tests::user(&org, Role::User)
    }

    #[test]
    fn failures_lock_after_the_threshold_for_the_duration() {
        let rules = PasswordPolicy {
            account_lockout_threshold: 3,
            account_lockout_duration_in_minutes: 15,
            ..PasswordPolicy::default()
        };
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(100);
        let mut u = user();
        count_failure(&mut u, &rules, now);
        count_failure(&mut u, &rules, now);
        assert!(!u.is_locked(now));
        count_failure(&mut u, &rules, now);
        assert!(u.is_locked(now));
        assert!(!u.is_locked(now + Duration::minutes(16)));
    }

    #[test]
    fn the_reset_timer_restarts_the_count_and_permanent_locks_stay() {
        let rules = PasswordPolicy {
            account_lockout_threshold: 2,
            account_lockout_reset_timer_in_minutes: 5,
            account_lockout_permanent_lockout: true,
            ..PasswordPolicy::default()
        };
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(100);
        let mut u = user();
        count_failure(&mut u, &rules, now);
        count_failure(&mut u, &rules, now + Duration::minutes(10));
        assert_eq!(u.failed_login_count, 1);
        assert!(!u.is_locked(now));
        count_failure(&mut u, &rules, now + Duration::minutes(11));
        assert!(u.locked_permanently);
        assert!(u.is_locked(now + Duration::days(1000)));
    }

    #[test]
    fn no_lock_without_a_threshold() {
        let mut u = user();
        let now = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..50 {
            count_failure(&mut u, &PasswordPolicy::default(), now);
        }
        assert!(!u.is_locked(now));
    }
}
