//! Provisio.
pub mod auth;
pub mod builtin;
pub mod engine;
pub mod plugin;
pub mod runtime;
pub mod store;
