//! The API of both dialects, mounted: which route group is served below which prefix.

use crate::route_table::Table;

/// The API of both dialects: the Orgvue dataset API below `/api/v1`, the Apperian organizations API
/// below `/v1`, `/v2`, `/v3`, its affiliated-org prefixes and its unversioned aliases. Each group is
/// mounted with its dialect, which decides its error envelope, body limits and log label.
pub fn api() -> Table {
    use crate::dialects::{apperian, orgvue};
    use crate::render::Dialect::{Apperian, Orgvue};
    Table::new()
        .mount(Orgvue, "/api/v1", orgvue::routes())
        .mount(
            Apperian,
            "/v1",
            apperian::v1_routes().merge(apperian::login_routes()).merge(apperian::org_deletion_routes()),
        )
        .mount(Apperian, "/v1/org/{org_id}", apperian::v1_routes())
        .mount(Apperian, "/v2", apperian::v2_routes().merge(apperian::login_routes()))
        .mount(Apperian, "/v2/org/{org_id}", apperian::v2_routes())
        .mount(Apperian, "/v3", apperian::v3_routes())
        .mount(Apperian, "", apperian::alias_routes())
}
