//! Hostile test plugin: `create` sleeps for ten seconds. The sleep is a WASI
//! poll on a monotonic-clock subscription: the guest waits on the host and
//! runs no code, so only the host's own deadline can end the call.

use std::time::Duration;

use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, Denial, Principal};

struct HostileSleep;

impl Guest for HostileSleep {
    fn name() -> String {
        "hostile-sleep".to_string()
    }

    fn create(_principal: Principal) -> Result<Creation, String> {
        std::thread::sleep(Duration::from_secs(10));
        Ok(Creation::Deny(Denial { code: "slept".to_string(), message: "slept".to_string() }))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileSleep);
