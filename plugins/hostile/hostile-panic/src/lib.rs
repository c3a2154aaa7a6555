//! Hostile test plugin: `create` panics with "boom from hostile-panic", two
//! named functions deep (`check_principal` then `explode`), so that a trap's
//! backtrace shows guest function names.

use core::hint::black_box;
use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, Principal};

struct HostilePanic;

#[inline(never)]
fn explode(principal: &Principal) -> ! {
    black_box(principal);
    panic!("boom from hostile-panic");
}

#[inline(never)]
fn check_principal(principal: &Principal) -> Creation {
    explode(black_box(principal))
}

impl Guest for HostilePanic {
    fn name() -> String {
        "hostile-panic".to_string()
    }

    fn create(principal: Principal) -> Result<Creation, String> {
        Ok(check_principal(&principal))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostilePanic);
