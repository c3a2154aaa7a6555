//! Hostile test plugin: `create` spins forever without calling the host.

use core::hint::black_box;
use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, Principal};

struct HostileLoop;

#[inline(never)]
fn spin_forever() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter).wrapping_add(1);
        black_box(&mut counter);
    }
}

impl Guest for HostileLoop {
    fn name() -> String {
        "hostile-loop".to_string()
    }

    fn create(_principal: Principal) -> Result<Creation, String> {
        spin_forever()
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileLoop);
