//! Hostile test plugin: every string it controls is markup that runs if a
//! page shows it unescaped: its name, its log lines, its denial message and
//! the team it assigns (world `provisioner`, for both hooks).

use provisio_plugin_sdk::raw::host::{Level, log};
use provisio_plugin_sdk::{
    Account, Assignment, AssignmentProvider, Config, Creation, IdentityCreator, Principal, Result, deny,
};

struct HostileMarkup;

/// Sets the page's title to `pwned` if it runs, as an element or as an attribute.
const MARKUP: &str = r#""><img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>"#;

impl IdentityCreator for HostileMarkup {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        log(Level::Warn, MARKUP);
        Ok(deny("markup", MARKUP))
    }
}

impl AssignmentProvider for HostileMarkup {
    fn assign(_account: Account, _principal: Principal, _config: &Config) -> Result<Vec<Assignment>> {
        log(Level::Info, MARKUP);
        Ok(vec![Assignment::Team(MARKUP.to_string())])
    }
}

provisio_plugin_sdk::export_provisioner!(HostileMarkup, name = MARKUP);
