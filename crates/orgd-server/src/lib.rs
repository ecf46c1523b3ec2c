//! orgd's HTTPS server: the TLS listener, the request layers, and the Orgvue and Apperian
//! dialects over the core.

pub mod access_log;
pub mod admission;
pub mod app;
pub mod bare_refusals;
pub mod config;
pub mod console;
pub mod context;
pub mod control;
pub mod cors;
pub mod deliverer;
pub mod dialects;
mod drain;
pub mod error_envelope;
pub mod extract;
pub mod fault_injection;
mod head_limits;
pub mod intake;
pub mod jobs;
pub mod metrics;
pub mod mounts;
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
pub mod unavailable;

pub use config::{Secret, ServerConfig, TlsSource};
pub use startup::{start, Server};
