//! What a route may do, as a type its handler names ([`crate::extract::Guarded`]`<Policy>`), after
//! meilisearch's `GuardedData<ActionPolicy<…>>`: every API route declares its operation, none defaults.

use orgd_core::access::Operation;

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
    /// Create and delete datasets, write items, imports and uploads: administrators.
    WriteData => WriteData;
    /// Change the org, make and delete affiliated orgs: administrators.
    Administer => Administer;
    /// List and create users: administrators and user managers.
    ManageUsers => ManageUsers;
}
