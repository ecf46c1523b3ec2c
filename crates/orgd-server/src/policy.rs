//! What a route may do, as a type its handler names ([`crate::extract::Guarded`]`<Policy>`), after
//! meilisearch's `GuardedData<ActionPolicy<…>>`: every API route declares its operation, none defaults.

use orgd_core::access::Operation;
use orgd_core::data::grants::Level;

/// An operation a handler needs (model §3: which roles may do it is [`Operation::allows`]).
pub trait Policy: Send + Sync + 'static {
    /// The operation.
    const OPERATION: Operation;
}

macro_rules! policies {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Policy for $name {
            const OPERATION: Operation = Operation::$op;
        }
    )*};
}

policies! {
    /// Read: every role (finer rules, such as whose user or token, are the use case's).
    Read => Read;
    /// Create datasets: administrators (what may be done with a dataset is its grants', [`DatasetPolicy`]).
    WriteData => WriteData;
    /// Change the org, make and delete affiliated orgs: administrators.
    Administer => Administer;
    /// List and create users: administrators and user managers.
    ManageUsers => ManageUsers;
}

/// A level a route needs on the dataset its path names ([`crate::extract::OnDataset`]`<Policy>`; which
/// callers hold it is the dataset's grants, [`orgd_core::data::grants`]).
pub trait DatasetPolicy: Send + Sync + 'static {
    /// The level.
    const LEVEL: Level;
    /// Whether the route works on a permissioned view too (views are read-only: no items, schema or drafts
    /// of their own).
    const ON_VIEWS: bool;
}

macro_rules! dataset_policies {
    ($($(#[$doc:meta])* $name:ident => $level:ident, views: $views:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl DatasetPolicy for $name {
            const LEVEL: Level = Level::$level;
            const ON_VIEWS: bool = $views;
        }
    )*};
}

dataset_policies! {
    /// Metadata, items, exports.
    ReadDataset => Read, views: true;
    /// Imports (creating and deleting items within them needs `modify`, checked per action).
    UpdateDataset => Update, views: false;
    /// Drafts, schema changes, making views.
    ManageDataset => Manage, views: false;
    /// Permissions and deletion, of a dataset or a view.
    GovernDataset => Manage, views: true;
}
