//! The access pipeline (model §7), written once for both dialects and the console. Dialects hand in the
//! presented credential, the client IP and the target; they get an [`Access`] or an [`ApiError`] back.

use crate::auth_cache::AuthCache;
use crate::clock::Clock;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{OrgId, TenantId};
use crate::model::{AccountState, Org, Role, TokenKind, TokenRecord, User};
use crate::net::display_ip;
use crate::store::Store;
use crate::token;
use crate::tree::OrgIndex;
use crate::usage::{Admission, UsageLimiter};
use std::net::IpAddr;
use std::sync::Arc;

/// The org a request acts in, as its path names it.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// No org in the path: the caller's home org.
    Home,
    /// An Orgvue `{tenantId}` path parameter (malformed → 400601).
    Tenant(&'a str),
    /// An Apperian `{org_id}` (malformed → simply not found).
    Org(&'a str),
}

/// What a request may do inside the org it acts in (model §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// List tenants, datasets, metadata, exports, read items, own jobs and tokens, own session.
    Read,
    /// Create datasets (what may be done with one is its grants', `data::grants`).
    WriteData,
    /// Update the org, create child orgs, manage others' tokens.
    Administer,
    /// List, read, create, update and delete users.
    ManageUsers,
}

impl Operation {
    /// Whether `role` may perform this operation.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Operation::Read => true,
            Operation::WriteData | Operation::Administer => role == Role::Administrator,
            Operation::ManageUsers => matches!(role, Role::Administrator | Role::UserManager),
        }
    }
}

/// Step 3 for any credential: the account is enabled, not expired, and used from an allowed address. A
/// lock after failed sign-ins refuses sign-ins only (model §8, lockout): the tokens already issued keep working.
pub fn check_user_state(user: &User, now: time::OffsetDateTime, ip: Option<IpAddr>) -> Result<(), ApiError> {
    match AccountState::of(user, now) {
        AccountState::Disabled => return Err(ErrorCode::UserAccountDisabled.into()),
        AccountState::Expired => return Err(ErrorCode::UserAccountExpired.into()),
        AccountState::Locked | AccountState::Enabled => {}
    }
    if !user.allowed_subnets.allows(ip) {
        return Err(ApiError::ip_refusal(ErrorCode::UserAccountSubnetViolation, &display_ip(ip)));
    }
    Ok(())
}

/// A request that passed the pipeline.
#[derive(Debug)]
pub struct Access {
    /// The caller.
    pub user: Arc<User>,
    /// The presented token.
    pub token: Arc<TokenRecord>,
    /// The caller's home org.
    pub home: Arc<Org>,
    /// The org the request acts in.
    pub target: Arc<Org>,
    /// The usage-plan admission (holds the concurrency slot).
    pub admission: Admission,
}

impl Access {
    /// Step 6: refuse with 40331 when the role may not do `op`.
    pub fn require(&self, op: Operation) -> Result<(), ApiError> {
        if op.allows(self.user.role) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::InsufficientRole))
        }
    }
}

/// The caller's home org and the org a request acts in.
pub type HomeAndTarget = (Arc<Org>, Arc<Org>);

/// The caller's home org and the target org in a tree; `None` when either is not in it. A malformed
/// `{tenantId}` is 400601 (model §7 step 4).
fn resolve(orgs: &OrgIndex, user: &User, target: Target<'_>) -> Result<Option<HomeAndTarget>, ApiError> {
    let Some(home) = orgs.get(&user.org_id).cloned() else { return Ok(None) };
    let target = match target {
        Target::Home => Some(home.clone()),
        Target::Tenant(t) => {
            let t = TenantId::parse(t).ok_or_else(|| {
                ApiError::new(ErrorCode::PathParameterInvalid).with_context("pathParameter", "{tenantId}").with_detail(
                    "a tenant id matches ^[A-Z][A-Z0-9_]{0,29}$ (upper-case letters, digits and _, starting with a letter).",
                )
            })?;
            orgs.by_tenant(&t).cloned()
        }
        Target::Org(o) => OrgId::parse(o).and_then(|o| orgs.get(&o).cloned()),
    };
    Ok(target.map(|t| (home, t)))
}

/// The parts a pipeline run needs.
pub struct Gate {
    /// The store (for cache misses).
    pub cache: AuthCache,
    /// This node's usage counters.
    pub limiter: UsageLimiter,
    /// Login attempts per client IP.
    pub logins: crate::login_limits::LoginLimiter,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// The caller identified by steps 1–3: enough to know who it is, before any target is resolved.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: Arc<User>,
    /// The token.
    pub token: Arc<TokenRecord>,
}

impl Gate {
    /// A gate over a store.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Gate { cache: AuthCache::new(store), limiter: UsageLimiter::default(), logins: Default::default(), clock }
    }

    /// Steps 1–3: credential, token window and subnets, user state.
    pub async fn identify(&self, presented: Result<&str, ErrorCode>, ip: Option<IpAddr>) -> Result<Caller, ApiError> {
        let presented = presented?;
        let id = token::lookup_id(presented).ok_or(ErrorCode::ApiTokenInvalid)?;
        let entry = self.cache.token(id).await?.ok_or(ErrorCode::ApiTokenInvalid)?;
        if entry.0.revoked_at.is_some() || !token::verify(presented, &entry.1) {
            return Err(ErrorCode::ApiTokenInvalid.into());
        }
        let tok = entry.0.clone();
        let now = self.clock.now();
        if now < tok.starts_at {
            return Err(ErrorCode::ApiTokenNotYetActive.into());
        }
        if tok.ends_at.is_some_and(|end| now >= end) {
            return Err(ErrorCode::ApiTokenExpired.into());
        }
        if !tok.subnets.allows(ip) {
            return Err(ApiError::ip_refusal(ErrorCode::ApiTokenSubnetViolation, &display_ip(ip)));
        }
        let user = self.cache.user(tok.user_psk).await?.ok_or(ErrorCode::ApiTokenInvalid)?;
        check_user_state(&user, now, ip)?;
        if tok.kind == TokenKind::Api && !user.token_access {
            return Err(ErrorCode::TokenAccessDisabled.into());
        }
        self.cache.note_use(&tok, now, ip);
        Ok(Caller { user, token: Arc::new(tok) })
    }

    /// Steps 4–5 without the usage admission: resolve the target org, the caller's reach, org subnets and
    /// the org's API switch (the console's pages, which are not metered, ask this).
    pub async fn reach(
        &self,
        caller: &Caller,
        target: Target<'_>,
        ip: Option<IpAddr>,
    ) -> Result<HomeAndTarget, ApiError> {
        let mut orgs = self.cache.orgs().await?;
        let (home, target) = match resolve(&orgs, &caller.user, target)? {
            Some(found) => found,
            // An org made a moment ago elsewhere (another node, the CLI) is not in the cached tree yet:
            // when the store moved since that tree was read, it is read again before the answer is 404
            // (whether or not the background poll has noticed the move yet).
            None => {
                orgs = self.cache.orgs_as_of_now().await?;
                resolve(&orgs, &caller.user, target)?.ok_or_else(|| ApiError::new(ErrorCode::TenantNotFound))?
            }
        };
        if !orgs.may_act_in(&caller.user, &target.org_id) {
            return Err(ApiError::new(ErrorCode::TenantNotFound));
        }
        if !home.allowed_subnets.allows(ip) || !target.allowed_subnets.allows(ip) {
            return Err(ApiError::ip_refusal(ErrorCode::TenantSubnetViolation, &display_ip(ip)));
        }
        if !target.usage_plan.enabled {
            return Err(ErrorCode::TenantUsagePlanNotConfigured.into());
        }
        Ok((home, target))
    }

    /// Steps 4–5: [`reach`](Self::reach), then rate, concurrency and quota.
    pub async fn admit(&self, caller: Caller, target: Target<'_>, ip: Option<IpAddr>) -> Result<Access, ApiError> {
        let (home, target) = self.reach(&caller, target, ip).await?;
        let admission = self.limiter.admit(&target.org_id, &target.usage_plan, self.clock.now()).await?;
        Ok(Access { user: caller.user, token: caller.token, home, target, admission })
    }

    /// The whole pipeline, steps 1–5.
    pub async fn check(
        &self,
        presented: Result<&str, ErrorCode>,
        ip: Option<IpAddr>,
        target: Target<'_>,
    ) -> Result<Access, ApiError> {
        let caller = self.identify(presented, ip).await?;
        self.admit(caller, target, ip).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::tests::{org_for_tests, user};
    use time::{Duration, OffsetDateTime};

    #[test]
    fn the_pipeline_and_the_shown_state_read_an_account_alike() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(10);
        let mut u = user(&org_for_tests(), Role::User);
        assert_eq!(AccountState::of(&u, now), AccountState::Enabled);
        assert!(check_user_state(&u, now, None).is_ok());
        u.locked_permanently = true;
        assert_eq!(AccountState::of(&u, now), AccountState::Locked);
        assert!(check_user_state(&u, now, None).is_ok(), "a lock refuses sign-ins, not the tokens issued");
        u.expires_at = Some(now);
        assert_eq!(AccountState::of(&u, now), AccountState::Expired, "expired outranks locked");
        assert_eq!(check_user_state(&u, now, None).unwrap_err().code, ErrorCode::UserAccountExpired);
        u.enabled = false;
        assert_eq!(AccountState::of(&u, now), AccountState::Disabled);
        assert_eq!(check_user_state(&u, now, None).unwrap_err().code, ErrorCode::UserAccountDisabled);
    }
}
