//! Maps the identity provider's groups to memberships.
//!
//! Configuration:
//! - `groups.<group>`: the memberships a member of IdP group `<group>` gets, a
//!   comma-separated list (or JSON array) of `team:<name>`, `role:<name>` and
//!   `organization:<name>`. Groups without such a key are ignored.
//! - `default-team`: the team granted when the principal has no groups at all.
//! - `default-role`: a role added to every answer.
//!
//! The answer keeps the first occurrence of each membership, in the order of
//! the principal's groups, then the default team, then the default role. An
//! item that is not one of the three forms fails the call, so that a typo
//! never silently removes memberships in sync mode.

use provisio_plugin_sdk::assignment_provider::Guest;
use provisio_plugin_sdk::{Account, Assignment, Principal, config, config_trimmed, parse_list};

struct GroupMapper;

/// Parses one `kind:name` item of a `groups.<group>` value.
fn parse_item(item: &str, key: &str) -> Result<Assignment, String> {
    let parsed = item.split_once(':').and_then(|(kind, name)| {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        match kind.trim() {
            "team" => Some(Assignment::Team(name.to_string())),
            "role" => Some(Assignment::Role(name.to_string())),
            "organization" => Some(Assignment::Organization(name.to_string())),
            _ => None,
        }
    });
    parsed.ok_or_else(|| {
        format!(
            "invalid item `{item}` in config key `{key}`: expected `team:<name>`, \
             `role:<name>` or `organization:<name>`"
        )
    })
}

fn push_unique(list: &mut Vec<Assignment>, assignment: Assignment) {
    if !list.contains(&assignment) {
        list.push(assignment);
    }
}

impl Guest for GroupMapper {
    fn name() -> String {
        "group-mapper".to_string()
    }

    fn assign(_account: Account, principal: Principal) -> Result<Vec<Assignment>, String> {
        let mut result = Vec::new();
        for group in &principal.groups {
            let key = format!("groups.{group}");
            let Some(value) = config(&key) else { continue };
            for item in parse_list(&value) {
                push_unique(&mut result, parse_item(&item, &key)?);
            }
        }
        if principal.groups.is_empty()
            && let Some(team) = config_trimmed("default-team")
        {
            push_unique(&mut result, Assignment::Team(team));
        }
        if let Some(role) = config_trimmed("default-role") {
            push_unique(&mut result, Assignment::Role(role));
        }
        Ok(result)
    }
}

provisio_plugin_sdk::export_assignment_provider!(GroupMapper);

#[cfg(test)]
mod tests {
    use provisio_plugin_sdk::{Assignment, testing};

    use super::{GroupMapper, Guest};

    fn team(name: &str) -> Assignment {
        Assignment::Team(name.into())
    }

    #[test]
    fn groups_map_in_the_principals_order_without_duplicates() {
        testing::configure(
            r#"{"groups": {"Engineering": "team:engineering, role:developer", "Ops": ["team:engineering", "team:ops"]},
                "default-role": " member "}"#,
        );
        let principal = testing::principal("jane@acme.example").groups(["Ops", "Nobody", "Engineering"]).build();
        let answer = GroupMapper::assign(testing::account(&principal), principal);
        let role = |n: &str| Assignment::Role(n.into());
        assert_eq!(answer, Ok(vec![team("engineering"), team("ops"), role("developer"), role("member")]));
    }

    #[test]
    fn the_default_team_is_for_people_without_groups_only() {
        testing::configure(r#"{"default-team": "newcomers", "groups": {"A": "team:a"}}"#);
        let none = testing::principal("jane@acme.example").build();
        assert_eq!(GroupMapper::assign(testing::account(&none), none), Ok(vec![team("newcomers")]));
        let some = testing::principal("jane@acme.example").groups(["B"]).build();
        assert_eq!(GroupMapper::assign(testing::account(&some), some), Ok(vec![]));
    }

    #[test]
    fn a_malformed_item_is_the_plugins_error_naming_the_key() {
        testing::configure(r#"{"groups": {"A": "squad:x"}}"#);
        let principal = testing::principal("jane@acme.example").groups(["A"]).build();
        let error = GroupMapper::assign(testing::account(&principal), principal).err().unwrap_or_default();
        assert!(error.contains("groups.A"), "{error}");
    }
}
