//! Hostile test plugin: `create` panics with "boom from hostile-panic", two
//! named functions deep (`check_principal` then `explode`), so that a trap's
//! backtrace shows guest function names.

use core::hint::black_box;
use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result};

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

impl IdentityCreator for HostilePanic {
    fn create(principal: Principal, _config: &Config) -> Result<Creation> {
        Ok(check_principal(&principal))
    }
}

provisio_plugin_sdk::export_identity_creator!(HostilePanic);
