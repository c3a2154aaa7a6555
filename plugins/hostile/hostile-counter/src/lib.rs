//! Hostile test plugin: counts its `create` calls in a `static` and puts the
//! count in the username hint (`calls-<n>`). A host that gives every call a
//! fresh instance always sees `calls-1`.

use core::sync::atomic::{AtomicU32, Ordering};
use provisio_plugin_sdk::{Config, Creation, IdentityCreator, NewAccount, Principal, Result};

static CALLS: AtomicU32 = AtomicU32::new(0);

struct HostileCounter;

impl IdentityCreator for HostileCounter {
    fn create(principal: Principal, _config: &Config) -> Result<Creation> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Creation::Create(NewAccount {
            email: principal.email,
            username_hint: Some(format!("calls-{calls}")),
            given_name: None,
            family_name: None,
            attributes: Vec::new(),
        }))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileCounter);
