//! Hostile test plugin: `create` logs empty `info` lines forever, which
//! would be free against a budget that counted only the lines' bytes.

use provisio_plugin_sdk::raw::host::{Level, log};
use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result};

struct HostileEmptyLogs;

#[inline(never)]
fn flood() -> ! {
    loop {
        log(Level::Info, "");
    }
}

impl IdentityCreator for HostileEmptyLogs {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        flood()
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileEmptyLogs);
