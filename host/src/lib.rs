//! Provisio.
pub mod plugin;
pub mod runtime;

