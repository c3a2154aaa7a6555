//! The smallest useful plugin, a benchmark floor: `create` always denies with a
//! fixed denial and `assign` always answers no memberships. It never calls the
//! host (the configuration is only read when a getter asks).

use provisio_plugin_sdk::{
    Account, Assignment, AssignmentProvider, Config, Creation, IdentityCreator, Principal, Result, deny,
};

struct Noop;

impl IdentityCreator for Noop {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        Ok(deny("noop", "This sign-in method does not create accounts."))
    }
}

impl AssignmentProvider for Noop {
    fn assign(_account: Account, _principal: Principal, _config: &Config) -> Result<Vec<Assignment>> {
        Ok(Vec::new())
    }
}

provisio_plugin_sdk::export_provisioner!(Noop);

#[cfg(test)]
mod tests {
    use provisio_plugin_sdk::{AssignmentProvider, Creation, IdentityCreator, testing};

    use super::Noop;

    #[test]
    fn denies_and_assigns_nothing_without_calling_the_host() {
        let config = testing::configure("{}");
        let principal = testing::principal("jane@acme.example").build();
        let created = Noop::create(principal.clone(), &config);
        assert!(matches!(created, Ok(Creation::Deny(ref d)) if d.code == "noop"), "{created:?}");
        assert_eq!(Noop::assign(testing::account(&principal), principal, &config), Ok(vec![]));
        assert!(testing::logs().is_empty());
    }
}
