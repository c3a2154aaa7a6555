//! The built-in assignment provider: IdP groups mapped to memberships through
//! the binding's configuration, by `provisio_rules::group_mapping`.

use provisio_rules::Membership;

use crate::plugin::{Assignment, BindingConfig, Principal};

/// A mapping entry that is not `team:<name>`, `role:<name>` or `organization:<name>`.
pub use provisio_rules::MappingError;

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
    let memberships = provisio_rules::group_mapping(&principal.groups, |key| config.get(key))?;
    Ok(memberships
        .into_iter()
        .map(|m| match m {
            Membership::Organization(name) => Assignment::Organization(name),
            Membership::Team(name) => Assignment::Team(name),
            Membership::Role(name) => Assignment::Role(name),
        })
        .collect())
}
