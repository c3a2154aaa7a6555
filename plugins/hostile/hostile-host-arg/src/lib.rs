//! Hostile test plugin: `create` calls the host's `config` with a 1 MiB key,
//! then (if that returned at all) `log` with a 1 MiB message, bypassing the
//! SDK's guards. If the host lets both through, it answers an `err`.

use provisio_plugin_sdk::raw::host::{Level, config, log};
use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result};

struct HostileHostArg;

const HUGE: usize = 1 << 20;

impl IdentityCreator for HostileHostArg {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        let key = "k".repeat(HUGE);
        let value = config(&key);
        log(Level::Info, &"m".repeat(HUGE));
        Err(format!(
            "the host accepted a 1 MiB config key (answer: {}) and a 1 MiB log message",
            if value.is_some() { "some" } else { "none" }
        )
        .into())
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileHostArg);
