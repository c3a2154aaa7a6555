//! Hostile test plugin: `create` answers an account whose username hint is a
//! 16 MiB string of `a`.

use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, NewAccount, Principal};

struct HostileHugeOutput;

const HINT_BYTES: usize = 16 << 20;

impl Guest for HostileHugeOutput {
    fn name() -> String {
        "hostile-huge-output".to_string()
    }

    fn create(principal: Principal) -> Result<Creation, String> {
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
