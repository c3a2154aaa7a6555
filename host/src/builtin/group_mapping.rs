//! The built-in assignment provider: IdP groups mapped to memberships through
//! the binding's configuration.

use crate::plugin::{Assignment, BindingConfig, Principal};

/// A mapping entry that is not `team:<name>`, `role:<name>` or `organization:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid item `{item}` in config key `{key}`: expected `team:<name>`, `role:<name>` or `organization:<name>`")]
pub struct MappingError {
    /// The offending item.
    pub item: String,
    /// The configuration key it is in.
    pub key: String,
}

fn parse_item(item: &str, key: &str) -> Result<Assignment, MappingError> {
    let parsed = item.split_once(':').and_then(|(kind, name)| {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        match kind.trim() {
            "team" => Some(Assignment::Team(name.to_owned())),
            "role" => Some(Assignment::Role(name.to_owned())),
            "organization" => Some(Assignment::Organization(name.to_owned())),
            _ => None,
        }
    });
    parsed.ok_or_else(|| MappingError { item: item.to_owned(), key: key.to_owned() })
}

fn push_unique(list: &mut Vec<Assignment>, a: Assignment) {
    if !list.contains(&a) {
        list.push(a);
    }
}

/// The memberships for `principal` under `config`:
/// - `groups.<group>`: comma-separated (or JSON array) `team:`, `role:` and
///   `organization:` items for members of IdP group `<group>`; unmapped groups are ignored;
/// - `default-team`: given only when the principal has no groups at all;
/// - `default-role`: added to every answer.
///
/// The first occurrence of each membership is kept, in the principal's group
/// order, then the default team, then the default role. A malformed item is an
/// error rather than a silent omission.
pub fn group_mapping(principal: &Principal, config: &BindingConfig) -> Result<Vec<Assignment>, MappingError> {
    let trimmed = |key: &str| config.get(key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut result = Vec::new();
    for group in &principal.groups {
        let key = format!("groups.{group}");
        let Some(value) = config.get(&key) else {
            continue;
        };
        for item in super::parse_list(value) {
            push_unique(&mut result, parse_item(&item, &key)?);
        }
    }
    if principal.groups.is_empty()
        && let Some(team) = trimmed("default-team")
    {
        push_unique(&mut result, Assignment::Team(team));
    }
    if let Some(role) = trimmed("default-role") {
        push_unique(&mut result, Assignment::Role(role));
    }
    Ok(result)
}
