//! Hostile test plugin: `create` logs empty `info` lines forever, which
//! would be free against a budget that counted only the lines' bytes.

use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::raw::host::{Level, log};
use provisio_plugin_sdk::{Creation, Principal};

struct HostileEmptyLogs;

#[inline(never)]
fn flood() -> ! {
    loop {
        log(Level::Info, "");
    }
}

impl Guest for HostileEmptyLogs {
    fn name() -> String {
        "hostile-empty-logs".to_string()
    }

    fn create(_principal: Principal) -> Result<Creation, String> {
        flood()
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileEmptyLogs);
