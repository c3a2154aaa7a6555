//! Hostile test plugin: `create` sleeps for ten seconds. The sleep is a WASI
//! poll on a monotonic-clock subscription: the guest waits on the host and
//! runs no code, so only the host's own deadline can end the call.

use std::time::Duration;

use provisio_plugin_sdk::{Config, Creation, Denial, IdentityCreator, Principal, Result};

struct HostileSleep;

impl IdentityCreator for HostileSleep {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        std::thread::sleep(Duration::from_secs(10));
        Ok(Creation::Deny(Denial { code: "slept".to_string(), message: "slept".to_string() }))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileSleep);
