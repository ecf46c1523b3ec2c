//! The two wire dialects: request mapping and response rendering over the core.

pub mod apperian;
pub mod orgvue;
pub mod subscriptions;
pub mod trail;
