//! Hostile test plugin: `create` answers an account whose username hint is a
//! 16 MiB string of `a`.

use provisio_plugin_sdk::{Config, Creation, IdentityCreator, NewAccount, Principal, Result};

struct HostileHugeOutput;

const HINT_BYTES: usize = 16 << 20;

impl IdentityCreator for HostileHugeOutput {
    fn create(principal: Principal, _config: &Config) -> Result<Creation> {
        Ok(Creation::Create(NewAccount {
            email: principal.email,
            username_hint: Some("a".repeat(HINT_BYTES)),
            given_name: None,
            family_name: None,
            attributes: Vec::new(),
        }))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileHugeOutput);
