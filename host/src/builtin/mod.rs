//! The built-in providers: what a domain uses when no plugin is bound, and
//! what a failing plugin falls back to when its binding asks for it. Their
//! rules live in the `provisio-rules` crate, which the plugin SDK (and so the
//! example plugins `default-creator` and `group-mapper`) uses too, so either
//! can stand in for the other.

mod creator;
mod group_mapping;

pub use creator::{
    DEFAULT_DIGITS, MAX_DIGITS, default_creation, directory_creation, username_base, username_with_digits,
};
pub use group_mapping::{MappingError, group_mapping};
