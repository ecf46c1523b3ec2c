//! The API of both dialects, mounted: which route group is served below which prefix.

use crate::route_table::Table;

/// The API of both dialects: the Orgvue dataset API below `/api/v1`, the Apperian organizations API
/// below `/v1`, `/v2`, `/v3`, its affiliated-org prefixes and its unversioned aliases.
pub fn api() -> Table {
    use crate::dialects::{apperian, orgvue};
    Table::new()
        .nest("/api/v1", orgvue::routes())
        .nest("/v1", apperian::v1_routes().merge(apperian::login_routes()).merge(apperian::org_deletion_routes()))
        .nest("/v1/org/{org_id}", apperian::v1_routes())
        .nest("/v2", apperian::v2_routes().merge(apperian::login_routes()))
        .nest("/v2/org/{org_id}", apperian::v2_routes())
        .nest("/v3", apperian::v3_routes())
        .merge(apperian::alias_routes())
}
