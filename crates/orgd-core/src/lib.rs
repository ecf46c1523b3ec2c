//! orgd's core: the domain rules of organizations, users, tokens, the access pipeline and usage plans,
//! written once for every dialect and free of HTTP and SQL.

pub mod access;
pub mod auth_cache;
pub mod cases;
pub mod clock;
pub mod cors;
pub mod credential;
pub mod data;
pub mod error;
pub mod events;
pub mod faults;
pub mod ids;
pub mod journal;
pub mod login;
pub mod login_limits;
pub mod metadata;
pub mod model;
pub mod net;
pub mod org_object;
pub mod org_settings;
pub mod org_update;
pub mod password;
pub mod password_rules;
pub mod path_params;
pub mod query;
pub mod seed;
pub mod store;
pub mod text;
pub mod token;
pub mod tree;
pub mod usage;
pub mod user_rules;
pub mod webhooks;

pub use error::{ApiError, ErrorCode, FieldFault, StoreError};
