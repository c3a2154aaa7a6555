//! Hostile test plugin: asks the host to create an account under another
//! email than the one the identity provider verified. The host must refuse.

use provisio_plugin_sdk::{Config, Creation, IdentityCreator, NewAccount, Principal, Result};

struct HostileImpostor;

impl IdentityCreator for HostileImpostor {
    fn create(principal: Principal, _config: &Config) -> Result<Creation> {
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
