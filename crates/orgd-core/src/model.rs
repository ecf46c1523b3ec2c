//! The records of the core model (model §2–§4, §9): organizations, users, tokens, usage plans.

use crate::ids::{OrgId, TenantId};
use crate::net::CidrList;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A user's role (model §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages the org, its descendants, users and datasets.
    Administrator,
    /// Manages `user` and `user_manager` accounts of its own org.
    UserManager,
    /// Reads data.
    User,
}

impl Role {
    /// Parse `administrator`, `user_manager` or `user`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "administrator" => Some(Role::Administrator),
            "user_manager" => Some(Role::UserManager),
            "user" => Some(Role::User),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::UserManager => "user_manager",
            Role::User => "user",
        }
    }
}

/// An org's usage plan (model §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePlan {
    /// false → every request answers 40345.
    pub enabled: bool,
    /// Token-bucket refill, requests per second.
    pub rate_per_second: u32,
    /// Token-bucket capacity.
    pub burst: u32,
    /// Requests in flight at once (per node).
    pub max_concurrent: u32,
    /// Requests per UTC day; `None` = unlimited.
    pub daily_quota: Option<u64>,
}

impl Default for UsagePlan {
    fn default() -> Self {
        UsagePlan { enabled: true, rate_per_second: 100, burst: 100, max_concurrent: 50, daily_quota: Some(500_000) }
    }
}

/// An organization, also a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    /// The Apperian key.
    pub org_id: OrgId,
    /// The Orgvue key.
    pub tenant_id: TenantId,
    /// The parent, fixed at creation.
    pub parent_id: Option<OrgId>,
    /// Unique name (case-insensitive).
    pub name: String,
    /// Org-level IP allow-list.
    pub allowed_subnets: CidrList,
    /// Usage plan.
    pub usage_plan: UsagePlan,
    /// The Apperian organization settings object (apperian-dialect §4.5), stored whole.
    pub settings: serde_json::Value,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// A user account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Server-wide numeric key.
    pub psk: i64,
    /// Home org.
    pub org_id: OrgId,
    /// Login name, unique per org (case-insensitive).
    pub user_id: String,
    /// E-mail or "".
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Mobile phone.
    pub mobile_phone: Option<String>,
    /// Role.
    pub role: Role,
    /// false → 40322.
    pub enabled: bool,
    /// Passed → 40323.
    pub expires_at: Option<OffsetDateTime>,
    /// Orgvue `TokenAccess`: needed to create and use API tokens.
    pub token_access: bool,
    /// User-level IP allow-list.
    pub allowed_subnets: CidrList,
    /// argon2id PHC string; `None` = cannot log in.
    pub password_hash: Option<String>,
    /// When the password was last set.
    pub password_changed_at: Option<OffsetDateTime>,
    /// Previous password hashes, newest first.
    pub password_history: Vec<String>,
    /// Custom metadata values.
    pub custom_metadata: serde_json::Value,
    /// Failed logins in a row.
    pub failed_login_count: u32,
    /// When the last failed login happened.
    pub last_failed_login_at: Option<OffsetDateTime>,
    /// Locked until this instant.
    pub locked_until: Option<OffsetDateTime>,
    /// Locked until an administrator unlocks.
    pub locked_permanently: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub modified_at: OffsetDateTime,
    /// Last successful login.
    pub last_login_at: Option<OffsetDateTime>,
}

impl User {
    /// Whether the account is locked at `now` (after failed sign-ins).
    pub fn is_locked(&self, now: OffsetDateTime) -> bool {
        self.locked_permanently || self.locked_until.is_some_and(|t| t > now)
    }
}

/// Whether an account can be used at `now`: the one reading of it that the access pipeline (step 3), the
/// console and the Apperian user object share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Usable.
    Enabled,
    /// Switched off by an administrator.
    Disabled,
    /// Locked after failed sign-ins.
    Locked,
    /// Past its expiry date.
    Expired,
}

impl AccountState {
    /// The state of `u` at `now`: disabled first, then expired, then locked (a lock ends; the others
    /// need an administrator).
    pub fn of(u: &User, now: OffsetDateTime) -> AccountState {
        if !u.enabled {
            AccountState::Disabled
        } else if u.expires_at.is_some_and(|e| e <= now) {
            AccountState::Expired
        } else if u.is_locked(now) {
            AccountState::Locked
        } else {
            AccountState::Enabled
        }
    }

    /// One word: `enabled`, `disabled`, `locked`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Enabled => "enabled",
            AccountState::Disabled => "disabled",
            AccountState::Locked => "locked",
            AccountState::Expired => "expired",
        }
    }

    /// Why the account cannot be used, in a few words; `None` when it can.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            AccountState::Enabled => None,
            AccountState::Disabled => Some("disabled by an administrator"),
            AccountState::Locked => Some("locked after failed sign-ins"),
            AccountState::Expired => Some("account expired"),
        }
    }
}

/// The two kinds of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Made by its user for programs; needs `token_access`.
    Api,
    /// Issued by a password login.
    Session,
}

impl TokenKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Api => "api",
            TokenKind::Session => "session",
        }
    }
}

/// A stored token (never the secret).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// The public lookup id.
    pub token_id: String,
    /// API or session.
    pub kind: TokenKind,
    /// The owner.
    pub user_psk: i64,
    /// A label for people.
    pub label: String,
    /// Valid from.
    pub starts_at: OffsetDateTime,
    /// Valid until (exclusive); `None` = no end.
    pub ends_at: Option<OffsetDateTime>,
    /// Token-level IP allow-list.
    pub subnets: CidrList,
    /// Session made with `remember_me`.
    pub remember_me: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last use (written at most once a minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// Address of the last use.
    pub last_used_ip: Option<String>,
    /// Revocation time.
    pub revoked_at: Option<OffsetDateTime>,
}

/// The lifecycle state of a token at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Usable (as far as the token itself goes).
    Active,
    /// Before `starts_at`.
    NotYetActive,
    /// At or after `ends_at`.
    Expired,
    /// Revoked.
    Revoked,
}

impl TokenStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::NotYetActive => "not_yet_active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

impl TokenRecord {
    /// The token's state at `now`.
    pub fn status(&self, now: OffsetDateTime) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if now < self.starts_at {
            TokenStatus::NotYetActive
        } else if self.ends_at.is_some_and(|end| now >= end) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

/// A token use noticed by the access pipeline, written to the store in batches.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUse {
    /// Which token.
    pub token_id: String,
    /// When.
    pub at: OffsetDateTime,
    /// From where.
    pub ip: Option<String>,
}
