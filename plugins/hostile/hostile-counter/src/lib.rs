//! Hostile test plugin: counts its `create` calls in a `static` and puts the
//! count in the username hint (`calls-<n>`). A host that gives every call a
//! fresh instance always sees `calls-1`.

use core::sync::atomic::{AtomicU32, Ordering};
use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, NewAccount, Principal};

static CALLS: AtomicU32 = AtomicU32::new(0);

struct HostileCounter;

impl Guest for HostileCounter {
    fn name() -> String {
        "hostile-counter".to_string()
    }

    fn create(principal: Principal) -> Result<Creation, String> {
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
