//! Hostile test plugin: `create` logs 1 KiB `info` messages forever.

use provisio_plugin_sdk::raw::host::{Level, log};
use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result};

struct HostileLogFlood;

#[inline(never)]
fn flood() -> ! {
    let message = "x".repeat(1024);
    loop {
        log(Level::Info, &message);
    }
}

impl IdentityCreator for HostileLogFlood {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        flood()
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileLogFlood);
