//! The Apperian organizations dialect (`/v1`, `/v2`, `/v3` and the unversioned aliases).

mod login;
mod orgs;
mod tokens;
mod users;
pub mod wire;

use crate::route_table::Table;

/// Routes of `/v1` (also mounted below `/v1/org/{org_id}`).
pub fn v1_routes() -> Table {
    Table::new()
        .merge(tokens::routes())
        .merge(orgs::v1_routes())
        .merge(users::v1_routes())
        .merge(crate::dialects::trail::routes("/events"))
        .merge(crate::dialects::subscriptions::routes("/webhooks"))
}

/// Routes of `/v2` (also mounted below `/v2/org/{org_id}`).
pub fn v2_routes() -> Table {
    users::v2_routes()
}

/// Routes of `/v3`.
pub fn v3_routes() -> Table {
    orgs::v3_routes()
}

/// The unversioned aliases: `/users`, `/users/{psk}`, `/users/authenticate`, `/organizations/{org_id}`.
pub fn alias_routes() -> Table {
    users::alias_routes().merge(login::alias_routes()).merge(orgs::deletion_routes())
}

/// `DELETE /organizations/{org_id}` (below `/v1`, not below its affiliated-org prefix).
pub fn org_deletion_routes() -> Table {
    orgs::deletion_routes()
}

/// `users/authenticate` below `/v1` and `/v2` (not below their affiliated-org prefixes).
pub fn login_routes() -> Table {
    login::versioned_routes()
}
