//! Provisio.
pub mod builtin;
pub mod plugin;
pub mod runtime;

