//! The built-in providers: what a domain uses when no plugin is bound, and
//! what a failing plugin falls back to when its binding asks for it. They
//! follow exactly the rules of the example plugins `default-creator` and
//! `group-mapper`, so either can stand in for the other.

mod creator;
mod group_mapping;

pub use creator::{
    DEFAULT_DIGITS, MAX_DIGITS, default_creation, directory_creation, username_base, username_with_digits,
};
pub use group_mapping::{MappingError, group_mapping};

/// Items of a list-valued configuration entry: a JSON array of strings, or
/// comma-separated text; items are trimmed and empty ones dropped.
pub(crate) fn parse_list(value: &str) -> Vec<String> {
    let trimmed = value.trim();
    if trimmed.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<String>>(trimmed)
    {
        return items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    }
    trimmed.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}
