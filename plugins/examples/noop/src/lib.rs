//! The smallest useful plugin, a benchmark floor: `create` always denies with a
//! fixed denial and `assign` always answers no memberships. It never calls the host.

use provisio_plugin_sdk::provisioner::{AssignmentProvider, IdentityCreator};
use provisio_plugin_sdk::{Account, Assignment, Creation, Denial, Principal};

struct Noop;

impl IdentityCreator for Noop {
    fn name() -> String {
        "noop".to_string()
    }

    fn create(_principal: Principal) -> Result<Creation, String> {
        Ok(Creation::Deny(Denial {
            code: "noop".to_string(),
            message: "This sign-in method does not create accounts.".to_string(),
        }))
    }
}

impl AssignmentProvider for Noop {
    fn name() -> String {
        "noop".to_string()
    }

    fn assign(_account: Account, _principal: Principal) -> Result<Vec<Assignment>, String> {
        Ok(Vec::new())
    }
}

provisio_plugin_sdk::export_provisioner!(Noop);

#[cfg(test)]
mod tests {
    use provisio_plugin_sdk::{Creation, testing};

    use super::{AssignmentProvider, IdentityCreator, Noop};

    #[test]
    fn denies_and_assigns_nothing_without_calling_the_host() {
        testing::configure("{}");
        let principal = testing::principal("jane@acme.example").build();
        let created = <Noop as IdentityCreator>::create(principal.clone());
        assert!(matches!(created, Ok(Creation::Deny(ref d)) if d.code == "noop"), "{created:?}");
        assert_eq!(<Noop as AssignmentProvider>::assign(testing::account(&principal), principal), Ok(vec![]));
        assert!(testing::logs().is_empty());
    }
}
