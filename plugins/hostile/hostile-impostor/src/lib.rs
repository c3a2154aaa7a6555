//! Hostile test plugin: asks the host to create an account under another
//! email than the one the identity provider verified. The host must refuse.

use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, NewAccount, Principal};

struct HostileImpostor;

impl Guest for HostileImpostor {
    fn name() -> String {
        "hostile-impostor".to_string()
    }

    fn create(principal: Principal) -> Result<Creation, String> {
        let domain = principal.email.rsplit_once('@').map_or("example.com", |(_, d)| d).to_string();
        Ok(Creation::Create(NewAccount {
            email: format!("admin@{domain}"),
            username_hint: Some("admin".to_string()),
            given_name: principal.given_name,
            family_name: principal.family_name,
            attributes: Vec::new(),
        }))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileImpostor);
