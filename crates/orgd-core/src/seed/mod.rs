//! Seed files (the stand-in for integration tests): a declarative description of orgs, users, API tokens
//! with fixed secrets, usage plans and datasets with their items. Applying a seed brings what it names to
//! the described state through the same rules as the APIs; applying it again changes nothing. Ids the
//! file does not give (org ids, dataset ids, item ids) are derived from it, so they are the same on
//! every run and after every reset.

mod apply;
mod file;

pub use apply::{apply, Memo, Report};
pub use file::{derived_org_id, line_of, load, parse};

use crate::cases::orgs::OrgPatch;
use crate::cases::users::UserFields;
use crate::data::actions::Identify;
use crate::data::values::DateFormat;
use crate::ids::{OrgId, TenantId};
use crate::net::CidrList;
use crate::token::MintedToken;
use serde_json::{Map, Value};
use std::fmt;
use time::OffsetDateTime;

/// A checked seed file.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The file's name as given (for errors).
    pub file: String,
    /// Its text (to find the line of a field in errors).
    pub text: String,
    /// The orgs, in file order.
    pub orgs: Vec<SeedOrg>,
}

/// One org of a seed.
#[derive(Debug, Clone)]
pub struct SeedOrg {
    /// Where it is in the file (`orgs[2]`).
    pub path: String,
    /// Tenant id.
    pub tenant_id: TenantId,
    /// Org id (given, or derived from the tenant id).
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// Parent tenant id or org id.
    pub parent: Option<String>,
    /// Usage plan switched on or off.
    pub api_enabled: Option<bool>,
    /// Org allow-list.
    pub subnets: Option<CidrList>,
    /// Usage plan changes from the server default.
    pub plan: Option<OrgPatch>,
    /// Organization settings (checked like `PUT /v3/organizations/{id}`).
    pub settings: Option<Value>,
    /// Users of the org.
    pub users: Vec<SeedUser>,
    /// Datasets of the org.
    pub datasets: Vec<SeedDataset>,
    /// Webhook subscriptions of the org.
    pub webhooks: Vec<SeedWebhook>,
}

/// One webhook subscription of a seeded org.
#[derive(Debug, Clone)]
pub struct SeedWebhook {
    /// Where it is in the file.
    pub path: String,
    /// Its id (given, or derived from the tenant and its place, so the same on every run).
    pub id: crate::ids::WebhookId,
    /// What it subscribes.
    pub new: crate::cases::webhooks::NewWebhook,
}

/// One user of a seed.
#[derive(Debug, Clone)]
pub struct SeedUser {
    /// Where it is in the file.
    pub path: String,
    /// Login name.
    pub user_id: String,
    /// Its fields (password, role, TokenAccess, …).
    pub fields: UserFields,
    /// Its API tokens.
    pub tokens: Vec<SeedToken>,
}

/// One API token with a fixed secret.
#[derive(Debug, Clone)]
pub struct SeedToken {
    /// Where it is in the file.
    pub path: String,
    /// The secret, its id and hash.
    pub minted: MintedToken,
    /// Label.
    pub label: Option<String>,
    /// Valid from (default: when the seed is applied).
    pub starts_at: Option<OffsetDateTime>,
    /// Valid until.
    pub ends_at: Option<OffsetDateTime>,
    /// Token allow-list.
    pub subnets: CidrList,
}

/// One dataset with its items.
#[derive(Debug, Clone)]
pub struct SeedDataset {
    /// Where it is in the file.
    pub path: String,
    /// A fixed dataset id (else derived from the tenant and the name).
    pub id: Option<crate::ids::DatasetId>,
    /// The definition, as `POST /datasets` takes it (LINKS ends may name datasets by name).
    pub definition: Map<String, Value>,
    /// The items as `create` actions.
    pub actions: Vec<Value>,
    /// Where the items are (for errors): `orgs[0].datasets[1].items` or the items file.
    pub items_path: String,
    /// Date format of the items' date values.
    pub date_format: DateFormat,
    /// How items are identified (by autoId when the dataset has one).
    pub identify: Option<Identify>,
    /// Its drafts, each with the actions it stages.
    pub drafts: Vec<SeedDraft>,
    /// Its grants, as the body of `PUT …/permissions` (users by `user_id` of the dataset's org).
    pub permissions: Option<serde_json::Value>,
}

/// A draft of a seeded dataset: staged item actions, identified as the dataset's items are.
#[derive(Debug, Clone)]
pub struct SeedDraft {
    /// Where it is in the file.
    pub path: String,
    /// Its name (its id is derived from the tenant, the dataset and this name).
    pub name: String,
    /// The actions it stages.
    pub actions: Vec<Value>,
}

/// One fault of a seed file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedError {
    /// The file.
    pub file: String,
    /// The line (1-based), when known.
    pub line: Option<usize>,
    /// The field path (`orgs[0].users[1].role`), empty for the file as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Seed {
    /// A fault at `field`, with its line looked up in the text.
    pub fn error(&self, field: &str, message: impl Into<String>) -> SeedError {
        SeedError {
            file: self.file.clone(),
            line: line_of(&self.text, field),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// How many orgs, users, tokens, datasets and items it describes.
    pub fn counts(&self) -> [usize; 5] {
        let users = self.orgs.iter().flat_map(|o| &o.users);
        let datasets = self.orgs.iter().flat_map(|o| &o.datasets);
        [
            self.orgs.len(),
            users.clone().count(),
            users.map(|u| u.tokens.len()).sum(),
            datasets.clone().count(),
            datasets.map(|d| d.actions.len()).sum(),
        ]
    }
}

#[cfg(test)]
mod tests;
