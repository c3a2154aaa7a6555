//! Hostile test plugin: `create` logs 1 KiB `info` messages forever.

use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::raw::host::{Level, log};
use provisio_plugin_sdk::{Creation, Principal};

struct HostileLogFlood;

#[inline(never)]
fn flood() -> ! {
    let message = "x".repeat(1024);
    loop {
        log(Level::Info, &message);
    }
}

impl Guest for HostileLogFlood {
    fn name() -> String {
        "hostile-log-flood".to_string()
    }

    fn create(_principal: Principal) -> Result<Creation, String> {
        flood()
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileLogFlood);
