//! The use cases of orgs, users and tokens: each takes who asks, the target and a typed change, applies
//! every rule and writes through the store. The API dialects, the console and the operator's CLI call
//! these and only parse input and render output; caches over the store see every change by themselves
//! ([`crate::store::Store::local_changes`]).

pub mod events;
pub mod orgs;
pub mod tokens;
pub mod users;
pub mod webhooks;
