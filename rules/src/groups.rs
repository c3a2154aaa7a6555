//! The group mapping rule: identity-provider groups to memberships, through
//! the binding's configuration.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::{MAX_CONFIG_KEY_BYTES, parse_list};

/// The prefix of the configuration keys naming a group's memberships (`groups.<group>`).
pub const GROUPS_PREFIX: &str = "groups.";
/// The configuration key of the team given to a principal without groups.
pub const DEFAULT_TEAM_KEY: &str = "default-team";
/// The configuration key of the role added to every answer.
pub const DEFAULT_ROLE_KEY: &str = "default-role";

/// One membership of the domain's organization, as the group mapping names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Membership {
    /// Membership of the organization itself (`organization:<name>`).
    Organization(String),
    /// Membership of a team (`team:<name>`).
    Team(String),
    /// An organization role (`role:<name>`).
    Role(String),
}

/// A mapping entry that is not `team:<name>`, `role:<name>` or `organization:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// The offending item.
    pub item: String,
    /// The configuration key it is in.
    pub key: String,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid item `{}` in config key `{}`: expected `team:<name>`, `role:<name>` or `organization:<name>`",
            self.item, self.key
        )
    }
}

impl core::error::Error for MappingError {}

/// Parses one `kind:name` item of the value of configuration key `key`
/// (kind and name trimmed, the name not empty).
pub fn parse_membership(item: &str, key: &str) -> Result<Membership, MappingError> {
    let parsed = item.split_once(':').and_then(|(kind, name)| {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        match kind.trim() {
            "team" => Some(Membership::Team(name.to_owned())),
            "role" => Some(Membership::Role(name.to_owned())),
            "organization" => Some(Membership::Organization(name.to_owned())),
            _ => None,
        }
    });
    parsed.ok_or_else(|| MappingError { item: item.to_owned(), key: key.to_owned() })
}

fn push_unique(list: &mut Vec<Membership>, membership: Membership) {
    if !list.contains(&membership) {
        list.push(membership);
    }
}

/// The memberships for a principal in IdP `groups` (in the order the provider
/// sent them) under the binding configuration answered by `config`:
///
/// - `groups.<group>`: comma-separated (or JSON array, see [`parse_list`])
///   `team:`, `role:` and `organization:` items for members of IdP group
///   `<group>`; unmapped groups are ignored, and so is a group whose key would
///   be longer than [`MAX_CONFIG_KEY_BYTES`](crate::MAX_CONFIG_KEY_BYTES);
/// - `default-team`: given only when the principal has no groups at all;
/// - `default-role`: added to every answer.
///
/// Empty values of `default-team` and `default-role` count as unset. The
/// first occurrence of each membership is kept, in the principal's group
/// order, then the default team, then the default role. A malformed item is
/// an error rather than a silent omission, so that a typo never silently
/// removes memberships in sync mode.
pub fn group_mapping<S: AsRef<str>>(
    groups: &[String],
    mut config: impl FnMut(&str) -> Option<S>,
) -> Result<Vec<Membership>, MappingError> {
    let mut result = Vec::new();
    for group in groups {
        let key = format!("{GROUPS_PREFIX}{group}");
        if key.len() > MAX_CONFIG_KEY_BYTES {
            continue;
        }
        let Some(value) = config(&key) else { continue };
        for item in parse_list(value.as_ref()) {
            push_unique(&mut result, parse_membership(&item, &key)?);
        }
    }
    let mut trimmed = |key: &str| config(key).map(|v| v.as_ref().trim().to_owned()).filter(|v| !v.is_empty());
    if groups.is_empty()
        && let Some(team) = trimmed(DEFAULT_TEAM_KEY)
    {
        push_unique(&mut result, Membership::Team(team));
    }
    if let Some(role) = trimmed(DEFAULT_ROLE_KEY) {
        push_unique(&mut result, Membership::Role(role));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use alloc::{format, vec};

    use super::*;

    /// A configuration lookup over `(key, value)` pairs.
    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<&'a str> {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(ToString::to_string).collect()
    }

    fn team(name: &str) -> Membership {
        Membership::Team(name.to_string())
    }

    fn role(name: &str) -> Membership {
        Membership::Role(name.to_string())
    }

    #[test]
    fn groups_map_in_the_principals_order_without_duplicates() {
        let config = [
            ("groups.Engineering", "team:engineering, role:developer"),
            ("groups.Ops", r#"["team:engineering", " team : ops "]"#),
            ("groups.Board", "organization:acme"),
            ("default-role", " member "),
        ];
        let answer = group_mapping(&groups(&["Ops", "Nobody", "Engineering", "Board"]), lookup(&config));
        assert_eq!(
            answer,
            Ok(vec![
                team("engineering"),
                team("ops"),
                role("developer"),
                Membership::Organization("acme".to_string()),
                role("member")
            ])
        );
    }

    #[test]
    fn the_default_team_is_for_people_without_groups_only() {
        let config = [("default-team", "newcomers"), ("groups.A", "team:a"), ("default-role", "  ")];
        assert_eq!(group_mapping(&[], lookup(&config)), Ok(vec![team("newcomers")]));
        assert_eq!(group_mapping(&groups(&["B"]), lookup(&config)), Ok(vec![]));
        assert_eq!(group_mapping(&groups(&["A"]), lookup(&config)), Ok(vec![team("a")]));
    }

    #[test]
    fn a_malformed_item_is_an_error_naming_the_item_and_the_key() {
        for item in ["squad:x", "team:", "team", ":x"] {
            let config = [("groups.A", item)];
            let error = group_mapping(&groups(&["A"]), lookup(&config));
            assert_eq!(error, Err(MappingError { item: item.to_string(), key: "groups.A".to_string() }));
        }
        let error = MappingError { item: "squad:x".to_string(), key: "groups.A".to_string() };
        assert_eq!(
            format!("{error}"),
            "invalid item `squad:x` in config key `groups.A`: expected `team:<name>`, `role:<name>` or `organization:<name>`"
        );
    }

    #[test]
    fn a_group_too_long_for_a_config_key_is_never_looked_up() {
        let long = "g".repeat(MAX_CONFIG_KEY_BYTES);
        let mut asked = Vec::new();
        let answer = group_mapping(&groups(&[&long, "A"]), |key: &str| {
            asked.push(key.to_string());
            (key == "groups.A").then_some("team:a")
        });
        assert_eq!(answer, Ok(vec![team("a")]));
        assert_eq!(asked, ["groups.A", "default-role"]);
    }
}
