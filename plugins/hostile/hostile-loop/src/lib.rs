//! Hostile test plugin: `create` and `assign` spin forever without calling the
//! host (world `provisioner`, so it can stand in for either hook).

use core::hint::black_box;
use provisio_plugin_sdk::{
    Account, Assignment, AssignmentProvider, Config, Creation, IdentityCreator, Principal, Result,
};

struct HostileLoop;

#[inline(never)]
fn spin_forever() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter).wrapping_add(1);
        black_box(&mut counter);
    }
}

impl IdentityCreator for HostileLoop {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        spin_forever()
    }
}

impl AssignmentProvider for HostileLoop {
    fn assign(_account: Account, _principal: Principal, _config: &Config) -> Result<Vec<Assignment>> {
        spin_forever()
    }
}

provisio_plugin_sdk::export_provisioner!(HostileLoop);
