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
//! never silently removes memberships in sync mode. The rule is the host's
//! built-in one (`provisio_plugin_sdk::group_mapping`).

use provisio_plugin_sdk::{Account, Assignment, AssignmentProvider, Config, Principal, Result, group_mapping};

struct GroupMapper;

impl AssignmentProvider for GroupMapper {
    fn assign(_account: Account, principal: Principal, config: &Config) -> Result<Vec<Assignment>> {
        group_mapping(&principal, config)
    }
}

provisio_plugin_sdk::export_assignment_provider!(GroupMapper);

#[cfg(test)]
mod tests {
    use provisio_plugin_sdk::{Assignment, AssignmentProvider, testing};

    use super::GroupMapper;

    fn team(name: &str) -> Assignment {
        Assignment::Team(name.into())
    }

    #[test]
    fn groups_map_in_the_principals_order_without_duplicates() {
        let config = testing::configure(
            r#"{"groups": {"Engineering": "team:engineering, role:developer", "Ops": ["team:engineering", "team:ops"]},
                "default-role": " member "}"#,
        );
        let principal = testing::principal("jane@acme.example").groups(["Ops", "Nobody", "Engineering"]).build();
        let answer = GroupMapper::assign(testing::account(&principal), principal, &config);
        let role = |n: &str| Assignment::Role(n.into());
        assert_eq!(answer, Ok(vec![team("engineering"), team("ops"), role("developer"), role("member")]));
    }

    #[test]
    fn the_default_team_is_for_people_without_groups_only() {
        let config = testing::configure(r#"{"default-team": "newcomers", "groups": {"A": "team:a"}}"#);
        let none = testing::principal("jane@acme.example").build();
        assert_eq!(GroupMapper::assign(testing::account(&none), none, &config), Ok(vec![team("newcomers")]));
        let some = testing::principal("jane@acme.example").groups(["B"]).build();
        assert_eq!(GroupMapper::assign(testing::account(&some), some, &config), Ok(vec![]));
    }

    #[test]
    fn a_malformed_item_is_the_plugins_error_naming_the_key() {
        let config = testing::configure(r#"{"groups": {"A": "squad:x"}}"#);
        let principal = testing::principal("jane@acme.example").groups(["A"]).build();
        let answer = GroupMapper::assign(testing::account(&principal), principal, &config);
        let error = answer.err().map(|e| e.into_message()).unwrap_or_default();
        assert!(error.contains("groups.A"), "{error}");
    }
}
