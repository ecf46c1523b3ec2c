//! orgd's HTTPS server: the TLS listener, the request-context middleware, and the Orgvue and Apperian
//! dialects over the core.

pub mod app;
pub mod bare_refusals;
pub mod config;
pub mod console;
pub mod context;
pub mod control;
pub mod cors;
pub mod dialects;
mod drain;
pub mod extract;
mod head_limits;
pub mod intake;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod presigned;
pub mod render;
pub mod response_cache;
pub mod route_table;
pub mod routes;
pub mod shared_usage;
pub mod signed;
pub mod standin;
pub mod startup;
pub mod state;
pub mod system;
pub mod tls;

pub use config::{Secret, ServerConfig, TlsSource};
pub use startup::{start, Server};
